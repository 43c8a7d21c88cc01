//! A campaign: its run folder, its store, its backend, and the scheduler
//! that runs its jobs.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use framebreak_client::VideoRequest;
use framebreak_scheduler::{
    BackendConfig as LaneConfig, Counts, FailureCategory, JobStore, JobStoreExt, NewJob,
    RetryPolicy, RetryRule, RunOutcome, Scheduler, Shutdown, Snapshot,
};
use framebreak_sim::SimBackend;
use framebreak_variants::{
    BasePrompt, Catalogue, ChainConfig, Generator, PromptReader, Strategy, TrapFilter,
    builtin_scenes,
};
use futures::{StreamExt, TryStreamExt};

use crate::campaign::backend::{self, BackendKind, Built, Lane};
use crate::campaign::builder::{CampaignBuilder, Parts};
use crate::campaign::guard::SubmitGuard;
use crate::campaign::handler::{Analysis, Polling, Spend, VideoHandler};
use crate::campaign::store::RunStore;
use crate::campaign::videos::VideoStore;
use crate::campaign::{
    CampaignConfig, ConfigLoader, Error, RunDir, StrategyKind, VariantsConfig, new_run_id,
};
use crate::job::JobPayload;
use crate::row::ResultRow;

/// Variants enqueued by [`Campaign::enqueue`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EnqueueStats {
    /// Variants generated.
    pub variants: u64,
    /// Of which controls (unmutated base prompts).
    pub controls: u64,
    /// Jobs new to the store (the rest were already there).
    pub added: u64,
}

/// How a [`Campaign::run`] ended.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct CampaignSummary {
    /// Whether every job finished or the run was stopped.
    pub outcome: RunOutcome,
    /// Jobs by state at the end.
    pub counts: Counts,
    /// The scheduler's last snapshot.
    pub snapshot: Snapshot,
}

/// A campaign: variants of prompts sent as jobs to a video backend, each
/// video downloaded, analysed and stored as a result row.
pub struct Campaign {
    config: CampaignConfig,
    run: RunDir,
    run_store: RunStore,
    /// Its backends, each in its own lane (one, unless given in code).
    lanes: Vec<Lane>,
    /// The in-process simulator, when the configured backend is one.
    sim: Option<SimBackend>,
    analysis: Arc<Analysis>,
    shutdown: Shutdown,
    guard: Arc<SubmitGuard>,
    /// Generations cancelled at the provider after their jobs were abandoned.
    cancelled_at_provider: Arc<std::sync::atomic::AtomicU64>,
    /// The run folder's lock, held while this campaign lives (SQLite runs).
    _lock: Option<std::fs::File>,
    /// The run's shared video store (`output.videos`), checked writable.
    videos: Option<Arc<VideoStore>>,
    /// The run's ledger and budget, when it is priced.
    spend: Option<Arc<Spend>>,
    /// A new run's claim on its id in a shared store, held until every
    /// variant is enqueued.
    submit_hold: std::sync::Mutex<Option<crate::campaign::store::SubmitHold>>,
    /// The variant generator given in code, if one was.
    generator: Option<Generator>,
}

impl std::fmt::Debug for Campaign {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Campaign")
            .field("run", &self.run)
            .field("backend", &self.config.backend_name())
            .field("store", &self.run_store)
            .finish_non_exhaustive()
    }
}

impl Campaign {
    /// A new run under `config.output.runs_dir`, with a fresh run id.
    ///
    /// # Errors
    ///
    /// [`Error`] when the folder, the store or the backend cannot be set up.
    pub async fn create(config: CampaignConfig) -> Result<Self, Error> {
        Self::create_with_id(config, &new_run_id()).await
    }

    /// A new run with the given id.
    ///
    /// # Errors
    ///
    /// As [`Campaign::create`]; also when a run with this id exists.
    pub async fn create_with_id(config: CampaignConfig, id: &str) -> Result<Self, Error> {
        CampaignBuilder::new(config).create_with_id(id).await
    }

    /// A builder of a campaign with parts given in code: a backend,
    /// detectors, a variant generator, a device selector (see
    /// [`CampaignBuilder`]).
    pub fn builder(config: CampaignConfig) -> CampaignBuilder {
        CampaignBuilder::new(config)
    }

