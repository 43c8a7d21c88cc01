//! Download throughput over loopback: `cargo bench -p framebreak-client --bench download`.
//!
//! Prints MiB/s for a bare reqwest read loop (the reference), for
//! `VideoBackend::download` into a sink, and for `download_to_file` (SHA-256
//! and a real file), each the best of three 512 MiB transfers from a local
//! server that generates the bytes, and the ratios against the reference.

#![allow(clippy::print_stdout, reason = "a benchmark prints its figures")]

use std::time::{Duration, Instant};

use framebreak_client::{Asset, HttpConfig, OpenAiBackend, Secret, VideoBackend, VideoBackendExt};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

const TOTAL: u64 = 512 << 20;
const RUNS: usize = 3;

async fn generating_server() -> std::net::SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            tokio::spawn(async move {
                loop {
                    let mut request = Vec::new();
                    let mut buf = [0u8; 4096];
                    while !request.windows(4).any(|w| w == b"\r\n\r\n") {
                        match socket.read(&mut buf).await {
                            Ok(0) | Err(_) => return,
                            Ok(n) => request.extend_from_slice(&buf[..n]),
                        }
                    }
                    let head = format!(
                        "HTTP/1.1 200 OK\r\ncontent-type: video/mp4\r\ncontent-length: {TOTAL}\r\n\r\n"
                    );
                    if socket.write_all(head.as_bytes()).await.is_err() {
                        return;
                    }
                    let chunk: Vec<u8> = (0..256 * 1024u32).map(|i| i as u8).collect();
                    let mut sent = 0;
                    while sent < TOTAL {
                        if socket.write_all(&chunk).await.is_err() {
                            return;
                        }
                        sent += chunk.len() as u64;
                    }
                }
            });
        }
    });
    addr
}

async fn best<F, Fut>(mut run: F) -> f64
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = u64>,
{
    let mut best = Duration::MAX;
    for _ in 0..RUNS {
        let started = Instant::now();
        assert_eq!(run().await, TOTAL);
        best = best.min(started.elapsed());
    }
    (TOTAL >> 20) as f64 / best.as_secs_f64()
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let addr = generating_server().await;
    let url = format!("http://{addr}/v.mp4");
    // HttpConfig::new installs rustls' ring provider, which any reqwest
    // client of this build needs before it is built.
    let config = HttpConfig::new().unwrap().max_download_bytes(u64::MAX);
    let client = reqwest::Client::new();
    let reference = best(|| async {
        let mut response = client.get(&url).send().await.unwrap();
        let mut sink = tokio::io::sink();
        let mut n = 0;
        while let Some(chunk) = response.chunk().await.unwrap() {
            sink.write_all(&chunk).await.unwrap();
            n += chunk.len() as u64;
        }
        n
    })
    .await;

    let backend = OpenAiBackend::new(Secret::new("bench"))
        .unwrap()
        .with_base_url(&format!("http://{addr}"))
        .unwrap()
        .with_http(config);
    let asset = Asset::new(&url);
    let streamed = best(|| async {
        backend
            .download(&asset, &mut tokio::io::sink(), &|_| {})
            .await
            .unwrap()
    })
    .await;

    let dir = tempfile::tempdir_in(std::env::temp_dir()).unwrap();
    let path = dir.path().join("bench.mp4");
    let to_file = best(|| async {
        backend
            .download_to_file(&asset, &path, u64::MAX, &|_| {})
            .await
            .unwrap()
            .bytes
    })
    .await;

    println!(
        "download of {} MiB over loopback, best of {RUNS}:",
        TOTAL >> 20
    );
    println!("  reqwest read loop (reference)     {reference:>8.0} MiB/s");
    println!(
        "  VideoBackend::download -> sink    {streamed:>8.0} MiB/s  ({:.2}x reference)",
        streamed / reference
    );
    println!(
        "  download_to_file (SHA-256, fsync) {to_file:>8.0} MiB/s  ({:.2}x reference)",
        to_file / reference
    );
}
