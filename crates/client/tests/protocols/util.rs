//! Test doubles shared by the protocol tests.

use std::sync::OnceLock;

use framebreak_client::{
    FalBackend, HttpConfig, LumaBackend, OpenAiBackend, ReplicateBackend, RunwayBackend, Secret,
    VeoBackend, VideoBackend,
};
use tokio::net::TcpListener;

/// The key every test backend uses.
pub(crate) const KEY: &str = "test-key-5f3a9c1e";

/// A 300 KB deterministic "video", big enough to arrive in many chunks.
pub(crate) fn video_bytes() -> Vec<u8> {
    static VIDEO: OnceLock<Vec<u8>> = OnceLock::new();
    VIDEO
        .get_or_init(|| {
            (0..300_000u32)
                .map(|i| (i.wrapping_mul(2_654_435_761) >> 24) as u8)
                .collect()
        })
        .clone()
}

/// A server that accepts connections and never answers.
pub(crate) struct SilentServer {
    addr: std::net::SocketAddr,
    task: tokio::task::JoinHandle<()>,
}

impl SilentServer {
    pub(crate) async fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let task = tokio::spawn(async move {
            let mut held = Vec::new();
            while let Ok((socket, _)) = listener.accept().await {
                held.push(socket);
            }
        });
        Self { addr, task }
    }

    pub(crate) fn base(&self) -> String {
        format!("http://{}", self.addr)
    }
}

impl Drop for SilentServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// A base URL where nothing listens: a port bound and released.
pub(crate) fn refused_base() -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    drop(listener);
    format!("http://{addr}")
}

/// A bare HTTP/1.1 server that answers every request with `response`
/// (status line, headers and body as raw bytes), then closes the
/// connection: for bodies mockito cannot produce, like a `Content-Length`
/// the body does not honour.
pub(crate) struct RawServer {
    addr: std::net::SocketAddr,
    task: tokio::task::JoinHandle<()>,
}

impl RawServer {
    pub(crate) async fn start(response: Vec<u8>) -> Self {
        Self::start_with(response, false).await
    }

    /// Sends `response`, then holds the connection open without a byte
    /// more.
    pub(crate) async fn start_stalling(response: Vec<u8>) -> Self {
        Self::start_with(response, true).await
    }

    async fn start_with(response: Vec<u8>, stall: bool) -> Self {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let response = std::sync::Arc::new(response);
        let task = tokio::spawn(async move {
            while let Ok((mut socket, _)) = listener.accept().await {
                let response = response.clone();
                tokio::spawn(async move {
                    let mut request = Vec::new();
                    let mut buf = [0u8; 4096];
                    while !request.windows(4).any(|w| w == b"\r\n\r\n") {
                        match socket.read(&mut buf).await {
                            Ok(0) | Err(_) => return,
                            Ok(n) => request.extend_from_slice(&buf[..n]),
                        }
                    }
                    let _ = socket.write_all(&response).await;
                    if stall {
                        std::future::pending::<()>().await;
                    }
                    let _ = socket.shutdown().await;
                });
            }
        });
        Self { addr, task }
    }

    pub(crate) fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }
}

impl Drop for RawServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Every adapter as (name, backend, its Debug output), talking to `base`
/// with `key`.
pub(crate) fn all_backends(
    base: &str,
    timeout: std::time::Duration,
    key: &str,
) -> Vec<(&'static str, Box<dyn VideoBackend>, String)> {
    fn entry<B: VideoBackend + std::fmt::Debug + 'static>(
        name: &'static str,
        b: B,
    ) -> (&'static str, Box<dyn VideoBackend>, String) {
        let debug = format!("{b:?}");
        (name, Box::new(b), debug)
    }
    let http = HttpConfig::new().unwrap().timeout(timeout);
    let key = || Secret::new(key);
    vec![
        entry(
            "openai",
            OpenAiBackend::new(key())
                .unwrap()
                .with_base_url(base)
                .unwrap()
                .with_http(http.clone()),
        ),
        entry(
            "replicate",
            ReplicateBackend::new(key())
                .unwrap()
                .with_base_url(base)
                .unwrap()
                .with_http(http.clone()),
        ),
        entry(
            "fal",
            FalBackend::new(key())
                .unwrap()
                .with_base_url(base)
                .unwrap()
                .with_http(http.clone()),
        ),
        entry(
            "runway",
            RunwayBackend::new(key())
                .unwrap()
                .with_base_url(base)
                .unwrap()
                .with_http(http.clone()),
        ),
        entry(
            "luma",
            LumaBackend::new(key())
                .unwrap()
                .with_base_url(base)
                .unwrap()
                .with_http(http.clone()),
        ),
        entry(
            "veo",
            VeoBackend::new(key())
                .unwrap()
                .with_base_url(base)
                .unwrap()
                .with_http(http),
        ),
    ]
}
