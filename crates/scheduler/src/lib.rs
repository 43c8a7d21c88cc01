//! A durable, resumable, rate-limited job engine for long-running remote
//! work: it knows nothing about what the jobs do.
//!
//! An application implements [`Handler`] (run one step of one job) and picks
//! a [`JobStore`] ([`SqliteStore`] on disk, [`MemoryStore`] in memory, or,
//! with the `postgres` feature, `PgStore`: one PostgreSQL database shared by
//! any number of workers on any number of machines). The [`Scheduler`] then:
//!
//! - **persists every step** before the next one runs, so a killed run
//!   resumes at the step where it stopped, and records an *intent* before
//!   each step so a handler is told when a step may already have happened
//!   ([`StepContext::possibly_executed`], [`StepContext::idempotency_key`]);
//! - **leases** jobs with expiring, fenced leases and heartbeats, so a dead
//!   worker's jobs come back and a stale worker cannot overwrite anything;
//! - keeps up to 10,000 jobs in flight with **per-backend limits**,
//!   **priorities** ([`Priority`]) and **affinity lanes**, taking jobs from the
//!   store a batch at a time so memory stays flat in the number of jobs;
//! - applies **rate limits** per key ([`RateLimit`], `governor` buckets with
//!   jitter), pauses a key for everyone on a rate-limited answer, and can
//!   adapt concurrency (AIMD) on 429s; a [`SharedRateLimiter`] (such as
//!   `PgRateLimiter`) makes a limit hold across every worker of a campaign;
//! - **retries** by category ([`RetryPolicy`], [`Backoff`]: exponential with
//!   jitter by default, linear, Fibonacci, decorrelated jitter) within a
//!   [`RetryBudget`];
//! - trips a **circuit breaker** per backend ([`Breaker`]); open means jobs
//!   wait, never that they fail;
//! - reports **progress** as [`Event`]s and [`Snapshot`]s, and through the
//!   `metrics` and `tracing` facades;
//! - **shuts down** in two stages ([`Shutdown`]): drain, then abort.
//!
//! # Exactly-once submission
//!
//! Before a step runs, the store durably records that an attempt of that
//! step began (the intent). The step's outcome (the next state, the result or
//! the failure) clears it in the same write that records the outcome. So
//! when a step is run again, [`StepContext::possibly_executed`] is `false`
//! only if no earlier attempt of that step ever began; when it is `true` (a
//! crash, a timeout, a lost answer), the earlier attempt may have had its side
//! effect. [`StepContext::idempotency_key`] is `"{job}:{step}"` in every
//! attempt and every run. Hence, against a backend that deduplicates by that
//! key (or when the handler looks the effect up when `possibly_executed` is
//! `true`), each job's side effect happens **exactly once**: never twice,
//! because every repeat carries the same key or is preceded by a look-up; and
//! never lost, because a job leaves the store only through a persisted
//! terminal state, and an unfinished job's lease expires and it runs again.
//! Durability is SQLite's: with [`Synchronous::Normal`] (the default) a
//! killed process loses nothing acknowledged; with [`Synchronous::Full`]
//! neither does a power cut.
//!
//! # Example
//!
//! ```
//! use async_trait::async_trait;
//! use framebreak_scheduler::{
//!     Failure, Handler, JobStore, MemoryStore, NewJob, RunOutcome, Scheduler, Step, StepContext,
//! };
//! use serde_json::json;
//!
//! #[derive(Debug)]
//! struct Square;
//!
//! #[async_trait]
//! impl Handler for Square {
//!     async fn step(&self, ctx: StepContext<'_>) -> Result<Step, Failure> {
//!         let n = ctx.payload["n"].as_i64().unwrap_or(0);
//!         Ok(Step::Done(json!(n * n)))
//!     }
//! }
//!
//! # tokio::runtime::Runtime::new().unwrap().block_on(async {
//! let store = std::sync::Arc::new(MemoryStore::new());
//! let jobs = (0..100).map(|n| NewJob::new(format!("sq-{n}"), "local", json!({ "n": n })));
//! store.enqueue(jobs.collect::<Result<_, _>>()?).await?;
//! let scheduler = Scheduler::builder(store.clone(), Square).concurrency(10).build()?;
//! let summary = scheduler.run().await?;
//! assert_eq!(summary.outcome, RunOutcome::Drained);
//! assert_eq!(store.counts().await?.done, 100);
//! # Ok::<(), framebreak_scheduler::Error>(())
//! # }).unwrap();
//! ```
#![warn(missing_docs)]

mod breaker;
mod builder;
mod config;
pub mod conformance;
mod engine;
mod error;
mod failure;
mod gate;
mod handler;
mod job;
mod progress;
mod rate;
mod retry;
mod shared;
mod shared_limit;
mod shutdown;
mod spend;
mod store;
mod worker;

pub use breaker::{Admission, Breaker, BreakerConfig, BreakerState, Pass, Transition};
pub use builder::SchedulerBuilder;
pub use config::{Aimd, BackendConfig, Config, MAX_CONCURRENCY};
pub use engine::{Intake, RunOutcome, Scheduler, Summary};
pub use error::{Error, Result};
pub use failure::{Failure, FailureCategory};
pub use handler::{Abandoned, Handler, Step, StepContext};
pub use job::{
    Applied, Counts, JobId, JobRecord, JobState, Lease, LeaseRequest, LeaseToken, MAX_JOB_ID_LEN,
    NewJob, Page, Priority, Update, now_ms,
};
pub use progress::{BackendStatus, Event, Health, JobEvent, LaneStatus, Snapshot};
pub use rate::{Pacer, RateLimit};
pub use retry::{Backoff, GiveUp, RetryBudget, RetryPolicy, RetryRule};
pub use shared_limit::SharedRateLimiter;
pub use shutdown::Shutdown;
pub use spend::{Hold, MemoryLedger, SpendLedger};
pub use store::{JobStore, JobStoreExt, MemoryStore, SqliteOptions, SqliteStore, Synchronous};
#[cfg(feature = "postgres")]
pub use store::{PgOptions, PgRateLimiter, PgSpendLedger, PgStore, QueueCounts, QueueLock};
