//! The job table both faces share: submission with its faults, the state a
//! poll sees, the clip a download gets.

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use framebreak_client::VideoRequest;

use crate::faults::{Bucket, Dice};
use crate::render::Video;
use crate::simulator::{Slot, fill};
use crate::{Faults, Latency, Result, Simulator};

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
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Delivery {
    Whole,
    Truncated,
    Slow(u64),
}

struct Job {
    created: Instant,
    polls: u32,
    slot: Slot,
    stuck: bool,
    fails: bool,
    delivery: Delivery,
    pub(crate) request: VideoRequest,
}

/// What a face needs to describe a job.
#[derive(Clone, Debug)]
pub(crate) struct JobView {
    pub(crate) id: String,
    pub(crate) phase: Phase,
    pub(crate) request: VideoRequest,
}

pub(crate) struct Jobs {
    pub(crate) sim: Arc<Simulator>,
    pub(crate) faults: Faults,
    pub(crate) latency: Latency,
    dice: Dice,
    bucket: Option<Bucket>,
    next: AtomicU64,
    table: Mutex<(HashMap<String, Job>, VecDeque<String>)>,
}

impl std::fmt::Debug for Jobs {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Jobs")
            .field("sim", &self.sim)
            .field("faults", &self.faults)
            .field("latency", &self.latency)
            .finish_non_exhaustive()
    }
}

impl Jobs {
    pub(crate) fn new(sim: Arc<Simulator>, faults: Faults, latency: Latency) -> Self {
        let bucket = faults.rate_limit.map(|(r, b)| Bucket::new(r, b));
        Self {
            sim,
            faults,
            latency,
            dice: Dice::default(),
            bucket,
            next: AtomicU64::new(1),
            table: Mutex::new((HashMap::new(), VecDeque::new())),
        }
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

    /// Accepts a job and starts its render (on the blocking pool) unless
    /// the clip is cached or under way.
    pub(crate) fn submit(&self, request: &VideoRequest) -> Result<JobView> {
        let plan = self.sim.plan(request)?;
        let (slot, fresh) = self.sim.slot(&plan);
        if fresh {
            let slot = slot.clone();
            tokio::task::spawn_blocking(move || fill(&slot, &plan));
        }
        let id = format!("video_{:016x}", self.next.fetch_add(1, Ordering::Relaxed));
        let f = &self.faults;
        let delivery = if self.dice.roll(f.truncated) {
            Delivery::Truncated
        } else if self.dice.roll(f.slow) {
            Delivery::Slow(f.slow_bps)
        } else {
            Delivery::Whole
        };
        let job = Job {
            created: Instant::now(),
            polls: 0,
            slot,
            stuck: self.dice.roll(f.stay_queued),
            fails: self.dice.roll(f.failed),
            delivery,
            request: request.clone(),
        };
        let phase = if job.stuck || self.latency.queued_polls > 0 {
            Phase::Queued
        } else {
            Phase::Running(0.0)
        };
        let mut table = self.table.lock().expect("jobs lock");
        let (map, order) = &mut *table;
        if order.len() >= MAX_JOBS
            && let Some(old) = order.pop_front()
        {
            map.remove(&old);
        }
        order.push_back(id.clone());
        map.insert(id.clone(), job);
        Ok(JobView {
            id,
            phase,
            request: request.clone(),
        })
    }

    /// Counts a poll and says where the job stands; `None` for an unknown id.
    pub(crate) fn poll(&self, id: &str) -> Option<JobView> {
        let mut table = self.table.lock().expect("jobs lock");
        let job = table.0.get_mut(id)?;
        job.polls = job.polls.saturating_add(1);
        let l = &self.latency;
        let elapsed = job.created.elapsed();
        let phase = if job.stuck || job.polls <= l.queued_polls {
            Phase::Queued
        } else if job.polls <= l.queued_polls + l.running_polls || elapsed < l.generate {
            Phase::Running(progress(elapsed, l.generate))
        } else {
            match job.slot.get() {
                None => Phase::Running(progress(elapsed, l.generate.max(elapsed * 2))),
                Some(_) if job.fails => Phase::Failed {
                    code: "internal_error",
                    message: "the generation crashed".into(),
                },
                Some(Ok(_)) => Phase::Done,
                Some(Err(e)) => Phase::Failed {
                    code: "invalid_request",
                    message: e.to_string(),
                },
            }
        };
        Some(JobView {
            id: id.to_owned(),
            phase,
            request: job.request.clone(),
        })
    }

    /// The clip of a finished job and how to deliver it; `None` while it is
    /// not finished or for an unknown id.
    pub(crate) fn video(&self, id: &str) -> Option<(Arc<Video>, Delivery)> {
        let table = self.table.lock().expect("jobs lock");
        let job = table.0.get(id)?;
        if job.stuck || job.fails {
            return None;
        }
        match job.slot.get() {
            Some(Ok(v)) => Some((v.clone(), job.delivery)),
            _ => None,
        }
    }
}

fn progress(elapsed: Duration, total: Duration) -> f32 {
    if total.is_zero() {
        0.5
    } else {
        (elapsed.as_secs_f32() / total.as_secs_f32()).clamp(0.0, 0.99)
    }
}
