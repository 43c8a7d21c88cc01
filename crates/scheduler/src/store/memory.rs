//! A store in memory: for tests and for embedding where durability is not
//! wanted. Memory grows with the number of jobs; the time of a lease or of
//! the counts does not (expired leases are found by their expiry, counts
//! are kept as jobs move).

use std::collections::{BTreeSet, HashMap};
use std::sync::Mutex;

use async_trait::async_trait;
use serde_json::Value;

use crate::error::Result;
use crate::job::{
    Applied, Counts, JobId, JobRecord, JobState, Lease, LeaseRequest, LeaseToken, NewJob, Page,
    Update, ms,
};

use super::JobStore;

/// An in-memory [`JobStore`]. Nothing survives the process.
#[derive(Debug, Default)]
pub struct MemoryStore {
    inner: Mutex<Inner>,
}

#[derive(Debug, Default)]
struct Inner {
    next_seq: u64,
    next_fence: u64,
    by_id: HashMap<String, u64>,
    rows: HashMap<u64, Row>,
    /// Pending jobs by (priority descending, seq).
    pending: BTreeSet<(std::cmp::Reverse<u8>, u64)>,
    /// Leased jobs by (lease expiry, seq): the expired ones are a range,
    /// not a scan of every lease.
    leased: BTreeSet<(u64, u64)>,
    /// Terminal jobs by seq.
    finished: BTreeSet<u64>,
    /// How many terminal jobs are in each state, kept as they move: counts
    /// cost the same at any number of jobs.
    terminal: Counts,
}

#[derive(Debug)]
struct Row {
    record: JobRecord,
    fence: u64,
    lease_expires_ms: u64,
    not_before_ms: u64,
}

impl MemoryStore {
    /// An empty store.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        // A panic while holding the lock leaves every row consistent (each
        // mutation is a single assignment), so a poisoned lock is still usable.
        self.inner
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

impl Inner {
    fn move_to(&mut self, seq: u64, state: JobState) {
        let Some(row) = self.rows.get_mut(&seq) else {
            return;
        };
        let key = (std::cmp::Reverse(row.record.job.priority as u8), seq);
        let lease_key = (row.lease_expires_ms, seq);
        match row.record.state {
            JobState::Pending => {
                self.pending.remove(&key);
            }
            JobState::Leased => {
                self.leased.remove(&lease_key);
            }
            old => {
                self.finished.remove(&seq);
                self.terminal.remove(old, 1);
            }
        }
        row.record.state = state;
        match state {
            JobState::Pending => {
                self.pending.insert(key);
            }
            JobState::Leased => {
                self.leased.insert(lease_key);
            }
            new => {
                self.finished.insert(seq);
                self.terminal.add(new, 1);
            }
        }
    }

    /// Moves a leased job's lease to expire at `until_ms`.
    fn extend(&mut self, seq: u64, until_ms: u64) {
        let Some(row) = self.rows.get_mut(&seq) else {
            return;
        };
        if row.record.state == JobState::Leased {
            self.leased.remove(&(row.lease_expires_ms, seq));
            self.leased.insert((until_ms, seq));
        }
        row.lease_expires_ms = until_ms;
    }

    fn apply(&mut self, update: Update) -> Applied {
        let lease = update.lease();
        let Some(&seq) = self.by_id.get(lease.job.as_str()) else {
            return Applied::Stale;
        };
        let Some(row) = self.rows.get_mut(&seq) else {
            return Applied::Stale;
        };
        if row.record.state != JobState::Leased || row.fence != lease.fence {
            return Applied::Stale;
        }
        let mut extend_to = None;
        let rec = &mut row.record;
        let next = match update {
            Update::Heartbeat { until_ms, .. } => {
                extend_to = Some(until_ms);
                None
            }
            Update::Begin { now_ms, .. } => {
                rec.intent = true;
                rec.started_at_ms.get_or_insert(now_ms);
                None
            }
            Update::Advance { step, state, .. } => {
                rec.step = step;
                rec.step_state = state;
                rec.intent = false;
                None
            }
            Update::Complete { result, .. } => {
                rec.result = Some(result);
                rec.intent = false;
                Some(JobState::Done)
            }
            Update::Retry {
                failure,
                not_before_ms,
                ..
            } => {
                rec.attempts += u32::from(failure.counts_as_attempt());
                if failure.no_effect {
                    rec.intent = false;
                }
                rec.failure = Some(failure);
                row.not_before_ms = not_before_ms;
                Some(JobState::Pending)
            }
            Update::Fail { failure, .. } => {
                let state = Update::terminal_state_of(&failure);
                rec.attempts += 1;
                rec.failure = Some(failure);
                Some(state)
            }
            Update::Wait {
                state,
                not_before_ms,
                ..
            } => {
                rec.step_state = state;
                rec.intent = false;
                row.not_before_ms = not_before_ms;
                Some(JobState::Pending)
            }
            Update::Release { .. } => Some(JobState::Pending),
            Update::Unbegin { .. } => {
                rec.intent = false;
                Some(JobState::Pending)
            }
        };
        if let Some(until_ms) = extend_to {
            self.extend(seq, until_ms);
        }
        if let Some(state) = next {
            self.move_to(seq, state);
        }
        Applied::Ok
    }
}

#[async_trait]
impl JobStore for MemoryStore {
    async fn enqueue(&self, jobs: Vec<NewJob>) -> Result<u64> {
        let mut inner = self.lock();
        let mut added = 0;
        for job in jobs {
            if inner.by_id.contains_key(job.id.as_str()) {
                continue;
            }
            inner.next_seq += 1;
            let seq = inner.next_seq;
            inner.by_id.insert(job.id.as_str().to_owned(), seq);
            inner
                .pending
                .insert((std::cmp::Reverse(job.priority as u8), seq));
            inner.rows.insert(
                seq,
                Row {
                    record: JobRecord {
                        seq,
                        job,
                        state: JobState::Pending,
                        step: 0,
                        step_state: Value::Null,
                        intent: false,
                        attempts: 0,
                        started_at_ms: None,
                        result: None,
                        failure: None,
                    },
                    fence: 0,
                    lease_expires_ms: 0,
                    not_before_ms: 0,
                },
            );
            added += 1;
        }
        Ok(added)
    }