    /// A new run with the given id, made of `config` and `parts` (whose
    /// names `config.in_code` already records).
    pub(crate) async fn create_from_parts(
        config: CampaignConfig,
        id: &str,
        parts: Parts,
    ) -> Result<Self, Error> {
        config.validate()?;
        // Everything that can be checked is checked before the folder is
        // made: a run that cannot enqueue would be one `resume` never ends.
        check_variants(&config)?;
        let runs_dir = config.output.runs_dir.clone();
        let exists = runs_dir
            .join(id)
            .join(crate::campaign::CONFIG_FILE)
            .exists();
        // A shared store's run is the store's: an interrupted submit is
        // finished by submitting again, from this machine or any other, and
        // the store (not this folder) says whether the id is free.
        let shared = config.scheduler.store.is_postgres();
        if exists && !shared {
            return Err(Error::Config {
                source_name: format!("run id {id:?}"),
                reason: format!(
                    "a run with this id exists in {}; resume it with `framebreak resume {id}`",
                    runs_dir.display()
                ),
            });
        }
        let run = if exists {
            RunDir::open(&runs_dir, id)?
        } else {
            RunDir::create(&runs_dir, id)?
        };
        run.save_config(&config)?;
        let made = async {
            let campaign = Self::assemble(config, run.clone(), Opening::New, parts).await?;
            let hold = campaign
                .run_store
                .claim_submit(id, &campaign.config)
                .await?;
            *campaign
                .submit_hold
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner) = Some(hold);
            Ok(campaign)
        };
        made.await.inspect_err(|_| {
            // Nothing ran: a folder that cannot be resumed would only
            // mislead `framebreak resume`.
            if !exists {
                let _ = std::fs::remove_dir_all(run.path());
            }
        })
    }

    /// An existing run, to resume it or read its results. `run` is a run id
    /// under `runs_dir` or the path of a run folder. The run goes on with
    /// the configuration it was started with.
    ///
    /// # Errors
    ///
    /// [`Error::RunNotFound`] when there is no such run.
    pub async fn open(runs_dir: &Path, run: &str) -> Result<Self, Error> {
        Self::open_with_store(runs_dir, run, None).await
    }

    /// [`Campaign::open`] with the store given again: the saved
    /// configuration never holds a database password, so a PostgreSQL run
    /// is reopened with its connection string (or `postgres` and
    /// `DATABASE_URL`).
    ///
    /// # Errors
    ///
    /// As [`Campaign::open`].
    pub async fn open_with_store(
        runs_dir: &Path,
        run: &str,
        store: Option<&str>,
    ) -> Result<Self, Error> {
        let run = RunDir::open(runs_dir, run)?;
        let mut config = run.load_config()?;
        if let Some(store) = store {
            config.scheduler.store = store.parse()?;
        }
        Self::assemble(config, run, Opening::Existing, Parts::default()).await
    }

    /// [`Campaign::open_with_store`] with `adjust` applied to the saved
    /// configuration first (a larger budget), which is saved so: the run
    /// goes on with it from now on.
    ///
    /// # Errors
    ///
    /// As [`Campaign::open`]; [`Error::Config`] when the adjusted
    /// configuration is not valid.
    pub async fn open_adjusted(
        runs_dir: &Path,
        run: &str,
        store: Option<&str>,
        adjust: impl FnOnce(&mut CampaignConfig),
    ) -> Result<Self, Error> {
        let run = RunDir::open(runs_dir, run)?;
        let mut config = run.load_config()?;
        adjust(&mut config);
        config.validate()?;
        run.save_config(&config)?;
        if let Some(store) = store {
            config.scheduler.store = store.parse()?;
        }
        Self::assemble(config, run, Opening::Existing, Parts::default()).await
    }

    /// Joins run `run_id` of a shared (PostgreSQL) store as one more
    /// worker: the run's configuration comes from the store, as it was
    /// submitted; `adjust` then sets what is this machine's to choose (its
    /// device, its concurrency, where its videos go). The store itself is
    /// `store`.
    ///
    /// # Errors
    ///
    /// [`Error::RunNotFound`] when the store holds no such run.
    pub async fn join(
        store: &str,
        run_id: &str,
        adjust: impl FnOnce(&mut CampaignConfig),
    ) -> Result<Self, Error> {
        let (config, run) = local_copy(store, run_id, adjust).await?;
        Self::assemble(config, run, Opening::Existing, Parts::default()).await
    }

    /// The campaign of `config` in `run`, with `parts` given in code (which
    /// must be the ones the configuration records).
    pub(crate) async fn assemble(
        config: CampaignConfig,
        run: RunDir,
        opening: Opening,
        parts: Parts,
    ) -> Result<Self, Error> {
        parts.check(run.id(), &config.in_code)?;
        let Parts {
            backends: custom_backends,
            detectors,
            generator,
            selector,
            store: custom_store,
        } = parts;
        let run_store = match (custom_store, opening) {
            (Some((_, store)), opening) => {
                // A run that enqueued jobs and finds none was given
                // another store: taken for this run, it would run again.
                if opening == Opening::Existing
                    && let Some(enqueued) = run.enqueued().filter(|&n| n > 0)
                    && store.jobs().counts().await?.total() == 0
                {
                    return Err(Error::StoreLost {
                        run_id: run.id().to_owned(),
                        path: run.path().to_owned(),
                        problem: crate::campaign::StoreProblem::Empty { enqueued },
                    });
                }
                store
            }
            (None, Opening::New) => RunStore::open(&config, run.id(), run.path()).await?,
            // A store that is missing, empty or another run's is refused:
            // opened, it would be taken for a run with nothing done.
            (None, Opening::Existing) => RunStore::open_existing(&config, &run).await?,
        };
        // A run folder's SQLite store is used by one process at a time: the
        // one holding its lock. Holding it, every lease in the store belongs
        // to a process that died (a kill), so its jobs are taken over now
        // instead of after their leases expire.
        let lock = match &run_store {
            RunStore::Sqlite(store) => {
                let lock = lock_run(&run)?;
                let released = store.release_leases().await?;
                if released > 0 {
                    tracing::info!(released, "took over the jobs of a process that died");
                }
                // The store says which run it is (a new one, or one made
                // before stores said so), so it is never taken for another's.
                run_store.claim(run.id()).await?;
                remove_stale_temporaries(run.path());
                Some(lock)
            }
            // A store given in code: leases of a process that died expire.
            RunStore::Custom { .. } => Some(lock_run(&run)?),
            #[cfg(feature = "postgres")]
            RunStore::Postgres(_) => None,
        };
        let (lanes, sim) = if custom_backends.is_empty() {
            let Built {
                backend,
                truth,
                sim,
            } = backend::build(&config.backend, run.path())?;
            let lane = Lane {
                name: config.backend_name().to_owned(),
                backend,
                truth,
                price: config.price()?,
            };
            (vec![lane], sim)
        } else {
            let lanes = custom_backends
                .into_iter()
                .map(|(name, backend)| {
                    Ok(Lane {
                        price: config.price_of(&name)?,
                        name,
                        backend,
                        truth: backend::Truth::None,
                    })
                })
                .collect::<Result<Vec<_>, Error>>()?;
            (lanes, None)
        };
        // An impossible request is refused before anything is submitted.
        for lane in &lanes {
            conform(lane.backend.as_ref(), &probe_request(&config))?;
            check_model_offered(lane.backend.as_ref(), &config).await?;
        }
        let detectors = detectors.into_iter().map(|(_, d)| d).collect();
        let analysis = Arc::new(Analysis::new(&config.analysis, selector, detectors)?);
        // A store that cannot be written is found before any job runs.
        let videos = match VideoStore::of_run(&config, run.id())? {
            Some(videos) => {
                videos.check().await?;
                Some(Arc::new(videos))
            }
            None => None,
        };
        let price = lanes[0].price.as_ref();
        // A priced run (or one with a budget, which needs a price) keeps its
        // commitments in its ledger.
        let spend = (price.is_some() || config.cost.budget.is_some()).then(|| {
            let fallback = price.map_or(crate::cost::Usd::ZERO, |p| {
                p.of(config.request.duration_secs).1
            });
            Arc::new(Spend::new(run_store.ledger(), config.cost.budget, fallback))
        });
        let shutdown = Shutdown::new();
        let key_var = if !config.in_code.backends.is_empty() {
            None
        } else {
            config.backend.kind.key_var()
        };
        Ok(Self {
            config,
            run_store,
            run,
            lanes,
            sim,
            analysis,
            guard: Arc::new(SubmitGuard::new(shutdown.clone(), key_var)),
            cancelled_at_provider: Arc::default(),
            shutdown,
            _lock: lock,
            videos,
            spend,
            submit_hold: std::sync::Mutex::default(),
            generator: generator.map(|(_, g)| g),
        })
    }

    /// The run's shared video store, when its configuration names one.
    #[must_use]
    pub fn videos(&self) -> Option<&VideoStore> {
        self.videos.as_deref()
    }

    /// The configuration it runs with.
    #[must_use]
    pub fn config(&self) -> &CampaignConfig {
        &self.config
    }

    /// Its run folder.
    #[must_use]
    pub fn run_dir(&self) -> &RunDir {
        &self.run
    }

    /// Its job store.
    #[must_use]
    pub fn store(&self) -> Arc<dyn JobStore> {
        self.run_store.jobs()
    }

    /// Its job store, by kind (SQLite or PostgreSQL).
    #[must_use]
    pub fn run_store(&self) -> &RunStore {
        &self.run_store
    }

    /// The switch that stops it: first trigger drains, second aborts.
    #[must_use]
    pub fn shutdown(&self) -> Shutdown {
        self.shutdown.clone()
    }

    /// The in-process simulator, when the backend is one (its statistics
    /// count every submission the run made, across restarts).
    #[must_use]
    pub fn simulator(&self) -> Option<&SimBackend> {
        self.sim.as_ref()
    }

    /// The compute devices used for analysis, when chosen per video.
    #[must_use]
    pub fn devices(&self) -> Option<&framebreak_gpu::DeviceManager> {
        self.analysis.devices()
    }

    /// Generates the variants and enqueues one job per variant. Idempotent:
    /// variants already in the store are skipped, so a run killed while
    /// enqueueing enqueues the rest when resumed. Once every variant is in,
    /// the run folder records it and later calls do nothing.
    ///
    /// # Errors
    ///
    /// [`Error`] for unreadable prompts, a bad catalogue or a store error.
    pub async fn enqueue(&self) -> Result<EnqueueStats, Error> {
        // A shared store keeps the mark for every worker; a SQLite run's
        // folder keeps it beside its store.
        let done = if self.run_store.is_shared() {
            self.run_store.enqueued().await?
        } else {
            self.run.enqueued()
        };
        if let Some(n) = done {
            return Ok(EnqueueStats {
                variants: n,
                controls: 0,
                added: 0,
            });
        }
        let generator = self.generator()?;
        let prompts = self.prompts()?;
        let limit = self.config.variants.limit.unwrap_or(usize::MAX);
        let variants = generator.generate(prompts);
        let store = self.store();
        let several = self.lanes.len() > 1;
        let mut batch = Vec::with_capacity(ENQUEUE_BATCH);
        let (mut count, mut controls, mut added) = (0u64, 0u64, 0u64);
        for variant in variants.take(limit) {
            let variant = variant?;
            count += 1;
            controls += u64::from(variant.is_control());
            // One job per variant and backend: `VARIANT@BACKEND` when the
            // campaign has several, the variant's id when it has one.
            for lane in &self.lanes {
                let id = if several {
                    format!("{}@{}", variant.id, lane.name)
                } else {
                    variant.id.to_string()
                };
                let job = NewJob::new(id, &lane.name, self.payload(&variant, lane)?)?;
                batch.push(job);
                if batch.len() == ENQUEUE_BATCH {
                    added += store.enqueue(std::mem::take(&mut batch)).await?;
                }
            }
        }
        if !batch.is_empty() {
            added += store.enqueue(batch).await?;
        }
        self.run.mark_enqueued(count)?;
        self.run_store.mark_enqueued(count).await?;
        // Every variant is in: the run is sealed, other submits of its id
        // are refused by the mark, not by the lock.
        drop(
            self.submit_hold
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .take(),
        );
        Ok(EnqueueStats {
            variants: count,
            controls,
            added,
        })
    }

    fn payload(
        &self,
        variant: &framebreak_variants::Variant,
        lane: &Lane,
    ) -> Result<serde_json::Value, Error> {
        let r = &self.config.request;
        let mut request = VideoRequest::new(variant.prompt.clone())
            .size(r.width, r.height)
            .duration_secs(r.duration_secs);
        if r.send_seed {
            request = request.seed(variant.seed);
        }
        if let Some(model) = &self.config.backend.model {
            request = request.model(model.clone());
        }
        let fitted = conform(lane.backend.as_ref(), &request)?;
        let cost = lane.price.as_ref().map(|price| {
            crate::cost::Estimate::of(
                price,
                fitted.request.duration_secs.unwrap_or(r.duration_secs),
            )
        });
        serde_json::to_value(JobPayload {
            variant: variant.clone(),
            request: fitted.request,
            adjustments: fitted.adjustments,
            cost,
        })
        .map_err(|e| Error::Config {
            source_name: "a variant".into(),
            reason: e.to_string(),
        })
    }

    fn generator(&self) -> Result<Generator, Error> {
        match &self.generator {
            Some(g) => Ok(g.clone()),
            None => generator(&self.config.variants),
        }
    }

    fn prompts(&self) -> Result<Prompts, Error> {
        prompts(&self.config)
    }

    /// The scheduler that runs the jobs: subscribe to it for progress, then
    /// pass it to [`Campaign::run_with`].
    ///
    /// # Errors
    ///
    /// [`Error::Scheduler`] for an impossible configuration.
    pub fn scheduler(&self) -> Result<Scheduler, Error> {
        let s = &self.config.scheduler;
        let handler = VideoHandler {
            run_id: self.run.id().to_owned(),
            lanes: Arc::new(
                self.lanes
                    .iter()
                    .map(|l| (l.name.clone(), l.clone()))
                    .collect(),
            ),
            run_dir: self.run.path().to_owned(),
            analysis: self.analysis.clone(),
            guard: self.guard.clone(),
            cancelled_at_provider: self.cancelled_at_provider.clone(),
            videos: self.videos.clone(),
            keep_videos: self.config.output.keep_videos,
            spend: self.spend.clone(),
            pacer: s
                .poll_rate
                .as_ref()
                .map(|rate| Arc::new(rate.limit().pacer())),
            polling: Polling {
                timeout: Duration::from_secs(self.config.backend.generation_timeout_secs),
                max_interval: Duration::from_secs(
                    self.config.backend.max_poll_interval_secs.max(1),
                ),
                min_interval: Duration::from_millis(
                    self.config.backend.min_poll_interval_ms.unwrap_or(
                        if self.config.backend.kind.is_sim()
                            && self.config.in_code.backends.is_empty()
                        {
                            20
                        } else {
                            1000
                        },
                    ),
                ),
            },
        };
        let rule = RetryRule {
            max_attempts: s.max_attempts,
            ..RetryRule::default()
        };
        let mut builder = Scheduler::builder(self.store(), handler)
            .concurrency(s.concurrency)
            .lease_ttl(Duration::from_secs(s.lease_ttl_secs))
            .store_outage(Duration::from_secs(s.store_outage_secs))
            .retry(RetryPolicy::uniform(rule))
            .shutdown(self.shutdown.clone());
        // Each backend its own lane: its breaker, its retries, its rate.
        for lane in &self.lanes {
            builder = builder.backend(
                &lane.name,
                LaneConfig {
                    max_in_flight: s.concurrency,
                    ..LaneConfig::default()
                },
            );
        }
        if let Some(rate) = &s.rate {
            for lane in &self.lanes {
                builder = builder.rate_limit(&lane.name, rate.limit());
            }
            // One limit for the whole campaign, however many workers share it.
            #[cfg(feature = "postgres")]
            if let RunStore::Postgres(pg) = &self.run_store {
                builder = builder.shared_rate_limiter(pg.rate_limiter());
            }
        }
        Ok(builder.build()?)
    }

    /// Runs every unfinished job to its end (or until shut down).
    ///
    /// # Errors
    ///
    /// [`Error::Scheduler`] when the store fails.
    pub async fn run(&self) -> Result<CampaignSummary, Error> {
        let scheduler = self.scheduler()?;
        self.run_with(&scheduler).await
    }

    /// Runs `scheduler` (from [`Campaign::scheduler`]) to its end. A run on
    /// SQLite records its store's done count in the run folder as it goes
    /// (see [`RunDir::done_mark`]).
    ///
    /// # Errors
    ///
    /// [`Error::Scheduler`] when the store fails; [`Error::Io`] when the
    /// run folder's done count cannot be written at the end.
    pub async fn run_with(&self, scheduler: &Scheduler) -> Result<CampaignSummary, Error> {
        // A SQLite run's folder records how many jobs its store has done,
        // so that a store that later loses its newest writes is refused
        // rather than run again (RunStore::open_existing).
        let marker = (!self.run_store.is_shared()).then(|| {
            let (store, run) = (self.store(), self.run.clone());
            tokio::spawn(async move {
                loop {
                    tokio::time::sleep(DONE_MARK_EVERY).await;
                    if let Ok(c) = store.counts().await
                        && let Err(e) = run.mark_done(c.done)
                    {
                        tracing::warn!(error = %e, "cannot record the done count in the run folder");
                    }
                }
            })
        });
        let summary = scheduler.run().await;
        if let Some(m) = marker {
            m.abort();
        }
        let summary = summary?;
        let counts = self.store().counts().await?;
        if !self.run_store.is_shared() {
            self.run.mark_done(counts.done)?;
        }
        Ok(CampaignSummary {
            outcome: summary.outcome,
            counts,
            snapshot: summary.snapshot,
        })
    }

    /// How the (first) backend fits this campaign's request to its model:
    /// the changes it makes to the configured duration, size and seed (the
    /// same for every job of that backend). Empty when the request is sent
    /// as configured.
    ///
    /// # Errors
    ///
    /// [`Error::Config`] naming the field and the values the model takes,
    /// when no request of this campaign can be made valid.
    pub fn request_adjustments(&self) -> Result<Vec<framebreak_client::Adjustment>, Error> {
        Ok(conform(self.lanes[0].backend.as_ref(), &probe_request(&self.config))?.adjustments)
    }

    /// How many generations this process cancelled at the provider because
    /// their jobs ended failed after submission (a generation timeout, say).
    #[must_use]
    pub fn cancelled_at_provider(&self) -> u64 {
        self.cancelled_at_provider
            .load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Whether the campaign stopped because its budget was reached.
    #[must_use]
    pub fn stopped_at_budget(&self) -> bool {
        self.guard.stopped_at_budget()
    }

    /// What the run has committed to so far (spent, or held by jobs in
    /// flight), from its ledger.
    ///
    /// # Errors
    ///
    /// [`Error::Scheduler`] when the store fails.
    pub async fn committed(&self) -> Result<crate::cost::Usd, Error> {
        Ok(crate::cost::Usd::from_micros(
            self.run_store.ledger().committed().await?,
        ))
    }

    /// The price of one request of the run's model, when framebreak has
    /// one.
    #[must_use]
    pub fn price(&self) -> Option<&crate::cost::Price> {
        self.lanes[0].price.as_ref()
    }

    /// Why the campaign stopped itself, if it did: the provider refused a
    /// burst of submissions for a reason no retry fixes (a wrong key, a
    /// request it never accepts), or its budget was reached. The message
    /// names what to do.
    #[must_use]
    pub fn stopped_because(&self) -> Option<String> {
        self.guard.stopped()
    }

    /// Puts this run's failed jobs whose failure category `select` picks
    /// back in the queue, to run afresh from the step they failed at (the
    /// same run, the same variants). Returns how many were re-queued. Reads
    /// the finished jobs a page at a time.
    ///
    /// A job that ended `unknown_submission` may have been created (and
    /// billed) at the provider: re-queueing it sends its submission again.
    ///
    /// # Errors
    ///
    /// [`Error::Scheduler`] when the store fails.
    pub async fn requeue_failed(
        &self,
        select: impl Fn(FailureCategory) -> bool,
    ) -> Result<u64, Error> {
        self.requeue_where(|record| {
            record.state == framebreak_scheduler::JobState::Failed
                && record.failure.as_ref().is_some_and(|f| select(f.category))
        })
        .await
    }

    /// Puts back in the queue the jobs a budget left unsubmitted (they
    /// ended `cancelled`): for a run resumed with a larger budget. Returns
    /// how many.
    ///
    /// # Errors
    ///
    /// [`Error::Scheduler`] when the store fails.
    pub async fn requeue_unsubmitted(&self) -> Result<u64, Error> {
        self.requeue_where(|record| {
            record.state == framebreak_scheduler::JobState::Cancelled
                && record.failure.as_ref().is_some_and(|f| {
                    f.message
                        .starts_with(crate::campaign::handler::NOT_SUBMITTED_FOR_BUDGET)
                })
        })
        .await
    }

    /// Re-queues the finished jobs `select` picks, reading them a page at a
    /// time.
    async fn requeue_where(
        &self,
        select: impl Fn(&framebreak_scheduler::JobRecord) -> bool,
    ) -> Result<u64, Error> {
        const PAGE: usize = 500;
        let store = self.store();
        // Finished jobs are read by sequence number: those re-queued along
        // the way do not shift the pages still to come.
        let mut finished = store.results(PAGE);
        let (mut picked, mut requeued) = (Vec::new(), 0);
        while let Some(record) = finished.next().await {
            let record = record?;
            if select(&record) {
                picked.push(record.job.id);
            }
            if picked.len() == PAGE {
                requeued += store.requeue_failed(std::mem::take(&mut picked)).await?;
            }
        }
        if !picked.is_empty() {
            requeued += store.requeue_failed(picked).await?;
        }
        Ok(requeued)
    }

    /// Every finished job as a report row, in the order they finished, all
    /// in memory: for a small run. A large run's reports read
    /// [`row_stream`] into a [`Digest`](crate::report::Digest) and the
    /// streaming writers instead.
    ///
    /// # Errors
    ///
    /// [`Error::Scheduler`] when the store fails.
    pub async fn rows(&self) -> Result<Vec<ResultRow>, Error> {
        rows(self.store().as_ref()).await
    }
}

