//! The checks, one `pub async fn` per kind of scenario.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use super::{Expectation, Stage};
use crate::{
    DownloadProgress, Error, FailureCategory, JobState, RemoteJob, VideoBackend, VideoBackendExt,
};

pub(super) type Check = Result<(), String>;

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
