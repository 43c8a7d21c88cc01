//! Rate limits held by a service every worker shares, so a provider's limit
//! is the whole campaign's and not multiplied by the number of workers.

use std::fmt;
use std::time::Duration;

use async_trait::async_trait;

use crate::error::Result;
use crate::rate::RateLimit;

/// A token bucket per key that many schedulers, in many processes and on
/// many machines, draw from together.
///
/// Give one to [`SchedulerBuilder::shared_rate_limiter`](crate::SchedulerBuilder::shared_rate_limiter):
/// each configured [`RateLimit`] is then enforced by this limiter instead of
/// the process's own bucket (the pauses a rate-limited answer imposes stay
/// per process). `PgStore::rate_limiter` (feature `postgres`) is the
/// implementation for workers sharing a PostgreSQL store.
///
/// # Contract
///
/// `try_acquire` takes one token from `key`'s bucket if one is there and
/// answers [`Duration::ZERO`]; otherwise it takes nothing and answers how long
/// to wait before asking again (a hint: another worker may take that token
/// first, and the caller then asks again). The bucket refills at
/// `limit.per_second_rate()` up to `limit.burst_size()` tokens and starts
/// full. An `Err` means the limiter could not be asked; the scheduler logs it
/// and asks again a second later, never calling without a token.
///
/// # Example
///
/// A limiter shared by the schedulers of one process (a real one lives in a
/// database or a service all workers reach):
///
/// ```
/// use std::collections::HashMap;
/// use std::sync::Mutex;
/// use std::time::{Duration, Instant};
/// use async_trait::async_trait;
/// use framebreak_scheduler::{RateLimit, Result, SharedRateLimiter};
///
/// #[derive(Debug, Default)]
/// struct InProcess(Mutex<HashMap<String, (f64, Instant)>>);
///
/// #[async_trait]
/// impl SharedRateLimiter for InProcess {
///     async fn try_acquire(&self, key: &str, limit: &RateLimit) -> Result<Duration> {
///         let (rate, burst) = (limit.per_second_rate(), f64::from(limit.burst_size()));
///         let mut buckets = self.0.lock().unwrap();
///         let (tokens, at) = buckets.entry(key.to_owned()).or_insert((burst, Instant::now()));
///         *tokens = (*tokens + at.elapsed().as_secs_f64() * rate).min(burst);
///         *at = Instant::now();
///         if *tokens >= 1.0 {
///             *tokens -= 1.0;
///             Ok(Duration::ZERO)
///         } else {
///             Ok(Duration::from_secs_f64((1.0 - *tokens) / rate))
///         }
///     }
/// }
///
/// # tokio::runtime::Runtime::new().unwrap().block_on(async {
/// let limiter = InProcess::default();
/// let limit = RateLimit::per_second(10)?.burst(2);
/// assert_eq!(limiter.try_acquire("api", &limit).await?, Duration::ZERO);
/// assert_eq!(limiter.try_acquire("api", &limit).await?, Duration::ZERO);
/// assert!(limiter.try_acquire("api", &limit).await? > Duration::ZERO);
/// # Ok::<(), framebreak_scheduler::Error>(())
/// # }).unwrap();
/// ```
#[async_trait]
#[auto_impl::auto_impl(&, Box, Arc)]
pub trait SharedRateLimiter: Send + Sync + fmt::Debug {
    /// Takes a token of `key` (answer zero) or says how long to wait.
    async fn try_acquire(&self, key: &str, limit: &RateLimit) -> Result<Duration>;
}

// Fails to compile if `SharedRateLimiter` stops being object-safe.
const _: fn(Box<dyn SharedRateLimiter>) = |_| {};

/// How long to wait after the limiter itself failed.
pub(crate) const RETRY_AFTER_ERROR: Duration = Duration::from_secs(1);

/// Asks `limiter` until it grants a token of `key`, sleeping as it says
/// (plus up to `jitter`, so waiting jobs do not ask in lock-step).
pub(crate) async fn acquire(
    limiter: &dyn SharedRateLimiter,
    key: &str,
    limit: &RateLimit,
    jitter: Duration,
) {
    loop {
        let wait = match limiter.try_acquire(key, limit).await {
            Ok(wait) if wait.is_zero() => return,
            Ok(wait) => wait,
            Err(error) => {
                tracing::warn!(%key, %error, "the shared rate limiter failed; asking again");
                RETRY_AFTER_ERROR
            }
        };
        let jitter = if jitter.is_zero() {
            Duration::ZERO
        } else {
            jitter.mul_f64(fastrand::f64())
        };
        tokio::time::sleep(wait + jitter).await;
    }
}
