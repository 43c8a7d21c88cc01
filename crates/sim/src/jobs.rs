//! The job table both faces share: submission with its faults and
//! idempotency keys, the state a poll sees, the clip a download gets,
//! listing and deletion, what was counted, and the journal that keeps it
//! across restarts.

use std::collections::{HashMap, VecDeque};
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use framebreak_client::VideoRequest;
use serde::{Deserialize, Serialize};

use crate::faults::{Bucket, Dice};
use crate::journal::{Fate, Journal, Record, Replay};
use crate::plan::Plan;
use crate::render::{GroundTruth, Video};
use crate::simulator::{Slot, fill};
use crate::stats::Recorder;
use crate::{Faults, Latency, Result, Simulator, Stats};

/// Jobs kept before the oldest are forgotten, whatever their state.
const MAX_JOBS: usize = 100_000;

/// Settled jobs the in-process simulator keeps (a clip delivered whole, or a
/// failure seen by a poll) before the longest settled is forgotten, as a
/// provider lets finished generations expire: its table's memory is bounded
/// by the jobs in flight and this, not by the jobs ever submitted. A
/// forgotten job is not found (a download of it fails), and its idempotency
/// key makes a new job. A campaign reads a job's video and truth as it
/// settles, and downloads it again only when the local file was damaged
/// before its analysis. `framebreak sim serve`, which many workers share
/// (one may fetch again a video another downloaded half a minute before),
/// keeps up to 100,000.
pub const RETAINED_SETTLED_JOBS: usize = 1_024;

/// Settled jobs `framebreak sim serve` keeps (see [`RETAINED_SETTLED_JOBS`]).
pub(crate) const SERVER_RETAINED_SETTLED_JOBS: usize = MAX_JOBS;

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
    /// Unix milliseconds of the submission, for `created_at`.
    created_ms: u64,
    /// Unix milliseconds of the first look that found the job done.
    completed_ms: Option<u64>,
    polls: u32,
    /// `None` for a job read back from the journal until its first poll or
    /// download: thousands of replayed jobs must not all render at once.
    slot: Option<Slot>,
    /// The clip's ground truth, kept once the clip itself was delivered and
    /// let go (see [`Jobs::delivered`]).
    truth: Option<Arc<GroundTruth>>,
    fate: Fate,
    key: Option<String>,
    request: VideoRequest,
    /// In the table's queue of settled jobs (see [`RETAINED_SETTLED_JOBS`]).
    settled: bool,
}

/// What a face needs to describe a job.
#[derive(Clone, Debug)]
pub(crate) struct JobView {
    pub(crate) id: String,
    pub(crate) phase: Phase,
    pub(crate) request: VideoRequest,
    /// Unix milliseconds of the submission.
    pub(crate) created_ms: u64,
    /// Unix milliseconds at which the job was first seen done.
    pub(crate) completed_ms: Option<u64>,
}

