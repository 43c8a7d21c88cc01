//! Settings of a run. Every default is documented in its `Default` impl.

use std::collections::HashMap;
use std::time::Duration;

use crate::breaker::BreakerConfig;
use crate::error::{Error, Result};
use crate::rate::RateLimit;
use crate::retry::RetryPolicy;

/// Most jobs a run may hold at once.
pub const MAX_CONCURRENCY: usize = 10_000;

/// Additive-increase, multiplicative-decrease adaptation of a backend's
/// concurrency on rate-limited answers.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Aimd {
    /// Never below this.
    pub min: usize,
    /// Never above this (and the limit starts here).
    pub max: usize,
    /// Factor applied on a rate-limited answer, in (0, 1).
    pub decrease: f64,
}

/// Settings of one backend.
#[derive(Clone, Debug, PartialEq)]
pub struct BackendConfig {
    /// Most jobs calling it at once (default 1,000).
    pub max_in_flight: usize,
    /// The rate-limit keys a call takes a token from (default: the backend's
    /// own name). Several backends may share a key (one account, two models).
    pub rate_keys: Option<Vec<String>>,
    /// Its circuit breaker.
    pub breaker: BreakerConfig,
    /// Adapt `max_in_flight` on 429s (default off).
    pub aimd: Option<Aimd>,
}

impl Default for BackendConfig {
    fn default() -> Self {
        Self {
            max_in_flight: 1_000,
            rate_keys: None,
            breaker: BreakerConfig::default(),
            aimd: None,
        }
    }
}

impl BackendConfig {
    pub(crate) fn validate(&self) -> Result<()> {
        if self.max_in_flight == 0 {
            return Err(Error::config("backend.max_in_flight", "must be at least 1"));
        }
        if let Some(aimd) = self.aimd
            && (aimd.min == 0
                || aimd.min > aimd.max
                || !(aimd.decrease > 0.0 && aimd.decrease < 1.0))
        {
            return Err(Error::config(
                "backend.aimd",
                "needs 1 <= min <= max and 0 < decrease < 1",
            ));
        }
        self.breaker.validate()
    }
}

/// Settings of a [`Scheduler`](crate::Scheduler).
#[derive(Clone, Debug)]
pub struct Config {
    /// Jobs held at once, 1 to [`MAX_CONCURRENCY`] (default 100).
    pub concurrency: usize,
    /// Worker lanes; jobs with the same affinity key share one (default 1).
    pub lanes: usize,
    /// Lease length (default 30 s); heartbeats renew it every third of it.
    pub lease_ttl: Duration,
    /// Most jobs leased per store call (default 512).
    pub lease_batch: usize,
    /// How often to look for runnable jobs when none were found (default 50 ms).
    pub poll_interval: Duration,
    /// How long in-flight steps may run after a first cancel (default 30 s).
    pub shutdown_deadline: Duration,
    /// Stop when no job is left to run (default true); otherwise wait for
    /// new jobs until cancelled.
    pub exit_when_drained: bool,
    /// Settings of backends not named in `backends`.
    pub default_backend: BackendConfig,
    /// Settings per backend name.
    pub backends: HashMap<String, BackendConfig>,
    /// Rate limit per key.
    pub rate_limits: HashMap<String, RateLimit>,
    /// Rate limit of keys not named in `rate_limits` (default none).
    pub default_rate_limit: Option<RateLimit>,
    /// Whether and when to retry.
    pub retry: RetryPolicy,
    /// Retry budget: (ratio of successes, retries per second, capacity),
    /// default (0.2, 10, 100); see [`RetryBudget`](crate::RetryBudget).
    pub retry_budget: (f64, f64, f64),
    /// Capacity of the event channel; slow subscribers miss events beyond it
    /// (default 4,096).
    pub event_capacity: usize,
    /// How long the store may stay unreachable before the run gives up
    /// (default 2 minutes; zero: at once). Meanwhile every store call that
    /// failed with [`Error::StoreUnavailable`] is tried again with backoff,
    /// the outage is logged once when it begins and once when it ends, and
    /// [`Snapshot::store_outage`](crate::Snapshot::store_outage) says how
    /// long it has lasted.
    pub store_outage: Duration,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            concurrency: 100,
            lanes: 1,
            lease_ttl: Duration::from_secs(30),
            lease_batch: 512,
            poll_interval: Duration::from_millis(50),
            shutdown_deadline: Duration::from_secs(30),
            exit_when_drained: true,
            default_backend: BackendConfig::default(),
            backends: HashMap::new(),
            rate_limits: HashMap::new(),
            default_rate_limit: None,
            retry: RetryPolicy::default(),
            retry_budget: (0.2, 10.0, 100.0),
            event_capacity: 4096,
            store_outage: Duration::from_secs(120),
        }
    }
}

impl Config {
    /// Checks every setting, naming the first one out of range.
    pub fn validate(&self) -> Result<()> {
        if !(1..=MAX_CONCURRENCY).contains(&self.concurrency) {
            return Err(Error::config(
                "concurrency",
                format!("{} is not in 1..={MAX_CONCURRENCY}", self.concurrency),
            ));
        }
        if self.lanes == 0 || self.lanes > self.concurrency {
            return Err(Error::config(
                "lanes",
                format!(
                    "{} is not in 1..=concurrency ({})",
                    self.lanes, self.concurrency
                ),
            ));
        }
        if self.lease_ttl < Duration::from_millis(30) {
            return Err(Error::config("lease_ttl", "must be at least 30 ms"));
        }
        if self.lease_batch == 0 {
            return Err(Error::config("lease_batch", "must be at least 1"));
        }
        if self.event_capacity == 0 {
            return Err(Error::config("event_capacity", "must be at least 1"));
        }
        let (ratio, per_second, capacity) = self.retry_budget;
        if !(ratio >= 0.0 && per_second >= 0.0 && capacity >= 1.0) {
            return Err(Error::config(
                "retry_budget",
                "needs ratio >= 0, per second >= 0 and capacity >= 1",
            ));
        }
        self.default_backend.validate()?;
        self.backends.values().try_for_each(BackendConfig::validate)
    }

    pub(crate) fn backend(&self, name: &str) -> BackendConfig {
        self.backends
            .get(name)
            .cloned()
            .unwrap_or_else(|| self.default_backend.clone())
    }
}