    async fn lease(&self, request: &LeaseRequest) -> Result<Vec<Lease>> {
        let mut inner = self.lock();
        let now = request.now_ms;
        let runnable = |row: &Row| !request.exclude_backends.contains(&row.record.job.backend);
        let mut picked: Vec<u64> = inner
            .leased
            .range(..=(now, u64::MAX))
            .map(|&(_, seq)| seq)
            .filter(|seq| runnable(&inner.rows[seq]))
            .take(request.max)
            .collect();
        let room = request.max - picked.len();
        picked.extend(
            inner
                .pending
                .iter()
                .map(|(_, seq)| *seq)
                .filter(|seq| {
                    let row = &inner.rows[seq];
                    row.not_before_ms <= now && runnable(row)
                })
                .take(room),
        );
        let expires_at_ms = now.saturating_add(ms(request.ttl));
        let mut leases = Vec::with_capacity(picked.len());
        for seq in picked {
            inner.next_fence += 1;
            let fence = inner.next_fence;
            // The new expiry first: a job whose lease expired is re-keyed
            // in `leased` by it, a pending one is moved there under it.
            inner.extend(seq, expires_at_ms);
            inner.move_to(seq, JobState::Leased);
            let row = inner.rows.get_mut(&seq).expect("picked rows exist");
            row.fence = fence;
            leases.push(Lease {
                token: LeaseToken {
                    job: row.record.job.id.clone(),
                    fence,
                },
                record: row.record.clone(),
                expires_at_ms,
            });
        }
        Ok(leases)
    }

    async fn apply(&self, updates: Vec<Update>) -> Result<Vec<Applied>> {
        let mut inner = self.lock();
        Ok(updates.into_iter().map(|u| inner.apply(u)).collect())
    }

    async fn counts(&self) -> Result<Counts> {
        let inner = self.lock();
        Ok(Counts {
            pending: inner.pending.len() as u64,
            leased: inner.leased.len() as u64,
            ..inner.terminal
        })
    }

    async fn requeue_failed(&self, ids: Vec<JobId>) -> Result<u64> {
        let mut inner = self.lock();
        let mut changed = 0;
        for id in ids {
            let Some(&seq) = inner.by_id.get(id.as_str()) else {
                continue;
            };
            let row = inner.rows.get_mut(&seq).expect("indexed rows exist");
            if !matches!(row.record.state, JobState::Failed | JobState::Cancelled) {
                continue;
            }
            row.record.attempts = 0;
            row.record.failure = None;
            row.record.intent = false;
            row.not_before_ms = 0;
            inner.move_to(seq, JobState::Pending);
            changed += 1;
        }
        Ok(changed)
    }

    async fn finished(&self, after: Option<u64>, limit: usize) -> Result<Page> {
        let inner = self.lock();
        let start = after.map_or(0, |a| a + 1);
        let records: Vec<JobRecord> = inner
            .finished
            .range(start..)
            .take(limit.max(1))
            .map(|seq| inner.rows[seq].record.clone())
            .collect();
        let next = records
            .last()
            .map(|r| r.seq)
            .filter(|last| inner.finished.range(last + 1..).next().is_some());
        Ok(Page { records, next })
    }
}
