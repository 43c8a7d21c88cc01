//! The video pipeline as a scheduler [`Handler`]: one job is one variant,
//! and its steps are submit → poll → download → analyze.
//!
//! Each step returns to the scheduler, which persists its outcome before
//! the next one runs: a job killed after submitting is polled with its
//! stored remote id when the run resumes, never submitted again. A submit
//! that may have happened (its intent was recorded, its outcome was not, or
//! its answer was lost) is never simply sent again: the backend is asked for
//! the job it may have made ([`VideoBackend::find_submission`]), which is
//! adopted when found, sent when certainly absent, and otherwise ends the job
//! as `unknown_submission` for the user to decide.

use framebreak_vocab::metrics as names;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use async_trait::async_trait;
use framebreak_client::{
    Asset, DEFAULT_MAX_DOWNLOAD_BYTES, JobState as RemoteState, Lookup, RemoteJob, SubmitEffect,
    VideoBackend, VideoBackendExt,
};
use framebreak_defects::{Analyzer, Compute, DefectDetector};
use framebreak_gpu::{DeviceManager, DeviceSelector, DistributionStrategy, candle_device};
use framebreak_media::{ReadOptions, Resize, Sampling};
use framebreak_scheduler::{
    Abandoned, Failure, FailureCategory, Handler, Hold, Pacer, SpendLedger, Step, StepContext,
};
use tokio::sync::Semaphore;

use crate::campaign::backend::Lane;
use crate::campaign::guard::SubmitGuard;
use crate::campaign::stage::{
    ANALYZE, DOWNLOAD, Fetched, Generated, NotAStage, POLL, PollState, Polled, SUBMIT, Stage,
};
use crate::campaign::{AnalysisConfig, DeviceChoice, Error, VideoStore};
use crate::cost::Usd;
use crate::job::{JobPayload, JobResult};

/// How long after a submission whose answer was lost its job is looked up:
/// time for the provider's list to show a job it has just made.
pub(crate) const LIST_SETTLE: Duration = Duration::from_secs(5);

/// Folder of the downloaded videos, in the run folder.
pub const VIDEOS_DIR: &str = "videos";

/// Which device analyses a video.
enum Devices {
    /// The least loaded of the devices found, chosen per video.
    Chosen(DeviceManager, Box<dyn DeviceSelector>),
    /// The one the configuration names.
    Fixed(candle_core::Device),
}

/// Where videos are analysed and how many at once.
pub(crate) struct Analysis {
    devices: Devices,
    read: ReadOptions,
    permits: Semaphore,
    workers: usize,
    /// Detectors given in code, run beside the built-in ones.
    extra: Arc<[Arc<dyn DefectDetector>]>,
    /// The threads analyses run on: `workers` of them for the campaign's
    /// life. Not the runtime's blocking pool: its threads come and go, and
    /// each that ever ran a matrix product keeps the product's per-thread
    /// scratch (about the L2 cache's size) until it exits, so analyses
    /// spread over dozens of short-lived threads held memory that grew with
    /// the run's length (heaptrack: 15.7 MB in 15 threads at the peak of a
    /// 3,000-job run).
    threads: rayon::ThreadPool,
}

impl std::fmt::Debug for Analysis {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Analysis")
            .field("workers", &self.workers)
            .field("read", &self.read)
            .finish_non_exhaustive()
    }
}

