//! The conformance suite every [`SharedRateLimiter`] must pass.
//!
//! `fresh` makes handles of one limiter (several handles: the workers of
//! one campaign); each check uses keys of its own and panics with a message
//! naming the broken rule. The checks bound what was granted by the time
//! that actually passed, so a slow machine makes them more lenient, never
//! flaky.
//!
//! ```
//! # use std::collections::HashMap;
//! # use std::sync::{Arc, Mutex};
//! # use std::time::{Duration, Instant};
//! # use async_trait::async_trait;
//! use framebreak_scheduler::{RateLimit, Result, SharedRateLimiter, conformance};
//! # #[derive(Debug, Default)]
//! # struct InProcess(Mutex<HashMap<String, (f64, Instant)>>);
//! # #[async_trait]
//! # impl SharedRateLimiter for InProcess {
//! #     async fn try_acquire(&self, key: &str, limit: &RateLimit) -> Result<Duration> {
//! #         let (rate, burst) = (limit.per_second_rate(), f64::from(limit.burst_size()));
//! #         let mut buckets = self.0.lock().unwrap();
//! #         let (tokens, at) = buckets.entry(key.to_owned()).or_insert((burst, Instant::now()));
//! #         *tokens = (*tokens + at.elapsed().as_secs_f64() * rate).min(burst);
//! #         *at = Instant::now();
//! #         if *tokens >= 1.0 { *tokens -= 1.0; Ok(Duration::ZERO) }
//! #         else { Ok(Duration::from_secs_f64((1.0 - *tokens) / rate)) }
//! #     }
//! # }
//!
//! # tokio::runtime::Builder::new_multi_thread().enable_all().build().unwrap().block_on(async {
//! let limiter: Arc<dyn SharedRateLimiter> = Arc::new(InProcess::default());
//! conformance::rate::run_all(vec![limiter.clone(), limiter], "doc").await;
//! # });
//! ```

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use crate::rate::RateLimit;
use crate::shared_limit::SharedRateLimiter;

/// A full bucket grants its burst at once, then refuses with a wait no
/// longer than a token takes to come back, then grants again after it.
pub async fn a_bucket_starts_full_and_refills(limiter: &dyn SharedRateLimiter, key: &str) {
    let limit = RateLimit::per_second(10).expect("a valid limit").burst(3);
    let start = Instant::now();
    for i in 0..3 {
        let wait = limiter.try_acquire(key, &limit).await.unwrap();
        assert!(
            wait.is_zero() || start.elapsed() > Duration::from_millis(100),
            "token {i} of a full bucket of 3 was refused ({wait:?})"
        );
    }
    let wait = limiter.try_acquire(key, &limit).await.unwrap();
    let taken = start.elapsed();
    if taken < Duration::from_millis(100) {
        assert!(
            !wait.is_zero(),
            "a fourth token granted from a bucket of 3 within {taken:?}"
        );
        assert!(
            wait <= Duration::from_millis(110),
            "a token comes back in 100 ms, not {wait:?}"
        );
    }
    tokio::time::sleep(wait).await;
    let mut granted = false;
    for _ in 0..20 {
        let wait = limiter.try_acquire(key, &limit).await.unwrap();
        if wait.is_zero() {
            granted = true;
            break;
        }
        tokio::time::sleep(wait).await;
    }
    assert!(granted, "the bucket never refilled");
}

/// Keys are independent: emptying one leaves another full.
pub async fn keys_are_independent(limiter: &dyn SharedRateLimiter, key: &str) {
    let limit = RateLimit::per_minute(1).expect("a valid limit").burst(1);
    let (a, b) = (format!("{key}-a"), format!("{key}-b"));
    assert!(limiter.try_acquire(&a, &limit).await.unwrap().is_zero());
    assert!(
        !limiter.try_acquire(&a, &limit).await.unwrap().is_zero(),
        "{a} granted twice in a minute"
    );
    assert!(
        limiter.try_acquire(&b, &limit).await.unwrap().is_zero(),
        "{b} was emptied by {a}"
    );
}

/// Every handle asking at once for a second: no more tokens are granted
/// than the burst plus the rate times the time that passed.
pub async fn handles_together_never_pass_the_rate(
    limiters: &[Arc<dyn SharedRateLimiter>],
    key: &str,
) {
    let limit = RateLimit::per_second(40).expect("a valid limit").burst(5);
    let granted = Arc::new(AtomicU32::new(0));
    let start = Instant::now();
    let run_for = Duration::from_millis(1_000);
    let tasks: Vec<_> = (0..8)
        .map(|i| {
            let limiter = Arc::clone(&limiters[i % limiters.len()]);
            let (granted, key) = (Arc::clone(&granted), key.to_owned());
            tokio::spawn(async move {
                while start.elapsed() < run_for {
                    let wait = limiter.try_acquire(&key, &limit).await.unwrap();
                    if wait.is_zero() {
                        granted.fetch_add(1, Ordering::SeqCst);
                    } else {
                        tokio::time::sleep(wait.min(Duration::from_millis(50))).await;
                    }
                }
            })
        })
        .collect();
    for t in tasks {
        t.await.expect("a limiter call panicked");
    }
    let elapsed = start.elapsed().as_secs_f64();
    let most = 5.0 + 40.0 * elapsed + 1.0;
    let n = f64::from(granted.load(Ordering::SeqCst));
    assert!(
        n <= most,
        "{n} tokens granted in {elapsed:.2} s: at most {most:.0} allowed"
    );
    assert!(
        n >= 10.0,
        "only {n} tokens granted in {elapsed:.2} s at 40 a second"
    );
}

/// Runs every check; keys start with `prefix` (so runs against one shared
/// service do not meet).
pub async fn run_all(limiters: Vec<Arc<dyn SharedRateLimiter>>, prefix: &str) {
    a_bucket_starts_full_and_refills(limiters[0].as_ref(), &format!("{prefix}-refill")).await;
    keys_are_independent(limiters[0].as_ref(), &format!("{prefix}-keys")).await;
    handles_together_never_pass_the_rate(&limiters, &format!("{prefix}-shared")).await;
}
