//! The job table both faces share: submission with its faults and
//! idempotency keys, the state a poll sees, the clip a download gets, what
//! was counted, and the journal that keeps it across restarts.

use std::collections::{HashMap, VecDeque};
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use framebreak_client::VideoRequest;
use serde::{Deserialize, Serialize};

use crate::faults::{Bucket, Dice};
use crate::journal::{Fate, Journal, Record};
use crate::plan::Plan;
use crate::render::Video;
use crate::simulator::{Slot, fill};
use crate::stats::Recorder;
use crate::{Faults, Latency, Result, Simulator, Stats};

/// Jobs kept before the oldest are forgotten.
const MAX_JOBS: usize = 100_000;

/// A fault that hits a submission.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) enum SubmitFault {
    RateLimited(Option<Duration>),
    ServerError,
    Hang,
    ContentPolicy,
    Malformed,
}

/// Where a job stands at a poll.
#[derive(Clone, Debug)]
pub(crate) enum Phase {
    Queued,
    Running(f32),
    Done,
    Failed { code: &'static str, message: String },
}

/// How a download goes wrong, if it does.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum Delivery {
    #[default]
    Whole,
    Truncated,
    Slow(u64),
}

struct Job {
    created: Instant,
    polls: u32,
    /// `None` for a job read back from the journal until its first poll or
    /// download: thousands of replayed jobs must not all render at once.
    slot: Option<Slot>,
    fate: Fate,
    key: Option<String>,
    request: VideoRequest,
}

/// What a face needs to describe a job.
#[derive(Clone, Debug)]
pub(crate) struct JobView {
    pub(crate) id: String,
    pub(crate) phase: Phase,
    pub(crate) request: VideoRequest,
}

/// The job table, its idempotency keys, its journal and its counters:
/// shared by every `Jobs` made from one another, whatever their faults.
struct Table {
    jobs: HashMap<String, Job>,
    order: VecDeque<String>,
    keys: HashMap<String, String>,
    next: u64,
    journal: Option<Journal>,
    stats: Recorder,
}

pub(crate) struct Jobs {
    pub(crate) sim: Arc<Simulator>,
    pub(crate) faults: Faults,
    pub(crate) latency: Latency,
    dice: Dice,
    bucket: Option<Bucket>,
    table: Arc<Mutex<Table>>,
}

impl std::fmt::Debug for Jobs {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let t = self.lock();
        f.debug_struct("Jobs")
            .field("sim", &self.sim)
            .field("faults", &self.faults)
            .field("latency", &self.latency)
            .field("jobs", &t.jobs.len())
            .field("journal", &t.journal.as_ref().map(Journal::path))
            .finish_non_exhaustive()
    }
}

/// The number in a simulator job id (`video_000000000000002a` → 42).
pub(crate) fn id_number(id: &str) -> Option<u64> {
    let hex = id.strip_prefix("video_")?;
    (hex.len() == 16)
        .then(|| u64::from_str_radix(hex, 16).ok())
        .flatten()
}

fn unix_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

impl Jobs {
    /// An empty table that lives as long as the process.
    pub(crate) fn new(sim: Arc<Simulator>, faults: Faults, latency: Latency) -> Self {
        let table = Table {
            jobs: HashMap::new(),
            order: VecDeque::new(),
            keys: HashMap::new(),
            next: 1,
            journal: None,
            stats: Recorder::new(),
        };
        Self::over(sim, faults, latency, Arc::new(Mutex::new(table)))
    }

    /// A table kept in the journal at `path`: its jobs are read back, and
    /// every job accepted from now on is appended.
    pub(crate) fn open(
        sim: Arc<Simulator>,
        faults: Faults,
        latency: Latency,
        path: &Path,
    ) -> Result<Self> {
        let (journal, records) = Journal::open(path)?;
        let jobs = Self::new(sim, faults, latency);
        {
            let mut t = jobs.lock();
            let now = Instant::now();
            let now_ms = unix_ms();
            for r in records {
                let n = id_number(&r.id).unwrap_or(0);
                t.next = t.next.max(n.saturating_add(1));
                let age = Duration::from_millis(now_ms.saturating_sub(r.at_ms));
                let job = Job {
                    created: now.checked_sub(age).unwrap_or(now),
                    polls: 0,
                    slot: None,
                    fate: r.fate,
                    key: r.key,
                    request: r.request,
                };
                t.insert(r.id, job);
                t.stats.submissions += 1;
            }
            tracing::info!(journal = %path.display(), jobs = t.stats.submissions, "simulator journal read back");
            t.journal = Some(journal);
        }
        Ok(jobs)
    }

    /// The same table (jobs, keys, journal, counters) under other faults
    /// and latency.
    pub(crate) fn reconfigured(&self, faults: Faults, latency: Latency) -> Self {
        Self::over(self.sim.clone(), faults, latency, self.table.clone())
    }

