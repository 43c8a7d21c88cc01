//! The one trait every video generator implements.

use async_trait::async_trait;
use tokio::io::AsyncWrite;

use crate::download::ProgressFn;
use crate::{Asset, Conformed, Error, JobStatus, Lookup, RemoteJob, Result, VideoRequest};

/// A text-to-video generator reached through a long-running-job protocol:
/// submit, poll, download.
///
/// Three methods are required; [`conform`](Self::conform) fits a request to
/// the model before it is sent, and everything else (`download_to_file`, …)
/// comes from [`VideoBackendExt`](crate::VideoBackendExt). Implementations
/// speak one protocol exactly and classify every failure into an
/// [`Error`] whose [`category`](Error::category) tells the scheduler whether
/// to retry. They do **not** retry, sleep or rate-limit on their own: those
/// policies wrap any backend from the outside.
///
/// The trait is object-safe (`Box<dyn VideoBackend>`, `&dyn VideoBackend`)
/// and `Send + Sync`; `&T`, `Box<T>` and `Arc<T>` implement it when `T`
/// does.
///
/// # Example
///
/// ```no_run
/// use framebreak_client::{JobState, ReplicateBackend, VideoBackend, VideoBackendExt, VideoRequest, no_progress};
///
/// # async fn run() -> framebreak_client::Result<()> {
/// let backend = ReplicateBackend::from_env()?;
/// let job = backend.submit(&VideoRequest::new("a glass of water tipping over").model("google/veo-3.1-fast")).await?;
/// // Store `job` (it is serde-serialisable); poll it later, even after a restart.
/// loop {
///     let status = backend.status(&job).await?;
///     match status.state {
///         JobState::Succeeded { assets } => {
///             let file = backend.download_to_file(&assets[0], "out.mp4".as_ref(), 1 << 30, &no_progress).await?;
///             println!("{} bytes, sha256 {}", file.bytes, file.sha256);
///             break;
///         }
///         JobState::Failed { error } => return Err(error),
///         _ => tokio::time::sleep(status.poll_after.unwrap_or(std::time::Duration::from_secs(5))).await,
///     }
/// }
/// # Ok(()) }
/// ```
#[async_trait]
#[auto_impl::auto_impl(&, Box, Arc)]
pub trait VideoBackend: Send + Sync {
    /// Asks for one video. Returns as soon as the provider has accepted
    /// the job; the handle is all [`status`](Self::status) needs later.
    ///
    /// # Errors
    ///
    /// The request was refused or could not be delivered; see [`Error`].
    async fn submit(&self, request: &VideoRequest) -> Result<RemoteJob>;

    /// Asks where a job stands. A job that failed on the provider's side
    /// is `Ok` with [`JobState::Failed`](crate::JobState::Failed); `Err`
    /// means the question itself could not be answered.
    ///
    /// # Errors
    ///
    /// The status request failed; see [`Error`].
    async fn status(&self, job: &RemoteJob) -> Result<JobStatus>;

    /// Streams an asset into `sink` and returns the number of bytes
    /// written. The body is never held whole in memory; `progress` is
    /// called after every chunk. A body shorter than announced, or one
    /// that breaks off, is an [`Error::Download`], never a short success.
    ///
    /// # Errors
    ///
    /// The request failed, the body broke off, or `sink` refused a write.
    async fn download(
        &self,
        asset: &Asset,
        sink: &mut (dyn AsyncWrite + Unpin + Send),
        progress: ProgressFn<'_>,
    ) -> Result<u64>;

    /// Looks for the job that a submission of `request` begun at `since`
    /// may have created, when its answer was lost (see
    /// [`SubmitEffect`](crate::SubmitEffect)). Never sends the request.
    ///
    /// The default answers [`Lookup::Unknown`]: a backend that cannot list
    /// its jobs cannot tell, and the caller must not guess. Adapters whose
    /// protocol lists jobs override it.
    ///
    /// # Errors
    ///
    /// The list request failed; see [`Error`]. Ask again later.
    async fn find_submission(
        &self,
        request: &VideoRequest,
        since: std::time::SystemTime,
    ) -> Result<Lookup> {
        let _ = (request, since);
        Ok(Lookup::Unknown {
            reason: "this backend cannot list the jobs it created".into(),
        })
    }

    /// Fits `request` to what its model accepts, without sending anything:
    /// each duration, size or aspect ratio the model does not offer becomes
    /// the nearest one it does, parameters it does not take are dropped,
    /// and every change is listed. `submit` sends the conformed request,
    /// so calling this first only shows what will go out.
    ///
    /// The default returns the request unchanged, as do the adapters for a
    /// model their table does not know.
    ///
    /// ```
    /// use framebreak_client::{LumaBackend, Secret, VideoBackend, VideoRequest};
    ///
    /// let luma = LumaBackend::new(Secret::new("key"))?;
    /// let asked = VideoRequest::new("a ball rolls uphill").duration_secs(2).size(320, 240);
    /// let conformed = luma.conform(&asked)?;
    /// let changes: Vec<String> = conformed.adjustments.iter().map(ToString::to_string).collect();
    /// assert_eq!(changes, ["duration: 2s -> 5s", "resolution: 240p -> 540p"]);
    /// # Ok::<(), framebreak_client::Error>(())
    /// ```
    ///
    /// # Errors
    ///
    /// [`Error::InvalidRequest`] naming the field, the value asked for and
    /// the values accepted, when no accepted value is near (a duration of
    /// 0, an aspect ratio that is not one).
    fn conform(&self, request: &VideoRequest) -> Result<Conformed> {
        Ok(Conformed::unchanged(request))
    }

    /// The models the provider says it offers, where its protocol lists
    /// them (an OpenAI-compatible gateway's `GET /v1/models`); `None` when
    /// it does not say. Free: nothing is generated.
    ///
    /// # Errors
    ///
    /// The list request failed; see [`Error`].
    async fn offered_models(&self) -> Result<Option<Vec<String>>> {
        Ok(None)
    }

    /// Asks the provider to stop a job. Providers without a cancel call
    /// answer with [`Error::InvalidRequest`].
    ///
    /// # Errors
    ///
    /// The provider refused, or cannot cancel.
    async fn cancel(&self, job: &RemoteJob) -> Result<()> {
        Err(Error::InvalidRequest {
            provider: job.backend.clone(),
            reason: "this backend cannot cancel jobs".into(),
        })
    }
}

// Fails to compile if `VideoBackend` stops being object-safe.
const _: fn(Box<dyn VideoBackend>) = |_| {};