/// The base prompts a campaign reads.
pub(crate) type Prompts = Box<dyn Iterator<Item = framebreak_variants::Result<BasePrompt>> + Send>;

/// The base prompts of `config`: its input file, else the built-in scenes.
pub(crate) fn prompts(config: &CampaignConfig) -> Result<Prompts, Error> {
    Ok(match &config.variants.input {
        None => Box::new(builtin_scenes().into_iter().map(Ok)),
        Some(path) => Box::new(PromptReader::open(path)?),
    })
}

/// The generator of `v`'s variants.
pub(crate) fn generator(v: &VariantsConfig) -> Result<Generator, Error> {
    let catalogue = match &v.traps {
        Some(spec) => Catalogue::builtin().select(&TrapFilter::parse(spec)?)?,
        None => Catalogue::builtin(),
    };
    let strategy = match v.strategy {
        StrategyKind::Random => Strategy::Random {
            per_prompt: v.per_prompt,
        },
        StrategyKind::Stratified => Strategy::Stratified {
            per_prompt: v.per_prompt,
        },
        StrategyKind::Exhaustive => Strategy::Exhaustive,
    };
    Ok(Generator::builder(catalogue)
        .strategy(strategy)
        .seed(v.seed)
        .control(v.control)
        .chain_config(ChainConfig {
            max_traps: v.max_traps,
            ..ChainConfig::default()
        })
        .build()?)
}

