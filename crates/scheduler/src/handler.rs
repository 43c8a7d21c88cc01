//! The one trait an application implements: run one step of one job.

use std::fmt;

use async_trait::async_trait;
use serde_json::Value;
use tokio_util::sync::CancellationToken;

use crate::failure::Failure;
use crate::job::JobId;

/// Everything a [`Handler`] knows about the step it runs.
#[derive(Debug)]
pub struct StepContext<'a> {
    /// The job.
    pub job: &'a JobId,
    /// Its backend.
    pub backend: &'a str,
    /// Its payload, as enqueued.
    pub payload: &'a Value,
    /// Index of the step to run, from 0.
    pub step: u32,
    /// What the previous step returned in [`Step::Next`] (`null` for step 0).
    pub state: &'a Value,
    /// Failed attempts of this job so far.
    pub attempt: u32,
    /// `"{job}:{step}"`: the same for every attempt of this step, in every
    /// run. Send it to backends that deduplicate requests by key.
    pub idempotency_key: &'a str,
    /// `true` when an earlier attempt of this very step began and its outcome
    /// was never recorded (a crash, a timeout, a lost answer): its side effect
    /// may have happened. `false` is a guarantee that no earlier attempt of
    /// this step began. A handler whose step has a side effect should, when
    /// this is `true`, look the effect up (or rely on the idempotency key)
    /// instead of repeating it.
    pub possibly_executed: bool,
    /// When the job's first attempt began (ms since the Unix epoch): the
    /// earliest moment any side effect of it can have happened, so the
    /// window to search when [`possibly_executed`](Self::possibly_executed)
    /// is `true`.
    pub first_attempt_ms: Option<u64>,
    /// The lane the job runs on (from its affinity key).
    pub lane: usize,
    /// Cancelled when the step must stop now (hard shutdown, lost lease).
    pub cancel: &'a CancellationToken,
}

/// A job that just ended failed or cancelled, as its handler last saw it:
/// what [`Handler::abandoned`] needs to undo work in flight elsewhere.
#[derive(Debug)]
pub struct Abandoned<'a> {
    /// The job.
    pub job: &'a JobId,
    /// Its backend (lane), as enqueued.
    pub backend: &'a str,
    /// Its payload, as enqueued.
    pub payload: &'a Value,
    /// The step it ended at.
    pub step: u32,
    /// What the step before it returned (`null` at step 0).
    pub state: &'a Value,
    /// Why it ended; already persisted.
    pub failure: &'a Failure,
}

/// What a successful step leads to.
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub enum Step {
    /// Run step `step + 1` next, with this state. The state is persisted
    /// before the next step runs, so a restart resumes there.
    Next(Value),
    /// The job is finished with this result.
    Done(Value),
    /// Run this same step again, with `state`, no sooner than `after` from
    /// now: the job is persisted as pending with that state and gives its
    /// slot and lease back meanwhile (a generation still running at a
    /// provider is polled this way, so thousands can wait while a few
    /// slots work). Not a failure: no attempt is counted.
    Wait {
        /// The step's input next time.
        state: Value,
        /// How long to wait before running it again.
        after: std::time::Duration,
    },
}

/// Runs one step of one job.
///
/// The scheduler calls `step` with the job's persisted position; the handler
/// does that one step (submit, poll, download, …) and returns either the
/// state for the next step, the job's result, or a classified [`Failure`].
/// It never loops over steps itself: returning after each lets the scheduler
/// persist progress, apply rate limits and honour shutdown between steps.
///
/// # Contract
///
/// - **Steps are retried.** A step may run more than once: after a retryable
///   failure, or after a crash. Use [`StepContext::idempotency_key`] and
///   [`StepContext::possibly_executed`] to make side effects happen once.
/// - **Never two at once.** The scheduler never runs two steps of one job at
///   the same time in one process; across processes, leases with fencing
///   tokens keep a stale worker from recording anything.
/// - **Classify honestly.** The [`FailureCategory`](crate::FailureCategory)
///   alone decides retries, breaker counting and rate-limit pauses.
/// - **Be cancellable.** Watch [`StepContext::cancel`] in long waits.
///
/// # Example
///
/// ```
/// use async_trait::async_trait;
/// use framebreak_scheduler::{Failure, FailureCategory, Handler, Step, StepContext};
/// use serde_json::json;
///
/// /// Step 0 "submits", step 1 "collects".
/// #[derive(Debug)]
/// struct TwoSteps;
///
/// #[async_trait]
/// impl Handler for TwoSteps {
///     async fn step(&self, ctx: StepContext<'_>) -> Result<Step, Failure> {
///         match ctx.step {
///             0 => Ok(Step::Next(json!({ "remote": ctx.idempotency_key }))),
///             1 => Ok(Step::Done(ctx.state["remote"].clone())),
///             n => Err(Failure::new(FailureCategory::BadRequest, format!("no step {n}"))),
///         }
///     }
/// }
/// ```
#[async_trait]
#[auto_impl::auto_impl(&, Box, Arc)]
pub trait Handler: Send + Sync + fmt::Debug {
    /// Runs step `ctx.step` of job `ctx.job`.
    async fn step(&self, ctx: StepContext<'_>) -> Result<Step, Failure>;

    /// Whether step `step` takes a token from the job's rate limits before
    /// it runs (default: every step does). A pipeline whose provider limits
    /// only some calls (submissions, say) answers `false` for the steps
    /// that make none, so local work (downloading, analysing) does not
    /// spend the provider's budget.
    fn rate_limited(&self, step: u32) -> bool {
        let _ = step;
        true
    }

    /// Whether step `step` may be stopped part-way when a graceful shutdown
    /// begins (default: no: a step that has begun runs to its end, up to the
    /// drain deadline). Answer `true` only for a step that may be cut at any
    /// await point and run again from its start with no harm: one that only
    /// waits and looks (polling a remote job for its result, say). Such a
    /// step is stopped at the first shutdown signal and its job given back,
    /// to be run again (with `possibly_executed` set) by the next run.
    fn interruptible(&self, step: u32) -> bool {
        let _ = step;
        false
    }

    /// Called once when a job has ended failed or cancelled (the outcome is
    /// already persisted), so the handler can release what the job still
    /// holds elsewhere: a generation still running at a provider, say.
    /// Best effort: it cannot change the outcome, and a crash before it
    /// runs skips it. Default: nothing.
    async fn abandoned(&self, job: Abandoned<'_>) {
        let _ = job;
    }
}

// Fails to compile if `Handler` stops being object-safe.
const _: fn(Box<dyn Handler>) = |_| {};
