//! Test doubles shared by the protocol tests.

use std::sync::OnceLock;

use tokio::net::TcpListener;

/// The key every test backend uses.
pub const KEY: &str = "test-key-5f3a9c1e";

/// A 300 KB deterministic "video", big enough to arrive in many chunks.
pub fn video_bytes() -> Vec<u8> {
    static VIDEO: OnceLock<Vec<u8>> = OnceLock::new();
    VIDEO
        .get_or_init(|| (0..300_000u32).map(|i| (i.wrapping_mul(2_654_435_761) >> 24) as u8).collect())
        .clone()
}

/// A server that accepts connections and never answers.
pub struct SilentServer {
    addr: std::net::SocketAddr,
    task: tokio::task::JoinHandle<()>,
}

impl SilentServer {
    pub async fn start() -> Self {
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

    pub fn base(&self) -> String {
        format!("http://{}", self.addr)
    }
}

impl Drop for SilentServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// A base URL where nothing listens: a port bound and released.
pub fn refused_base() -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    drop(listener);
    format!("http://{addr}")
}