impl Analysis {
    pub(crate) fn new(
        config: &AnalysisConfig,
        selector: Option<Box<dyn DeviceSelector>>,
        extra: Vec<Arc<dyn DefectDetector>>,
    ) -> Result<Self, Error> {
        let read = ReadOptions {
            sampling: Sampling::Every,
            resize: Some(Resize::MaxSide(config.size)),
            max_frames: config.max_frames,
        };
        read.validate().map_err(|e| Error::Config {
            source_name: "analysis".into(),
            reason: e.to_string(),
        })?;
        let workers = config.workers.unwrap_or_else(|| {
            std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get)
        });
        let devices = match (config.device, selector) {
            (DeviceChoice::Auto, selector) => Devices::Chosen(
                DeviceManager::discover(),
                selector.unwrap_or_else(|| DistributionStrategy::LeastLoaded.build()),
            ),
            (DeviceChoice::Fixed(id), None) => Devices::Fixed(candle_device(id)?),
            (DeviceChoice::Fixed(id), Some(_)) => {
                return Err(Error::Config {
                    source_name: "analysis.device".into(),
                    reason: format!(
                        "{id} names one device, so a device selector given in code would never \
                         choose; set it to `auto`"
                    ),
                });
            }
        };
        let threads = rayon::ThreadPoolBuilder::new()
            .num_threads(workers)
            .thread_name(|i| format!("framebreak-analysis-{i}"))
            .build()
            .map_err(|e| Error::Config {
                source_name: "analysis.workers".into(),
                reason: format!("cannot start {workers} analysis threads: {e}"),
            })?;
        Ok(Self {
            devices,
            read,
            permits: Semaphore::new(workers),
            workers,
            extra: extra.into(),
            threads,
        })
    }

    /// The device manager, when devices are chosen per video.
    pub(crate) fn devices(&self) -> Option<&DeviceManager> {
        match &self.devices {
            Devices::Chosen(manager, _) => Some(manager),
            Devices::Fixed(_) => None,
        }
    }

    async fn analyze(
        &self,
        path: PathBuf,
        name: String,
    ) -> Result<framebreak_defects::VideoReport, Failure> {
        let shutting_down =
            |_| Failure::new(FailureCategory::Cancelled, "analysis is shutting down");
        let _permit = self.permits.acquire().await.map_err(shutting_down)?;
        // Decoding and analysis hold the frames and the decoder's buffers:
        // they share the process's CPU permits with the in-process
        // simulator's renders, so the two together never exceed the cores.
        let _cpu = framebreak_media::cpu_gate()
            .acquire()
            .await
            .map_err(shutting_down)?;
        let (device, lease) = match &self.devices {
            Devices::Fixed(d) => (d.clone(), None),
            Devices::Chosen(manager, selector) => {
                let lease = manager
                    .acquire(selector.as_ref())
                    .map_err(|e| Failure::new(FailureCategory::Analysis, e.to_string()))?;
                let device = lease
                    .candle_device()
                    .map_err(|e| Failure::new(FailureCategory::Analysis, e.to_string()))?;
                (device, Some(lease))
            }
        };
        let read = self.read.clone();
        let extra = self.extra.clone();
        let label = match device.location() {
            candle_core::DeviceLocation::Cpu => "cpu".to_owned(),
            candle_core::DeviceLocation::Cuda { gpu_id } => format!("cuda:{gpu_id}"),
            candle_core::DeviceLocation::Metal { gpu_id } => format!("metal:{gpu_id}"),
        };
        let started = Instant::now();
        let (done, report) = tokio::sync::oneshot::channel();
        self.threads.spawn(move || {
            // A panicking detector (one given in code, say) fails its job, not
            // the campaign; nothing it leaves behind is read again.
            let analysed = std::panic::catch_unwind(std::panic::AssertUnwindSafe(move || {
                let analyzer = extra.iter().fold(
                    Analyzer::new()
                        .compute(Compute::new(device))
                        .read_options(read),
                    |analyzer, d| analyzer.extra_detector(d.clone()),
                );
                analyzer.analyze_file(&path)
            }));
            let _ = done.send(analysed);
        });
        let report = report
            .await
            .map_err(|_| {
                Failure::new(
                    FailureCategory::Analysis,
                    "the analysis thread ended without an answer",
                )
            })?
            .map_err(|panic| {
                let message = panic
                    .downcast_ref::<&str>()
                    .map(ToString::to_string)
                    .or_else(|| panic.downcast_ref::<String>().cloned())
                    .unwrap_or_else(|| "no message".into());
                Failure::new(
                    FailureCategory::Analysis,
                    format!("the analysis panicked: {message}"),
                )
            })?;
        drop(lease);
        let mut report = report.map_err(|e| {
            let category = match e {
                framebreak_defects::Error::Media(_) => FailureCategory::Decode,
                _ => FailureCategory::Analysis,
            };
            Failure::new(category, e.to_string())
        })?;
        report.file = name;
        if report.frames > 0 {
            metrics::histogram!(names::FRAME_ANALYSIS_SECONDS, "device" => label)
                .record(started.elapsed().as_secs_f64() / report.frames as f64);
        }
        Ok(report)
    }
}

/// How a job waits for its generation.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Polling {
    pub(crate) timeout: Duration,
    pub(crate) max_interval: Duration,
    /// The shortest wait between two polls of one job, whatever the hint.
    pub(crate) min_interval: Duration,
}

/// The campaign's [`Handler`].
pub(crate) struct VideoHandler {
    /// The run the jobs belong to: part of every idempotency key.
    pub(crate) run_id: String,
    /// The campaign's backends by lane: a job runs against its own.
    pub(crate) lanes: Arc<std::collections::BTreeMap<String, Lane>>,
    pub(crate) run_dir: PathBuf,
    pub(crate) analysis: Arc<Analysis>,
    pub(crate) polling: Polling,
    /// Stops the campaign on a burst of refused submissions.
    pub(crate) guard: Arc<SubmitGuard>,
    /// Spaces polls and downloads (`--poll-rate`), when set.
    pub(crate) pacer: Option<Arc<Pacer>>,
    /// Counts the generations cancelled at the provider.
    pub(crate) cancelled_at_provider: Arc<std::sync::atomic::AtomicU64>,
    /// The run's shared video store (`output.videos`), when it has one:
    /// every downloaded video goes there too.
    pub(crate) videos: Option<Arc<VideoStore>>,
    /// Whether the run folder keeps a video once it is analysed
    /// (`output.keep_videos`).
    pub(crate) keep_videos: bool,
    /// The run's budget, when it has one.
    pub(crate) spend: Option<Arc<Spend>>,
}

/// What a priced run spends: each submission first holds its job's highest
/// cost in the run's ledger (so the ledger says what the run has committed
/// to), and with a budget, a hold that would pass it stops the campaign
/// instead.
#[derive(Debug)]
pub(crate) struct Spend {
    pub(crate) ledger: Arc<dyn SpendLedger>,
    pub(crate) budget: Option<Usd>,
    /// A job's highest cost when its payload carries none (enqueued by a
    /// build that did not price jobs).
    pub(crate) fallback: Usd,
}

impl Spend {
    pub(crate) fn new(ledger: Arc<dyn SpendLedger>, budget: Option<Usd>, fallback: Usd) -> Self {
        Self {
            ledger,
            budget,
            fallback,
        }
    }
}

/// How the failure of a job left unsubmitted at the budget begins (it ends
/// `cancelled`; `resume --budget` finds these by it).
pub(crate) const NOT_SUBMITTED_FOR_BUDGET: &str = "not submitted: the budget of";

impl std::fmt::Debug for VideoHandler {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("VideoHandler")
            .field("run_dir", &self.run_dir)
            .field("lanes", &self.lanes.keys().collect::<Vec<_>>())
            .field("analysis", &self.analysis)
            .field("polling", &self.polling)
            .field("videos", &self.videos)
            .field("spend", &self.spend)
            .finish_non_exhaustive()
    }
}

