//! The conformance suite is not tied to mockito: an in-process backend
//! with its own harness runs it too, and scenarios it cannot stage are
//! reported, not hidden.

use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use framebreak_client::conformance::{
    Arranged, Arrangement, Expectation, Harness, Scenario, Stage, run_suite,
};
use framebreak_client::{
    Asset, DownloadProgress, Error, FailureCategory, JobState, JobStatus, ProgressFn, RemoteJob,
    Result, VideoBackend, VideoRequest,
};
use tokio::io::{AsyncWrite, AsyncWriteExt};

use crate::util::video_bytes;

/// A backend that plays one scenario from memory.
struct Scripted {
    scenario: Scenario,
    polls: AtomicU32,
}

fn http(status: u16, category: FailureCategory, retry_after: Option<Duration>) -> Error {
    Error::Http {
        provider: "scripted".into(),
        status,
        category,
        message: "scripted".into(),
        code: None,
        request_id: None,
        retry_after,
        should_retry: None,
    }
}

#[async_trait]
impl VideoBackend for Scripted {
    async fn submit(&self, _: &VideoRequest) -> Result<RemoteJob> {
        match self.scenario {
            Scenario::RateLimitedWithRetryAfter => Err(http(
                429,
                FailureCategory::RateLimited,
                Some(Duration::from_secs(7)),
            )),
            Scenario::RateLimitedWithoutRetryAfter => {
                Err(http(429, FailureCategory::RateLimited, None))
            }
            Scenario::ServerError => Err(http(503, FailureCategory::Server, None)),
            Scenario::AuthFailure => Err(http(401, FailureCategory::Auth, None)),
            Scenario::MalformedJson => Err(Error::MalformedResponse {
                provider: "scripted".into(),
                status: 200,
                reason: "expected value".into(),
                snippet: "<html>".into(),
            }),
            Scenario::ContentPolicy => Err(Error::ContentPolicy {
                provider: "scripted".into(),
                message: "refused".into(),
                request_id: None,
            }),
            _ => Ok(RemoteJob::new("scripted", "job-1")),
        }
    }

    async fn status(&self, job: &RemoteJob) -> Result<JobStatus> {
        let poll = self.polls.fetch_add(1, Ordering::Relaxed);
        let state = match (self.scenario, poll) {
            (Scenario::QueuedRunningDone, 0) => JobState::Queued { position: Some(1) },
            (Scenario::QueuedRunningDone, 1) => JobState::Running {
                progress: Some(0.5),
            },
            (Scenario::FailedJob, _) => JobState::Failed {
                error: Error::JobFailed {
                    provider: "scripted".into(),
                    job_id: job.id.clone(),
                    code: None,
                    message: "crashed".into(),
                },
            },
            _ => JobState::Succeeded {
                assets: vec![Asset::new("memory://video")],
            },
        };
        Ok(JobStatus::new(state))
    }

    async fn download(
        &self,
        asset: &Asset,
        sink: &mut (dyn AsyncWrite + Unpin + Send),
        progress: ProgressFn<'_>,
    ) -> Result<u64> {
        let video = video_bytes();
        let fail = |reason: String| Error::Download {
            url: asset.url.clone(),
            reason,
        };
        let end = if self.scenario == Scenario::TruncatedDownload {
            video.len() / 2
        } else {
            video.len()
        };
        sink.write_all(&video[..end])
            .await
            .map_err(|e| fail(e.to_string()))?;
        progress(DownloadProgress {
            received: end as u64,
            total: Some(video.len() as u64),
        });
        if end < video.len() {
            return Err(fail(format!("ended after {end} of {} bytes", video.len())));
        }
        Ok(end as u64)
    }
}

struct ScriptedHarness;

#[async_trait]
impl Harness for ScriptedHarness {
    async fn arrange(&self, scenario: Scenario) -> Arrangement {
        if matches!(scenario, Scenario::Timeout | Scenario::ConnectionRefused) {
            return Arrangement::Unsupported("an in-process backend has no connection".into());
        }
        let backend = Scripted {
            scenario,
            polls: AtomicU32::new(0),
        };
        let expect = Expectation::new("scripted", video_bytes()).progression(vec![
            Stage::Queued,
            Stage::Running,
            Stage::Succeeded,
        ]);
        Arrangement::Ready(Box::new(Arranged::new(
            Box::new(backend),
            expect,
            Box::new(()),
        )))
    }
}

#[tokio::test]
async fn an_in_process_backend_runs_the_suite_and_reports_what_it_cannot_stage() {
    let report = run_suite(&ScriptedHarness).await;
    report.assert_passed();
    assert_eq!(report.passed.len(), 10);
    let unsupported: Vec<_> = report.unsupported.iter().map(|(s, _)| *s).collect();
    assert_eq!(
        unsupported,
        [Scenario::Timeout, Scenario::ConnectionRefused]
    );
}

/// A backend that gets a scenario wrong fails the suite, with a message
/// saying which check and why.
#[tokio::test]
async fn a_misclassifying_backend_fails_with_a_readable_report() {
    struct Wrong;
    #[async_trait]
    impl Harness for Wrong {
        async fn arrange(&self, scenario: Scenario) -> Arrangement {
            // Plays "server error" for every scenario.
            let backend = Scripted {
                scenario: Scenario::ServerError,
                polls: AtomicU32::new(0),
            };
            let _ = scenario;
            Arrangement::Ready(Box::new(Arranged::new(
                Box::new(backend),
                Expectation::new("scripted", video_bytes()),
                Box::new(()),
            )))
        }
    }
    let report = run_suite(&Wrong).await;
    assert_eq!(report.passed, [Scenario::ServerError]);
    let rate = report
        .failed
        .iter()
        .find(|f| f.scenario == Scenario::RateLimitedWithRetryAfter)
        .unwrap();
    assert!(
        rate.to_string().starts_with(
            "RateLimitedWithRetryAfter: expected rate_limited, got scripted: HTTP 503"
        ),
        "{rate}"
    );
}

/// A harness that stages nothing proves nothing: the suite fails rather
/// than pass with zero checks run.
#[tokio::test]
async fn a_suite_where_nothing_ran_fails() {
    struct Nothing;
    #[async_trait]
    impl Harness for Nothing {
        async fn arrange(&self, _: Scenario) -> Arrangement {
            Arrangement::Unsupported("cannot stage anything".into())
        }
    }
    let report = run_suite(&Nothing).await;
    assert!(report.passed.is_empty() && report.failed.is_empty());
    let panic = std::panic::catch_unwind(|| report.assert_passed())
        .expect_err("a suite with no check run must fail");
    let message = panic.downcast_ref::<String>().cloned().unwrap_or_default();
    assert!(
        message.starts_with("no conformance check ran")
            && message.contains("cannot stage anything"),
        "{message}"
    );
}
