//! Peak memory of a 1,000,000-job run: jobs stream in through the bounded
//! intake queue into a SQLite store while a no-op handler runs them at
//! concurrency 1,000. Peak heap (counting allocator) and peak RSS (VmHWM)
//! are printed after 100,000 and after 1,000,000 jobs, to show that memory
//! does not grow with the number of jobs.
//!
//! Run with `cargo bench -p framebreak-scheduler --bench million`
//! (`MILLION_JOBS` overrides the larger count).
#![allow(clippy::print_stdout)]

use std::time::Instant;

use async_trait::async_trait;
use framebreak_scheduler::{
    Failure, Handler, NewJob, RunOutcome, Scheduler, SqliteStore, Step, StepContext,
};
use serde_json::{Value, json};

framebreak_testkit::count_allocations!();

#[derive(Debug)]
struct NoOp;

#[async_trait]
impl Handler for NoOp {
    async fn step(&self, _ctx: StepContext<'_>) -> Result<Step, Failure> {
        Ok(Step::Done(Value::Null))
    }
}

fn rss_peak_kib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

async fn run(n: usize) {
    let dir = tempfile::tempdir().unwrap();
    framebreak_testkit::reset_peak();
    let store = SqliteStore::open(dir.path().join("million.db")).unwrap();
    let scheduler = Scheduler::builder(store, NoOp)
        .concurrency(1_000)
        .intake(10_000)
        .build()
        .unwrap();
    let intake = scheduler.intake().unwrap();
    let producer = tokio::spawn(async move {
        for i in 0..n {
            let job = NewJob::new(format!("job-{i:07}"), "noop", json!({ "i": i })).unwrap();
            intake.send(job).await.unwrap();
        }
    });
    let start = Instant::now();
    let summary = scheduler.run().await.unwrap();
    producer.await.unwrap();
    let elapsed = start.elapsed();
    assert_eq!(summary.outcome, RunOutcome::Drained);
    assert_eq!(summary.snapshot.counts.done, n as u64);
    println!(
        "{n:>9} jobs: {:>6.1} s, {:>7.0} jobs/s, peak heap {:>6.1} MiB, peak RSS so far {} MiB",
        elapsed.as_secs_f64(),
        n as f64 / elapsed.as_secs_f64(),
        framebreak_testkit::peak() as f64 / (1024.0 * 1024.0),
        rss_peak_kib().map_or_else(|| "?".to_owned(), |k| format!("{:.1}", k as f64 / 1024.0)),
    );
}

fn main() {
    let big: usize = std::env::var("MILLION_JOBS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1_000_000);
    let runtime = framebreak_testkit::runtime();
    runtime.block_on(async {
        run(100_000).await;
        run(big).await;
    });
}
