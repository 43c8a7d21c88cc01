//! The scheduler: builder, dispatcher loop, heartbeats, intake and shutdown.

use std::collections::HashMap;
use std::fmt;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::sync::{Notify, Semaphore, broadcast, mpsc};
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use crate::breaker::Transition;
use crate::config::{BackendConfig, Config};
use crate::error::{Error, Result};
use crate::gate::Gate;
use crate::handler::Handler;
use crate::job::{JobId, JobRecord, LeaseRequest, LeaseToken, NewJob, Update, now_ms};
use crate::progress::{Counters, Event, Health, JobEvent, LaneStatus, Snapshot};
use crate::rate::{RateLimit, RateLimiters};
use crate::retry::{RetryBudget, RetryPolicy};
use crate::shutdown::Shutdown;
use crate::store::JobStore;
use crate::worker::{Exit, run_job};

/// State shared by the dispatcher and every job task.
pub(crate) struct Shared {
    pub(crate) store: Arc<dyn JobStore>,
    pub(crate) handler: Arc<dyn Handler>,
    pub(crate) config: Config,
    pub(crate) limiters: RateLimiters,
    pub(crate) lanes: Vec<Semaphore>,
    lane_capacity: usize,
    pub(crate) budget: RetryBudget,
    pub(crate) counters: Counters,
    pub(crate) shutdown: Shutdown,
    gates: Mutex<HashMap<String, Arc<Gate>>>,
    events: broadcast::Sender<Event>,
    held: Mutex<HashMap<JobId, (LeaseToken, CancellationToken)>>,
    stopped: AtomicBool,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// 64-bit FNV-1a: a hash that is the same in every process and release, so
/// an affinity key maps to the same lane across restarts.
pub(crate) fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(*b)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

impl Shared {
    pub(crate) fn gate(&self, backend: &str) -> Arc<Gate> {
        let mut gates = lock(&self.gates);
        if let Some(g) = gates.get(backend) {
            return Arc::clone(g);
        }
        let gate = Arc::new(Gate::new(backend.to_owned(), self.config.backend(backend)));
        gates.insert(backend.to_owned(), Arc::clone(&gate));
        gate
    }

    pub(crate) fn rate_keys<'g>(&self, gate: &'g Gate) -> Vec<&'g str> {
        match &gate.config.rate_keys {
            Some(keys) => keys.iter().map(String::as_str).collect(),
            None => vec![gate.name.as_str()],
        }
    }

    pub(crate) fn lane_of(&self, record: &JobRecord) -> usize {
        let n = self.lanes.len() as u64;
        let h = record
            .job
            .affinity
            .as_deref()
            .map_or(record.seq, |k| fnv1a(k.as_bytes()));
        (h % n) as usize
    }

    pub(crate) fn hold(&self, token: &LeaseToken, cancel: CancellationToken) {
        lock(&self.held).insert(token.job.clone(), (token.clone(), cancel));
    }

    pub(crate) fn unhold(&self, token: &LeaseToken) {
        let mut held = lock(&self.held);
        if held.get(&token.job).is_some_and(|(t, _)| t == token) {
            held.remove(&token.job);
        }
    }

    pub(crate) fn emit(&self, event: impl FnOnce() -> Event) {
        if self.events.receiver_count() > 0 {
            let _ = self.events.send(event());
        }
    }

    pub(crate) fn job_event(&self, record: &JobRecord, event: JobEvent) {
        self.emit(|| Event::Job {
            job: record.job.id.clone(),
            backend: record.job.backend.clone(),
            event,
        });
    }

    pub(crate) fn breaker_event(&self, backend: &str, t: Transition) {
        tracing::warn!(backend, from = ?t.from, to = ?t.to, "circuit breaker changed");
        metrics::counter!("framebreak_scheduler_breaker_transitions_total", "to" => format!("{:?}", t.to))
            .increment(1);
        self.emit(|| Event::Breaker {
            backend: backend.to_owned(),
            from: t.from,
            to: t.to,
        });
    }

    fn excluded_backends(&self) -> Vec<String> {
        let now = Instant::now();
        let gates: Vec<Arc<Gate>> = lock(&self.gates).values().cloned().collect();
        gates
            .iter()
            .filter(|g| {
                !g.accepts_more(now)
                    || self
                        .rate_keys(g)
                        .iter()
                        .any(|k| self.limiters.paused_until(k, now).is_some())
            })
            .map(|g| g.name.clone())
            .collect()
    }

    fn snapshot(&self) -> Snapshot {
        let now = Instant::now();
        let stopped = self.stopped.load(Ordering::Relaxed);
        let gates: Vec<Arc<Gate>> = lock(&self.gates).values().cloned().collect();
        let mut backends: Vec<_> = gates
            .iter()
            .map(|g| {
                let paused = self
                    .rate_keys(g)
                    .iter()
                    .any(|k| self.limiters.paused_until(k, now).is_some());
                g.status(stopped, paused)
            })
            .collect();
        backends.sort_by(|a, b| a.name.cmp(&b.name));
        let lanes = self
            .lanes
            .iter()
            .enumerate()
            .map(|(index, lane)| {
                let in_flight = self.lane_capacity - lane.available_permits();
                let health = if stopped {
                    Health::Stopped
                } else if in_flight >= self.lane_capacity {
                    Health::Busy
                } else {
                    Health::Ready
                };
                LaneStatus {
                    index,
                    in_flight,
                    capacity: self.lane_capacity,
                    health,
                }
            })
            .collect();
        self.counters.snapshot(backends, lanes)
    }
}

