//! Test doubles shared by the modules.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use framebreak_scheduler::{Backoff, NewJob, RetryPolicy, RetryRule};
use serde_json::json;

/// `n` jobs `"{prefix}{i}"` on `backend`.
pub(crate) fn jobs(prefix: &str, n: usize, backend: &str) -> Vec<NewJob> {
    (0..n)
        .map(|i| NewJob::new(format!("{prefix}{i}"), backend, json!({ "i": i })).unwrap())
        .collect()
}

/// Retries after a millisecond or two, up to `max_attempts` tries.
pub(crate) fn quick_retries(max_attempts: u32) -> RetryPolicy {
    RetryPolicy::uniform(RetryRule {
        max_attempts,
        max_elapsed: None,
        backoff: Backoff::Linear {
            base: Duration::from_millis(1),
            step: Duration::ZERO,
            max: Duration::from_millis(2),
            jitter: true,
        },
    })
}

/// Tracks which jobs a handler is running, recording any overlap.
#[derive(Debug, Default)]
pub(crate) struct Exclusive {
    active: Mutex<HashMap<String, u32>>,
    pub(crate) overlaps: Mutex<Vec<String>>,
}

impl Exclusive {
    pub(crate) fn enter(&self, job: &str) {
        let mut active = self.active.lock().unwrap();
        let n = active.entry(job.to_owned()).or_insert(0);
        *n += 1;
        if *n > 1 {
            self.overlaps.lock().unwrap().push(job.to_owned());
        }
    }

    pub(crate) fn leave(&self, job: &str) {
        let mut active = self.active.lock().unwrap();
        if let Some(n) = active.get_mut(job) {
            *n -= 1;
        }
    }
}
