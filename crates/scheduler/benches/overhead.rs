//! Engine overhead per job: a no-op handler over jobs in a SQLite store
//! (WAL, group commit), at concurrency 1,000 and 10,000, with one-step and
//! three-step jobs; the in-memory store alongside as the no-disk reference.
//! Prints job-steps per second; the target is 20,000 on a 2-core machine.
//!
//! Run with `cargo bench -p framebreak-scheduler --bench overhead`
//! (`OVERHEAD_JOBS` sets the job count, default 100,000).
#![allow(clippy::print_stdout)]

use std::sync::Arc;
use std::time::Instant;

use async_trait::async_trait;
use framebreak_scheduler::{
    Failure, Handler, JobStore, JobStoreExt, MemoryStore, NewJob, RunOutcome, Scheduler,
    SqliteStore, Step, StepContext,
};
use serde_json::{Value, json};

/// Does nothing, in `steps` steps.
#[derive(Debug)]
struct NoOp {
    steps: u32,
}

#[async_trait]
impl Handler for NoOp {
    async fn step(&self, ctx: StepContext<'_>) -> Result<Step, Failure> {
        if ctx.step + 1 >= self.steps {
            Ok(Step::Done(Value::Null))
        } else {
            Ok(Step::Next(Value::Null))
        }
    }
}

fn jobs(n: usize) -> impl futures::Stream<Item = NewJob> + Unpin {
    futures::stream::iter(
        (0..n).map(|i| NewJob::new(format!("job-{i}"), "noop", json!(i)).unwrap()),
    )
}

async fn measure(label: &str, store: Arc<dyn JobStore>, n: usize, concurrency: usize, steps: u32) {
    let start = Instant::now();
    store.enqueue_stream(jobs(n), 4096).await.unwrap();
    let enqueue = start.elapsed();
    let scheduler = Scheduler::builder(Arc::clone(&store), NoOp { steps })
        .concurrency(concurrency)
        .build()
        .unwrap();
    let start = Instant::now();
    let summary = scheduler.run().await.unwrap();
    let run = start.elapsed();
    assert_eq!(summary.outcome, RunOutcome::Drained);
    let job_steps = n as f64 * f64::from(steps);
    println!(
        "{label:<8} concurrency {concurrency:>6}  {steps} step(s)  {n} jobs: {:>9.0} job-steps/s  {:>8.0} jobs/s  \
         ({:.2} s run, enqueue {:.0} jobs/s)",
        job_steps / run.as_secs_f64(),
        n as f64 / run.as_secs_f64(),
        run.as_secs_f64(),
        n as f64 / enqueue.as_secs_f64(),
    );
}

fn main() {
    let n: usize = std::env::var("OVERHEAD_JOBS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(100_000);
    let runtime = framebreak_testkit::runtime();
    runtime.block_on(async {
        for (concurrency, steps) in [(1_000, 1), (10_000, 1), (1_000, 3), (10_000, 3)] {
            let dir = tempfile::tempdir().unwrap();
            let store = Arc::new(SqliteStore::open(dir.path().join("bench.db")).unwrap());
            measure("sqlite", store, n, concurrency, steps).await;
        }
        for concurrency in [1_000, 10_000] {
            measure("memory", Arc::new(MemoryStore::new()), n, concurrency, 1).await;
        }
    });
}
