//! Building a [`Scheduler`].

use std::collections::HashMap;
use std::fmt;
use std::sync::atomic::AtomicBool;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::{Semaphore, broadcast, mpsc};

use crate::config::{BackendConfig, Config};
use crate::engine::Scheduler;
use crate::error::Result;
use crate::handler::Handler;
use crate::progress::Counters;
use crate::rate::{RateLimit, RateLimiters};
use crate::retry::{RetryBudget, RetryPolicy};
use crate::shared::Shared;
use crate::shared_limit::SharedRateLimiter;
use crate::shutdown::Shutdown;
use crate::store::{JobStore, Outage, Patient};

/// Builds a [`Scheduler`].
#[must_use]
pub struct SchedulerBuilder {
    pub(crate) store: Arc<dyn JobStore>,
    pub(crate) handler: Arc<dyn Handler>,
    pub(crate) config: Config,
    pub(crate) shutdown: Shutdown,
    pub(crate) intake_capacity: Option<usize>,
    pub(crate) shared_limiter: Option<Arc<dyn SharedRateLimiter>>,
}

impl fmt::Debug for SchedulerBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SchedulerBuilder")
            .field("config", &self.config)
            .field("shared_limiter", &self.shared_limiter)
            .finish_non_exhaustive()
    }
}

impl SchedulerBuilder {
    /// Replaces the whole configuration.
    pub fn config(mut self, config: Config) -> Self {
        self.config = config;
        self
    }

    /// Jobs held at once (1 to 10,000).
    pub fn concurrency(mut self, n: usize) -> Self {
        self.config.concurrency = n;
        self
    }

    /// Number of worker lanes for affinity keys.
    pub fn lanes(mut self, n: usize) -> Self {
        self.config.lanes = n;
        self
    }

    /// Lease length.
    pub fn lease_ttl(mut self, ttl: Duration) -> Self {
        self.config.lease_ttl = ttl;
        self
    }

    /// Deadline for in-flight steps after a first cancel.
    pub fn shutdown_deadline(mut self, d: Duration) -> Self {
        self.config.shutdown_deadline = d;
        self
    }

    /// Settings of one backend.
    pub fn backend(mut self, name: impl Into<String>, config: BackendConfig) -> Self {
        self.config.backends.insert(name.into(), config);
        self
    }

    /// Settings of backends not named with [`backend`](Self::backend).
    pub fn default_backend(mut self, config: BackendConfig) -> Self {
        self.config.default_backend = config;
        self
    }

    /// Rate limit of one key.
    pub fn rate_limit(mut self, key: impl Into<String>, limit: RateLimit) -> Self {
        self.config.rate_limits.insert(key.into(), limit);
        self
    }

    /// Enforces every rate limit with `limiter`, a bucket shared by all the
    /// workers of a campaign (e.g. `PgStore::rate_limiter`), instead of a
    /// bucket per process. Limits are still set with
    /// [`rate_limit`](Self::rate_limit) or [`Config::default_rate_limit`].
    pub fn shared_rate_limiter(mut self, limiter: impl SharedRateLimiter + 'static) -> Self {
        self.shared_limiter = Some(Arc::new(limiter));
        self
    }

    /// How long an unreachable store is waited out before the run gives up
    /// (see [`Config::store_outage`]).
    pub fn store_outage(mut self, limit: Duration) -> Self {
        self.config.store_outage = limit;
        self
    }

    /// Retry policy.
    pub fn retry(mut self, policy: RetryPolicy) -> Self {
        self.config.retry = policy;
        self
    }

    /// Retry budget (see [`RetryBudget::new`]).
    pub fn retry_budget(mut self, ratio: f64, per_second: f64, capacity: f64) -> Self {
        self.config.retry_budget = (ratio, per_second, capacity);
        self
    }

    /// Uses this shutdown switch (default: a fresh one, see [`Scheduler::shutdown`]).
    pub fn shutdown(mut self, shutdown: Shutdown) -> Self {
        self.shutdown = shutdown;
        self
    }

    /// Opens a bounded intake queue of `capacity` jobs (see [`Scheduler::intake`]);
    /// the run then waits for new jobs until every [`Intake`](crate::Intake) is dropped.
    pub fn intake(mut self, capacity: usize) -> Self {
        self.intake_capacity = Some(capacity.max(1));
        self
    }

    /// Checks the configuration and builds the scheduler.
    pub fn build(self) -> Result<Scheduler> {
        self.config.validate()?;
        let config = self.config;
        let lane_capacity = config.concurrency.div_ceil(config.lanes);
        let (ratio, per_second, capacity) = config.retry_budget;
        let (events, _) = broadcast::channel(config.event_capacity);
        let (intake_tx, intake_rx) = match self.intake_capacity {
            Some(c) => {
                let (tx, rx) = mpsc::channel(c);
                (Some(tx), Some(rx))
            }
            None => (None, None),
        };
        let outage = Arc::new(Outage::default());
        let shared = Shared {
            store: Arc::new(Patient::new(
                self.store,
                config.store_outage,
                Arc::clone(&outage),
            )),
            outage,
            handler: self.handler,
            limiters: RateLimiters::new(config.rate_limits.clone(), config.default_rate_limit)
                .with_shared(self.shared_limiter),
            lanes: (0..config.lanes)
                .map(|_| Semaphore::new(lane_capacity))
                .collect(),
            lane_capacity,
            budget: RetryBudget::new(ratio, per_second, capacity),
            counters: Counters::new(),
            shutdown: self.shutdown,
            gates: Mutex::new(HashMap::new()),
            events,
            held: Mutex::new(HashMap::new()),
            stopped: AtomicBool::new(false),
            config,
        };
        Ok(Scheduler {
            shared: Arc::new(shared),
            intake_tx: Mutex::new(intake_tx),
            intake_rx: Mutex::new(intake_rx),
        })
    }
}