    fn over(
        sim: Arc<Simulator>,
        faults: Faults,
        latency: Latency,
        table: Arc<Mutex<Table>>,
    ) -> Self {
        let bucket = faults.rate_limit.map(|(r, b)| Bucket::new(r, b));
        Self {
            sim,
            faults,
            latency,
            dice: Dice::default(),
            bucket,
            table,
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Table> {
        self.table.lock().expect("jobs lock")
    }

    /// Counts a submit request, whatever becomes of it; call first.
    pub(crate) fn note_submit_request(&self) {
        self.lock().stats.submit_request();
    }

    /// Counts a submit request that was refused before [`submit`](Self::submit).
    pub(crate) fn note_rejected(&self) {
        self.lock().stats.rejected += 1;
    }

    /// Counts a download request.
    pub(crate) fn note_download(&self) {
        self.lock().stats.downloads += 1;
    }

    /// What has been seen so far.
    pub(crate) fn stats(&self) -> Stats {
        self.lock().stats.snapshot()
    }

    /// The fault that hits this submission, if any.
    pub(crate) fn submit_fault(&self) -> Option<SubmitFault> {
        if let Some(b) = &self.bucket
            && let Err(wait) = b.take()
        {
            // Whole seconds for `Retry-After`, rounded up so that the
            // client does not come back too early.
            return Some(SubmitFault::RateLimited(Some(Duration::from_secs(
                wait.as_secs_f64().ceil().max(1.0) as u64,
            ))));
        }
        let f = &self.faults;
        if self.dice.roll(f.rate_limited) {
            return Some(SubmitFault::RateLimited(f.retry_after));
        }
        if self.dice.roll(f.server_error) {
            return Some(SubmitFault::ServerError);
        }
        if self.dice.roll(f.hang) {
            return Some(SubmitFault::Hang);
        }
        if self.dice.roll(f.content_policy) {
            return Some(SubmitFault::ContentPolicy);
        }
        if self.dice.roll(f.malformed) {
            return Some(SubmitFault::Malformed);
        }
        None
    }

    /// Accepts a job (journalled first, when there is a journal) and starts
    /// its render unless the clip is cached or under way. A request whose
    /// idempotency key names a job already made gets that job back: no new
    /// job, no render, counted as a duplicate.
    pub(crate) fn submit(&self, request: &VideoRequest) -> Result<JobView> {
        let key = request.idempotency_key.as_deref().filter(|k| !k.is_empty());
        if let Some(view) = key.and_then(|k| self.lock().repeat(k, &self.latency)) {
            return Ok(view);
        }
        let plan = match self.sim.plan(request) {
            Ok(p) => p,
            Err(e) => {
                self.note_rejected();
                return Err(e);
            }
        };
        let f = &self.faults;
        let delivery = if self.dice.roll(f.truncated) {
            Delivery::Truncated
        } else if self.dice.roll(f.slow) {
            Delivery::Slow(f.slow_bps)
        } else {
            Delivery::Whole
        };
        let fate = Fate {
            stuck: self.dice.roll(f.stay_queued),
            fails: self.dice.roll(f.failed),
            delivery,
        };
        // Key check, id, journal line and insertion under one lock: two
        // racing requests with one key make one job, and ids follow the
        // journal's order.
        let mut t = self.lock();
        if let Some(view) = key.and_then(|k| t.repeat(k, &self.latency)) {
            return Ok(view);
        }
        let id = format!("video_{:016x}", t.next);
        if let Some(journal) = &mut t.journal {
            let record = Record {
                id: id.clone(),
                key: key.map(str::to_owned),
                request: request.clone(),
                at_ms: unix_ms(),
                fate,
            };
            if let Err(e) = journal.append(&record) {
                t.stats.rejected += 1;
                return Err(e);
            }
        }
        t.next += 1;
        let slot = start_render(&self.sim, &plan);
        let phase = if fate.stuck || self.latency.queued_polls > 0 {
            Phase::Queued
        } else {
            Phase::Running(0.0)
        };
        t.insert(
            id.clone(),
            Job {
                created: Instant::now(),
                polls: 0,
                slot: Some(slot),
                fate,
                key: key.map(str::to_owned),
                request: request.clone(),
            },
        );
        t.stats.submissions += 1;
        Ok(JobView {
            id,
            phase,
            request: request.clone(),
        })
    }

    /// Counts a poll and says where the job stands; `None` for an unknown id.
    pub(crate) fn poll(&self, id: &str) -> Option<JobView> {
        let mut t = self.lock();
        t.stats.polls += 1;
        let job = t.jobs.get_mut(id)?;
        job.polls = job.polls.saturating_add(1);
        let phase = job.phase(&self.sim, &self.latency);
        Some(JobView {
            id: id.to_owned(),
            phase,
            request: job.request.clone(),
        })
    }

    /// [`video`](Self::video) for a download: a job read back from the
    /// journal and not polled since has its render started (as its first
    /// poll would) and waited for. A client that polled the job to its end
    /// before the restart goes straight to the download: the job is
    /// finished for it, only this process has not made the clip yet.
    pub(crate) async fn video_to_deliver(&self, id: &str) -> Option<(Arc<Video>, Delivery)> {
        let (slot, replayed, delivery) = {
            let mut t = self.lock();
            let job = t.jobs.get_mut(id)?;
            if job.fate.stuck || job.fate.fails {
                return None;
            }
            let replayed = job.slot.is_none();
            (job.render(&self.sim).clone(), replayed, job.fate.delivery)
        };
        let video = match slot.get() {
            Some(done) => done.as_ref().ok().cloned()?,
            // A live job's clip is not waited for: until it is made, the
            // job is not finished.
            None if !replayed => return None,
            None => tokio::task::spawn_blocking(move || slot.wait().as_ref().ok().cloned())
                .await
                .ok()??,
        };
        Some((video, delivery))
    }

    /// The clip of a finished job and how to deliver it; `None` while it is
    /// not finished or for an unknown id.
    pub(crate) fn video(&self, id: &str) -> Option<(Arc<Video>, Delivery)> {
        let t = self.lock();
        let job = t.jobs.get(id)?;
        if job.fate.stuck || job.fate.fails {
            return None;
        }
        match job.slot.as_ref()?.get() {
            Some(Ok(v)) => Some((v.clone(), job.fate.delivery)),
            _ => None,
        }
    }
}

impl Table {
    fn insert(&mut self, id: String, job: Job) {
        if self.order.len() >= MAX_JOBS
            && let Some(old) = self.order.pop_front()
            && let Some(gone) = self.jobs.remove(&old)
            && let Some(k) = gone.key
        {
            self.keys.remove(&k);
        }
        if let Some(k) = &job.key {
            self.keys.entry(k.clone()).or_insert_with(|| id.clone());
        }
        self.order.push_back(id.clone());
        self.jobs.insert(id, job);
    }

    /// The job already made for `key`, counted as a duplicate submission;
    /// it is not a poll, so the job's progress is not advanced.
    fn repeat(&mut self, key: &str, latency: &Latency) -> Option<JobView> {
        let id = self.keys.get(key)?.clone();
        let Self { jobs, stats, .. } = self;
        let job = jobs.get_mut(&id)?;
        stats.duplicates += 1;
        // The simulator itself is only needed to start a replayed job's
        // render, which the first poll does.
        let phase = job.phase_without_render(latency);
        Some(JobView {
            id,
            phase,
            request: job.request.clone(),
        })
    }
}

impl Job {
    /// Where the job stands after its `polls` polls, starting the render
    /// of a job read back from the journal.
    fn phase(&mut self, sim: &Simulator, l: &Latency) -> Phase {
        self.render(sim);
        self.phase_without_render(l)
    }

    /// The job's clip slot, its render started first if the job was read
    /// back from the journal and this is the first ask.
    fn render(&mut self, sim: &Simulator) -> &Slot {
        self.slot
            .get_or_insert_with(|| match sim.plan(&self.request) {
                Ok(plan) => start_render(sim, &plan),
                Err(e) => Arc::new(std::sync::OnceLock::from(Err(e))),
            })
    }

    fn phase_without_render(&self, l: &Latency) -> Phase {
        let elapsed = self.created.elapsed();
        if self.fate.stuck || self.polls <= l.queued_polls {
            Phase::Queued
        } else if self.polls <= l.queued_polls + l.running_polls || elapsed < l.generate {
            Phase::Running(progress(elapsed, l.generate))
        } else {
            match self.slot.as_ref().and_then(|s| s.get()) {
                None => Phase::Running(progress(elapsed, l.generate.max(elapsed * 2))),
                Some(_) if self.fate.fails => Phase::Failed {
                    code: "internal_error",
                    message: "the generation crashed".into(),
                },
                Some(Ok(_)) => Phase::Done,
                Some(Err(e)) => Phase::Failed {
                    code: "invalid_request",
                    message: e.to_string(),
                },
            }
        }
    }
}

/// The cache slot for `plan`, its render started on the blocking pool
/// unless the clip is cached or under way.
fn start_render(sim: &Simulator, plan: &Plan) -> Slot {
    let (slot, fresh) = sim.slot(plan);
    if fresh {
        let (s, p) = (slot.clone(), plan.clone());
        match tokio::runtime::Handle::try_current() {
            Ok(rt) => drop(rt.spawn_blocking(move || fill(&s, &p))),
            Err(_) => drop(std::thread::spawn(move || fill(&s, &p))),
        }
    }
    slot
}

fn progress(elapsed: Duration, total: Duration) -> f32 {
    if total.is_zero() {
        0.5
    } else {
        (elapsed.as_secs_f32() / total.as_secs_f32()).clamp(0.0, 0.99)
    }
}
