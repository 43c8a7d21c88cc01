//! What a run reports: a stream of [`Event`]s and [`Snapshot`]s on demand.

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use serde::Serialize;

use crate::breaker::BreakerState;
use crate::failure::FailureCategory;
use crate::job::{Counts, JobId, JobState};

/// Health of a backend or lane.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Health {
    /// No outcome seen yet.
    Starting,
    /// Taking work.
    Ready,
    /// At its concurrency limit.
    Busy,
    /// Breaker not closed, a rate-limit pause, or recent failures.
    Degraded,
    /// The run is shutting down or over.
    Stopped,
}

/// What happened to a job.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "snake_case", tag = "kind")]
#[non_exhaustive]
pub enum JobEvent {
    /// Leased by this run, at this step.
    Leased {
        /// Step index.
        step: u32,
    },
    /// A step finished and was persisted; `step` is the next one.
    Advanced {
        /// Step index.
        step: u32,
    },
    /// A step failed and the job will be retried after `delay`.
    Retrying {
        /// Why.
        category: FailureCategory,
        /// The wait.
        delay: Duration,
    },
    /// The step asked to run again after `after` (a remote result not
    /// ready yet); the job waits in the store, holding no slot.
    Waiting {
        /// The wait.
        after: Duration,
    },
    /// Given back to the store untouched (shutdown or lost lease).
    Released,
    /// Finished: `done`, `failed` or `cancelled`.
    Finished {
        /// The terminal state.
        state: JobState,
        /// The failure's category when not done.
        category: Option<FailureCategory>,
    },
}

/// One thing that happened in a run.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "snake_case", tag = "type")]
#[non_exhaustive]
pub enum Event {
    /// A job changed.
    Job {
        /// Which.
        job: JobId,
        /// Its backend.
        backend: String,
        /// What happened.
        event: JobEvent,
    },
    /// A backend's breaker changed state.
    Breaker {
        /// Which backend.
        backend: String,
        /// Before.
        from: BreakerState,
        /// After.
        to: BreakerState,
    },
    /// A rate-limit key was paused for everyone after a rate-limited answer.
    RateLimitPaused {
        /// The key.
        key: String,
        /// For how long.
        pause: Duration,
    },
    /// A backend's adaptive concurrency limit changed.
    ConcurrencyAdapted {
        /// Which backend.
        backend: String,
        /// The new limit.
        limit: usize,
    },
}

/// A backend as seen in a snapshot.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct BackendStatus {
    /// Its name.
    pub name: String,
    /// Breaker state.
    pub breaker: BreakerState,
    /// Derived health.
    pub health: Health,
    /// Jobs calling it now.
    pub in_flight: usize,
    /// Its current concurrency limit (adapted when AIMD is on).
    pub limit: usize,
}

/// A lane as seen in a snapshot.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct LaneStatus {
    /// Lane index.
    pub index: usize,
    /// Jobs running on it.
    pub in_flight: usize,
    /// Its capacity.
    pub capacity: usize,
    /// Derived health.
    pub health: Health,
}

/// Where a run stands.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Snapshot {
    /// Jobs per state, as this run sees them: the store's counts at start,
    /// moved by what this run did and by its [`Intake`](crate::Intake). Jobs
    /// that others add straight to the store show up in the next run's.
    pub counts: Counts,
    /// Jobs held by this run.
    pub in_flight: usize,
    /// Steps finished by this run.
    pub steps: u64,
    /// Jobs this run finished.
    pub finished: u64,
    /// Retries scheduled by this run.
    pub retries: u64,
    /// Failures by category seen by this run (each failed attempt counts).
    pub failures: Vec<(FailureCategory, u64)>,
    /// Jobs finished per second, since the run began.
    pub rate: f64,
    /// At that rate, time until every unfinished job is finished.
    pub eta: Option<Duration>,
    /// Time since the run began.
    pub elapsed: Duration,
    /// Every backend seen.
    pub backends: Vec<BackendStatus>,
    /// Every lane.
    pub lanes: Vec<LaneStatus>,
    /// How long the store has been unreachable, while it is (the run waits
    /// it out for up to [`Config::store_outage`](crate::Config::store_outage)).
    pub store_outage: Option<Duration>,
    /// Outages of the store this run has waited out or is waiting out.
    pub store_outages: u64,
}

