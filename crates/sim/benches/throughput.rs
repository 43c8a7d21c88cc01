//! Render+encode time per clip at the default size, and HTTP job flows
//! (submit, poll, download through the client's OpenAI adapter) per second
//! on loopback with cached content.
//!
//! `cargo bench -p framebreak-sim --bench throughput`
#![allow(clippy::print_stdout)]

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use framebreak_client::{HttpConfig, JobState, OpenAiBackend, Secret, VideoBackend, VideoRequest};
use framebreak_sim::{
    DEFAULT_DURATION_SECS, DEFAULT_SIZE, Latency, Profile, ServerConfig, SimServer, Simulator,
};

const CONCURRENCY: usize = 100;
const RUN: Duration = Duration::from_secs(5);

fn render_time() {
    let sim = Simulator::new(Profile::weak()).unwrap();
    let n = 6;
    let prompts = [
        "a red ball is thrown across a park",
        "a pendulum swings, with emerald green sparks appearing from nowhere all around the subject",
        "water poured into a glass",
        "a drone flies over a mountain valley",
        "a woman walks down a street",
        "blocks slide and collide on a table",
    ];
    let start = Instant::now();
    let mut bytes = 0;
    for (i, p) in prompts.iter().enumerate().take(n) {
        bytes += sim
            .render(&VideoRequest::new(*p).seed(i as u64))
            .unwrap()
            .mp4
            .len();
    }
    let per = start.elapsed() / n as u32;
    let (w, h) = DEFAULT_SIZE;
    println!(
        "render+encode at the default size {w}x{h}, {DEFAULT_DURATION_SECS} s at 24 fps ({} frames): {:.0} ms per clip ({:.0} frames/s), mean {} KiB over {n} clips",
        DEFAULT_DURATION_SECS * 24,
        per.as_secs_f64() * 1e3,
        f64::from(DEFAULT_DURATION_SECS * 24) / per.as_secs_f64(),
        bytes / n / 1024
    );
}

async fn flows(request: VideoRequest, label: &str) {
    let sim = Arc::new(Simulator::new(Profile::weak()).unwrap());
    let size = sim.render(&request).unwrap().mp4.len();
    let server = SimServer::bind(
        "127.0.0.1:0",
        ServerConfig::new(sim).latency(Latency::none()),
    )
    .unwrap();
    let backend = Arc::new(
        OpenAiBackend::new(Secret::new("sk-bench"))
            .unwrap()
            .with_base_url(&server.url())
            .unwrap()
            .with_http(HttpConfig::new().unwrap().timeout(Duration::from_secs(30))),
    );
    let done = Arc::new(AtomicU64::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let mut tasks = Vec::new();
    let start = Instant::now();
    for _ in 0..CONCURRENCY {
        let (backend, done, stop, request) =
            (backend.clone(), done.clone(), stop.clone(), request.clone());
        tasks.push(tokio::spawn(async move {
            let mut sink = Vec::with_capacity(size);
            while !stop.load(Ordering::Relaxed) {
                let job = backend.submit(&request).await.unwrap();
                let assets = loop {
                    if let JobState::Succeeded { assets } =
                        backend.status(&job).await.unwrap().state
                    {
                        break assets;
                    }
                };
                sink.clear();
                backend
                    .download(&assets[0], &mut sink, &|_| {})
                    .await
                    .unwrap();
                assert_eq!(sink.len(), size);
                done.fetch_add(1, Ordering::Relaxed);
            }
        }));
    }
    tokio::time::sleep(RUN).await;
    stop.store(true, Ordering::Relaxed);
    for t in tasks {
        t.await.unwrap();
    }
    let secs = start.elapsed().as_secs_f64();
    let n = done.load(Ordering::Relaxed);
    println!(
        "HTTP flows ({label}, {} KiB clip, concurrency {CONCURRENCY}): {n} in {secs:.1} s = {:.0} flows/s (target 2000, ratio {:.2})",
        size / 1024,
        n as f64 / secs,
        n as f64 / secs / 2000.0
    );
    server.shutdown();
}

fn main() {
    render_time();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(flows(
        VideoRequest::new("a red ball is thrown")
            .size(96, 64)
            .duration_secs(1)
            .seed(1)
            .extra("seed", 1.into()),
        "96x64, 1 s",
    ));
    rt.block_on(flows(
        VideoRequest::new("a red ball is thrown")
            .seed(1)
            .extra("seed", 1.into()),
        "default size",
    ));
}