/// How a run ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RunOutcome {
    /// Every job is finished.
    Drained,
    /// Shut down gracefully: in-flight steps finished and were persisted.
    Stopped,
    /// Aborted (second cancel or drain deadline): interrupted jobs re-run
    /// from their last persisted step.
    Aborted,
}

/// What a run returns.
#[derive(Clone, Debug)]
pub struct Summary {
    /// How it ended.
    pub outcome: RunOutcome,
    /// The last snapshot.
    pub snapshot: Snapshot,
}

/// Sends jobs into a running scheduler through a bounded queue: `send` waits
/// while the queue is full, so a producer of a million jobs never runs ahead
/// of the store by more than the queue's capacity.
#[derive(Clone, Debug)]
pub struct Intake {
    tx: mpsc::Sender<NewJob>,
}

impl Intake {
    /// Queues one job (idempotent by id once stored).
    pub async fn send(&self, job: NewJob) -> Result<()> {
        self.tx.send(job).await.map_err(|e| Error::InvalidJob {
            job: e.0.id.to_string(),
            reason: "the scheduler's intake is closed".into(),
        })
    }
}

/// A durable job engine. See the crate documentation for an example.
pub struct Scheduler {
    shared: Arc<Shared>,
    intake_tx: Mutex<Option<mpsc::Sender<NewJob>>>,
    intake_rx: Mutex<Option<mpsc::Receiver<NewJob>>>,
}

impl fmt::Debug for Scheduler {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Scheduler")
            .field("store", &self.shared.store)
            .field("handler", &self.shared.handler)
            .field("config", &self.shared.config)
            .finish_non_exhaustive()
    }
}

/// Builds a [`Scheduler`].
#[must_use]
pub struct SchedulerBuilder {
    store: Arc<dyn JobStore>,
    handler: Arc<dyn Handler>,
    config: Config,
    shutdown: Shutdown,
    intake_capacity: Option<usize>,
}

