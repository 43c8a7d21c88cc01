//! What the simulator saw: submissions (accepted, repeated, refused),
//! polls, downloads, and how fast submissions came, so that a test can
//! prove "each job submitted once" and "the rate stayed at or under R".

use std::collections::VecDeque;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};

/// Width of a [`SubmitTimes`] bucket.
const BUCKET: Duration = Duration::from_millis(100);
/// Buckets kept: the last ten minutes.
const BUCKETS_KEPT: usize = 6_000;
/// The sliding window of [`Stats::max_submit_rate_1s`].
const WINDOW: Duration = Duration::from_secs(1);

/// Counts of what the simulator was asked, from [`SimBackend::stats`] or
/// `GET /v1/stats`.
///
/// Every submit request is exactly one of `submissions` (a new job),
/// `duplicate_submissions` (an idempotency key already seen: the same job
/// answered again) or `rejected_submissions` (a fault, a bad request, a
/// refused key). With a journal, `submissions` counts the journal's jobs,
/// over every process that wrote it; the other figures are this process's.
///
/// [`SimBackend::stats`]: crate::SimBackend::stats
///
/// ```
/// use framebreak_sim::Stats;
///
/// let s: Stats = serde_json::from_str(r#"{"submissions":3,"duplicate_submissions":1,
///     "rejected_submissions":2,"polls":9,"downloads":3,"max_submit_rate_1s":6,
///     "submit_times":{"bucket_ms":100,"origin_unix_ms":0,"counts":[4,0,2]}}"#).unwrap();
/// assert_eq!(s.submit_requests(), 6);
/// assert_eq!(s.submit_times.max_in(std::time::Duration::from_millis(200)), 4);
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Stats {
    /// Distinct jobs accepted (with a journal: every line of it).
    pub submissions: u64,
    /// Submissions answered with an existing job because their
    /// idempotency key had been seen.
    pub duplicate_submissions: u64,
    /// Submissions refused: injected faults (429, 500, hang, moderation,
    /// malformed answer), bad requests, a wrong key.
    pub rejected_submissions: u64,
    /// Status requests.
    pub polls: u64,
    /// Download requests (begun, whether or not they completed).
    pub downloads: u64,
    /// The most submit requests, accepted or not, seen in any one-second
    /// sliding window: exact, over the whole life of this process.
    pub max_submit_rate_1s: u64,
    /// When submit requests came, in buckets, for other windows.
    pub submit_times: SubmitTimes,
}

impl Stats {
    /// Submit requests of every outcome.
    #[must_use]
    pub fn submit_requests(&self) -> u64 {
        // The journal's count may include other processes' jobs; the sum is
        // still what a test compares against the requests it sent.
        self.submissions + self.duplicate_submissions + self.rejected_submissions
    }
}

/// Submit requests per fixed-width bucket over the last ten minutes.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct SubmitTimes {
    /// Width of a bucket in milliseconds (100).
    pub bucket_ms: u64,
    /// Unix time in milliseconds at which `counts[0]` starts.
    pub origin_unix_ms: u64,
    /// Submit requests in each bucket, oldest first.
    pub counts: Vec<u32>,
}

impl SubmitTimes {
    /// The most submit requests in `window`, taken as whole buckets
    /// (rounded up) aligned to bucket edges. A true sliding window of the
    /// same length can hold more, but never more than
    /// `max_in(window + bucket)`.
    #[must_use]
    pub fn max_in(&self, window: Duration) -> u64 {
        let width = self.bucket_ms.max(1);
        let k = (window.as_millis() as u64).div_ceil(width).max(1) as usize;
        let mut best = 0u64;
        let mut sum = 0u64;
        for (i, c) in self.counts.iter().enumerate() {
            sum += u64::from(*c);
            if i >= k {
                sum -= u64::from(self.counts[i - k]);
            }
            best = best.max(sum);
        }
        best
    }
}

/// The counters behind [`Stats`], kept under the job table's lock.
#[derive(Debug)]
pub(crate) struct Recorder {
    pub(crate) submissions: u64,
    pub(crate) duplicates: u64,
    pub(crate) rejected: u64,
    pub(crate) polls: u64,
    pub(crate) downloads: u64,
    origin: Instant,
    origin_unix_ms: u64,
    recent: VecDeque<Instant>,
    max_1s: u64,
    first_bucket: u64,
    buckets: VecDeque<u32>,
}