/// The scheduler's category of a client error.
/// Records one request to a video API (`backend`, sent at `sent`) in the
/// request-duration histogram, with `ok` or the error's category.
fn request_time(backend: &str, sent: Instant, error: Option<&framebreak_client::Error>) {
    let outcome = error.map_or("ok", |e| e.category().as_str());
    metrics::histogram!(names::REQUEST_DURATION_SECONDS, "backend" => backend.to_owned(), "outcome" => outcome)
        .record(sent.elapsed().as_secs_f64());
}

pub(crate) fn failure(e: &framebreak_client::Error) -> Failure {
    // One vocabulary (framebreak-vocab): the client's category is the
    // scheduler's.
    let mut f = Failure::new(e.category(), e.to_string());
    if let Some(after) = e.retry_after() {
        f = f.retry_after(after);
    }
    f
}

/// The idempotency key of a submission: the run, the scheduler's
/// `{job}:{step}` and a digest of the exact request. Job ids are content
/// hashes of prompt, mutations and seed, the same in every run of the same
/// prompts: keyed by job alone, a provider (or gateway) that honours keys
/// would hand a later run an earlier run's video, whatever model or size it
/// asked for this time.
fn submission_key(
    run_id: &str,
    job_step: &str,
    request: &framebreak_client::VideoRequest,
) -> String {
    use sha2::Digest;
    let mut request = request.clone();
    request.idempotency_key = None;
    let bytes = serde_json::to_vec(&request).unwrap_or_default();
    let digest = sha2::Sha256::digest(&bytes);
    let short: String = digest[..6].iter().map(|b| format!("{b:02x}")).collect();
    format!("{run_id}:{job_step}:{short}")
}

/// The final failure of a job whose submission may have been paid for and
/// cannot be checked.
fn unknown_submission(message: &str) -> Failure {
    Failure::new(FailureCategory::UnknownSubmission, message).permanent()
}

fn corrupt(e: &NotAStage) -> Failure {
    Failure::new(FailureCategory::BadRequest, e.to_string())
}

impl VideoHandler {
    /// The lane of a job's backend.
    fn lane(&self, name: &str) -> Result<&Lane, Failure> {
        self.lanes.get(name).ok_or_else(|| {
            Failure::new(
                FailureCategory::BadRequest,
                format!("the job's backend {name:?} is not one of this campaign's"),
            )
            .permanent()
        })
    }

    async fn submit(&self, ctx: &StepContext<'_>, payload: JobPayload) -> Result<Step, Failure> {
        let key = submission_key(&self.run_id, ctx.idempotency_key, &payload.request);
        let cost = payload.cost;
        let request = payload.request.idempotency_key(key);
        // An earlier attempt may have created the job (its answer was lost,
        // or the process died mid-call): find it before sending anything.
        // No provider promises to honour the idempotency key.
        if ctx.possibly_executed {
            match self.lookup(ctx, &request).await? {
                Some(remote) => return Ok(Self::submitted(remote, true)),
                None => {
                    tracing::info!(job = %ctx.job, "no job was created by the earlier attempt: submitting")
                }
            }
        }
        if let Some(spend) = &self.spend {
            self.hold(spend, ctx, cost.map_or(spend.fallback, |c| c.high))
                .await?;
        }
        let sent = Instant::now();
        let answer = self.lane(ctx.backend)?.backend.submit(&request).await;
        request_time(ctx.backend, sent, answer.as_ref().err());
        match answer {
            Ok(remote) => {
                self.guard.accepted();
                Ok(Self::submitted(remote, false))
            }
            Err(e) => match e.submit_effect() {
                // Nothing was created: a retry may send it again, and the
                // money it held is free again.
                SubmitEffect::NotCreated => {
                    if let Some(spend) = &self.spend
                        && let Err(error) = spend.ledger.release(ctx.job.as_str()).await
                    {
                        // Kept held: the budget is stricter, never passed.
                        tracing::warn!(job = %ctx.job, %error, "could not give back a refused submission's hold");
                    }
                    let f = failure(&e).no_effect();
                    self.guard.refused(f.category, &f.message);
                    Err(f)
                }
                // The provider said yes but its answer is unreadable: the job
                // exists. Never send again; find it now or give up knowingly.
                SubmitEffect::Created => match self.lookup(ctx, &request).await {
                    Ok(Some(remote)) => Ok(Self::submitted(remote, true)),
                    Ok(None) => Err(unknown_submission(&format!(
                        "{e}; the provider answered with a success status but its list shows no such job yet"
                    ))),
                    Err(f) => Err(f),
                },
                // Maybe created: the retry (with the intent kept) looks
                // first, and not before the provider's list has had time to
                // show a job it has just made.
                _ => {
                    let f = failure(&e);
                    let wait = f.retry_after.unwrap_or_default().max(LIST_SETTLE);
                    Err(f.retry_after(wait))
                }
            },
        }
    }

    /// Holds `amount` for the job before it is submitted; at the budget,
    /// stops the campaign and leaves the job for a later run (the failure
    /// does not count as an attempt).
    async fn hold(&self, spend: &Spend, ctx: &StepContext<'_>, amount: Usd) -> Result<(), Failure> {
        let held = spend
            .ledger
            .hold(
                ctx.job.as_str(),
                amount.micros(),
                spend.budget.map_or(u64::MAX, Usd::micros),
            )
            .await
            .map_err(|e| {
                Failure::new(
                    FailureCategory::Connection,
                    format!("the run's spend ledger cannot be reached: {e}"),
                )
                .no_effect()
            })?;
        match held {
            Hold::Granted | Hold::AlreadyHeld => Ok(()),
            Hold::Refused { committed } => {
                // Only a budget refuses (without one the limit is unbounded).
                let budget = spend.budget.unwrap_or_default();
                let why = format!(
                    "its budget of {} is reached: {} is committed (spent or in flight) and the \
                     next job may cost up to {amount}; every job it paid for was finished, the \
                     rest were not submitted (cancelled): `framebreak resume RUN --budget \
                     AMOUNT` submits them with a larger budget",
                    budget,
                    Usd::from_micros(committed)
                );
                self.guard.budget_reached(why);
                // Not sent: the job ends cancelled, so the run ends once the
                // jobs it paid for are done; a larger budget re-queues it.
                Err(Failure::new(
                    FailureCategory::Cancelled,
                    format!("{NOT_SUBMITTED_FOR_BUDGET} {budget} was reached"),
                )
                .no_effect())
            }
        }
    }

