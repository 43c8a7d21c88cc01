//! The conformance suite every [`VideoBackend`] runs (feature
//! `conformance`).
//!
//! A backend proves it speaks its protocol and classifies failures the way
//! the scheduler expects by passing every [`Scenario`]. The suite does not
//! know how scenarios are staged: a [`Harness`] arranges each one (a mock
//! HTTP server with the provider's exact responses, a simulator with fault
//! injection, an in-process fake) and hands back a backend wired to it plus
//! what to expect. The checks are plain `pub async fn`s over
//! `&dyn VideoBackend`, so they can also be called one by one.
//!
//! # Example
//!
//! ```no_run
//! use framebreak_client::conformance::{Arrangement, Harness, Scenario, run_suite};
//!
//! struct MyHarness;
//!
//! #[async_trait::async_trait]
//! impl Harness for MyHarness {
//!     async fn arrange(&self, scenario: Scenario) -> Arrangement {
//!         Arrangement::Unsupported(format!("{scenario} is not staged yet"))
//!     }
//! }
//!
//! # async fn run() {
//! run_suite(&MyHarness).await.assert_passed();
//! # }
//! ```

use std::any::Any;
use std::fmt;
use std::time::Duration;

use async_trait::async_trait;

use crate::{FailureCategory, JobState, VideoBackend, VideoRequest};

mod checks;
pub mod publisher;

pub use checks::{
    content_policy, failed_job, happy_path, malformed_json, queued_running_done, rate_limited,
    submit_fails, truncated_download,
};

/// A situation every backend must handle.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Scenario {
    /// Submit, the job is done at the first poll, download the video.
    HappyPath,
    /// The job is seen queued, then running, then done.
    QueuedRunningDone,
    /// The generation fails on the provider's side.
    FailedJob,
    /// Submit answers 429 with a `Retry-After`.
    RateLimitedWithRetryAfter,
    /// Submit answers 429 without any hint.
    RateLimitedWithoutRetryAfter,
    /// Submit answers a 5xx.
    ServerError,
    /// The server accepts the connection and never answers.
    Timeout,
    /// Nothing listens at the address.
    ConnectionRefused,
    /// Submit answers 200 with a body that is not the protocol's JSON.
    MalformedJson,
    /// The provider refuses the prompt or filters the video.
    ContentPolicy,
    /// The video's body breaks off before its end.
    TruncatedDownload,
    /// The key is refused.
    AuthFailure,
}

impl Scenario {
    /// Every scenario, in the order [`run_suite`] runs them.
    pub const ALL: [Self; 12] = [
        Self::HappyPath,
        Self::QueuedRunningDone,
        Self::FailedJob,
        Self::RateLimitedWithRetryAfter,
        Self::RateLimitedWithoutRetryAfter,
        Self::ServerError,
        Self::Timeout,
        Self::ConnectionRefused,
        Self::MalformedJson,
        Self::ContentPolicy,
        Self::TruncatedDownload,
        Self::AuthFailure,
    ];
}

impl fmt::Display for Scenario {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self, f)
    }
}

/// A coarse job state, for comparing progressions.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Stage {
    /// [`JobState::Queued`].
    Queued,
    /// [`JobState::Running`].
    Running,
    /// [`JobState::Succeeded`].
    Succeeded,
    /// [`JobState::Failed`].
    Failed,
}

impl Stage {
    /// The stage of a state.
    #[must_use]
    pub fn of(state: &JobState) -> Self {
        match state {
            JobState::Queued { .. } => Self::Queued,
            JobState::Running { .. } => Self::Running,
            JobState::Succeeded { .. } => Self::Succeeded,
            JobState::Failed { .. } => Self::Failed,
        }
    }
}

/// What the harness promises about an arranged scenario.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct Expectation {
    /// The backend's name, which its errors must mention.
    pub provider: String,
    /// What to submit.
    pub request: VideoRequest,
    /// The bytes the video download must produce.
    pub video: Vec<u8>,
    /// The wait a [`Scenario::RateLimitedWithRetryAfter`] response asks for.
    pub retry_after: Option<Duration>,
    /// The stages [`Scenario::QueuedRunningDone`] goes through, repeats
    /// removed. A protocol that cannot say "queued" (Veo) leaves it out.
    pub progression: Vec<Stage>,
    /// The category of [`Scenario::FailedJob`]'s error.
    pub failure: FailureCategory,
    /// How the malformed body of [`Scenario::MalformedJson`] starts; the
    /// error must quote it.
    pub malformed_prefix: String,
    /// Polls allowed before a job must be terminal.
    pub max_polls: u32,
}

impl Expectation {
    /// The usual expectations for `provider` serving `video`.
    #[must_use]
    pub fn new(provider: impl Into<String>, video: Vec<u8>) -> Self {
        Self {
            provider: provider.into(),
            request: VideoRequest::new("a glass of water tips over and the water flows upward")
                .duration_secs(8)
                .size(1280, 720)
                .seed(7),
            video,
            retry_after: Some(Duration::from_secs(7)),
            progression: vec![Stage::Queued, Stage::Running, Stage::Succeeded],
            failure: FailureCategory::Server,
            malformed_prefix: "<html>".into(),
            max_polls: 20,
        }
    }

    /// Sets the progression of [`Scenario::QueuedRunningDone`].
    #[must_use]
    pub fn progression(mut self, stages: Vec<Stage>) -> Self {
        self.progression = stages;
        self
    }

