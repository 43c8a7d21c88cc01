//! The in-process face: a `VideoBackend` with no sockets.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use framebreak_client::DownloadProgress;
use framebreak_client::{
    Asset, Error as ClientError, FailureCategory, JobState, JobStatus, ProgressFn, RemoteJob,
    Result, VideoBackend, VideoRequest,
};
use tokio::io::{AsyncWrite, AsyncWriteExt};

use crate::jobs::{Delivery, Jobs, Phase, SubmitFault};
use crate::{Faults, GroundTruth, Latency, Simulator};

/// The name in every [`RemoteJob`] the in-process backend makes.
pub const SIM_BACKEND: &str = "sim";

/// The simulator as an in-process [`VideoBackend`]: `framebreak run`'s
/// default. Faults behave as the HTTP face's do, as the client's errors.
///
/// ```
/// use framebreak_client::{JobState, VideoBackend, VideoRequest};
/// use framebreak_sim::{Latency, Profile, SimBackend, Simulator};
///
/// # #[tokio::main(flavor = "multi_thread", worker_threads = 2)] async fn main() -> framebreak_client::Result<()> {
/// let backend = SimBackend::new(Simulator::new(Profile::strong()).unwrap()).with_latency(Latency::none());
/// let job = backend.submit(&VideoRequest::new("a pendulum swings").size(64, 48).duration_secs(1)).await?;
/// let assets = loop {
///     if let JobState::Succeeded { assets } = backend.status(&job).await?.state { break assets; }
///     tokio::time::sleep(std::time::Duration::from_millis(10)).await;
/// };
/// let mut mp4 = Vec::new();
/// backend.download(&assets[0], &mut mp4, &|_| {}).await?;
/// assert_eq!(&mp4[4..8], b"ftyp");
/// assert_eq!(backend.truth(&job).unwrap().scene.as_str(), "pendulum");
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct SimBackend {
    jobs: Arc<Jobs>,
    timeout: Duration,
}

impl SimBackend {
    /// A backend over `simulator`, no faults, small latency.
    #[must_use]
    pub fn new(simulator: Simulator) -> Self {
        Self::shared(Arc::new(simulator), Faults::none(), Latency::default())
    }

    /// A backend sharing `simulator` (and its cache) with others.
    #[must_use]
    pub fn shared(simulator: Arc<Simulator>, faults: Faults, latency: Latency) -> Self {
        Self {
            jobs: Arc::new(Jobs::new(simulator, faults, latency)),
            timeout: framebreak_client::DEFAULT_TIMEOUT,
        }
    }

    /// Injects `faults`.
    #[must_use]
    pub fn with_faults(self, faults: Faults) -> Self {
        Self::shared(self.jobs.sim.clone(), faults, self.jobs.latency.clone()).timeout(self.timeout)
    }

    /// Sets how long jobs take.
    #[must_use]
    pub fn with_latency(self, latency: Latency) -> Self {
        Self::shared(self.jobs.sim.clone(), self.jobs.faults.clone(), latency).timeout(self.timeout)
    }

    /// How long a hanging submission waits before it times out, as a
    /// client's timeout would.
    #[must_use]
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// The ground truth of a finished job.
    #[must_use]
    pub fn truth(&self, job: &RemoteJob) -> Option<GroundTruth> {
        self.jobs.video(&job.id).map(|(v, _)| v.truth.clone())
    }

    fn http(status: u16, message: &str, retry_after: Option<Duration>) -> ClientError {
        ClientError::Http {
            provider: SIM_BACKEND.into(),
            status,
            category: FailureCategory::from_status(status),
            message: message.into(),
            code: None,
            request_id: None,
            retry_after,
            should_retry: None,
        }
    }
}

fn job_id(url: &str) -> Option<&str> {
    url.strip_prefix("sim://videos/")
}