    /// Waits for the poll-and-download rate limit, if there is one.
    async fn pace(&self) {
        if let Some(p) = &self.pacer {
            p.wait().await;
        }
    }

    /// Every step but its metric: the stage the job is at.
    async fn run_step(&self, ctx: StepContext<'_>) -> Result<Step, Failure> {
        match Stage::read(ctx.step, ctx.state).map_err(|e| corrupt(&e))? {
            Stage::Submit => {
                let payload = crate::campaign::stage::payload(ctx.payload).map_err(|e| {
                    Failure::new(
                        FailureCategory::BadRequest,
                        format!("not a campaign job: {e}"),
                    )
                })?;
                self.submit(&ctx, payload).await
            }
            Stage::Poll(polling) => self.poll(&ctx, polling).await,
            Stage::Download(generated) => self.download(&ctx, generated).await,
            Stage::Analyze(fetched) => self.analyze(&ctx, fetched).await,
        }
    }

    fn submitted(remote: RemoteJob, adopted: bool) -> Step {
        metrics::counter!(names::SUBMITTED_TOTAL).increment(u64::from(!adopted));
        if adopted {
            metrics::counter!(names::ADOPTED_TOTAL).increment(1);
            tracing::info!(remote = %remote.id, "adopted the job a lost submission created");
        }
        Stage::Poll(PollState {
            remote,
            polled: None,
        })
        .enter()
    }

    /// Asks the backend for the job an earlier submission of `request` may
    /// have created: `Some` to adopt, `None` when it is certainly absent.
    /// A backend that cannot tell ends the job as `unknown_submission`.
    async fn lookup(
        &self,
        ctx: &StepContext<'_>,
        request: &framebreak_client::VideoRequest,
    ) -> Result<Option<RemoteJob>, Failure> {
        let since = ctx.first_attempt_ms.map_or_else(SystemTime::now, |ms| {
            SystemTime::UNIX_EPOCH + Duration::from_millis(ms)
        });
        // A failed lookup leaves the question open: retried, the intent kept.
        let found = self
            .lane(ctx.backend)?
            .backend
            .find_submission(request, since)
            .await
            .map_err(|e| failure(&e))?;
        match found {
            Lookup::Found(remote) => Ok(Some(remote)),
            Lookup::Absent => Ok(None),
            Lookup::Unknown { reason } => Err(unknown_submission(&format!(
                "an earlier submission may have created this job and it cannot be looked up ({reason}); \
                 `framebreak resume RUN --resubmit-unknown` sends it again, at the risk of paying twice"
            ))),
            // A verdict added to the client later: not guessed at.
            other => Err(unknown_submission(&format!(
                "unrecognised lookup answer {other:?}"
            ))),
        }
    }

    /// Asks the backend once how the generation stands: its assets when it
    /// is done, its failure when it failed, else a [`Step::Wait`] that
    /// persists when polling began and the current backoff, so the job
    /// holds no slot while the provider works (and a resumed run goes on
    /// counting from the first poll).
    async fn poll(&self, ctx: &StepContext<'_>, polling: PollState) -> Result<Step, Failure> {
        let PollState { remote, polled } = polling;
        let now = framebreak_scheduler::now_ms();
        let since_ms = polled.as_ref().map_or(now, |p| p.since_ms);
        let wait = polled.as_ref().map_or_else(
            || self.polling.min_interval.max(Duration::from_millis(50)),
            |p| Duration::from_millis(p.wait_ms),
        );
        self.pace().await;
        let sent = Instant::now();
        let status = self.lane(ctx.backend)?.backend.status(&remote).await;
        request_time(ctx.backend, sent, status.as_ref().err());
        let status = status.map_err(|e| failure(&e))?;
        match status.state {
            RemoteState::Succeeded { assets } => {
                return Ok(Stage::Download(Generated { remote, assets }).enter());
            }
            // The provider's own verdict on the generation: final, with
            // its code and message, whatever the category would allow.
            RemoteState::Failed { error } => return Err(failure(&error).permanent()),
            _ => {}
        }
        let waited = Duration::from_millis(now.saturating_sub(since_ms));
        if waited > self.polling.timeout {
            return Err(Failure::new(
                FailureCategory::Timeout,
                format!(
                    "job {} still not finished after {} s",
                    remote.id,
                    self.polling.timeout.as_secs()
                ),
            ));
        }
        // The provider's hint, never faster than the floor, and backing
        // off while the job waits in the queue.
        let mut pause = status
            .poll_after
            .unwrap_or(wait)
            .max(self.polling.min_interval);
        if matches!(status.state, RemoteState::Queued { .. }) {
            pause = pause.max(wait);
        }
        let pause = pause.min(self.polling.max_interval);
        let next = Polled {
            since_ms,
            wait_ms: u64::try_from((wait * 2).min(self.polling.max_interval).as_millis())
                .unwrap_or(u64::MAX),
        };
        Ok(Stage::Poll(PollState {
            remote,
            polled: Some(next),
        })
        .wait(pause))
    }