/// Checks what a new run will read before its folder is made: the
/// generator's settings, the traps, the simulator's profile, and the prompts file (readable, every
/// prompt well-formed, at least one). A failure is a usage error.
pub(crate) fn check_variants(config: &CampaignConfig) -> Result<(), Error> {
    let usage = |key: &str, e: Error| match e {
        Error::Config { .. } => e,
        other => Error::Config {
            source_name: key.to_owned(),
            reason: other.to_string(),
        },
    };
    generator(&config.variants).map_err(|e| usage("variants", e))?;
    if config.backend.kind == BackendKind::Sim
        && let Err(e) = framebreak_sim::Profile::named_or_file(&config.backend.profile)
    {
        return Err(Error::Config {
            source_name: "backend.profile".into(),
            reason: format!("{e} (the built-in profiles are `weak` and `strong`)"),
        });
    }
    let Some(path) = &config.variants.input else {
        return Ok(());
    };
    let key = "variants.input";
    let mut prompts = 0u64;
    for prompt in PromptReader::open(path).map_err(|e| usage(key, e.into()))? {
        prompt.map_err(|e| usage(key, e.into()))?;
        prompts += 1;
    }
    if prompts == 0 {
        return Err(Error::Config {
            source_name: format!("{key} {}", path.display()),
            reason: "no prompts in it (blank lines and lines starting with # are skipped)".into(),
        });
    }
    Ok(())
}