/// Counters updated by a run, read by snapshots.
#[derive(Debug)]
pub(crate) struct Counters {
    pub(crate) started: Instant,
    pub(crate) initial: std::sync::Mutex<Counts>,
    pub(crate) enqueued: AtomicU64,
    pub(crate) in_flight: AtomicUsize,
    pub(crate) steps: AtomicU64,
    pub(crate) retries: AtomicU64,
    pub(crate) done: AtomicU64,
    pub(crate) failed: AtomicU64,
    pub(crate) cancelled: AtomicU64,
    pub(crate) failures: [AtomicU64; FailureCategory::ALL.len()],
}

impl Counters {
    /// Sets the in-flight and queue-depth gauges
    /// (`framebreak_vocab::metrics`) from these counters.
    pub(crate) fn publish_gauges(&self) {
        let in_flight = self.in_flight.load(Ordering::Relaxed);
        let finished = self.done.load(Ordering::Relaxed)
            + self.failed.load(Ordering::Relaxed)
            + self.cancelled.load(Ordering::Relaxed);
        let initial = self
            .initial
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .unfinished();
        let unfinished = (initial + self.enqueued.load(Ordering::Relaxed)).saturating_sub(finished);
        metrics::gauge!(framebreak_vocab::metrics::JOBS_IN_FLIGHT).set(in_flight as f64);
        metrics::gauge!(framebreak_vocab::metrics::QUEUE_DEPTH)
            .set(unfinished.saturating_sub(in_flight as u64) as f64);
    }

    pub(crate) fn new() -> Self {
        Self {
            started: Instant::now(),
            initial: std::sync::Mutex::new(Counts::default()),
            enqueued: AtomicU64::new(0),
            in_flight: AtomicUsize::new(0),
            steps: AtomicU64::new(0),
            retries: AtomicU64::new(0),
            done: AtomicU64::new(0),
            failed: AtomicU64::new(0),
            cancelled: AtomicU64::new(0),
            failures: std::array::from_fn(|_| AtomicU64::new(0)),
        }
    }

    pub(crate) fn finish(&self, state: JobState) {
        let counter = match state {
            JobState::Done => &self.done,
            JobState::Failed => &self.failed,
            JobState::Cancelled => &self.cancelled,
            JobState::Pending | JobState::Leased => return,
        };
        counter.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn snapshot(
        &self,
        backends: Vec<BackendStatus>,
        lanes: Vec<LaneStatus>,
    ) -> Snapshot {
        let load = |c: &AtomicU64| c.load(Ordering::Relaxed);
        let initial = *self
            .initial
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let (done, failed, cancelled) =
            (load(&self.done), load(&self.failed), load(&self.cancelled));
        let finished = done + failed + cancelled;
        let in_flight = self.in_flight.load(Ordering::Relaxed);
        let unfinished = (initial.unfinished() + load(&self.enqueued)).saturating_sub(finished);
        let counts = Counts {
            pending: unfinished.saturating_sub(in_flight as u64),
            leased: in_flight as u64,
            done: initial.done + done,
            failed: initial.failed + failed,
            cancelled: initial.cancelled + cancelled,
        };
        let elapsed = self.started.elapsed();
        let rate = finished as f64 / elapsed.as_secs_f64().max(1e-9);
        let eta = (rate > 0.0).then(|| Duration::from_secs_f64(unfinished as f64 / rate));
        Snapshot {
            counts,
            in_flight,
            steps: load(&self.steps),
            finished,
            retries: load(&self.retries),
            failures: FailureCategory::ALL
                .into_iter()
                .map(|c| (c, load(&self.failures[c.index()])))
                .filter(|(_, n)| *n > 0)
                .collect(),
            rate,
            eta,
            elapsed,
            backends,
            lanes,
            store_outage: None,
            store_outages: 0,
        }
    }
}