    async fn download(&self, ctx: &StepContext<'_>, generated: Generated) -> Result<Step, Failure> {
        let asset = generated
            .assets
            .iter()
            .find(|a| {
                a.content_type
                    .as_deref()
                    .is_none_or(|t| t.starts_with("video/"))
            })
            .or(generated.assets.first())
            .ok_or_else(|| {
                Failure::new(
                    FailureCategory::Download,
                    format!("job {} finished without a video", generated.remote.id),
                )
            })?;
        let name = format!("{VIDEOS_DIR}/{}.mp4", file_stem(ctx.job.as_str()));
        let path = self.run_dir.join(&name);
        let lane = self.lane(ctx.backend)?;
        let done = self.fetch(lane, asset, &path).await?;
        if let Some(videos) = &self.videos {
            // Retried like a download that failed: fetched again, put again.
            videos
                .put_file(&name, &path)
                .await
                .map_err(|e| Failure::new(FailureCategory::Download, e.to_string()))?;
        }
        let truth = lane.truth.of(&generated.remote).await;
        Ok(Stage::Analyze(Fetched {
            remote: generated.remote,
            asset: Some(asset.clone()),
            video: name,
            bytes: done.bytes,
            sha256: done.sha256,
            truth,
        })
        .enter())
    }

    async fn analyze(&self, ctx: &StepContext<'_>, fetched: Fetched) -> Result<Step, Failure> {
        let path = self.run_dir.join(&fetched.video);
        // Local damage (a file cut short, overwritten or removed) is
        // repaired, not judged: only the bytes the provider sent are
        // analysed, and only they can fail as `decode`.
        if let Err(why) = intact(&path, &fetched).await {
            tracing::info!(job = %ctx.job, video = %fetched.video, %why, "fetching the video again");
            self.fetch_again(self.lane(ctx.backend)?, &fetched, &path)
                .await?;
        }
        let analysed = self.analyze_here(&fetched, &path).await;
        if !self.keep_videos {
            // Its copy in the shared store (if any) is what reports read.
            let _ = tokio::fs::remove_file(&path).await;
        }
        let report = analysed?;
        let result = JobResult {
            remote_id: fetched.remote.id,
            video: Some(fetched.video),
            bytes: fetched.bytes,
            sha256: Some(fetched.sha256),
            analysis: Some(report),
            truth: fetched.truth,
        };
        crate::campaign::stage::done(&result)
            .map_err(|e| Failure::new(FailureCategory::Analysis, e.to_string()))
    }

    /// Analyses the intact video at `path`.
    async fn analyze_here(
        &self,
        fetched: &Fetched,
        path: &std::path::Path,
    ) -> Result<framebreak_defects::VideoReport, Failure> {
        match self
            .analysis
            .analyze(path.to_owned(), fetched.video.clone())
            .await
        {
            Ok(report) => Ok(report),
            // Changed on disk while it was read: fetched again on the retry.
            Err(f) if f.category == FailureCategory::Decode => match intact(path, fetched).await {
                Err(why) => Err(Failure::new(
                    FailureCategory::Download,
                    format!("{} changed while it was analysed ({why})", fetched.video),
                )),
                Ok(()) => Err(f),
            },
            Err(f) => Err(f),
        }
    }

    /// Downloads `asset` to `path` (atomically, capped, hashed).
    async fn fetch(
        &self,
        lane: &Lane,
        asset: &Asset,
        path: &std::path::Path,
    ) -> Result<framebreak_client::Downloaded, Failure> {
        self.pace().await;
        lane.backend
            .download_to_file(asset, path, DEFAULT_MAX_DOWNLOAD_BYTES, &|_| {})
            .await
            .map_err(|e| failure(&e))
    }

    /// Fetches a video again that is missing or damaged here (another
    /// worker downloaded it into its own run folder, maybe on another
    /// machine, or the file was cut short or removed), from the shared
    /// store when the run has one and it holds the video, else from the
    /// provider: it must be the same bytes.
    async fn fetch_again(
        &self,
        lane: &Lane,
        fetched: &Fetched,
        path: &std::path::Path,
    ) -> Result<(), Failure> {
        // The shared store first: the provider's links expire, and asking
        // it again costs a request.
        if let Some(videos) = &self.videos {
            match videos.get_file(&fetched.video, path).await {
                Ok(true) => match intact(path, fetched).await {
                    Ok(()) => return Ok(()),
                    Err(why) => tracing::warn!(
                        video = %fetched.video, store = videos.url(), %why,
                        "the shared store's copy is not the video downloaded; asking the provider"
                    ),
                },
                Ok(false) => {}
                Err(e) => tracing::warn!(error = %e, "asking the provider for the video instead"),
            }
        }
        let asset = fetched.asset.as_ref().ok_or_else(|| {
            Failure::new(
                FailureCategory::Download,
                format!(
                    "{} is missing or damaged here and the job does not say where it came from",
                    fetched.video
                ),
            )
        })?;
        let done = self.fetch(lane, asset, path).await?;
        if done.sha256 != fetched.sha256 {
            let _ = std::fs::remove_file(path);
            return Err(Failure::new(
                FailureCategory::Download,
                format!(
                    "{} downloaded again differs from the first download (sha256 {} then {})",
                    fetched.video, fetched.sha256, done.sha256
                ),
            ));
        }
        Ok(())
    }
}

/// Whether the video at `path` is the one downloaded: its size and SHA-256
/// as stored by the download step. `Err` says what differs (or why it
/// cannot be read).
async fn intact(path: &std::path::Path, fetched: &Fetched) -> Result<(), String> {
    let path = path.to_owned();
    let (bytes, sha256) = (fetched.bytes, fetched.sha256.clone());
    tokio::task::spawn_blocking(move || {
        use sha2::Digest;
        use std::io::Read;
        let mut file = std::fs::File::open(&path).map_err(|e| e.to_string())?;
        let len = file.metadata().map_err(|e| e.to_string())?.len();
        if len != bytes {
            return Err(format!("{len} bytes instead of {bytes}"));
        }
        let mut hasher = sha2::Sha256::new();
        let mut buf = vec![0u8; 1 << 16];
        loop {
            let n = file.read(&mut buf).map_err(|e| e.to_string())?;
            if n == 0 {
                break;
            }
            hasher.update(&buf[..n]);
        }
        let found: String = hasher
            .finalize()
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        if found == sha256 {
            Ok(())
        } else {
            Err(format!("sha256 {found} instead of {sha256}"))
        }
    })
    .await
    .map_err(|e| format!("the check panicked: {e}"))?
}

