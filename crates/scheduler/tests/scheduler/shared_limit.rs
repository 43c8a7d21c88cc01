//! The scheduler takes its rate-limit tokens from a shared limiter when it
//! has one (no database needed: the limiter here is a test double).

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use framebreak_scheduler::{
    Failure, Handler, JobStore, MemoryStore, RateLimit, Result, RunOutcome, Scheduler,
    SharedRateLimiter, Step, StepContext,
};
use serde_json::json;

use crate::util::jobs;

/// Refuses the first `refusals` calls with a 30 ms wait, then grants.
#[derive(Debug, Default)]
struct Stingy {
    refusals: u32,
    calls: AtomicU32,
}

#[async_trait]
impl SharedRateLimiter for Stingy {
    async fn try_acquire(&self, key: &str, limit: &RateLimit) -> Result<Duration> {
        assert_eq!(key, "api");
        assert_eq!(limit.burst_size(), 1);
        let n = self.calls.fetch_add(1, Ordering::SeqCst);
        Ok(if n < self.refusals {
            Duration::from_millis(30)
        } else {
            Duration::ZERO
        })
    }
}

#[derive(Debug)]
struct Echo;

#[async_trait]
impl Handler for Echo {
    async fn step(&self, ctx: StepContext<'_>) -> Result<Step, Failure> {
        Ok(Step::Done(json!(ctx.job)))
    }
}

#[tokio::test]
async fn the_shared_limiter_replaces_the_local_bucket_and_its_waits_are_kept() {
    let store = Arc::new(MemoryStore::new());
    store.enqueue(jobs("j", 3, "api")).await.unwrap();
    let limiter = Arc::new(Stingy {
        refusals: 3,
        ..Stingy::default()
    });
    // One request a minute locally would take two minutes for three jobs;
    // the shared limiter is asked instead.
    let scheduler = Scheduler::builder(store.clone(), Echo)
        .rate_limit("api", RateLimit::per_minute(1).unwrap())
        .shared_rate_limiter(Arc::clone(&limiter))
        .build()
        .unwrap();
    let start = Instant::now();
    let summary = tokio::time::timeout(Duration::from_secs(10), scheduler.run())
        .await
        .expect("the local one-a-minute bucket was used")
        .unwrap();
    assert_eq!(summary.outcome, RunOutcome::Drained);
    assert_eq!(store.counts().await.unwrap().done, 3);
    assert_eq!(
        limiter.calls.load(Ordering::SeqCst),
        3 + 3,
        "one grant per job after three refusals"
    );
    assert!(
        start.elapsed() >= Duration::from_millis(30),
        "a refusal's wait was not honoured: {:?}",
        start.elapsed()
    );
}

#[tokio::test]
async fn keys_without_a_limit_never_ask_the_shared_limiter() {
    let store = Arc::new(MemoryStore::new());
    store.enqueue(jobs("j", 5, "free")).await.unwrap();
    let limiter = Arc::new(Stingy::default());
    let scheduler = Scheduler::builder(store.clone(), Echo)
        .shared_rate_limiter(Arc::clone(&limiter))
        .build()
        .unwrap();
    scheduler.run().await.unwrap();
    assert_eq!(store.counts().await.unwrap().done, 5);
    assert_eq!(limiter.calls.load(Ordering::SeqCst), 0);
}

/// A token bucket per key in this process's memory (the trait's example).
#[derive(Debug, Default)]
struct InProcess(std::sync::Mutex<std::collections::HashMap<String, (f64, Instant)>>);

#[async_trait]
impl SharedRateLimiter for InProcess {
    async fn try_acquire(&self, key: &str, limit: &RateLimit) -> Result<Duration> {
        let (rate, burst) = (limit.per_second_rate(), f64::from(limit.burst_size()));
        let mut buckets = self.0.lock().unwrap();
        let (tokens, at) = buckets
            .entry(key.to_owned())
            .or_insert((burst, Instant::now()));
        *tokens = (*tokens + at.elapsed().as_secs_f64() * rate).min(burst);
        *at = Instant::now();
        if *tokens >= 1.0 {
            *tokens -= 1.0;
            Ok(Duration::ZERO)
        } else {
            Ok(Duration::from_secs_f64((1.0 - *tokens) / rate))
        }
    }
}

/// Grants every token: no limit at all.
#[derive(Debug)]
struct Generous;

#[async_trait]
impl SharedRateLimiter for Generous {
    async fn try_acquire(&self, _: &str, _: &RateLimit) -> Result<Duration> {
        Ok(Duration::ZERO)
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_token_bucket_passes_the_suite_and_one_that_never_refuses_fails_it() {
    let limiter: Arc<dyn SharedRateLimiter> = Arc::new(InProcess::default());
    framebreak_scheduler::conformance::rate::run_all(vec![limiter.clone(), limiter], "mem").await;
    let broken: Arc<dyn SharedRateLimiter> = Arc::new(Generous);
    let outcome = tokio::spawn(framebreak_scheduler::conformance::rate::run_all(
        vec![broken],
        "broken",
    ))
    .await;
    assert!(
        outcome.is_err_and(|e| e.is_panic()),
        "a limiter that never refuses passed"
    );
}