impl fmt::Debug for SchedulerBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SchedulerBuilder")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl SchedulerBuilder {
    /// Replaces the whole configuration.
    pub fn config(mut self, config: Config) -> Self {
        self.config = config;
        self
    }

    /// Jobs held at once (1 to 10,000).
    pub fn concurrency(mut self, n: usize) -> Self {
        self.config.concurrency = n;
        self
    }

    /// Number of worker lanes for affinity keys.
    pub fn lanes(mut self, n: usize) -> Self {
        self.config.lanes = n;
        self
    }

    /// Lease length.
    pub fn lease_ttl(mut self, ttl: Duration) -> Self {
        self.config.lease_ttl = ttl;
        self
    }

    /// Deadline for in-flight steps after a first cancel.
    pub fn shutdown_deadline(mut self, d: Duration) -> Self {
        self.config.shutdown_deadline = d;
        self
    }

    /// Settings of one backend.
    pub fn backend(mut self, name: impl Into<String>, config: BackendConfig) -> Self {
        self.config.backends.insert(name.into(), config);
        self
    }

    /// Settings of backends not named with [`backend`](Self::backend).
    pub fn default_backend(mut self, config: BackendConfig) -> Self {
        self.config.default_backend = config;
        self
    }

    /// Rate limit of one key.
    pub fn rate_limit(mut self, key: impl Into<String>, limit: RateLimit) -> Self {
        self.config.rate_limits.insert(key.into(), limit);
        self
    }

    /// Retry policy.
    pub fn retry(mut self, policy: RetryPolicy) -> Self {
        self.config.retry = policy;
        self
    }

    /// Retry budget (see [`RetryBudget::new`]).
    pub fn retry_budget(mut self, ratio: f64, per_second: f64, capacity: f64) -> Self {
        self.config.retry_budget = (ratio, per_second, capacity);
        self
    }

    /// Uses this shutdown switch (default: a fresh one, see [`Scheduler::shutdown`]).
    pub fn shutdown(mut self, shutdown: Shutdown) -> Self {
        self.shutdown = shutdown;
        self
    }

    /// Opens a bounded intake queue of `capacity` jobs (see [`Scheduler::intake`]);
    /// the run then waits for new jobs until every [`Intake`] is dropped.
    pub fn intake(mut self, capacity: usize) -> Self {
        self.intake_capacity = Some(capacity.max(1));
        self
    }

    /// Checks the configuration and builds the scheduler.
    pub fn build(self) -> Result<Scheduler> {
        self.config.validate()?;
        let config = self.config;
        let lane_capacity = config.concurrency.div_ceil(config.lanes);
        let (ratio, per_second, capacity) = config.retry_budget;
        let (events, _) = broadcast::channel(config.event_capacity);
        let (intake_tx, intake_rx) = match self.intake_capacity {
            Some(c) => {
                let (tx, rx) = mpsc::channel(c);
                (Some(tx), Some(rx))
            }
            None => (None, None),
        };
        let shared = Shared {
            store: self.store,
            handler: self.handler,
            limiters: RateLimiters::new(config.rate_limits.clone(), config.default_rate_limit),
            lanes: (0..config.lanes)
                .map(|_| Semaphore::new(lane_capacity))
                .collect(),
            lane_capacity,
            budget: RetryBudget::new(ratio, per_second, capacity),
            counters: Counters::new(),
            shutdown: self.shutdown,
            gates: Mutex::new(HashMap::new()),
            events,
            held: Mutex::new(HashMap::new()),
            stopped: AtomicBool::new(false),
            config,
        };
        Ok(Scheduler {
            shared: Arc::new(shared),
            intake_tx: Mutex::new(intake_tx),
            intake_rx: Mutex::new(intake_rx),
        })
    }
}

impl Scheduler {
    /// Starts a builder with the store jobs live in and the handler that runs them.
    pub fn builder(
        store: impl JobStore + 'static,
        handler: impl Handler + 'static,
    ) -> SchedulerBuilder {
        SchedulerBuilder {
            store: Arc::new(store),
            handler: Arc::new(handler),
            config: Config::default(),
            shutdown: Shutdown::new(),
            intake_capacity: None,
        }
    }

    /// The intake queue opened with [`SchedulerBuilder::intake`]; `None` when
    /// none was opened or it was already taken.
    pub fn intake(&self) -> Option<Intake> {
        lock(&self.intake_tx).take().map(|tx| Intake { tx })
    }