/// A job id made safe as a file name.
fn file_stem(job: &str) -> String {
    job.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect()
}

#[async_trait]
impl Handler for VideoHandler {
    async fn step(&self, ctx: StepContext<'_>) -> Result<Step, Failure> {
        let step = ctx.step;
        let outcome = self.run_step(ctx).await;
        let entered = match (step, &outcome) {
            (SUBMIT, Ok(Step::Next(_))) => Some("submitted"),
            (POLL, Ok(Step::Next(_))) => Some("generated"),
            (DOWNLOAD, Ok(Step::Next(_))) => Some("downloaded"),
            (ANALYZE, Ok(Step::Done(_))) => Some("analyzed"),
            _ => None,
        };
        if let Some(state) = entered {
            metrics::counter!(names::JOB_TRANSITIONS_TOTAL, "state" => state).increment(1);
        }
        outcome
    }

    /// A job that ends failed or cancelled after its submission would leave
    /// its generation running (and billed) at the provider: cancel it there,
    /// where the protocol allows. A job the provider itself failed, or one
    /// that finished generating, has nothing left to cancel.
    async fn abandoned(&self, job: Abandoned<'_>) {
        if job.step != POLL || job.failure.permanent {
            return;
        }
        let Ok(Stage::Poll(PollState { remote, .. })) = Stage::read(job.step, job.state) else {
            return;
        };
        let Ok(lane) = self.lane(job.backend) else {
            return;
        };
        match lane.backend.cancel(&remote).await {
            Ok(()) => {
                self.cancelled_at_provider
                    .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                metrics::counter!(names::CANCELLED_AT_PROVIDER_TOTAL).increment(1);
                tracing::info!(job = %job.job, remote = %remote.id, "cancelled at the provider");
            }
            Err(e) => {
                tracing::warn!(job = %job.job, remote = %remote.id, error = %e, "could not cancel at the provider");
            }
        }
    }

    /// `--rate` limits submissions, the calls providers meter and bill;
    /// polls and downloads are paced inside their steps (`--poll-rate`, the
    /// poll floor and the provider's hints).
    fn rate_limited(&self, step: u32) -> bool {
        step == SUBMIT
    }

