//! The in-process face: a `VideoBackend` with no sockets.

use std::path::Path;
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
use crate::{Faults, GroundTruth, Latency, Simulator, Stats};

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

    /// A backend whose jobs are kept in the journal at `path` (created if
    /// missing): the jobs it holds are read back (so a restarted process
    /// polls, downloads and deduplicates them), ids continue after them,
    /// and every job accepted from now on is appended as one JSON line
    /// before its id is returned, so that it survives a SIGKILL.
    /// Faults, latency and timeout are kept.
    ///
    /// ```
    /// use framebreak_client::{VideoBackend, VideoRequest};
    /// use framebreak_sim::{Profile, SimBackend, Simulator};
    ///
    /// # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let dir = tempfile::tempdir()?;
    /// let path = dir.path().join("sim-journal.jsonl");
    /// let sim = std::sync::Arc::new(Simulator::new(Profile::weak())?);
    /// let request = VideoRequest::new("a pendulum swings").size(64, 48).duration_secs(1).idempotency_key("job-1");
    /// let first = SimBackend::new_shared(sim.clone()).with_journal(&path)?;
    /// let job = first.submit(&request).await?;
    /// drop(first); // as if the process had been killed
    /// let again = SimBackend::new_shared(sim).with_journal(&path)?;
    /// assert_eq!(again.submit(&request).await?, job);
    /// assert_eq!((again.stats().submissions, again.stats().duplicate_submissions), (1, 1));
    /// # Ok(()) }
    /// ```
    ///
    /// # Errors
    ///
    /// [`Error::Io`](crate::Error::Io) when the file cannot be opened, or
    /// is locked by another simulator that is alive;
    /// [`Error::Journal`](crate::Error::Journal) naming the line when it
    /// holds something other than submission records (a torn last line,
    /// left by a kill mid-write, is dropped with a warning instead).
    pub fn with_journal(self, path: impl AsRef<Path>) -> crate::Result<Self> {
        let jobs = Jobs::open(
            self.jobs.sim.clone(),
            self.jobs.faults.clone(),
            self.jobs.latency.clone(),
            path.as_ref(),
        )?;
        Ok(Self {
            jobs: Arc::new(jobs),
            timeout: self.timeout,
        })
    }

    /// A backend over a shared `simulator`, no faults, small latency.
    #[must_use]
    pub fn new_shared(simulator: Arc<Simulator>) -> Self {
        Self::shared(simulator, Faults::none(), Latency::default())
    }

    /// Injects `faults`. The job table (jobs, keys, journal, counts) stays
    /// the same, and is shared with clones made before.
    #[must_use]
    pub fn with_faults(self, faults: Faults) -> Self {
        let jobs = self.jobs.reconfigured(faults, self.jobs.latency.clone());
        Self {
            jobs: Arc::new(jobs),
            timeout: self.timeout,
        }
    }

    /// Sets how long jobs take. The job table stays the same, as for
    /// [`with_faults`](Self::with_faults).
    #[must_use]
    pub fn with_latency(self, latency: Latency) -> Self {
        let jobs = self.jobs.reconfigured(self.jobs.faults.clone(), latency);
        Self {
            jobs: Arc::new(jobs),
            timeout: self.timeout,
        }
    }

    /// What this backend has been asked so far (with a journal,
    /// `submissions` counts every job in it, from every process).
    #[must_use]
    pub fn stats(&self) -> Stats {
        self.jobs.stats()
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
        self.jobs.truth(&job.id)
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
    /// The simulator keeps every job's idempotency key, so a lost answer
    /// is found exactly: the job made for the request's key, or none.
    async fn find_submission(
        &self,
        request: &VideoRequest,
        _since: std::time::SystemTime,
    ) -> Result<framebreak_client::Lookup> {
        let Some(key) = request.idempotency_key.as_deref().filter(|k| !k.is_empty()) else {
            return Ok(framebreak_client::Lookup::Unknown {
                reason: "the request has no idempotency key to look up".into(),
            });
        };
        Ok(match self.jobs.id_for_key(key) {
            Some(id) => framebreak_client::Lookup::Found(RemoteJob::new(SIM_BACKEND, id)),
            None => framebreak_client::Lookup::Absent,
        })
    }

    async fn submit(&self, request: &VideoRequest) -> Result<RemoteJob> {
        self.jobs.note_submit_request();
        let fault = self.jobs.submit_fault();
        if fault.is_some() {
            self.jobs.note_rejected();
        }
        match fault {
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
        let view = self.jobs.submit(request).map_err(|e| match e {
            crate::Error::Io { .. } => Self::http(500, &e.to_string(), None),
            e => ClientError::InvalidRequest {
                provider: SIM_BACKEND.into(),
                reason: e.to_string(),
            },
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
        self.jobs.note_download();
        let id = job_id(&asset.url).ok_or_else(|| download("not a simulator asset".into()))?;
        let (video, delivery) = self
            .jobs
            .video_to_deliver(id)
            .await
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
        if written == total {
            self.jobs.delivered(id);
        }
        if written < total {
            return Err(download(format!(
                "the body broke off after {written} of {total} bytes"
            )));
        }
        Ok(written)
    }
}
