//! A run's spending, held per job before each paid step, so concurrent
//! workers together never commit more than a budget.
//!
//! Amounts are whole micro-units of the budget's currency (a millionth of
//! a dollar): sums are exact, whatever the order of the holds.
//!
//! The ledger's one invariant: the committed total (every hold not given
//! back) never exceeds the limit a hold was asked under. A job holds its
//! price before its submission is sent; the hold stays (the money counts
//! as spent) unless the submission certainly created nothing, and a job
//! asking again (a retry, a resumed run, another worker) keeps its one
//! hold instead of adding another.

use std::collections::HashMap;
use std::fmt;
use std::sync::Mutex;

use async_trait::async_trait;

use crate::error::Result;

/// What [`SpendLedger::hold`] answers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Hold {
    /// The amount is now held for the job.
    Granted,
    /// The job held an amount already (kept as it was).
    AlreadyHeld,
    /// Holding it would take the committed total past the limit; nothing
    /// changed.
    Refused {
        /// The committed total when it was refused.
        committed: u64,
    },
}

impl Hold {
    /// Whether the job may go ahead (it holds its amount).
    #[must_use]
    pub const fn is_held(self) -> bool {
        !matches!(self, Self::Refused { .. })
    }
}

/// Money held per job, shared by every worker of a run.
///
/// **Contract.** `hold` is atomic with respect to every other `hold` and
/// `release` on the same ledger, from any process: the committed total
/// after a `Granted` is at most the `limit` it was asked under. A job
/// holds at most one amount. `release` of a job with no hold does
/// nothing. The SQLite and PostgreSQL stores keep their ledger beside the
/// jobs, so it survives restarts and is shared by the workers of a run.
///
/// ```
/// use framebreak_scheduler::{Hold, MemoryLedger, SpendLedger};
///
/// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
/// let ledger = MemoryLedger::default();
/// assert_eq!(ledger.hold("a", 600_000, 1_000_000).await?, Hold::Granted);
/// assert_eq!(ledger.hold("a", 600_000, 1_000_000).await?, Hold::AlreadyHeld);
/// assert_eq!(ledger.hold("b", 600_000, 1_000_000).await?, Hold::Refused { committed: 600_000 });
/// ledger.release("a").await?;
/// assert_eq!(ledger.hold("b", 600_000, 1_000_000).await?, Hold::Granted);
/// assert_eq!(ledger.committed().await?, 600_000);
/// # Ok::<(), framebreak_scheduler::Error>(())
/// # }).unwrap();
/// ```
#[async_trait]
#[auto_impl::auto_impl(&, Box, Arc)]
pub trait SpendLedger: Send + Sync + fmt::Debug {
    /// Holds `amount` for `job` if the committed total plus it stays within
    /// `limit`.
    async fn hold(&self, job: &str, amount: u64, limit: u64) -> Result<Hold>;

    /// Gives `job`'s hold back: its paid step certainly had no effect.
    async fn release(&self, job: &str) -> Result<()>;

    /// The committed total: every hold not given back.
    async fn committed(&self) -> Result<u64>;
}

// Fails to compile if `SpendLedger` stops being object-safe.
const _: fn(Box<dyn SpendLedger>) = |_| {};

/// A ledger in this process's memory (tests, and runs whose store is in
/// memory).
#[derive(Debug, Default)]
pub struct MemoryLedger {
    inner: Mutex<(HashMap<String, u64>, u64)>,
}

#[async_trait]
impl SpendLedger for MemoryLedger {
    async fn hold(&self, job: &str, amount: u64, limit: u64) -> Result<Hold> {
        let mut inner = self
            .inner
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let (holds, committed) = &mut *inner;
        if holds.contains_key(job) {
            return Ok(Hold::AlreadyHeld);
        }
        match committed.checked_add(amount) {
            Some(total) if total <= limit => {
                holds.insert(job.to_owned(), amount);
                *committed = total;
                Ok(Hold::Granted)
            }
            _ => Ok(Hold::Refused {
                committed: *committed,
            }),
        }
    }

    async fn release(&self, job: &str) -> Result<()> {
        let mut inner = self
            .inner
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let (holds, committed) = &mut *inner;
        if let Some(amount) = holds.remove(job) {
            *committed -= amount;
        }
        Ok(())
    }

    async fn committed(&self) -> Result<u64> {
        Ok(self
            .inner
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .1)
    }
}