/// Temporary files older than this in a run folder were left by a killed
/// process (a report or a download cut short), not written by a live one.
const STALE_TEMPORARY: Duration = Duration::from_secs(15 * 60);

/// Removes the temporary files killed processes left in the run folder and
/// its videos folder (`.framebreak-*.tmp`, `.framebreak-download-*`).
fn remove_stale_temporaries(run: &Path) {
    for dir in [run.to_owned(), run.join(crate::campaign::VIDEOS_DIR)] {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for entry in entries.flatten() {
            let name = entry.file_name();
            let name = name.to_string_lossy();
            let temporary = name.starts_with(".framebreak-download-")
                || (name.starts_with(".framebreak-") && name.ends_with(".tmp"));
            let stale = entry
                .metadata()
                .and_then(|m| m.modified())
                .ok()
                .and_then(|t| t.elapsed().ok())
                .is_some_and(|age| age > STALE_TEMPORARY);
            if temporary && stale && std::fs::remove_file(entry.path()).is_ok() {
                tracing::info!(file = %entry.path().display(), "removed a killed process's temporary file");
            }
        }
    }
}

/// Whether a campaign opens a new run's store or an existing run's.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Opening {
    New,
    Existing,
}

/// Whether a failed job of `category` is re-queued when a resume asks to
/// retry the failed jobs without naming categories: every category but
/// `unknown_submission` (the provider may have made, and billed, the job:
/// sending it again may pay twice, so it is retried only when named) and
/// `cancelled` (someone's decision, not a fault).
#[must_use]
pub fn retried_by_default(category: FailureCategory) -> bool {
    !matches!(
        category,
        FailureCategory::UnknownSubmission | FailureCategory::Cancelled
    )
}

