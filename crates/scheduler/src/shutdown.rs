//! Two-stage shutdown: the first trigger drains, the second aborts.

use std::sync::Arc;
use std::sync::atomic::{AtomicU8, Ordering};

use tokio_util::sync::CancellationToken;

/// A shutdown switch shared by the caller (e.g. a Ctrl-C handler) and a run.
///
/// The first [`trigger`](Self::trigger) stops leasing and lets in-flight steps
/// finish (up to the run's deadline), persisting each; the second aborts them
/// at once. Either way the store stays consistent: an aborted step's job is
/// given back (or its lease expires) and re-runs from its last persisted step.
#[derive(Clone, Debug, Default)]
pub struct Shutdown {
    graceful: CancellationToken,
    abort: CancellationToken,
    triggers: Arc<AtomicU8>,
}

impl Shutdown {
    /// A switch not yet triggered.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// First call: drain. Second and later calls: abort.
    pub fn trigger(&self) {
        if self.triggers.fetch_add(1, Ordering::SeqCst) == 0 {
            self.graceful.cancel();
        } else {
            self.graceful.cancel();
            self.abort.cancel();
        }
    }

    /// Cancelled on the first trigger.
    #[must_use]
    pub fn draining(&self) -> &CancellationToken {
        &self.graceful
    }

    /// Cancelled on the second trigger (or when the drain deadline passes).
    #[must_use]
    pub fn aborting(&self) -> &CancellationToken {
        &self.abort
    }

    pub(crate) fn abort_now(&self) {
        self.graceful.cancel();
        self.abort.cancel();
    }
}