#[async_trait]
impl VideoBackend for SimBackend {
    async fn submit(&self, request: &VideoRequest) -> Result<RemoteJob> {
        match self.jobs.submit_fault() {
            Some(SubmitFault::RateLimited(wait)) => {
                return Err(Self::http(429, "rate limit reached", wait));
            }
            Some(SubmitFault::ServerError | SubmitFault::Malformed) => {
                return Err(Self::http(500, "the simulator failed", None));
            }
            Some(SubmitFault::Hang) => {
                tokio::time::sleep(self.timeout).await;
                return Err(ClientError::Timeout {
                    provider: SIM_BACKEND.into(),
                    url: "sim://videos".into(),
                    after: self.timeout,
                });
            }
            Some(SubmitFault::ContentPolicy) => {
                return Err(ClientError::ContentPolicy {
                    provider: SIM_BACKEND.into(),
                    message: "the prompt was refused by the simulated moderation".into(),
                    request_id: None,
                });
            }
            None => {}
        }
        let view = self
            .jobs
            .submit(request)
            .map_err(|e| ClientError::InvalidRequest {
                provider: SIM_BACKEND.into(),
                reason: e.to_string(),
            })?;
        Ok(RemoteJob::new(SIM_BACKEND, view.id))
    }

    async fn status(&self, job: &RemoteJob) -> Result<JobStatus> {
        if job.backend != SIM_BACKEND {
            return Err(ClientError::InvalidRequest {
                provider: SIM_BACKEND.into(),
                reason: format!(
                    "job {} was created by backend `{}`, not `{SIM_BACKEND}`",
                    job.id, job.backend
                ),
            });
        }
        let view = self
            .jobs
            .poll(&job.id)
            .ok_or_else(|| Self::http(404, &format!("no job {}", job.id), None))?;
        let state = match view.phase {
            Phase::Queued => JobState::Queued { position: None },
            Phase::Running(p) => JobState::Running { progress: Some(p) },
            Phase::Done => JobState::Succeeded {
                assets: vec![Asset {
                    url: format!("sim://videos/{}", view.id),
                    content_type: Some("video/mp4".into()),
                }],
            },
            Phase::Failed { code, message } => JobState::Failed {
                error: ClientError::JobFailed {
                    provider: SIM_BACKEND.into(),
                    job_id: view.id,
                    code: Some(code.into()),
                    message,
                },
            },
        };
        let hint = (!state.is_terminal()).then_some(self.jobs.latency.poll_after);
        Ok(JobStatus::new(state).poll_after(hint))
    }

    async fn download(
        &self,
        asset: &Asset,
        sink: &mut (dyn AsyncWrite + Unpin + Send),
        progress: ProgressFn<'_>,
    ) -> Result<u64> {
        let download = |reason: String| ClientError::Download {
            url: asset.url.clone(),
            reason,
        };
        let id = job_id(&asset.url).ok_or_else(|| download("not a simulator asset".into()))?;
        let (video, delivery) = self
            .jobs
            .video(id)
            .ok_or_else(|| download(format!("job {id} has no video")))?;
        let total = video.mp4.len() as u64;
        let end = if delivery == Delivery::Truncated {
            video.mp4.len() / 2
        } else {
            video.mp4.len()
        };
        let mut written = 0u64;
        for chunk in video.mp4[..end].chunks(64 << 10) {
            if let Delivery::Slow(bps) = delivery {
                tokio::time::sleep(Duration::from_secs_f64(chunk.len() as f64 / bps as f64)).await;
            }
            sink.write_all(chunk)
                .await
                .map_err(|e| download(format!("write failed: {e}")))?;
            written += chunk.len() as u64;
            progress(DownloadProgress {
                received: written,
                total: Some(total),
            });
        }
        sink.flush()
            .await
            .map_err(|e| download(format!("write failed: {e}")))?;
        if written < total {
            return Err(download(format!(
                "the body broke off after {written} of {total} bytes"
            )));
        }
        Ok(written)
    }
}
