//! Jobs waiting on slow remote generations hold no slot (#24): 10,000 jobs
//! whose remote generation takes a minute, run with a concurrency of 50 on
//! a SQLite store. Each job submits (step 0), then polls every 5 s through
//! `Step::Wait` (the wait is persisted in the store; the slot and the lease
//! are released) until its minute is up.
//!
//! Prints the wall time, the most jobs waiting at once, the polls per job
//! and the wall time the same run would need if every waiting job held its
//! slot (jobs / concurrency × generation time). Bounded: 10,000 jobs, and
//! each job's generation ends one minute after its submission.
//!
//! Run with `cargo bench -p framebreak-scheduler --bench waiting`
//! (`WAITING_JOBS`, `WAITING_SECS` change the job count and the generation
//! time; defaults 10,000 and 60).
#![allow(clippy::print_stdout)]

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use framebreak_scheduler::{
    Failure, Handler, JobStore, JobStoreExt, NewJob, RunOutcome, Scheduler, SqliteStore, Step,
    StepContext,
};
use serde_json::json;

/// A remote API whose generations take `generation` from submission.
#[derive(Debug)]
struct Remote {
    generation: Duration,
    submitted: Mutex<HashMap<String, Instant>>,
    waiting_now: AtomicU64,
    waiting_max: AtomicU64,
    polls: AtomicU64,
    running_now: AtomicU64,
    running_max: AtomicU64,
}

#[async_trait]
impl Handler for Remote {
    async fn step(&self, ctx: StepContext<'_>) -> Result<Step, Failure> {
        let running = self.running_now.fetch_add(1, Ordering::SeqCst) + 1;
        self.running_max.fetch_max(running, Ordering::SeqCst);
        let out = self.answer(&ctx);
        self.running_now.fetch_sub(1, Ordering::SeqCst);
        Ok(out)
    }
}

impl Remote {
    fn answer(&self, ctx: &StepContext<'_>) -> Step {
        let job = ctx.job.to_string();
        if ctx.step == 0 {
            self.submitted.lock().unwrap().insert(job, Instant::now());
            let now = self.waiting_now.fetch_add(1, Ordering::SeqCst) + 1;
            self.waiting_max.fetch_max(now, Ordering::SeqCst);
            return Step::Next(json!({ "polls": 0 }));
        }
        self.polls.fetch_add(1, Ordering::SeqCst);
        let since = self.submitted.lock().unwrap()[&job];
        let polls = ctx.state["polls"].as_u64().unwrap_or(0) + 1;
        if since.elapsed() >= self.generation {
            self.waiting_now.fetch_sub(1, Ordering::SeqCst);
            return Step::Done(json!({ "polls": polls }));
        }
        Step::Wait {
            state: json!({ "polls": polls }),
            after: Duration::from_secs(5).min(self.generation - since.elapsed()),
        }
    }
}

fn env(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn main() {
    let n = env("WAITING_JOBS", 10_000);
    let generation = Duration::from_secs(env("WAITING_SECS", 60));
    let concurrency = 50;
    let runtime = framebreak_testkit::runtime();
    runtime.block_on(async {
        let dir = tempfile::tempdir().unwrap();
        let store = Arc::new(SqliteStore::open(dir.path().join("waiting.db")).unwrap());
        let jobs = (0..n).map(|i| NewJob::new(format!("job-{i}"), "api", json!(i)).unwrap());
        store
            .enqueue_stream(futures::stream::iter(jobs), 4096)
            .await
            .unwrap();
        let handler = Arc::new(Remote {
            generation,
            submitted: Mutex::default(),
            waiting_now: AtomicU64::new(0),
            waiting_max: AtomicU64::new(0),
            polls: AtomicU64::new(0),
            running_now: AtomicU64::new(0),
            running_max: AtomicU64::new(0),
        });
        let scheduler = Scheduler::builder(
            Arc::clone(&store) as Arc<dyn JobStore>,
            Arc::clone(&handler),
        )
        .concurrency(concurrency)
        .build()
        .unwrap();
        let start = Instant::now();
        let summary = scheduler.run().await.unwrap();
        let wall = start.elapsed();
        assert_eq!(summary.outcome, RunOutcome::Drained);
        let done = store.counts().await.unwrap().done;
        assert_eq!(done, n, "every job done");
        let held = n as f64 / concurrency as f64 * generation.as_secs_f64();
        println!(
            "{n} jobs, generation {:.0} s, concurrency {concurrency}, SQLite store",
            generation.as_secs_f64()
        );
        println!(
            "  wall {:.1} s; {} jobs waiting at once at most; {} steps running at once at most; \
             {:.1} polls per job",
            wall.as_secs_f64(),
            handler.waiting_max.load(Ordering::SeqCst),
            handler.running_max.load(Ordering::SeqCst),
            handler.polls.load(Ordering::SeqCst) as f64 / n as f64,
        );
        println!(
            "  with slots held while waiting it would take {held:.0} s: {:.0}x longer",
            held / wall.as_secs_f64()
        );
    });
}
