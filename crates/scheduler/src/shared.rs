//! State shared by the dispatcher and every job task.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use tokio::sync::{Semaphore, broadcast};
use tokio_util::sync::CancellationToken;

use crate::breaker::Transition;
use crate::config::Config;
use crate::gate::Gate;
use crate::handler::Handler;
use crate::job::{JobId, JobRecord, LeaseToken};
use crate::progress::{Counters, Event, Health, JobEvent, LaneStatus, Snapshot};
use crate::rate::RateLimiters;
use crate::retry::RetryBudget;
use crate::shutdown::Shutdown;
use crate::store::JobStore;

/// State shared by the dispatcher and every job task.
pub(crate) struct Shared {
    pub(crate) store: Arc<dyn JobStore>,
    /// Whether `store` is unreachable now (every call to it waits it out).
    pub(crate) outage: Arc<crate::store::Outage>,
    pub(crate) handler: Arc<dyn Handler>,
    pub(crate) config: Config,
    pub(crate) limiters: RateLimiters,
    pub(crate) lanes: Vec<Semaphore>,
    pub(crate) lane_capacity: usize,
    pub(crate) budget: RetryBudget,
    pub(crate) counters: Counters,
    pub(crate) shutdown: Shutdown,
    pub(crate) gates: Mutex<HashMap<String, Arc<Gate>>>,
    pub(crate) events: broadcast::Sender<Event>,
    pub(crate) held: Mutex<HashMap<JobId, (LeaseToken, CancellationToken)>>,
    pub(crate) stopped: AtomicBool,
}

pub(crate) fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
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
        metrics::gauge!(framebreak_vocab::metrics::BREAKER_STATE, "backend" => backend.to_owned())
            .set(t.to.gauge());
        self.emit(|| Event::Breaker {
            backend: backend.to_owned(),
            from: t.from,
            to: t.to,
        });
    }

    pub(crate) fn excluded_backends(&self) -> Vec<String> {
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

    pub(crate) fn snapshot(&self) -> Snapshot {
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
        let mut snapshot = self.counters.snapshot(backends, lanes);
        snapshot.store_outage = self.outage.lasting();
        snapshot.store_outages = self.outage.count();
        snapshot
    }
}
