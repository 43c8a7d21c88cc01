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
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use async_trait::async_trait;

use crate::{
    DownloadProgress, Error, FailureCategory, JobState, RemoteJob, VideoBackend, VideoBackendExt,
    VideoRequest,
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
    /// Panics, listing every failure, unless all checks held.
    ///
    /// # Panics
    ///
    /// When any check failed.
    #[track_caller]
    pub fn assert_passed(&self) {
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

type Check = Result<(), String>;

fn ensure(cond: bool, message: impl FnOnce() -> String) -> Check {
    if cond { Ok(()) } else { Err(message()) }
}

/// Submits, then polls through a serialised copy of the job handle (as the
/// scheduler does after a restart) until the job is terminal.
async fn run_job(
    backend: &dyn VideoBackend,
    expect: &Expectation,
) -> Result<(Vec<Stage>, JobState), String> {
    let job = backend
        .submit(&expect.request)
        .await
        .map_err(|e| format!("submit failed: {e}"))?;
    poll(backend, &job, expect).await
}

async fn poll(
    backend: &dyn VideoBackend,
    job: &RemoteJob,
    expect: &Expectation,
) -> Result<(Vec<Stage>, JobState), String> {
    let stored =
        serde_json::to_string(&job).map_err(|e| format!("RemoteJob does not serialise: {e}"))?;
    let job: RemoteJob = serde_json::from_str(&stored)
        .map_err(|e| format!("RemoteJob does not deserialise: {e}"))?;
    let mut stages = Vec::new();
    for _ in 0..expect.max_polls {
        let status = backend
            .status(&job)
            .await
            .map_err(|e| format!("status of {} failed: {e}", job.id))?;
        let stage = Stage::of(&status.state);
        if stages.last() != Some(&stage) {
            stages.push(stage);
        }
        if status.state.is_terminal() {
            return Ok((stages, status.state));
        }
        // The provider's hint is honoured up to a bound, so that a mock
        // asking for minutes does not stall the suite.
        tokio::time::sleep(
            status
                .poll_after
                .unwrap_or_default()
                .min(Duration::from_millis(20)),
        )
        .await;
    }
    Err(format!(
        "job {} not terminal after {} polls (stages {stages:?})",
        job.id, expect.max_polls
    ))
}

async fn fetch(backend: &dyn VideoBackend, state: JobState) -> Result<Vec<u8>, Error> {
    let JobState::Succeeded { assets } = state else {
        return Err(Error::InvalidRequest {
            provider: "conformance".into(),
            reason: format!("expected a succeeded job, got {state:?}"),
        });
    };
    let mut sink = Vec::new();
    backend.download(&assets[0], &mut sink, &|_| {}).await?;
    Ok(sink)
}

/// Submit, poll, download; the bytes, the count, progress and the file
/// written by `download_to_file` (with its SHA-256) all agree.
///
/// # Errors
///
/// What did not hold.
pub async fn happy_path(backend: &dyn VideoBackend, expect: &Expectation) -> Check {
    let (_, state) = run_job(backend, expect).await?;
    let JobState::Succeeded { assets } = state else {
        return Err(format!("expected success, got {state:?}"));
    };
    ensure(!assets.is_empty(), || "succeeded without assets".into())?;
    let last = AtomicU64::new(0);
    let progress = |p: DownloadProgress| last.store(p.received, Ordering::Relaxed);
    let mut sink = Vec::new();
    let n = backend
        .download(&assets[0], &mut sink, &progress)
        .await
        .map_err(|e| format!("download failed: {e}"))?;
    ensure(sink == expect.video, || {
        format!(
            "downloaded {} bytes, expected the {} bytes of the video",
            sink.len(),
            expect.video.len()
        )
    })?;
    ensure(n == sink.len() as u64, || {
        format!("download returned {n} but wrote {}", sink.len())
    })?;
    ensure(last.load(Ordering::Relaxed) == n, || {
        "the last progress report is not the total".into()
    })?;

    let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
    let path = dir.path().join("video.mp4");
    let file = backend
        .download_to_file(&assets[0], &path, u64::MAX, &|_| {})
        .await
        .map_err(|e| format!("download_to_file failed: {e}"))?;
    let on_disk = std::fs::read(&path).map_err(|e| e.to_string())?;
    ensure(on_disk == expect.video, || {
        "the file differs from the video".into()
    })?;
    use sha2::Digest;
    let sha = hex::encode(sha2::Sha256::digest(&expect.video));
    ensure(file.sha256 == sha, || {
        format!("sha256 {} != {sha}", file.sha256)
    })
}

/// The job goes through the expected stages, then its video downloads.
///
/// # Errors
///
/// What did not hold.
pub async fn queued_running_done(backend: &dyn VideoBackend, expect: &Expectation) -> Check {
    let (stages, state) = run_job(backend, expect).await?;
    ensure(stages == expect.progression, || {
        format!("stages {stages:?}, expected {:?}", expect.progression)
    })?;
    let video = fetch(backend, state)
        .await
        .map_err(|e| format!("download failed: {e}"))?;
    ensure(video == expect.video, || "the video differs".into())
}

/// The job ends `Failed` with the expected category and a message.
///
/// # Errors
///
/// What did not hold.
pub async fn failed_job(backend: &dyn VideoBackend, expect: &Expectation) -> Check {
    let (_, state) = run_job(backend, expect).await?;
    let JobState::Failed { error } = state else {
        return Err(format!("expected a failed job, got {state:?}"));
    };
    ensure(error.category() == expect.failure, || {
        format!(
            "category {}, expected {} ({error})",
            error.category(),
            expect.failure
        )
    })?;
    ensure(error.to_string().contains(&expect.provider), || {
        format!("`{error}` does not name {}", expect.provider)
    })
}

async fn submit_error(backend: &dyn VideoBackend, expect: &Expectation) -> Result<Error, String> {
    match backend.submit(&expect.request).await {
        Ok(job) => Err(format!("submit succeeded with {job:?}")),
        Err(e) => Ok(e),
    }
}

/// Submit fails with `category`, retryable exactly when the category is,
/// and the message names the provider.
///
/// # Errors
///
/// What did not hold.
pub async fn submit_fails(
    backend: &dyn VideoBackend,
    expect: &Expectation,
    category: FailureCategory,
) -> Check {
    let err = submit_error(backend, expect).await?;
    ensure(err.category() == category, || {
        format!("category {}, expected {category} ({err})", err.category())
    })?;
    ensure(err.is_retryable() == category.is_retryable(), || {
        format!("retryable is {} for {err}", err.is_retryable())
    })?;
    ensure(err.to_string().contains(&expect.provider), || {
        format!("`{err}` does not name {}", expect.provider)
    })
}

/// Submit fails as `rate_limited`, retryable, with exactly `wait` as its
/// retry-after.
///
/// # Errors
///
/// What did not hold.
pub async fn rate_limited(
    backend: &dyn VideoBackend,
    expect: &Expectation,
    wait: Option<Duration>,
) -> Check {
    let err = submit_error(backend, expect).await?;
    ensure(err.category() == FailureCategory::RateLimited, || {
        format!("expected rate_limited, got {err}")
    })?;
    ensure(err.is_retryable(), || {
        "rate_limited must be retryable".into()
    })?;
    ensure(err.retry_after() == wait, || {
        format!("retry_after {:?}, expected {wait:?}", err.retry_after())
    })
}

/// Submit fails as `server`, naming the provider and quoting the body.
///
/// # Errors
///
/// What did not hold.
pub async fn malformed_json(backend: &dyn VideoBackend, expect: &Expectation) -> Check {
    submit_fails(backend, expect, FailureCategory::Server).await?;
    let err = submit_error(backend, expect).await?;
    ensure(err.to_string().contains(&expect.malformed_prefix), || {
        format!(
            "`{err}` does not quote the body's start `{}`",
            expect.malformed_prefix
        )
    })
}

/// The refusal surfaces as `content_policy`, not retryable, at submit or
/// as the job's failure.
///
/// # Errors
///
/// What did not hold.
pub async fn content_policy(backend: &dyn VideoBackend, expect: &Expectation) -> Check {
    let err = match backend.submit(&expect.request).await {
        Err(e) => e,
        Ok(job) => match poll(backend, &job, expect).await? {
            (_, JobState::Failed { error }) => error,
            (_, other) => return Err(format!("expected a refusal, got {other:?}")),
        },
    };
    ensure(err.category() == FailureCategory::ContentPolicy, || {
        format!("expected content_policy, got {err}")
    })?;
    ensure(!err.is_retryable(), || {
        "content_policy must not be retryable".into()
    })
}

/// A body that breaks off is a `download` error, and `download_to_file`
/// leaves nothing behind.
///
/// # Errors
///
/// What did not hold.
pub async fn truncated_download(backend: &dyn VideoBackend, expect: &Expectation) -> Check {
    let (_, state) = run_job(backend, expect).await?;
    let JobState::Succeeded { assets } = state else {
        return Err(format!("expected success, got {state:?}"));
    };
    let mut sink = Vec::new();
    match backend.download(&assets[0], &mut sink, &|_| {}).await {
        Ok(n) => return Err(format!("a truncated body downloaded as {n} bytes")),
        Err(e) => ensure(e.category() == FailureCategory::Download, || {
            format!("expected download, got {e}")
        })?,
    }
    let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
    let path = dir.path().join("video.mp4");
    let result = backend
        .download_to_file(&assets[0], &path, u64::MAX, &|_| {})
        .await;
    ensure(result.is_err(), || {
        "download_to_file accepted a truncated body".into()
    })?;
    let left = std::fs::read_dir(dir.path())
        .map_err(|e| e.to_string())?
        .count();
    ensure(left == 0, || {
        format!("{left} file(s) left behind after a failed download")
    })
}