    /// Sets the expected `Retry-After`.
    #[must_use]
    pub fn retry_after(mut self, wait: Option<Duration>) -> Self {
        self.retry_after = wait;
        self
    }

    /// Sets the start of the malformed body.
    #[must_use]
    pub fn malformed_prefix(mut self, prefix: impl Into<String>) -> Self {
        self.malformed_prefix = prefix.into();
        self
    }
}

/// A scenario staged by a [`Harness`].
#[non_exhaustive]
pub struct Arranged {
    /// A backend wired to the staged scenario.
    pub backend: Box<dyn VideoBackend>,
    /// What the checks may rely on.
    pub expect: Expectation,
    /// Whatever must live while the check runs (a mock server, a listener).
    pub keep_alive: Box<dyn Any + Send>,
}

impl Arranged {
    /// Bundles a backend, its expectations and what keeps the scenario up.
    #[must_use]
    pub fn new(
        backend: Box<dyn VideoBackend>,
        expect: Expectation,
        keep_alive: Box<dyn Any + Send>,
    ) -> Self {
        Self {
            backend,
            expect,
            keep_alive,
        }
    }
}

impl fmt::Debug for Arranged {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Arranged")
            .field("expect", &self.expect)
            .finish_non_exhaustive()
    }
}

/// What a harness did with a scenario.
#[derive(Debug)]
pub enum Arrangement {
    /// Staged and ready to check.
    Ready(Box<Arranged>),
    /// This implementation cannot stage it (an in-process backend has no
    /// connection to refuse); the reason is reported, not hidden.
    Unsupported(String),
}

/// Stages scenarios for one backend implementation.
#[async_trait]
pub trait Harness: Send + Sync {
    /// Stages `scenario` afresh (no state left from another scenario).
    async fn arrange(&self, scenario: Scenario) -> Arrangement;
}

/// A check that did not hold.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
#[error("{scenario}: {message}")]
pub struct CheckFailure {
    /// The scenario.
    pub scenario: Scenario,
    /// What was wrong.
    pub message: String,
}

/// The outcome of [`run_suite`].
#[derive(Debug, Default)]
pub struct SuiteReport {
    /// Scenarios whose checks held.
    pub passed: Vec<Scenario>,
    /// Scenarios the harness could not stage, with its reason.
    pub unsupported: Vec<(Scenario, String)>,
    /// Checks that did not hold.
    pub failed: Vec<CheckFailure>,
}

impl SuiteReport {
    /// Panics, listing every failure, unless all checks held and at least
    /// one ran: a suite whose every scenario was unsupported proved
    /// nothing, and fails too.
    ///
    /// # Panics
    ///
    /// When any check failed, or none passed.
    #[track_caller]
    pub fn assert_passed(&self) {
        assert!(
            !self.passed.is_empty() || !self.failed.is_empty(),
            "no conformance check ran: the harness staged none of the {} scenarios ({})",
            self.unsupported.len(),
            self.unsupported
                .iter()
                .map(|(s, why)| format!("{s:?}: {why}"))
                .collect::<Vec<_>>()
                .join("; ")
        );
        assert!(
            self.failed.is_empty(),
            "{} of {} conformance checks failed:\n{}",
            self.failed.len(),
            self.failed.len() + self.passed.len(),
            self.failed
                .iter()
                .map(|f| format!("  - {f}"))
                .collect::<Vec<_>>()
                .join("\n")
        );
    }
}

/// Stages and checks every scenario in turn.
pub async fn run_suite(harness: &dyn Harness) -> SuiteReport {
    let mut report = SuiteReport::default();
    for scenario in Scenario::ALL {
        match harness.arrange(scenario).await {
            Arrangement::Unsupported(reason) => report.unsupported.push((scenario, reason)),
            Arrangement::Ready(arranged) => {
                let arranged = *arranged;
                match check(scenario, arranged.backend.as_ref(), &arranged.expect).await {
                    Ok(()) => report.passed.push(scenario),
                    Err(failure) => report.failed.push(failure),
                }
                drop(arranged.keep_alive);
            }
        }
    }
    report
}

/// Runs the check for `scenario`.
///
/// # Errors
///
/// The first expectation that did not hold.
pub async fn check(
    scenario: Scenario,
    backend: &dyn VideoBackend,
    expect: &Expectation,
) -> Result<(), CheckFailure> {
    let result = match scenario {
        Scenario::HappyPath => happy_path(backend, expect).await,
        Scenario::QueuedRunningDone => queued_running_done(backend, expect).await,
        Scenario::FailedJob => failed_job(backend, expect).await,
        Scenario::RateLimitedWithRetryAfter => {
            rate_limited(backend, expect, expect.retry_after).await
        }
        Scenario::RateLimitedWithoutRetryAfter => rate_limited(backend, expect, None).await,
        Scenario::ServerError => submit_fails(backend, expect, FailureCategory::Server).await,
        Scenario::Timeout => submit_fails(backend, expect, FailureCategory::Timeout).await,
        Scenario::ConnectionRefused => {
            submit_fails(backend, expect, FailureCategory::Connection).await
        }
        Scenario::MalformedJson => malformed_json(backend, expect).await,
        Scenario::ContentPolicy => content_policy(backend, expect).await,
        Scenario::TruncatedDownload => truncated_download(backend, expect).await,
        Scenario::AuthFailure => submit_fails(backend, expect, FailureCategory::Auth).await,
    };
    result.map_err(|message| CheckFailure { scenario, message })
}
