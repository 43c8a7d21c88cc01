//! Money: what a campaign will cost before it runs, and a budget it never
//! passes.
//!
//! - [`Usd`]: amounts, exact to the micro-dollar.
//! - [`Price`], [`PriceList`]: what each model costs, built in (with the
//!   page and date each rate was read) or configured
//!   (`[pricing."backend:model"]`).
//! - The campaign holds each job's highest cost in the run's
//!   [`SpendLedger`](framebreak_scheduler::SpendLedger) before submitting
//!   it, so a budget is never passed, whatever the number of workers.

mod money;
mod prices;

pub use money::{ParseUsdError, Usd};

use serde::{Deserialize, Serialize};

/// What one job is expected to cost: the range its price allows.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Estimate {
    /// The least it can cost.
    pub low: Usd,
    /// The most it can cost (what a budget holds for it).
    pub high: Usd,
}

impl Estimate {
    /// One request of `duration_secs` at `price`.
    #[must_use]
    pub fn of(price: &Price, duration_secs: u32) -> Self {
        let (low, high) = price.of(duration_secs);
        Self { low, high }
    }

    /// `n` such jobs.
    #[must_use]
    pub fn times(self, n: u64) -> Self {
        Self {
            low: self.low.times(n),
            high: self.high.times(n),
        }
    }
}
pub use prices::{Price, PriceConfig, PriceList, Unit, builtin};
