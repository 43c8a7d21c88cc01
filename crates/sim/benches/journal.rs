//! What the journal costs: in-process submissions per second without a
//! journal, with one (a `write(2)` per job), and answered by key, plus how
//! long a journal takes to read back.
//!
//! `cargo bench -p framebreak-sim --bench journal`
#![allow(clippy::print_stdout)]

use std::sync::Arc;
use std::time::{Duration, Instant};

use framebreak_client::{VideoBackend, VideoRequest};
use framebreak_sim::{Latency, Profile, SimBackend, Simulator};

const JOBS: usize = 20_000;

fn request(i: usize) -> VideoRequest {
    VideoRequest::new(
        "A child throws a red rubber ball across a sunny park and it lands on the grass",
    )
    .size(64, 48)
    .duration_secs(1)
    .idempotency_key(format!("bench-run:job-{i}"))
}

/// Submits `JOBS` jobs one after another; submissions per second.
async fn submit_all(backend: &SimBackend) -> f64 {
    let start = Instant::now();
    for i in 0..JOBS {
        backend.submit(&request(i)).await.unwrap();
    }
    JOBS as f64 / start.elapsed().as_secs_f64()
}

fn main() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let sim = Arc::new(Simulator::new(Profile::weak()).unwrap());
        // One clip for every job: the figure is the job table's, not the
        // renderer's.
        sim.render(&request(0)).unwrap();
        let plain = SimBackend::new_shared(sim.clone()).with_latency(Latency::none());
        let without = submit_all(&plain).await;

        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("journal.jsonl");
        let journaled = SimBackend::new_shared(sim.clone())
            .with_latency(Latency::none())
            .with_journal(&path)
            .unwrap();
        let with = submit_all(&journaled).await;
        let repeated = submit_all(&journaled).await;
        drop(journaled);
        let bytes = std::fs::metadata(&path).unwrap().len();

        let start = Instant::now();
        let reopened = SimBackend::new_shared(sim).with_journal(&path).unwrap();
        let replay: Duration = start.elapsed();
        assert_eq!(reopened.stats().submissions, JOBS as u64);

        println!("{JOBS} in-process submissions, one after another, content cached:");
        println!("  without a journal: {without:.0} submissions/s");
        println!(
            "  with a journal:    {with:.0} submissions/s ({:.2}x of without)",
            with / without
        );
        println!("  repeated keys:     {repeated:.0} submissions/s (answered from the table)");
        println!(
            "journal: {} bytes a job; read back {JOBS} jobs in {:.0} ms ({:.0} jobs/s)",
            bytes / JOBS as u64,
            replay.as_secs_f64() * 1e3,
            JOBS as f64 / replay.as_secs_f64()
        );
    });
}