/// How many jobs of `store` ended `unknown_submission`: submissions the
/// provider may have made (and may bill) that could not be looked up. Reads
/// the finished jobs a page at a time.
///
/// # Errors
///
/// [`Error::Scheduler`] when the store fails.
pub async fn unknown_submissions(store: &dyn JobStore) -> Result<u64, Error> {
    let mut finished = store.results(1000);
    let mut n = 0;
    while let Some(record) = finished.next().await {
        if record?
            .failure
            .is_some_and(|f| f.category == FailureCategory::UnknownSubmission)
        {
            n += 1;
        }
    }
    Ok(n)
}

/// The file whose exclusive lock says which process runs a run folder.
const RUN_LOCK: &str = "run.lock";

/// Takes the run folder's lock, or says that another process holds it.
fn lock_run(run: &RunDir) -> Result<std::fs::File, Error> {
    let path = run.path().join(RUN_LOCK);
    let file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .map_err(|e| Error::io(&path, e))?;
    match file.try_lock() {
        Ok(()) => Ok(file),
        Err(std::fs::TryLockError::WouldBlock) => Err(Error::Config {
            source_name: format!("run {}", run.id()),
            reason: format!(
                "another framebreak process is running it ({} is locked); wait for it or stop it",
                path.display()
            ),
        }),
        Err(std::fs::TryLockError::Error(e)) => Err(Error::io(&path, e)),
    }
}