/// The job table, its idempotency keys, its journal and its counters:
/// shared by every `Jobs` made from one another, whatever their faults.
struct Table {
    jobs: HashMap<String, Job>,
    order: VecDeque<String>,
    /// Settled jobs, longest settled first (see [`RETAINED_SETTLED_JOBS`]).
    settled: VecDeque<String>,
    /// How many settled jobs are kept.
    retain_settled: usize,
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
            settled: VecDeque::new(),
            retain_settled: RETAINED_SETTLED_JOBS,
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
        let (journal, Replay { records, deleted }) = Journal::open(path)?;
        let jobs = Self::new(sim, faults, latency);
        {
            let mut t = jobs.lock();
            let now = Instant::now();
            let now_ms = unix_ms();
            for r in records {
                let n = id_number(&r.id).unwrap_or(0);
                t.next = t.next.max(n.saturating_add(1));
                t.stats.submissions += 1;
                if deleted.contains(&r.id) {
                    continue;
                }
                // Journals written before `at_ms` was kept read as 0.
                let at_ms = if r.at_ms == 0 { now_ms } else { r.at_ms };
                let age = Duration::from_millis(now_ms.saturating_sub(at_ms));
                let job = Job {
                    created: now.checked_sub(age).unwrap_or(now),
                    created_ms: at_ms,
                    completed_ms: None,
                    polls: 0,
                    slot: None,
                    truth: None,
                    fate: r.fate,
                    key: r.key,
                    request: r.request,
                    settled: false,
                };
                t.insert(r.id, job);
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

    /// Keeps up to `n` settled jobs (see [`RETAINED_SETTLED_JOBS`]).
    pub(crate) fn retain_settled(&self, n: usize) {
        self.lock().retain_settled = n.max(1);
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
        let at_ms = unix_ms();
        if let Some(journal) = &mut t.journal {
            let record = Record {
                id: id.clone(),
                key: key.map(str::to_owned),
                request: request.clone(),
                at_ms,
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
                created_ms: at_ms,
                completed_ms: None,
                polls: 0,
                slot: Some(slot),
                truth: None,
                fate,
                key: key.map(str::to_owned),
                request: request.clone(),
                settled: false,
            },
        );
        t.stats.submissions += 1;
        Ok(JobView {
            id,
            phase,
            request: request.clone(),
            created_ms: at_ms,
            completed_ms: None,
        })
    }

    /// The job made for idempotency key `key`, if one was (without
    /// counting a submission or a duplicate): how a client finds the job a
    /// lost answer was about.
    pub(crate) fn id_for_key(&self, key: &str) -> Option<String> {
        self.lock().keys.get(key).cloned()
    }

    /// Counts a poll and says where the job stands; `None` for an unknown id.
    pub(crate) fn poll(&self, id: &str) -> Option<JobView> {
        let mut t = self.lock();
        t.stats.polls += 1;
        let job = t.jobs.get_mut(id)?;
        job.polls = job.polls.saturating_add(1);
        let phase = job.phase(&self.sim, &self.latency);
        let view = job.view(id, phase);
        if matches!(view.phase, Phase::Failed { .. }) {
            t.settle(id);
        }
        Some(view)
    }

    /// Up to `limit` jobs in submission order (`ascending`, else newest
    /// first), starting after the job numbered `after` (which need not
    /// exist any more), and whether more follow. Each job is as the next
    /// poll would find it, but a listing is not a poll: it advances no job
    /// and starts no render.
    pub(crate) fn list(
        &self,
        ascending: bool,
        after: Option<u64>,
        limit: usize,
    ) -> (Vec<JobView>, bool) {
        let mut guard = self.lock();
        let t = &mut *guard;
        // `order` is in id order: ids are handed out in submission order,
        // and a journal is read back in the order it was written.
        let number = |id: &String| id_number(id).unwrap_or(0);
        let ids: Vec<String> = if ascending {
            let from = after.map_or(0, |a| t.order.partition_point(|id| number(id) <= a));
            t.order.range(from..).take(limit + 1).cloned().collect()
        } else {
            let to = after.map_or(t.order.len(), |a| {
                t.order.partition_point(|id| number(id) < a)
            });
            t.order.range(..to).rev().take(limit + 1).cloned().collect()
        };
        let more = ids.len() > limit;
        let views = ids
            .into_iter()
            .take(limit)
            .filter_map(|id| {
                let job = t.jobs.get_mut(&id)?;
                // What the next poll would say, without being one.
                let phase = job.phase_after(job.polls.saturating_add(1), &self.latency);
                Some(job.view(&id, phase))
            })
            .collect();
        (views, more)
    }

    /// Forgets job `id` (journalled first, when there is a journal): it is
    /// not found afterwards, and its idempotency key makes a new job.
    /// `false` for an unknown id.
    pub(crate) fn delete(&self, id: &str) -> Result<bool> {
        let mut t = self.lock();
        if !t.jobs.contains_key(id) {
            return Ok(false);
        }
        if let Some(journal) = &mut t.journal {
            journal.delete(id)?;
        }
        t.remove(id);
        Ok(true)
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
    pub(crate) fn truth(&self, id: &str) -> Option<GroundTruth> {
        let t = self.lock();
        let job = t.jobs.get(id)?;
        if job.fate.stuck || job.fate.fails {
            return None;
        }
        if let Some(truth) = &job.truth {
            return Some(GroundTruth::clone(truth));
        }
        match job.slot.as_ref()?.get() {
            Some(Ok(v)) => Some(v.truth.clone()),
            _ => None,
        }
    }

    /// The job's clip was delivered whole: the job lets it go (keeping its
    /// ground truth), so the table holds kilobytes per finished job, not a
    /// clip each. The render cache may still hold it; a later download
    /// renders it again, byte for byte the same.
    pub(crate) fn delivered(&self, id: &str) {
        let mut t = self.lock();
        let Some(job) = t.jobs.get_mut(id) else {
            return;
        };
        if let Some(Some(Ok(video))) = job.slot.as_ref().map(|s| s.get()) {
            job.truth = Some(Arc::new(video.truth.clone()));
            job.slot = None;
        }
        t.settle(id);
    }
}

impl Table {
    /// Job `id` is settled: it joins the settled queue (once), and the
    /// longest settled beyond [`RETAINED_SETTLED_JOBS`] are forgotten.
    fn settle(&mut self, id: &str) {
        let Some(job) = self.jobs.get_mut(id) else {
            return;
        };
        if job.settled {
            return;
        }
        job.settled = true;
        self.settled.push_back(id.to_owned());
        while self.settled.len() > self.retain_settled {
            if let Some(old) = self.settled.pop_front() {
                self.remove(&old);
            }
        }
    }

    fn remove(&mut self, id: &str) {
        if let Some(gone) = self.jobs.remove(id)
            && let Some(k) = gone.key
            && self.keys.get(&k).is_some_and(|owner| owner == id)
        {
            self.keys.remove(&k);
        }
        if let Ok(at) = self
            .order
            .binary_search_by_key(&id_number(id), |o| id_number(o))
        {
            self.order.remove(at);
        }
    }

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
        Some(job.view(&id, phase))
    }
}

impl Job {
    /// What a face shows of the job in `phase`; the first view that finds
    /// it done stamps its completion time.
    fn view(&mut self, id: &str, phase: Phase) -> JobView {
        if matches!(phase, Phase::Done) && self.completed_ms.is_none() {
            self.completed_ms = Some(unix_ms().max(self.created_ms));
        }
        JobView {
            id: id.to_owned(),
            phase,
            request: self.request.clone(),
            created_ms: self.created_ms,
            completed_ms: self.completed_ms,
        }
    }

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
        self.phase_after(self.polls, l)
    }

    /// Where the job stands after `polls` polls.
    fn phase_after(&self, polls: u32, l: &Latency) -> Phase {
        let elapsed = self.created.elapsed();
        if self.fate.stuck || polls <= l.queued_polls {
            Phase::Queued
        } else if polls <= l.queued_polls + l.running_polls || elapsed < l.generate {
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
            Ok(rt) => {
                // Rendering is CPU-bound and holds the clip's frames: it is
                // admitted by the cores (the process-wide gate it shares
                // with a campaign's analyses), not by the jobs in flight, so
                // a job waiting its turn holds only its plan.
                let gate = Arc::clone(framebreak_media::cpu_gate());
                drop(rt.spawn(async move {
                    let Ok(permit) = gate.acquire_owned().await else {
                        return;
                    };
                    let _ = tokio::task::spawn_blocking(move || {
                        let now = RENDERING.fetch_add(1, Ordering::SeqCst) + 1;
                        RENDER_PEAK.fetch_max(now, Ordering::SeqCst);
                        fill(&s, &p);
                        RENDERING.fetch_sub(1, Ordering::SeqCst);
                        drop(permit);
                    })
                    .await;
                }));
            }
            Err(_) => drop(std::thread::spawn(move || fill(&s, &p))),
        }
    }
    slot
}

/// Renders of submitted jobs running now, and the most that ever ran at
/// once in this process.
static RENDERING: AtomicUsize = AtomicUsize::new(0);
static RENDER_PEAK: AtomicUsize = AtomicUsize::new(0);

/// How many renders of submitted jobs may run at once: the cores, shared
/// with the process's other CPU-heavy frame work
/// ([`framebreak_media::cpu_gate`]).
#[must_use]
pub fn render_slots() -> usize {
    framebreak_media::cpu_slots()
}

/// The most renders of submitted jobs that ran at once in this process
/// (never more than [`render_slots`]).
#[must_use]
pub fn render_peak() -> usize {
    RENDER_PEAK.load(Ordering::SeqCst)
}

fn progress(elapsed: Duration, total: Duration) -> f32 {
    if total.is_zero() {
        0.5
    } else {
        (elapsed.as_secs_f32() / total.as_secs_f32()).clamp(0.0, 0.99)
    }
}