    /// The store.
    #[must_use]
    pub fn store(&self) -> &Arc<dyn JobStore> {
        &self.shared.store
    }

    /// The shutdown switch: trigger once to drain, twice to abort.
    #[must_use]
    pub fn shutdown(&self) -> Shutdown {
        self.shared.shutdown.clone()
    }

    /// Subscribes to events. Events sent while nobody is subscribed are not
    /// kept; a subscriber more than the channel's capacity behind misses some
    /// (and is told so by `RecvError::Lagged`).
    #[must_use]
    pub fn subscribe(&self) -> broadcast::Receiver<Event> {
        self.shared.events.subscribe()
    }

    /// Where the run stands now.
    #[must_use]
    pub fn snapshot(&self) -> Snapshot {
        self.shared.snapshot()
    }

    /// Runs jobs until none is left (or, with an intake, until it is closed
    /// and none is left), or until shut down.
    pub async fn run(&self) -> Result<Summary> {
        let shared = &self.shared;
        shared.stopped.store(false, Ordering::Relaxed);
        *lock(&shared.counters.initial) = shared.store.counts().await?;
        let new_jobs = Arc::new(Notify::new());
        let intake_open = Arc::new(AtomicBool::new(false));
        let mut background = JoinSet::new();
        if let Some(rx) = lock(&self.intake_rx).take() {
            intake_open.store(true, Ordering::SeqCst);
            background.spawn(intake(
                Arc::clone(shared),
                rx,
                Arc::clone(&new_jobs),
                Arc::clone(&intake_open),
            ));
        }
        background.spawn(heartbeats(Arc::clone(shared)));
        let mut tasks = JoinSet::new();
        let result = self.dispatch(&mut tasks, &new_jobs, &intake_open).await;
        let outcome = self
            .wind_down(&mut tasks, result.as_ref().ok().copied())
            .await;
        background.abort_all();
        while background.join_next().await.is_some() {}
        shared.stopped.store(true, Ordering::Relaxed);
        shared.counters.in_flight.store(0, Ordering::Relaxed);
        result?;
        Ok(Summary {
            outcome,
            snapshot: shared.snapshot(),
        })
    }

    /// Leases and spawns jobs until drained, shut down or the store fails.
    /// Returns whether it drained.
    async fn dispatch(
        &self,
        tasks: &mut JoinSet<Exit>,
        new_jobs: &Notify,
        intake_open: &AtomicBool,
    ) -> Result<RunOutcome> {
        let shared = &self.shared;
        let config = &shared.config;
        let draining = shared.shutdown.draining().clone();
        loop {
            if draining.is_cancelled() {
                return Ok(RunOutcome::Stopped);
            }
            let free = config.concurrency - tasks.len();
            if free > 0 {
                let request = LeaseRequest {
                    max: free.min(config.lease_batch),
                    ttl: config.lease_ttl,
                    now_ms: now_ms(),
                    exclude_backends: shared.excluded_backends(),
                };
                let leases = shared.store.lease(&request).await?;
                if !leases.is_empty() {
                    for lease in leases {
                        tasks.spawn(run_job(Arc::clone(shared), lease));
                    }
                    continue;
                }
                if tasks.is_empty()
                    && !intake_open.load(Ordering::SeqCst)
                    && config.exit_when_drained
                {
                    let counts = shared.store.counts().await?;
                    if counts.unfinished() == 0 {
                        return Ok(RunOutcome::Drained);
                    }
                }
                tokio::select! {
                    biased;
                    () = draining.cancelled() => {}
                    Some(done) = tasks.join_next(), if !tasks.is_empty() => check(done)?,
                    () = new_jobs.notified() => {}
                    () = tokio::time::sleep(config.poll_interval) => {}
                }
            } else {
                tokio::select! {
                    biased;
                    () = draining.cancelled() => {}
                    Some(done) = tasks.join_next() => check(done)?,
                }
            }
            while let Some(done) = tasks.try_join_next() {
                check(done)?;
            }
        }
    }

