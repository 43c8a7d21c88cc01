//! Jobs as the store sees them: ids, priorities, states, records, leases and
//! the updates a lease holder may apply.

use std::fmt;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::error::{Error, Result};
use crate::failure::{Failure, FailureCategory};

/// Longest job id accepted, in bytes.
pub const MAX_JOB_ID_LEN: usize = 512;

/// A job's id, chosen by the caller and stable across runs: enqueueing the
/// same id twice is a no-op, which is what makes intake idempotent.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct JobId(String);

impl JobId {
    /// Checks and wraps `id`: non-empty, at most [`MAX_JOB_ID_LEN`] bytes, no
    /// control characters.
    pub fn new(id: impl Into<String>) -> Result<Self> {
        let id = id.into();
        let reason = if id.is_empty() {
            Some("the id is empty".to_owned())
        } else if id.len() > MAX_JOB_ID_LEN {
            Some(format!(
                "the id is {} bytes, over {MAX_JOB_ID_LEN}",
                id.len()
            ))
        } else if id.chars().any(char::is_control) {
            Some("the id contains a control character".to_owned())
        } else {
            None
        };
        match reason {
            Some(reason) => Err(Error::InvalidJob { job: id, reason }),
            None => Ok(Self(id)),
        }
    }

    /// The id as text.
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for JobId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// How urgent a job is; higher priorities are leased first, FIFO within one.
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize,
)]
#[serde(rename_all = "snake_case")]
pub enum Priority {
    /// Background work.
    Low = 0,
    /// The default.
    #[default]
    Normal = 1,
    /// Ahead of normal work.
    High = 2,
    /// Ahead of everything.
    Urgent = 3,
}

impl Priority {
    /// Every level, lowest first.
    pub const ALL: [Self; 4] = [Self::Low, Self::Normal, Self::High, Self::Urgent];

    pub(crate) fn from_level(level: i64) -> Option<Self> {
        Self::ALL.into_iter().find(|p| *p as i64 == level)
    }
}

/// A job to enqueue.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct NewJob {
    /// Stable id; enqueueing an id that exists changes nothing.
    pub id: JobId,
    /// Which backend it runs against: per-backend limits, breaker and default
    /// rate-limit key.
    pub backend: String,
    /// Leasing order.
    pub priority: Priority,
    /// Jobs with the same key run on the same lane.
    pub affinity: Option<String>,
    /// The handler's input, opaque to the scheduler.
    pub payload: Value,
}

impl NewJob {
    /// A normal-priority job without affinity.
    pub fn new(id: impl Into<String>, backend: impl Into<String>, payload: Value) -> Result<Self> {
        Ok(Self {
            id: JobId::new(id)?,
            backend: backend.into(),
            priority: Priority::Normal,
            affinity: None,
            payload,
        })
    }

    /// Sets the priority.
    #[must_use]
    pub fn priority(mut self, priority: Priority) -> Self {
        self.priority = priority;
        self
    }

    /// Sets the affinity key.
    #[must_use]
    pub fn affinity(mut self, key: impl Into<String>) -> Self {
        self.affinity = Some(key.into());
        self
    }
}

/// Where a job stands in the store.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum JobState {
    /// Waiting to be leased (possibly not before some time, after a retry).
    Pending = 0,
    /// Held by a worker until its lease expires.
    Leased = 1,
    /// Finished with a result. Terminal.
    Done = 2,
    /// Finished with a failure. Terminal.
    Failed = 3,
    /// Cancelled. Terminal.
    Cancelled = 4,
}

impl JobState {
    /// Every state.
    pub const ALL: [Self; 5] = [
        Self::Pending,
        Self::Leased,
        Self::Done,
        Self::Failed,
        Self::Cancelled,
    ];

    /// Whether the job will never run again.
    #[must_use]
    pub const fn is_terminal(self) -> bool {
        matches!(self, Self::Done | Self::Failed | Self::Cancelled)
    }

