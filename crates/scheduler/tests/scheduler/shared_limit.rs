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
