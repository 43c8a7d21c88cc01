//! The `JobStore` trait: where jobs live between steps and across runs.

mod memory;
mod patient;
#[cfg(feature = "postgres")]
mod postgres;
mod sqlite;

use std::fmt;

use async_trait::async_trait;
use futures::{Stream, StreamExt};

use crate::error::Result;
use crate::job::{Applied, Counts, JobId, JobRecord, Lease, LeaseRequest, NewJob, Page, Update};

pub use memory::MemoryStore;
pub(crate) use patient::{Outage, Patient};
#[cfg(feature = "postgres")]
pub use postgres::{PgOptions, PgRateLimiter, PgSpendLedger, PgStore, QueueCounts, QueueLock};
pub use sqlite::{SqliteOptions, SqliteStore, Synchronous};

/// Durable home of jobs: intake, leases, step progress and results.
///
/// The scheduler never keeps a job's progress anywhere else, so whatever a
/// store has acknowledged survives a crash of the process (for
/// [`SqliteStore`], of the process at any synchronous level and of the
/// machine at [`Synchronous::Full`]).
///
/// # Contract (checked by [`conformance`](crate::conformance))
///
/// - **`enqueue` is idempotent by id**: an id already stored is skipped,
///   whatever its state; the return value counts only new jobs. New jobs are
///   `pending` at step 0 with `null` state.
/// - **`lease` is exclusive**: it hands out up to `max` jobs that are pending
///   with `not_before <= now`, or leased with an expired lease, highest
///   priority first and in insertion order within a priority, skipping
///   `exclude_backends`. Each lease gets a fresh fence; from then on only that
///   fence is accepted for the job.
/// - **`apply` is fenced and atomic**: the updates of one call are applied in
///   order in one transaction; an update whose token is not the job's current
///   lease (or whose job is terminal or not leased) changes nothing and is
///   answered [`Applied::Stale`]. The answer has one entry per update.
///   `apply` returns only once the changes are durable.
/// - **`counts`** counts jobs per state, leased jobs with an expired lease
///   included in `leased`.
/// - **`finished`** pages through terminal jobs in insertion order, starting
///   after the cursor `after` (`None`: from the start), at most `limit` per
///   page.
///
/// Stores are shared by many tasks at once: every method takes `&self`.
///
/// # Example
///
/// ```
/// use std::time::Duration;
/// use framebreak_scheduler::{JobStore, LeaseRequest, MemoryStore, NewJob, Update, now_ms};
/// use serde_json::json;
///
/// # tokio::runtime::Runtime::new().unwrap().block_on(async {
/// let store = MemoryStore::new();
/// store.enqueue(vec![NewJob::new("job-1", "api", json!({"n": 1}))?]).await?;
/// let leases = store
///     .lease(&LeaseRequest { max: 10, ttl: Duration::from_secs(30), now_ms: now_ms(), exclude_backends: vec![] })
///     .await?;
/// let token = leases[0].token.clone();
/// store.apply(vec![Update::Complete { lease: token, result: json!("ok") }]).await?;
/// assert_eq!(store.counts().await?.done, 1);
/// # Ok::<(), framebreak_scheduler::Error>(())
/// # }).unwrap();
/// ```
#[async_trait]
#[auto_impl::auto_impl(&, Box, Arc)]
pub trait JobStore: Send + Sync + fmt::Debug {
    /// Adds jobs whose ids are new; returns how many were new.
    async fn enqueue(&self, jobs: Vec<NewJob>) -> Result<u64>;

    /// Leases up to `request.max` runnable jobs.
    async fn lease(&self, request: &LeaseRequest) -> Result<Vec<Lease>>;

    /// Applies fenced updates atomically and durably, one answer per update.
    async fn apply(&self, updates: Vec<Update>) -> Result<Vec<Applied>>;

    /// Jobs per state.
    async fn counts(&self) -> Result<Counts>;

    /// One page of terminal jobs after cursor `after`.
    async fn finished(&self, after: Option<u64>, limit: usize) -> Result<Page>;

    /// Puts the named jobs that are `failed` or `cancelled` back in the queue
    /// as if never tried: pending, no attempts, no failure, and no intent,
    /// so their current step runs afresh (the caller has decided it must,
    /// e.g. a submission the user chose to send again). Jobs in any other
    /// state, and unknown ids, are left alone. Returns how many changed.
    async fn requeue_failed(&self, ids: Vec<JobId>) -> Result<u64>;
}

// Fails to compile if `JobStore` stops being object-safe.
const _: fn(Box<dyn JobStore>) = |_| {};

/// Conveniences over any [`JobStore`].
#[async_trait]
pub trait JobStoreExt: JobStore {
    /// Enqueues a stream of jobs in batches of `batch`, holding at most one
    /// batch in memory; returns how many were new.
    async fn enqueue_stream<S>(&self, jobs: S, batch: usize) -> Result<u64>
    where
        S: Stream<Item = NewJob> + Send + Unpin,
    {
        let mut chunks = jobs.chunks(batch.max(1));
        let mut added = 0;
        while let Some(chunk) = chunks.next().await {
            added += self.enqueue(chunk).await?;
        }
        Ok(added)
    }

    /// Applies one update.
    async fn apply_one(&self, update: Update) -> Result<Applied> {
        let answers = self.apply(vec![update]).await?;
        Ok(answers.first().copied().unwrap_or(Applied::Stale))
    }

    /// Every terminal job, in insertion order, fetched `page` at a time.
    fn results(&self, page: usize) -> futures::stream::BoxStream<'_, Result<JobRecord>> {
        let page = page.max(1);
        futures::stream::unfold(Some(None), move |cursor| async move {
            let after = cursor?;
            match self.finished(after, page).await {
                Ok(p) => Some((Ok(p.records), p.next.map(Some))),
                Err(e) => Some((Err(e), None)),
            }
        })
        .flat_map(|chunk| match chunk {
            Ok(records) => futures::stream::iter(records.into_iter().map(Ok).collect::<Vec<_>>()),
            Err(e) => futures::stream::iter(vec![Err(e)]),
        })
        .boxed()
    }
}

impl<S: JobStore + ?Sized> JobStoreExt for S {}
