//! The Prometheus scrape endpoint: `GET /metrics` over plain HTTP/1.1.
//!
//! A few lines on a tokio listener rather than the exporter's own
//! `http-listener` feature, which would bring hyper's server half and h2
//! into every build for one fixed page.

use std::fmt;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use metrics_exporter_prometheus::PrometheusHandle;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Notify;
use tokio::task::{JoinHandle, JoinSet};

use crate::{Error, Result};

/// Longest request head read; a scrape's is a few hundred bytes.
const MAX_REQUEST: usize = 8 * 1024;
/// A client that sends nothing for this long is dropped.
const READ_TIMEOUT: Duration = Duration::from_secs(5);

/// Serves the Prometheus text page at `/metrics` until shut down.
///
/// ```no_run
/// # async fn run() -> Result<(), framebreak_telemetry::Error> {
/// use framebreak_telemetry::MetricsServer;
/// use metrics_exporter_prometheus::PrometheusBuilder;
///
/// let recorder = PrometheusBuilder::new().build_recorder();
/// let server = MetricsServer::bind("127.0.0.1:9898".parse().unwrap(), recorder.handle()).await?;
/// println!("scrape http://{}/metrics", server.local_addr());
/// server.shutdown().await;
/// # Ok(()) }
/// ```
pub struct MetricsServer {
    addr: SocketAddr,
    stop: Arc<Notify>,
    task: JoinHandle<()>,
}

impl fmt::Debug for MetricsServer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MetricsServer")
            .field("addr", &self.addr)
            .finish_non_exhaustive()
    }
}

impl MetricsServer {
    /// Listens on `addr` (port 0 picks a free port) and serves in a task on
    /// the current tokio runtime.
    pub async fn bind(addr: SocketAddr, handle: PrometheusHandle) -> Result<MetricsServer> {
        let listener = TcpListener::bind(addr)
            .await
            .map_err(|source| Error::Bind { addr, source })?;
        let local = listener
            .local_addr()
            .map_err(|source| Error::Bind { addr, source })?;
        let stop = Arc::new(Notify::new());
        let task = tokio::spawn(serve(listener, handle, stop.clone()));
        tracing::info!(addr = %local, "serving Prometheus metrics at /metrics");
        Ok(MetricsServer {
            addr: local,
            stop,
            task,
        })
    }

    /// The address it listens on.
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// Stops listening, ends open connections, and waits for the task.
    pub async fn shutdown(self) {
        self.stop.notify_one();
        let _ = self.task.await;
    }
}

async fn serve(listener: TcpListener, handle: PrometheusHandle, stop: Arc<Notify>) {
    // Dropping the set at the end aborts connections still open.
    let mut connections = JoinSet::new();
    loop {
        tokio::select! {
            _ = stop.notified() => return,
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => {
                    connections.spawn(respond(stream, handle.clone()));
                }
                Err(e) => tracing::warn!(error = %e, "metrics endpoint: accept failed"),
            },
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
        }
    }
}

async fn respond(mut stream: TcpStream, handle: PrometheusHandle) {
    let mut head = Vec::with_capacity(512);
    let mut buf = [0u8; 1024];
    let read = tokio::time::timeout(READ_TIMEOUT, async {
        while !head.windows(4).any(|w| w == b"\r\n\r\n") && head.len() < MAX_REQUEST {
            match stream.read(&mut buf).await {
                Ok(0) | Err(_) => return false,
                Ok(n) => head.extend_from_slice(&buf[..n]),
            }
        }
        true
    })
    .await;
    if !matches!(read, Ok(true)) {
        return;
    }
    let line = head.split(|&b| b == b'\r').next().unwrap_or_default();
    let mut parts = line.split(|&b| b == b' ');
    let (method, path) = (
        parts.next().unwrap_or_default(),
        parts.next().unwrap_or_default(),
    );
    let (status, body) = match (method, path) {
        (b"GET", b"/metrics") => ("200 OK", handle.render()),
        (b"GET", _) => (
            "404 Not Found",
            "not found: metrics are at /metrics\n".to_owned(),
        ),
        _ => ("405 Method Not Allowed", "only GET is served\n".to_owned()),
    };
    let response = format!(
        "HTTP/1.1 {status}\r\ncontent-type: text/plain; version=0.0.4; charset=utf-8\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
        body.len()
    );
    let _ = stream.write_all(response.as_bytes()).await;
    let _ = stream.shutdown().await;
}