/// The campaign's request with a stand-in prompt: what every job asks for
/// besides its prompt and seed.
fn probe_request(config: &CampaignConfig) -> VideoRequest {
    let r = &config.request;
    let mut request = VideoRequest::new("probe")
        .size(r.width, r.height)
        .duration_secs(r.duration_secs);
    if r.send_seed {
        request = request.seed(0);
    }
    if let Some(model) = &config.backend.model {
        request = request.model(model.clone());
    }
    request
}

/// Refuses a model the provider says it does not offer (a gateway's model
/// list), before anything is submitted. A provider that does not say, or
/// cannot be asked right now, is not second-guessed.
async fn check_model_offered(
    backend: &dyn framebreak_client::VideoBackend,
    config: &CampaignConfig,
) -> Result<(), Error> {
    let Some(model) = &config.backend.model else {
        return Ok(());
    };
    match backend.offered_models().await {
        Ok(Some(offered)) if !offered.iter().any(|m| m == model) => Err(Error::Config {
            source_name: "backend.model".into(),
            reason: format!(
                "{model:?} is not among the models the provider offers: {}",
                offered.join(", ")
            ),
        }),
        Ok(_) => Ok(()),
        Err(e) => {
            tracing::warn!(error = %e, "could not read the provider's model list");
            Ok(())
        }
    }
}

