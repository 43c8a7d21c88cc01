//! Rate limits per key: `governor` token buckets with jitter, and pauses
//! that a rate-limited answer imposes on every job of the key.

use std::collections::HashMap;
use std::num::NonZeroU32;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use governor::{DefaultDirectRateLimiter, Jitter, Quota, RateLimiter};

use crate::error::{Error, Result};
use crate::shared_limit::{self, SharedRateLimiter};

/// A request rate for one key: `count` per second or per minute, with bursts
/// of up to `burst`, each wait lengthened by a random jitter of up to `jitter`
/// (so waiting jobs do not wake in lock-step).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RateLimit {
    count: NonZeroU32,
    per: Duration,
    burst: NonZeroU32,
    jitter: Duration,
}

impl RateLimit {
    /// `count` requests per second, bursts of 1, no jitter.
    pub fn per_second(count: u32) -> Result<Self> {
        Self::new(count, Duration::from_secs(1))
    }

    /// `count` requests per minute, bursts of 1, no jitter.
    pub fn per_minute(count: u32) -> Result<Self> {
        Self::new(count, Duration::from_secs(60))
    }

    fn new(count: u32, per: Duration) -> Result<Self> {
        let count = NonZeroU32::new(count).ok_or_else(|| {
            Error::config("rate_limit.count", "a rate limit of 0 would never admit")
        })?;
        Ok(Self {
            count,
            per,
            burst: NonZeroU32::MIN,
            jitter: Duration::ZERO,
        })
    }

    /// Allows bursts of up to `burst` requests (at least 1).
    #[must_use]
    pub fn burst(mut self, burst: u32) -> Self {
        self.burst = NonZeroU32::new(burst).unwrap_or(NonZeroU32::MIN);
        self
    }

    /// Adds up to `jitter` to each wait.
    #[must_use]
    pub fn jitter(mut self, jitter: Duration) -> Self {
        self.jitter = jitter;
        self
    }

    /// Requests per second this limit sustains.
    #[must_use]
    pub fn per_second_rate(&self) -> f64 {
        f64::from(self.count.get()) / self.per.as_secs_f64()
    }

    /// The burst size.
    #[must_use]
    pub fn burst_size(&self) -> u32 {
        self.burst.get()
    }

    /// A process-local pacer for this limit, for calls a [`Handler`](crate::Handler)
    /// makes inside one step (the polls of a long wait, say), which the
    /// scheduler's per-step limits do not see.
    #[must_use]
    pub fn pacer(&self) -> Pacer {
        Pacer {
            limiter: RateLimiter::direct(self.quota()),
        }
    }

    fn quota(&self) -> Quota {
        let period = self.per / self.count.get();
        Quota::with_period(period.max(Duration::from_nanos(1)))
            .unwrap_or_else(|| Quota::per_second(self.count))
            .allow_burst(self.burst)
    }
}

/// Spaces calls to at most a [`RateLimit`]'s rate; share it (it is `Sync`)
/// between every task whose calls count against the limit.
pub struct Pacer {
    limiter: DefaultDirectRateLimiter,
}

impl std::fmt::Debug for Pacer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pacer").finish_non_exhaustive()
    }
}

impl Pacer {
    /// Waits until one more call fits the limit, and takes its token.
    pub async fn wait(&self) {
        self.limiter.until_ready().await;
    }
}

struct Bucket {
    limiter: DefaultDirectRateLimiter,
    jitter: Duration,
}

/// Every key's bucket and pause.
pub(crate) struct RateLimiters {
    configured: HashMap<String, RateLimit>,
    default: Option<RateLimit>,
    buckets: Mutex<HashMap<String, Arc<Bucket>>>,
    pauses: Mutex<HashMap<String, Instant>>,
    shared: Option<Arc<dyn SharedRateLimiter>>,
    /// One asker per key in this process: the others queue here instead of
    /// all polling the shared limiter (a herd on one row).
    askers: Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>,
}

impl std::fmt::Debug for RateLimiters {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RateLimiters")
            .field("configured", &self.configured)
            .field("default", &self.default)
            .field("shared", &self.shared)
            .finish_non_exhaustive()
    }
}

impl RateLimiters {
    pub(crate) fn new(configured: HashMap<String, RateLimit>, default: Option<RateLimit>) -> Self {
        Self {
            configured,
            default,
            buckets: Mutex::new(HashMap::new()),
            pauses: Mutex::new(HashMap::new()),
            shared: None,
            askers: Mutex::new(HashMap::new()),
        }
    }

