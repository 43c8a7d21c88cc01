//! Several schedulers, each with its own connection pool, on one queue: the
//! way workers on several machines share a campaign.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use framebreak_scheduler::{
    Config, Failure, Handler, JobStore, PgOptions, PgStore, RateLimit, RunOutcome, Scheduler,
    SharedRateLimiter, Step, StepContext,
};
use serde_json::json;

use super::{database_url, fresh_queue};
use crate::util::jobs;

/// Counts the calls per job and when each call came.
#[derive(Debug, Default)]
struct Tally {
    calls: Mutex<HashMap<String, u32>>,
    times: Mutex<Vec<Instant>>,
}

#[async_trait]
impl Handler for Tally {
    async fn step(&self, ctx: StepContext<'_>) -> Result<Step, Failure> {
        self.times.lock().unwrap().push(Instant::now());
        *self
            .calls
            .lock()
            .unwrap()
            .entry(ctx.job.to_string())
            .or_insert(0) += 1;
        tokio::time::sleep(Duration::from_millis(1)).await;
        Ok(Step::Done(json!(ctx.job)))
    }
}

/// Counts the asks of the limiter it wraps.
#[derive(Debug)]
struct Counted<L> {
    inner: L,
    asks: Arc<AtomicU64>,
}

#[async_trait]
impl<L: SharedRateLimiter> SharedRateLimiter for Counted<L> {
    async fn try_acquire(
        &self,
        key: &str,
        limit: &RateLimit,
    ) -> framebreak_scheduler::Result<Duration> {
        self.asks.fetch_add(1, Ordering::Relaxed);
        self.inner.try_acquire(key, limit).await
    }
}

async fn worker_store(url: &str, queue: &str) -> PgStore {
    PgStore::connect_with(
        url,
        PgOptions {
            queue: queue.to_owned(),
            pool_size: 4,
            ..PgOptions::default()
        },
    )
    .await
    .unwrap()
}

fn small_batches() -> Config {
    Config {
        concurrency: 32,
        lease_batch: 16,
        poll_interval: Duration::from_millis(10),
        ..Config::default()
    }
}

#[tokio::test]
async fn four_workers_run_every_job_exactly_once() {
    let url = database_url();
    let queue = fresh_queue("four-workers");
    let n = 600;
    worker_store(&url, &queue)
        .await
        .enqueue(jobs("j", n, "api"))
        .await
        .unwrap();
    let tally = Arc::new(Tally::default());
    let mut runs = Vec::new();
    for _ in 0..4 {
        let store = worker_store(&url, &queue).await;
        let scheduler = Scheduler::builder(store, Arc::clone(&tally))
            .config(small_batches())
            .build()
            .unwrap();
        runs.push(tokio::spawn(async move { scheduler.run().await }));
    }
    for run in runs {
        assert_eq!(run.await.unwrap().unwrap().outcome, RunOutcome::Drained);
    }
    let calls = tally.calls.lock().unwrap().clone();
    assert_eq!(calls.len(), n, "every job ran");
    let repeated: Vec<_> = calls.iter().filter(|(_, c)| **c != 1).collect();
    assert!(repeated.is_empty(), "jobs run more than once: {repeated:?}");
    let counts = worker_store(&url, &queue).await.counts().await.unwrap();
    assert_eq!((counts.done, counts.total()), (n as u64, n as u64));
}