impl Recorder {
    pub(crate) fn new() -> Self {
        let origin_unix_ms = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as u64);
        Self {
            submissions: 0,
            duplicates: 0,
            rejected: 0,
            polls: 0,
            downloads: 0,
            origin: Instant::now(),
            origin_unix_ms,
            recent: VecDeque::new(),
            max_1s: 0,
            first_bucket: 0,
            buckets: VecDeque::new(),
        }
    }

    /// Notes a submit request arriving now, whatever becomes of it.
    pub(crate) fn submit_request(&mut self) {
        self.submit_request_at(Instant::now());
    }

    fn submit_request_at(&mut self, now: Instant) {
        // The window holds only the last second's requests, so memory is
        // bounded by the peak rate, and the maximum is exact: a window's
        // count can only peak when a request enters it.
        while self
            .recent
            .front()
            .is_some_and(|t| now.duration_since(*t) >= WINDOW)
        {
            self.recent.pop_front();
        }
        self.recent.push_back(now);
        self.max_1s = self.max_1s.max(self.recent.len() as u64);

        let b = (now.duration_since(self.origin).as_millis() / BUCKET.as_millis()) as u64;
        if self.buckets.is_empty() {
            self.first_bucket = b;
        }
        let last = self.first_bucket + self.buckets.len() as u64;
        for _ in last..=b {
            self.buckets.push_back(0);
        }
        // Requests are noted under a lock, so `b` never goes backwards
        // past the newest bucket; an equal bucket is the common case.
        let i = b.saturating_sub(self.first_bucket) as usize;
        if let Some(c) = self.buckets.get_mut(i) {
            *c = c.saturating_add(1);
        }
        while self.buckets.len() > BUCKETS_KEPT {
            self.buckets.pop_front();
            self.first_bucket += 1;
        }
    }

    pub(crate) fn snapshot(&self) -> Stats {
        Stats {
            submissions: self.submissions,
            duplicate_submissions: self.duplicates,
            rejected_submissions: self.rejected,
            polls: self.polls,
            downloads: self.downloads,
            max_submit_rate_1s: self.max_1s,
            submit_times: SubmitTimes {
                bucket_ms: BUCKET.as_millis() as u64,
                origin_unix_ms: self.origin_unix_ms + self.first_bucket * BUCKET.as_millis() as u64,
                counts: self.buckets.iter().copied().collect(),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_sliding_window_finds_the_densest_second_exactly() {
        let mut r = Recorder::new();
        let t0 = r.origin;
        let ms = |m: u64| t0 + Duration::from_millis(m);
        // 3 requests early, then 5 packed between 900 and 1 100 ms: the
        // densest second (from 100 ms on) holds the 5 plus the one at 150.
        for m in [0, 50, 150, 900, 950, 1_000, 1_050, 1_099, 3_000] {
            r.submit_request_at(ms(m));
        }
        let s = r.snapshot();
        assert_eq!(s.max_submit_rate_1s, 6);
        assert_eq!(s.submit_times.counts.iter().sum::<u32>(), 9);
        assert_eq!(s.submit_times.counts.len(), 31);
        // The aligned window 100..1 100 ms catches the same six; one bucket
        // wider also takes the two in the first bucket.
        assert_eq!(s.submit_times.max_in(Duration::from_secs(1)), 6);
        assert_eq!(s.submit_times.max_in(Duration::from_millis(1_100)), 8);
    }

    #[test]
    fn only_the_last_ten_minutes_of_buckets_are_kept() {
        let mut r = Recorder::new();
        let t0 = r.origin;
        for s in 0..700u64 {
            r.submit_request_at(t0 + Duration::from_secs(s));
        }
        let s = r.snapshot();
        assert_eq!(s.submit_times.counts.len(), BUCKETS_KEPT);
        assert_eq!(s.submit_times.counts.iter().sum::<u32>(), 600);
        assert_eq!(s.max_submit_rate_1s, 1);
        assert_eq!(
            s.submit_times.origin_unix_ms,
            r.origin_unix_ms + (699 * 1_000 - (BUCKETS_KEPT as u64 - 1) * 100)
        );
    }
}
