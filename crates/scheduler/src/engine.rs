//! The scheduler: dispatcher loop, heartbeats, intake and shutdown.

use std::fmt;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::sync::{Notify, broadcast, mpsc};
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use crate::builder::SchedulerBuilder;
use crate::config::Config;
use crate::error::{Error, Result};
use crate::handler::Handler;
use crate::job::{LeaseRequest, LeaseToken, NewJob, Update, now_ms};
use crate::progress::{Event, Snapshot};
use crate::shared::{Shared, lock};
use crate::shutdown::Shutdown;
use crate::store::JobStore;
use crate::worker::{Exit, run_job};

/// How a run ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
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
    pub(crate) shared: Arc<Shared>,
    pub(crate) intake_tx: Mutex<Option<mpsc::Sender<NewJob>>>,
    pub(crate) intake_rx: Mutex<Option<mpsc::Receiver<NewJob>>>,
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
            shared_limiter: None,
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
        let mut last_count: Option<Instant> = None;
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
                // Counting may scan the whole store, so while only delayed
                // retries or others' leases remain, count at most every 250 ms.
                let count_due =
                    last_count.is_none_or(|t| t.elapsed() >= Duration::from_millis(250));
                if tasks.is_empty()
                    && !intake_open.load(Ordering::SeqCst)
                    && config.exit_when_drained
                    && count_due
                {
                    last_count = Some(Instant::now());
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