#[tokio::test]
async fn four_workers_share_one_rate_limit() {
    let url = database_url();
    let queue = fresh_queue("shared-rate");
    let (rate, burst, n) = (40.0, 2_u32, 120);
    worker_store(&url, &queue)
        .await
        .enqueue(jobs("j", n, "api"))
        .await
        .unwrap();
    let limit = RateLimit::per_second(rate as u32).unwrap().burst(burst);
    let tally = Arc::new(Tally::default());
    let asks = Arc::new(AtomicU64::new(0));
    let mut runs = Vec::new();
    for _ in 0..4 {
        let store = worker_store(&url, &queue).await;
        let scheduler = Scheduler::builder(store.clone(), Arc::clone(&tally))
            .config(small_batches())
            .rate_limit("api", limit)
            .shared_rate_limiter(Counted {
                inner: store.rate_limiter(),
                asks: Arc::clone(&asks),
            })
            .build()
            .unwrap();
        runs.push(tokio::spawn(async move { scheduler.run().await }));
    }
    for run in runs {
        run.await.unwrap().unwrap();
    }
    let mut times = tally.times.lock().unwrap().clone();
    times.sort();
    assert_eq!(times.len(), n);
    let span = (times[n - 1] - times[0]).as_secs_f64();
    let observed = (n as f64 - f64::from(burst)) / span;
    let asks = asks.load(Ordering::Relaxed);
    eprintln!(
        "shared rate limit: 4 workers, limit {rate}/s burst {burst}: {n} calls in {span:.2} s, \
         {observed:.1}/s after the burst; {asks} asks of the limiter"
    );
    // One asker per key and worker: about one ask per worker per token
    // (≈ 550 here), not one per waiting job (4 x 32 jobs polled ≈ 7,000
    // times without it).
    assert!(asks <= 8 * n as u64, "{asks} asks for {n} tokens: a herd");
    // In every window, at most the burst plus what the window refills (one
    // call of slack: the calls are timed here, the tokens on the server).
    let mut worst = 0.0_f64;
    for i in 0..n {
        for j in i..n {
            let window = (times[j] - times[i]).as_secs_f64();
            let excess = (j - i + 1) as f64 - (f64::from(burst) + rate * window);
            worst = worst.max(excess);
        }
    }
    assert!(
        worst <= 1.0,
        "some window saw {worst:.2} calls over the limit (4 workers would allow 4x without sharing)"
    );
    assert!(
        observed <= rate * 1.05,
        "observed {observed:.1}/s over the limit of {rate}/s"
    );
}

#[tokio::test]
async fn a_dead_workers_jobs_return_to_the_others() {
    let url = database_url();
    let queue = fresh_queue("dead-worker");
    let n = 200;
    worker_store(&url, &queue)
        .await
        .enqueue(jobs("j", n, "api"))
        .await
        .unwrap();
    let config = Config {
        lease_ttl: Duration::from_millis(300),
        ..small_batches()
    };
    // The first worker leases a batch and is gone mid-step (its run is
    // dropped: no release, no heartbeat, as after SIGKILL).
    let stuck = Arc::new(Stuck::default());
    let doomed = Scheduler::builder(worker_store(&url, &queue).await, Arc::clone(&stuck))
        .config(config.clone())
        .build()
        .unwrap();
    let _ = tokio::time::timeout(Duration::from_millis(200), doomed.run()).await;
    let held = stuck.started.lock().unwrap().len();
    assert!(held > 0, "the doomed worker held jobs when it died");
    let tally = Arc::new(Tally::default());
    let survivor = Scheduler::builder(worker_store(&url, &queue).await, Arc::clone(&tally))
        .config(config)
        .build()
        .unwrap();
    let start = Instant::now();
    assert_eq!(survivor.run().await.unwrap().outcome, RunOutcome::Drained);
    let counts = worker_store(&url, &queue).await.counts().await.unwrap();
    assert_eq!(counts.done, n as u64, "{counts:?}");
    assert_eq!(tally.calls.lock().unwrap().len(), n);
    eprintln!(
        "dead worker: {held} jobs held by it came back after its 300 ms leases; all {n} done in {:?}",
        start.elapsed()
    );
}

/// Starts every step and never finishes it.
#[derive(Debug, Default)]
struct Stuck {
    started: Mutex<Vec<String>>,
}

#[async_trait]
impl Handler for Stuck {
    async fn step(&self, ctx: StepContext<'_>) -> Result<Step, Failure> {
        self.started.lock().unwrap().push(ctx.job.to_string());
        std::future::pending().await
    }
}
