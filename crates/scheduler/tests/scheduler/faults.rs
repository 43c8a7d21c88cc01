//! A backend that answers 20 % 5xx, 10 % 429 with retry-after and 5 %
//! timeouts: every job must finish, the retries must stay within the budget
//! (no storm), and the request rate the backend measures must never exceed
//! the configured limit.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use framebreak_scheduler::{
    BackendConfig, Backoff, BreakerConfig, Failure, FailureCategory, Handler, JobStore,
    MemoryStore, RateLimit, RetryPolicy, RetryRule, RunOutcome, Scheduler, Step, StepContext,
};
use serde_json::json;

use crate::util::jobs;

const JOBS: usize = 1_000;
const RATE: u32 = 1_000;
const BURST: u32 = 20;
const RETRY_AFTER: Duration = Duration::from_millis(20);
const TIMEOUT: Duration = Duration::from_millis(40);

#[derive(Debug)]
struct Faulty {
    arrivals: Mutex<Vec<Instant>>,
    rng: Mutex<fastrand::Rng>,
}

impl Faulty {
    async fn call(&self) -> Result<(), Failure> {
        let roll = {
            self.arrivals.lock().unwrap().push(Instant::now());
            self.rng.lock().unwrap().u32(0..100)
        };
        match roll {
            0..20 => Err(Failure::new(
                FailureCategory::Server,
                "503 Service Unavailable",
            )),
            20..30 => {
                Err(Failure::new(FailureCategory::RateLimited, "429").retry_after(RETRY_AFTER))
            }
            30..35 => {
                tokio::time::sleep(TIMEOUT * 3).await;
                Ok(())
            }
            _ => Ok(()),
        }
    }
}

#[async_trait]
impl Handler for Faulty {
    async fn step(&self, _ctx: StepContext<'_>) -> Result<Step, Failure> {
        match tokio::time::timeout(TIMEOUT, self.call()).await {
            Ok(Ok(())) => Ok(Step::Done(json!("ok"))),
            Ok(Err(failure)) => Err(failure),
            Err(_) => Err(Failure::new(FailureCategory::Timeout, "no answer in 40 ms")),
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn faults_are_retried_within_budget_and_rate() {
    let seed = fastrand::u64(..);
    let store = Arc::new(MemoryStore::new());
    store.enqueue(jobs("f", JOBS, "api")).await.unwrap();
    let backend = Arc::new(Faulty {
        arrivals: Mutex::new(Vec::new()),
        rng: Mutex::new(fastrand::Rng::with_seed(seed)),
    });
    let (ratio, per_second, capacity) = (1.0, 20.0, 50.0);
    let retry = RetryPolicy::uniform(RetryRule {
        max_attempts: 30,
        max_elapsed: None,
        backoff: Backoff::Exponential {
            min: Duration::from_millis(5),
            max: Duration::from_millis(200),
            factor: 2.0,
            jitter: true,
        },
    });
    let breaker = BreakerConfig {
        consecutive_failures: 12,
        cool_down: Duration::from_millis(50),
        failure_rate: Some(0.8),
        ..BreakerConfig::default()
    };
    let scheduler = Scheduler::builder(store.clone(), backend.clone())
        .concurrency(200)
        .backend(
            "api",
            BackendConfig {
                breaker,
                ..BackendConfig::default()
            },
        )
        .rate_limit(
            "api",
            RateLimit::per_second(RATE)
                .unwrap()
                .burst(BURST)
                .jitter(Duration::from_millis(2)),
        )
        .retry(retry)
        .retry_budget(ratio, per_second, capacity)
        .build()
        .unwrap();
    let started = Instant::now();
    let summary = tokio::time::timeout(Duration::from_secs(60), scheduler.run())
        .await
        .unwrap()
        .unwrap();
    let elapsed = started.elapsed();
    assert_eq!(summary.outcome, RunOutcome::Drained);
    let counts = store.counts().await.unwrap();
    assert_eq!(counts.done, JOBS as u64, "{counts:?} (seed {seed})");

    let arrivals = backend.arrivals.lock().unwrap().clone();
    let requests = arrivals.len() as f64;
    let retries = summary.snapshot.retries as f64;
    assert_eq!(
        arrivals.len() as u64,
        JOBS as u64 + summary.snapshot.retries
    );
    // The budget's bound on retries: ratio per success, plus the time-based
    // allowance, plus the initial capacity.
    let bound = ratio * JOBS as f64 + per_second * elapsed.as_secs_f64() + capacity;
    assert!(
        retries <= bound,
        "{retries} retries over the budget's {bound:.0} (seed {seed})"
    );
    assert!(
        requests < 2.0 * JOBS as f64,
        "retry storm: {requests} requests for {JOBS} jobs"
    );

    // GCRA admits at most BURST + RATE · w requests in any window of length w.
    let mut worst: f64 = 0.0;
    for window in [
        Duration::from_millis(50),
        Duration::from_millis(200),
        Duration::from_secs(1),
    ] {
        let allowed = f64::from(BURST) + f64::from(RATE) * window.as_secs_f64();
        let mut j = 0;
        for i in 0..arrivals.len() {
            while arrivals[j] + window <= arrivals[i] {
                j += 1;
            }
            let in_window = (i - j + 1) as f64;
            worst = worst.max(in_window / allowed);
            assert!(
                in_window <= allowed + 1.0,
                "{in_window} requests within {window:?}, limit allows {allowed} (seed {seed})"
            );
        }
    }
    eprintln!(
        "faults: {JOBS} jobs, {requests} requests ({retries} retries, bound {bound:.0}) in {:.2} s; \
         mean rate {:.0}/s (limit {RATE}/s); worst window at {:.0} % of the limit; failures {:?}",
        elapsed.as_secs_f64(),
        requests / elapsed.as_secs_f64(),
        worst * 100.0,
        summary.snapshot.failures,
    );
}
