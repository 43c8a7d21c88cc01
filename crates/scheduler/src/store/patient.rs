//! Riding out a store that is briefly unreachable: a database restarting,
//! a connection cut. Every call the scheduler makes to its store goes
//! through [`Patient`], which tries again, with backoff, what failed with
//! [`Error::StoreUnavailable`], for as long as the outage has lasted less
//! than the scheduler's `store_outage` setting.
//!
//! Trying again is safe for every operation of the [`JobStore`] contract:
//! `enqueue` is idempotent by id; every update of `apply` is fenced, so a
//! write that was committed before its answer was lost either sets the same
//! values again (heartbeat, begin, advance) or is answered
//! [`Applied::Stale`](crate::Applied::Stale) (complete, fail, retry,
//! release: the lease is gone); a `lease` whose answer was lost leaves its
//! jobs leased to nobody until the lease runs out, when they return. Reads
//! change nothing.

use std::future::Future;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use backon::{BackoffBuilder, ExponentialBuilder};

use super::JobStore;
use crate::error::{Error, Result};
use crate::job::{Applied, Counts, JobId, Lease, LeaseRequest, NewJob, Page, Update};
use crate::shared::lock;

/// Shortest and longest wait between two tries.
const FIRST_WAIT: Duration = Duration::from_millis(100);
const LONGEST_WAIT: Duration = Duration::from_secs(5);

/// Whether the store is unreachable now, and since when; one per scheduler,
/// shared by every call.
#[derive(Debug, Default)]
pub(crate) struct Outage {
    since: Mutex<Option<Instant>>,
    count: AtomicU64,
}

impl Outage {
    /// How long the current outage has lasted, if the store is unreachable.
    pub(crate) fn lasting(&self) -> Option<Duration> {
        lock(&self.since).map(|t| t.elapsed())
    }

    /// Outages seen so far (each counted once, however many calls it failed).
    pub(crate) fn count(&self) -> u64 {
        self.count.load(Ordering::Relaxed)
    }

    /// Notes a failure; returns when the outage began. Logs its start once.
    fn failed(&self, operation: &str, error: &Error, limit: Duration) -> Instant {
        let mut since = lock(&self.since);
        *since.get_or_insert_with(|| {
            self.count.fetch_add(1, Ordering::Relaxed);
            tracing::warn!(
                operation,
                %error,
                "job store unreachable; trying again for up to {limit:?}"
            );
            Instant::now()
        })
    }

    /// Notes a success; logs the end of an outage once.
    fn succeeded(&self) {
        let mut since = lock(&self.since);
        if let Some(began) = since.take() {
            tracing::warn!("job store reachable again after {:.1?}", began.elapsed());
        }
    }
}

/// A store whose unreachable spells are waited out (see the module docs).
#[derive(Debug)]
pub(crate) struct Patient<S> {
    inner: S,
    limit: Duration,
    outage: std::sync::Arc<Outage>,
}

impl<S: JobStore> Patient<S> {
    /// `inner`, its outages waited out for up to `limit` each (zero: not at
    /// all), recorded in `outage`.
    pub(crate) fn new(inner: S, limit: Duration, outage: std::sync::Arc<Outage>) -> Self {
        Self {
            inner,
            limit,
            outage,
        }
    }

    async fn call<T, F, Fut>(&self, operation: &'static str, mut attempt: F) -> Result<T>
    where
        F: FnMut() -> Fut + Send,
        Fut: Future<Output = Result<T>> + Send,
        T: Send,
    {
        let mut waits = ExponentialBuilder::default()
            .with_min_delay(FIRST_WAIT)
            .with_max_delay(LONGEST_WAIT)
            .with_jitter()
            .without_max_times()
            .build();
        loop {
            match attempt().await {
                Ok(value) => {
                    self.outage.succeeded();
                    return Ok(value);
                }
                Err(error) if error.is_transient() => {
                    let began = self.outage.failed(operation, &error, self.limit);
                    let left = self.limit.saturating_sub(began.elapsed());
                    if left.is_zero() {
                        return Err(gave_up(error, began.elapsed(), self.limit));
                    }
                    let wait = waits.next().unwrap_or(LONGEST_WAIT).min(left);
                    tokio::time::sleep(wait).await;
                }
                Err(error) => return Err(error),
            }
        }
    }
}

/// The error a call returns once the store has stayed away past the limit.
fn gave_up(error: Error, lasted: Duration, limit: Duration) -> Error {
    match error {
        Error::StoreUnavailable { operation, reason } => Error::StoreUnavailable {
            operation,
            reason: format!(
                "{reason} (unreachable for {:.0?}; the scheduler waits out outages of up to \
                 {limit:?}, setting `store_outage`)",
                lasted
            ),
        },
        other => other,
    }
}

#[async_trait]
impl<S: JobStore> JobStore for Patient<S> {
    async fn enqueue(&self, jobs: Vec<NewJob>) -> Result<u64> {
        self.call("enqueue", || self.inner.enqueue(jobs.clone()))
            .await
    }

    async fn lease(&self, request: &LeaseRequest) -> Result<Vec<Lease>> {
        self.call("lease", || self.inner.lease(request)).await
    }

    async fn apply(&self, updates: Vec<Update>) -> Result<Vec<Applied>> {
        self.call("apply", || self.inner.apply(updates.clone()))
            .await
    }

    async fn counts(&self) -> Result<Counts> {
        self.call("counts", || self.inner.counts()).await
    }

    async fn finished(&self, after: Option<u64>, limit: usize) -> Result<Page> {
        self.call("finished", || self.inner.finished(after, limit))
            .await
    }

    async fn requeue_failed(&self, ids: Vec<JobId>) -> Result<u64> {
        self.call("requeue_failed", || self.inner.requeue_failed(ids.clone()))
            .await
    }
}