/// Fits `request` to the backend's model; a request that cannot fit is a
/// configuration error naming the valid values.
pub(crate) fn conform(
    backend: &dyn framebreak_client::VideoBackend,
    request: &VideoRequest,
) -> Result<framebreak_client::Conformed, Error> {
    backend.conform(request).map_err(|e| Error::Config {
        source_name: "request".into(),
        reason: e.to_string(),
    })
}

/// The configuration run `run_id` of a shared (PostgreSQL) store was
/// submitted with, with `adjust` applied and `store` as its store, and the
/// run's folder on this machine (made when missing): what a worker runs
/// and what a report of the run reads, without building its backend (a
/// report needs no API key).
///
/// # Errors
///
/// [`Error::RunNotFound`] when the store holds no such run.
pub async fn local_copy(
    store: &str,
    run_id: &str,
    adjust: impl FnOnce(&mut CampaignConfig),
) -> Result<(CampaignConfig, RunDir), Error> {
    let mut probe = CampaignConfig::default();
    probe.scheduler.store = store.parse()?;
    let shared = RunStore::attach(&probe, run_id).await?;
    let text = shared
        .load_config()
        .await?
        .ok_or_else(|| Error::RunNotFound {
            run_id: run_id.to_owned(),
            runs_dir: crate::campaign::redact_url(store).into(),
            reason: "the store holds no run with this id (submit it with `framebreak submit`)"
                .into(),
        })?;
    if shared.enqueued().await?.is_none() {
        return Err(Error::SubmitUnfinished {
            run_id: run_id.to_owned(),
        });
    }
    let mut config = ConfigLoader::new()
        .toml(
            &text,
            &format!("the configuration of run {run_id} in the store"),
        )?
        .build()
        .map_err(|e| match e {
            // Submitted by a newer framebreak, most likely.
            Error::Config {
                source_name,
                reason,
            } if reason.contains("unknown field") || reason.contains("unknown variant") => {
                Error::Config {
                    source_name,
                    reason: format!(
                        "{reason} (was the run submitted by a newer framebreak? run this \
                         worker with the same version)"
                    ),
                }
            }
            other => other,
        })?;
    config.scheduler.store = store.parse()?;
    adjust(&mut config);
    let runs_dir = config.output.runs_dir.clone();
    let run = match RunDir::open(&runs_dir, run_id) {
        Ok(run) => run,
        Err(_) => {
            let run = RunDir::create(&runs_dir, run_id)?;
            run.save_config(&config)?;
            run
        }
    };
    Ok((config, run))
}

/// Every finished job of `store` as a report row, all in memory (see
/// [`row_stream`] for a large run).
///
/// # Errors
///
/// [`Error::Scheduler`] when the store fails.
pub async fn rows(store: &dyn JobStore) -> Result<Vec<ResultRow>, Error> {
    row_stream(store).try_collect().await
}

/// Every finished job of `store` as a report row, in the order they
/// finished, read a page of records at a time: memory holds a page, not
/// the run.
///
/// # Errors
///
/// Each item is [`Error::Scheduler`] when the store fails, and
/// [`Error::UnreadableRow`] for a finished job whose record is not a
/// campaign's: it is reported, never left out.
pub fn row_stream(
    store: &dyn JobStore,
) -> impl futures::Stream<Item = Result<ResultRow, Error>> + Send + '_ {
    store.results(ROWS_PAGE).filter_map(|record| {
        std::future::ready(match record {
            Ok(record) => ResultRow::from_record(&record)
                .map_err(Error::from)
                .transpose(),
            Err(e) => Some(Err(e.into())),
        })
    })
}

const ENQUEUE_BATCH: usize = 1_000;

/// How often a SQLite run's folder records its store's done count.
const DONE_MARK_EVERY: Duration = Duration::from_secs(2);
/// Finished jobs read from the store at a time for reports: each is a few
/// kilobytes of JSON (its analysis), so a page stays well under a megabyte.
const ROWS_PAGE: usize = 100;

/// The job store of a run, without its backend: what reports and status
/// read (they need no API key), also while the run goes on elsewhere.
///
/// # Errors
///
/// [`Error::StoreLost`] when the store is missing, empty or another run's
/// (see [`RunStore::open_existing`]); [`Error`] when it cannot be opened.
pub async fn open_store(config: &CampaignConfig, run: &RunDir) -> Result<Arc<dyn JobStore>, Error> {
    Ok(RunStore::open_existing(config, run).await?.jobs())
}