    /// Lets in-flight steps finish up to the deadline, or aborts them.
    async fn wind_down(
        &self,
        tasks: &mut JoinSet<Exit>,
        dispatched: Option<RunOutcome>,
    ) -> RunOutcome {
        let shared = &self.shared;
        let mut outcome = dispatched.unwrap_or(RunOutcome::Stopped);
        if dispatched.is_none() {
            // The store failed: stop leasing and drain like a first cancel.
            shared.shutdown.draining().cancel();
        }
        let deadline = tokio::time::sleep(shared.config.shutdown_deadline);
        tokio::pin!(deadline);
        let aborting = shared.shutdown.aborting().clone();
        while !tasks.is_empty() {
            tokio::select! {
                biased;
                () = aborting.cancelled() => { outcome = RunOutcome::Aborted; break; }
                () = &mut deadline => {
                    shared.shutdown.abort_now();
                    outcome = RunOutcome::Aborted;
                    break;
                }
                Some(done) = tasks.join_next() => {
                    if let Err(e) = check(done) {
                        tracing::error!(error = %e, "job store failed during shutdown");
                    }
                }
            }
        }
        if outcome == RunOutcome::Aborted {
            tasks.abort_all();
            while tasks.join_next().await.is_some() {}
            let held: Vec<LeaseToken> = lock(&shared.held).drain().map(|(_, (t, _))| t).collect();
            if !held.is_empty() {
                // Best effort: if this write is lost too, the leases expire.
                let releases = held
                    .into_iter()
                    .map(|lease| Update::Release { lease })
                    .collect();
                if let Err(e) = shared.store.apply(releases).await {
                    tracing::warn!(error = %e, "could not release leases on abort; they will expire");
                }
            }
        }
        outcome
    }
}

fn check(done: std::result::Result<Exit, tokio::task::JoinError>) -> Result<()> {
    match done {
        Ok(Exit::Store(e) | Exit::Panicked(e)) => Err(e),
        Ok(_) => Ok(()),
        Err(e) if e.is_cancelled() => Ok(()),
        Err(e) => Err(Error::store(
            "job task",
            format!("a job task panicked: {e}"),
        )),
    }
}

async fn intake(
    shared: Arc<Shared>,
    mut rx: mpsc::Receiver<NewJob>,
    new_jobs: Arc<Notify>,
    open: Arc<AtomicBool>,
) {
    let batch = shared.config.lease_batch.max(64);
    let mut buf = Vec::with_capacity(batch);
    while rx.recv_many(&mut buf, batch).await > 0 {
        let jobs = std::mem::replace(&mut buf, Vec::with_capacity(batch));
        match shared.store.enqueue(jobs).await {
            Ok(added) => {
                shared.counters.enqueued.fetch_add(added, Ordering::Relaxed);
                new_jobs.notify_one();
            }
            Err(e) => {
                tracing::error!(error = %e, "could not enqueue jobs; stopping intake");
                break;
            }
        }
    }
    open.store(false, Ordering::SeqCst);
    new_jobs.notify_one();
}

async fn heartbeats(shared: Arc<Shared>) {
    let every = shared.config.lease_ttl / 3;
    let mut tick = tokio::time::interval(every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        let held: Vec<(LeaseToken, CancellationToken)> =
            lock(&shared.held).values().cloned().collect();
        if held.is_empty() {
            continue;
        }
        let until_ms = now_ms().saturating_add(crate::job::ms(shared.config.lease_ttl));
        let updates = held
            .iter()
            .map(|(lease, _)| Update::Heartbeat {
                lease: lease.clone(),
                until_ms,
            })
            .collect();
        match shared.store.apply(updates).await {
            Ok(answers) => {
                for ((_, cancel), answer) in held.iter().zip(answers) {
                    if answer != crate::job::Applied::Ok {
                        // Someone else holds the job now: stop working on it.
                        cancel.cancel();
                    }
                }
            }
            Err(e) => tracing::warn!(error = %e, "heartbeat failed; retrying next tick"),
        }
    }
}