    /// Name used in metrics and snapshots.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Leased => "leased",
            Self::Done => "done",
            Self::Failed => "failed",
            Self::Cancelled => "cancelled",
        }
    }

    pub(crate) fn from_code(code: i64) -> Option<Self> {
        Self::ALL.into_iter().find(|s| *s as i64 == code)
    }
}

/// A job as stored.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct JobRecord {
    /// Insertion order, unique per store; the cursor of [`Page`]s.
    pub seq: u64,
    /// The job as enqueued.
    pub job: NewJob,
    /// Where it stands.
    pub state: JobState,
    /// Index of the next step to run (or the step that finished the job).
    pub step: u32,
    /// What the previous step left for the next one (`null` before step 0).
    pub step_state: Value,
    /// `true` when an attempt of `step` began and its outcome was never
    /// recorded: the step may have had its side effect.
    pub intent: bool,
    /// Failed attempts so far, all steps together.
    pub attempts: u32,
    /// When the first attempt began (ms since the Unix epoch), if one did.
    pub started_at_ms: Option<u64>,
    /// The result, once done.
    pub result: Option<Value>,
    /// The last failure (final once failed or cancelled).
    pub failure: Option<Failure>,
}

/// Proof of holding a job: stale tokens are refused by the store, so a worker
/// whose lease expired cannot overwrite the work of the next holder.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct LeaseToken {
    /// The job.
    pub job: JobId,
    /// Changes every time the job is leased.
    pub fence: u64,
}

/// A leased job.
#[derive(Clone, Debug, PartialEq)]
pub struct Lease {
    /// Present it with every update.
    pub token: LeaseToken,
    /// The job as it was when leased.
    pub record: JobRecord,
    /// When the lease runs out unless heartbeated (ms since the Unix epoch).
    pub expires_at_ms: u64,
}

/// What to lease.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LeaseRequest {
    /// Most jobs to return.
    pub max: usize,
    /// Lease length.
    pub ttl: Duration,
    /// "Now" in ms since the Unix epoch (explicit, so stores are testable).
    pub now_ms: u64,
    /// Backends not to lease from (breaker open, saturated, paused).
    pub exclude_backends: Vec<String>,
}

/// A change a lease holder applies. Every variant carries the lease token and
/// is refused with [`Applied::Stale`] if the token is no longer current.
#[derive(Clone, Debug, PartialEq)]
pub enum Update {
    /// Extend the lease to `until_ms`.
    Heartbeat {
        /// The lease.
        lease: LeaseToken,
        /// New expiry.
        until_ms: u64,
    },
    /// An attempt of the job's current step is about to begin: set the intent
    /// flag (and the start time if unset). Must be durable before the step's
    /// side effect.
    Begin {
        /// The lease.
        lease: LeaseToken,
        /// Now, ms since the epoch.
        now_ms: u64,
    },
    /// The current step finished: move to `step` with `state`, clear intent.
    Advance {
        /// The lease.
        lease: LeaseToken,
        /// The next step.
        step: u32,
        /// Its input.
        state: Value,
    },
    /// The job is done: terminal.
    Complete {
        /// The lease.
        lease: LeaseToken,
        /// The result.
        result: Value,
    },
    /// The attempt failed and will be retried: back to pending, not before
    /// `not_before_ms`; attempts + 1; intent kept (the step may have run).
    Retry {
        /// The lease.
        lease: LeaseToken,
        /// The failure.
        failure: Failure,
        /// Earliest next lease.
        not_before_ms: u64,
    },
    /// The job failed for good: terminal `failed`, or `cancelled` when the
    /// category is [`Cancelled`](FailureCategory::Cancelled).
    Fail {
        /// The lease.
        lease: LeaseToken,
        /// The failure.
        failure: Failure,
    },
    /// The step asked to run again later ([`Step::Wait`](crate::Step::Wait)):
    /// its state replaced, pending, not before `not_before_ms`, intent
    /// cleared, attempts unchanged.
    Wait {
        /// The lease.
        lease: LeaseToken,
        /// The step's new input.
        state: Value,
        /// Earliest next lease.
        not_before_ms: u64,
    },
    /// Give the job back untouched (shutdown): pending, intent kept.
    Release {
        /// The lease.
        lease: LeaseToken,
    },
    /// Give the job back and clear the intent that this lease's
    /// [`Begin`](Self::Begin) set, because the step was never called (a
    /// shutdown came while it waited for a rate-limit token): pending, and
    /// the next run does not see the step as possibly executed.
    Unbegin {
        /// The lease.
        lease: LeaseToken,
    },
}