    /// Takes tokens from `limiter` instead of this process's buckets.
    pub(crate) fn with_shared(mut self, limiter: Option<Arc<dyn SharedRateLimiter>>) -> Self {
        self.shared = limiter;
        self
    }

    fn bucket(&self, key: &str) -> Option<Arc<Bucket>> {
        let mut buckets = self
            .buckets
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(b) = buckets.get(key) {
            return Some(Arc::clone(b));
        }
        let limit = self.configured.get(key).copied().or(self.default)?;
        let bucket = Arc::new(Bucket {
            limiter: RateLimiter::direct(limit.quota()),
            jitter: limit.jitter,
        });
        buckets.insert(key.to_owned(), Arc::clone(&bucket));
        Some(bucket)
    }

    /// When the key's pause ends, if it is paused now.
    pub(crate) fn paused_until(&self, key: &str, now: Instant) -> Option<Instant> {
        let pauses = self
            .pauses
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        pauses.get(key).copied().filter(|until| *until > now)
    }

    /// Pauses `key` until `until` for everyone; `true` when this lengthened
    /// the pause (so the caller reports it once).
    pub(crate) fn pause(&self, key: &str, until: Instant) -> bool {
        let mut pauses = self
            .pauses
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let entry = pauses.entry(key.to_owned()).or_insert(until);
        if *entry < until {
            *entry = until;
            true
        } else {
            *entry == until
        }
    }

    /// Waits out any pause of `key`, then for a token of its bucket (the
    /// shared limiter's, when there is one).
    pub(crate) async fn acquire(&self, key: &str) {
        loop {
            while let Some(until) = self.paused_until(key, Instant::now()) {
                tokio::time::sleep_until(until.into()).await;
            }
            if let Some(shared) = &self.shared {
                let Some(limit) = self.configured.get(key).copied().or(self.default) else {
                    return;
                };
                let asker = Arc::clone(
                    self.askers
                        .lock()
                        .unwrap_or_else(std::sync::PoisonError::into_inner)
                        .entry(key.to_owned())
                        .or_default(),
                );
                let _turn = asker.lock().await;
                shared_limit::acquire(shared.as_ref(), key, &limit, limit.jitter).await;
            } else {
                let Some(bucket) = self.bucket(key) else {
                    return;
                };
                bucket.wait().await;
            }
            // A pause that began while we waited for the token wins: the
            // token is spent, but the request waits with everyone else.
            if self.paused_until(key, Instant::now()).is_none() {
                return;
            }
        }
    }
}

impl Bucket {
    async fn wait(&self) {
        if self.jitter.is_zero() {
            self.limiter.until_ready().await;
        } else {
            self.limiter
                .until_ready_with_jitter(Jitter::up_to(self.jitter))
                .await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zero_rate_is_refused() {
        assert!(
            RateLimit::per_second(0)
                .unwrap_err()
                .to_string()
                .contains("rate_limit.count")
        );
        assert_eq!(RateLimit::per_minute(120).unwrap().per_second_rate(), 2.0);
    }

    #[tokio::test]
    async fn a_pacer_spaces_calls_to_its_rate() {
        // 10 a second, bursts of 1: the first call passes, each of the next
        // five waits its tenth of a second. Only a lower bound is checked:
        // a busy machine can make it slower, never faster.
        let pacer = RateLimit::per_second(10).unwrap().pacer();
        let start = Instant::now();
        for _ in 0..6 {
            pacer.wait().await;
        }
        assert!(
            start.elapsed() >= Duration::from_millis(450),
            "{:?}",
            start.elapsed()
        );
    }

    #[tokio::test]
    async fn a_pause_holds_every_caller_of_the_key() {
        let limiters = RateLimiters::new(HashMap::new(), None);
        let start = Instant::now();
        assert!(limiters.pause("api", start + Duration::from_millis(150)));
        assert!(
            limiters.paused_until("other", start).is_none(),
            "other keys are not paused"
        );
        let (a, b) = tokio::join!(limiters.acquire("api"), limiters.acquire("api"));
        let _ = (a, b);
        assert!(start.elapsed() >= Duration::from_millis(150));
    }

    #[tokio::test]
    async fn bucket_spaces_requests() {
        let limit = RateLimit::per_second(50).unwrap().burst(1);
        let limiters = RateLimiters::new(HashMap::from([("k".to_owned(), limit)]), None);
        let start = Instant::now();
        for _ in 0..6 {
            limiters.acquire("k").await;
        }
        // 1 immediately, then 5 more at 20 ms each.
        assert!(
            start.elapsed() >= Duration::from_millis(95),
            "{:?}",
            start.elapsed()
        );
    }
}