    /// Polling only looks: the first Ctrl-C stops it at once, and the next
    /// run polls the same remote job again (its id is in the step's state).
    fn interruptible(&self, step: u32) -> bool {
        step == POLL
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use async_trait::async_trait;
    use framebreak_client::{JobStatus, VideoRequest};
    use framebreak_scheduler::{JobId, Shutdown, StepContext};
    use serde_json::json;

    use super::*;
    use crate::campaign::AnalysisConfig;

    /// Records the jobs it is asked to cancel; nothing else is called.
    #[derive(Default)]
    struct Cancels(Mutex<Vec<String>>);

    #[async_trait]
    impl VideoBackend for Cancels {
        async fn submit(&self, _: &VideoRequest) -> framebreak_client::Result<RemoteJob> {
            unreachable!("not submitted in these tests")
        }
        async fn status(&self, _: &RemoteJob) -> framebreak_client::Result<JobStatus> {
            unreachable!("not polled in these tests")
        }
        async fn download(
            &self,
            _: &Asset,
            _: &mut (dyn tokio::io::AsyncWrite + Unpin + Send),
            _: framebreak_client::ProgressFn<'_>,
        ) -> framebreak_client::Result<u64> {
            self.0.lock().unwrap().push("download".into());
            Err(framebreak_client::Error::Download {
                url: "https://provider.invalid/video".into(),
                reason: "this backend downloads nothing".into(),
            })
        }
        async fn cancel(&self, job: &RemoteJob) -> framebreak_client::Result<()> {
            self.0.lock().unwrap().push(job.id.clone());
            Ok(())
        }
    }

    #[test]
    fn a_submission_key_names_the_run_and_the_exact_request() {
        let small = VideoRequest::new("a ball").size(64, 48);
        let key = submission_key("run-a", "j:0", &small);
        assert!(key.starts_with("run-a:j:0:"), "{key}");
        assert_eq!(key, submission_key("run-a", "j:0", &small), "stable");
        // The same job in another run, or asking for another size: another key.
        assert_ne!(key, submission_key("run-b", "j:0", &small));
        assert_ne!(
            key,
            submission_key("run-a", "j:0", &small.clone().size(96, 64))
        );
        // A key already set does not change it.
        assert_eq!(
            key,
            submission_key("run-a", "j:0", &small.idempotency_key("old"))
        );
    }

    /// A handler around `backend` with a small analysis on the CPU.
    fn test_handler(backend: Arc<dyn VideoBackend>, run_dir: &std::path::Path) -> VideoHandler {
        let config = AnalysisConfig {
            device: DeviceChoice::Fixed(framebreak_gpu::DeviceId::Cpu),
            size: 96,
            ..AnalysisConfig::default()
        };
        VideoHandler {
            run_id: "test-run".into(),
            lanes: Arc::new(
                [(
                    "sim".to_owned(),
                    Lane {
                        name: "sim".into(),
                        backend,
                        truth: crate::campaign::backend::Truth::None,
                        price: None,
                    },
                )]
                .into(),
            ),
            run_dir: run_dir.to_owned(),
            analysis: Arc::new(Analysis::new(&config, None, Vec::new()).unwrap()),
            polling: Polling {
                timeout: Duration::from_secs(1),
                max_interval: Duration::from_secs(1),
                min_interval: Duration::from_millis(1),
            },
            guard: Arc::new(SubmitGuard::new(Shutdown::new(), None)),
            pacer: None,
            cancelled_at_provider: Arc::default(),
            videos: None,
            keep_videos: true,
            spend: None,
        }
    }

    #[tokio::test]
    async fn a_job_abandoned_while_generating_is_cancelled_at_the_provider_once() {
        let backend = Arc::new(Cancels::default());
        let h = test_handler(backend.clone(), &std::env::temp_dir());
        let job = JobId::new("j").unwrap();
        let state = json!({ "remote": RemoteJob::new("p", "gen_1") });
        let payload = json!(null);
        let given_up = Failure::new(FailureCategory::Timeout, "still running after 1800 s");
        h.abandoned(Abandoned {
            backend: "sim",
            job: &job,
            payload: &payload,
            step: POLL,
            state: &state,
            failure: &given_up,
        })
        .await;
        assert_eq!(*backend.0.lock().unwrap(), ["gen_1"]);
        assert_eq!(
            h.cancelled_at_provider
                .load(std::sync::atomic::Ordering::Relaxed),
            1
        );

        // The provider's own failure: nothing runs there any more.
        let failed = Failure::new(FailureCategory::Server, "generation failed").permanent();
        h.abandoned(Abandoned {
            backend: "sim",
            job: &job,
            payload: &payload,
            step: POLL,
            state: &state,
            failure: &failed,
        })
        .await;
        // Before the submission, or after the generation: nothing to cancel.
        for step in [SUBMIT, DOWNLOAD, ANALYZE] {
            h.abandoned(Abandoned {
                backend: "sim",
                job: &job,
                payload: &payload,
                step,
                state: &state,
                failure: &given_up,
            })
            .await;
        }
        assert_eq!(backend.0.lock().unwrap().len(), 1);
    }

    /// A video the simulator made, downloaded to `dir/videos/j.mp4`: the
    /// simulator, the analysis step's state and the file's path.
    async fn downloaded(
        dir: &std::path::Path,
    ) -> (framebreak_sim::SimBackend, serde_json::Value, PathBuf) {
        let profile = framebreak_sim::Profile::named_or_file("weak").unwrap();
        let sim = framebreak_sim::SimBackend::new(framebreak_sim::Simulator::new(profile).unwrap());
        let request = VideoRequest::new("a red ball rolls across a wooden table")
            .size(96, 64)
            .duration_secs(1);
        let remote = sim.submit(&request).await.unwrap();
        let assets = loop {
            match sim.status(&remote).await.unwrap().state {
                RemoteState::Succeeded { assets } => break assets,
                RemoteState::Failed { error } => panic!("{error}"),
                _ => tokio::time::sleep(Duration::from_millis(10)).await,
            }
        };
        let video = format!("{VIDEOS_DIR}/j.mp4");
        let path = dir.join(&video);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        let first = sim
            .download_to_file(&assets[0], &path, DEFAULT_MAX_DOWNLOAD_BYTES, &|_| {})
            .await
            .unwrap();
        let state = json!(Fetched {
            remote,
            asset: Some(assets[0].clone()),
            video,
            bytes: first.bytes,
            sha256: first.sha256.clone(),
            truth: None,
        });
        (sim, state, path)
    }

    /// Runs the analysis step of job `j` on `state`.
    async fn analyze_step(h: &VideoHandler, state: &serde_json::Value) -> Result<Step, Failure> {
        let job = JobId::new("j").unwrap();
        let shutdown = Shutdown::new();
        h.step(StepContext {
            job: &job,
            backend: "sim",
            payload: &json!(null),
            step: ANALYZE,
            state,
            attempt: 0,
            idempotency_key: "j:3",
            possibly_executed: false,
            first_attempt_ms: None,
            lane: 0,
            cancel: shutdown.aborting(),
        })
        .await
    }

    #[tokio::test]
    async fn a_missing_or_damaged_video_is_fetched_again_before_analysis() {
        let dir = tempfile::tempdir().unwrap();
        let (sim, state, path) = downloaded(dir.path()).await;
        let h = test_handler(Arc::new(sim), dir.path());
        let original = std::fs::read(&path).unwrap();
        let half = &original[..original.len() / 2];
        let mut flipped = original.clone();
        let middle = flipped.len() / 2;
        flipped[middle] ^= 0xff;
        for (damage, bytes) in [
            ("cut in half", Some(half)),
            ("one byte changed", Some(&flipped[..])),
            ("removed", None),
        ] {
            match bytes {
                Some(b) => std::fs::write(&path, b).unwrap(),
                None => std::fs::remove_file(&path).unwrap(),
            }
            let step = analyze_step(&h, &state).await;
            assert!(matches!(step, Ok(Step::Done(_))), "{damage}: {step:?}");
            assert_eq!(std::fs::read(&path).unwrap(), original, "{damage}");
        }
    }

    #[tokio::test]
    async fn a_video_missing_here_comes_from_the_shared_store_not_the_provider() {
        let dir = tempfile::tempdir().unwrap();
        let (_, state, path) = downloaded(dir.path()).await;
        let original = std::fs::read(&path).unwrap();
        let shared = tempfile::tempdir().unwrap();
        let url = url::Url::from_directory_path(shared.path())
            .unwrap()
            .to_string();
        let store = VideoStore::open(&url, "test-run").unwrap();
        store.put_file("videos/j.mp4", &path).await.unwrap();
        std::fs::remove_file(&path).unwrap();
        // A backend that cannot download: the video must come from the store.
        let backend = Arc::new(Cancels::default());
        let mut h = test_handler(backend.clone(), dir.path());
        h.videos = Some(Arc::new(store));
        let step = analyze_step(&h, &state).await;
        assert!(matches!(step, Ok(Step::Done(_))), "{step:?}");
        assert_eq!(std::fs::read(&path).unwrap(), original);
        // Not kept once analysed, when the run says so; the store keeps it.
        h.keep_videos = false;
        let step = analyze_step(&h, &state).await;
        assert!(matches!(step, Ok(Step::Done(_))), "{step:?}");
        assert!(!path.exists());
        assert_eq!(
            std::fs::read(shared.path().join("test-run/videos/j.mp4")).unwrap(),
            original
        );
        // A copy in the store that is not the video downloaded is not
        // analysed: the provider is asked (here it cannot answer, so the
        // step fails as a download, to be retried).
        assert!(
            backend.0.lock().unwrap().is_empty(),
            "the provider was asked"
        );
        std::fs::write(shared.path().join("test-run/videos/j.mp4"), b"other bytes").unwrap();
        let step = analyze_step(&h, &state).await;
        assert!(
            matches!(&step, Err(f) if f.category == FailureCategory::Download),
            "{step:?}"
        );
        assert_eq!(*backend.0.lock().unwrap(), ["download"]);
    }

    /// Answers each poll from `states` (the last repeats), with a hint of
    /// 1 ms, and records when each poll came.
    struct Polled {
        states: Vec<RemoteState>,
        at: Mutex<Vec<std::time::Instant>>,
    }

    #[async_trait]
    impl VideoBackend for Polled {
        async fn submit(&self, _: &VideoRequest) -> framebreak_client::Result<RemoteJob> {
            unreachable!("not submitted in these tests")
        }
        async fn status(&self, _: &RemoteJob) -> framebreak_client::Result<JobStatus> {
            let mut at = self.at.lock().unwrap();
            at.push(std::time::Instant::now());
            let state = self.states[(at.len() - 1).min(self.states.len() - 1)].clone();
            Ok(JobStatus::new(state).poll_after(Some(Duration::from_millis(1))))
        }
        async fn download(
            &self,
            _: &Asset,
            _: &mut (dyn tokio::io::AsyncWrite + Unpin + Send),
            _: framebreak_client::ProgressFn<'_>,
        ) -> framebreak_client::Result<u64> {
            unreachable!("not downloaded in these tests")
        }
    }

    /// Polls one job to its end through the poll step (paced by `pacer`
    /// when given); the gaps between polls.
    async fn poll_gaps(
        states: Vec<RemoteState>,
        min_interval: Duration,
        pacer: Option<Pacer>,
    ) -> Vec<Duration> {
        let backend = Arc::new(Polled {
            states,
            at: Mutex::new(Vec::new()),
        });
        let mut h = test_handler(backend.clone(), &std::env::temp_dir());
        h.pacer = pacer.map(Arc::new);
        h.polling.min_interval = min_interval;
        h.polling.max_interval = Duration::from_secs(5);
        h.polling.timeout = Duration::from_secs(60);
        let shutdown = Shutdown::new();
        let job = JobId::new("j").unwrap();
        let mut state = json!({ "remote": RemoteJob::new("p", "gen_1") });
        // As the scheduler runs it: each poll is one step; a `Wait` is
        // persisted and the step runs again once its time has come.
        loop {
            let step = h
                .step(StepContext {
                    job: &job,
                    backend: "sim",
                    payload: &json!(null),
                    step: POLL,
                    state: &state,
                    attempt: 0,
                    idempotency_key: "j:1",
                    possibly_executed: false,
                    first_attempt_ms: None,
                    lane: 0,
                    cancel: shutdown.aborting(),
                })
                .await;
            match step {
                Ok(Step::Wait { state: next, after }) => {
                    state = next;
                    tokio::time::sleep(after).await;
                }
                Ok(Step::Next(_)) => break,
                other => panic!("{other:?}"),
            }
        }
        let at = backend.at.lock().unwrap().clone();
        at.windows(2).map(|w| w[1] - w[0]).collect()
    }

    // Lower bounds only: a busy machine can make polls later, never sooner.
    #[tokio::test]
    async fn polls_follow_the_hint_but_never_faster_than_the_floor() {
        let running = RemoteState::Running { progress: None };
        let done = RemoteState::Succeeded { assets: vec![] };
        let floor = Duration::from_millis(120);
        let gaps = poll_gaps(
            vec![running.clone(), running.clone(), running, done],
            floor,
            None,
        )
        .await;
        assert_eq!(gaps.len(), 3);
        for gap in gaps {
            assert!(gap >= floor, "a 1 ms hint polled again after {gap:?}");
        }
    }

    #[tokio::test]
    async fn a_queued_job_is_polled_less_and_less_often() {
        let queued = RemoteState::Queued { position: None };
        let done = RemoteState::Succeeded { assets: vec![] };
        let gaps = poll_gaps(
            vec![queued.clone(), queued.clone(), queued.clone(), queued, done],
            Duration::from_millis(1),
            None,
        )
        .await;
        // The wait doubles from 50 ms while the job stays queued.
        for (gap, at_least) in gaps.iter().zip([50, 100, 200, 400]) {
            assert!(*gap >= Duration::from_millis(at_least), "{gaps:?}");
        }
    }

    #[tokio::test]
    async fn polls_wait_for_the_poll_rate() {
        let running = RemoteState::Running { progress: None };
        let done = RemoteState::Succeeded { assets: vec![] };
        let pacer = framebreak_scheduler::RateLimit::per_second(4)
            .unwrap()
            .pacer();
        let gaps = poll_gaps(
            vec![running.clone(), running, done],
            Duration::from_millis(1),
            Some(pacer),
        )
        .await;
        for gap in gaps {
            assert!(
                gap >= Duration::from_millis(200),
                "4 a second, yet {gap:?} apart"
            );
        }
    }
}