impl Update {
    /// The lease this update is fenced by.
    #[must_use]
    pub fn lease(&self) -> &LeaseToken {
        match self {
            Self::Heartbeat { lease, .. }
            | Self::Begin { lease, .. }
            | Self::Advance { lease, .. }
            | Self::Complete { lease, .. }
            | Self::Retry { lease, .. }
            | Self::Wait { lease, .. }
            | Self::Fail { lease, .. }
            | Self::Release { lease }
            | Self::Unbegin { lease } => lease,
        }
    }

    /// The state a `Fail` ends in.
    pub(crate) fn terminal_state_of(failure: &Failure) -> JobState {
        if failure.category == FailureCategory::Cancelled {
            JobState::Cancelled
        } else {
            JobState::Failed
        }
    }
}

/// What became of one [`Update`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Applied {
    /// Written.
    Ok,
    /// Refused: the lease is not current (expired and re-leased, or the job
    /// is finished). The holder must stop working on the job.
    Stale,
}

/// Jobs per state.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Counts {
    /// Waiting.
    pub pending: u64,
    /// Leased.
    pub leased: u64,
    /// Done.
    pub done: u64,
    /// Failed.
    pub failed: u64,
    /// Cancelled.
    pub cancelled: u64,
}

impl Counts {
    /// All jobs.
    #[must_use]
    pub const fn total(&self) -> u64 {
        self.pending + self.leased + self.done + self.failed + self.cancelled
    }

    /// Jobs that will still run.
    #[must_use]
    pub const fn unfinished(&self) -> u64 {
        self.pending + self.leased
    }

    /// Jobs that are finished.
    #[must_use]
    pub const fn finished(&self) -> u64 {
        self.done + self.failed + self.cancelled
    }

    pub(crate) fn add(&mut self, state: JobState, n: u64) {
        *self.of(state) += n;
    }

    /// Takes `n` jobs of `state` away (saturating at 0).
    pub(crate) fn remove(&mut self, state: JobState, n: u64) {
        let c = self.of(state);
        *c = c.saturating_sub(n);
    }

    fn of(&mut self, state: JobState) -> &mut u64 {
        match state {
            JobState::Pending => &mut self.pending,
            JobState::Leased => &mut self.leased,
            JobState::Done => &mut self.done,
            JobState::Failed => &mut self.failed,
            JobState::Cancelled => &mut self.cancelled,
        }
    }
}

/// One page of finished jobs, in insertion order.
#[derive(Clone, Debug, PartialEq)]
pub struct Page {
    /// The jobs.
    pub records: Vec<JobRecord>,
    /// Pass as `after` to get the next page; `None` at the end.
    pub next: Option<u64>,
}

impl Page {
    /// The page of `records` fetched with one extra row (`limit + 1`), so
    /// that whether there is a next page is known without another query.
    pub(crate) fn from_overfetch(mut records: Vec<JobRecord>, limit: usize) -> Self {
        let more = records.len() > limit;
        records.truncate(limit);
        let next = if more {
            records.last().map(|r| r.seq)
        } else {
            None
        };
        Self { records, next }
    }
}

/// Milliseconds since the Unix epoch, now.
#[must_use]
pub fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

pub(crate) fn ms(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bad_job_ids_are_refused_with_the_reason() {
        assert!(JobId::new("a/b:1").is_ok());
        for (id, why) in [
            (String::new(), "empty"),
            ("x".repeat(MAX_JOB_ID_LEN + 1), "over"),
            ("a\nb".to_owned(), "control"),
        ] {
            let err = JobId::new(id).unwrap_err().to_string();
            assert!(err.contains(why), "{err}");
        }
    }
}
