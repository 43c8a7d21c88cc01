//! The assembled pipeline: variants → scheduler → backend → media →
//! defects → result rows in the store.
//!
//! A [`Campaign`] lives in a run folder (`runs/<run-id>/`) that holds its
//! configuration, its job store (SQLite by default), the downloaded videos
//! and its reports. Everything a run needs to resume is in that folder (or
//! in the PostgreSQL store it names), so `framebreak resume <run-id>` picks
//! up where a killed run stopped.
//!
//! ```no_run
//! use framebreak::campaign::{Campaign, ConfigLoader};
//!
//! # #[tokio::main] async fn main() -> Result<(), framebreak::campaign::Error> {
//! let config = ConfigLoader::new().set("variants.per_prompt", 2).build()?;
//! let campaign = Campaign::create(config).await?;
//! campaign.enqueue().await?;
//! let summary = campaign.run().await?;
//! println!("{} done, {} failed", summary.counts.done, summary.counts.failed);
//! # Ok(()) }
//! ```

mod backend;
mod builder;
mod catalogue;
mod config;
mod error;
mod finish;
mod guard;
mod handler;
mod plan;
mod reports;
mod run;
mod run_dir;
pub(crate) mod stage;
mod store;
mod threshold;
mod videos;

pub use backend::{BackendKind, SIM_JOURNAL};
pub use builder::CampaignBuilder;
pub use catalogue::{RunStatus, runs};
pub use config::{
    AnalysisConfig, BackendConfig, CampaignConfig, ConfigLoader, DEFAULT_CONFIG_FILE, DeviceChoice,
    ENV_PREFIX, InCode, OutputConfig, RequestConfig, SchedulerConfig, StoreUrl, StrategyKind,
    VariantsConfig, redact_url,
};
pub use error::{Error, StoreProblem};
pub use finish::{FinishOptions, Finished, Outcome, SpendLine};
pub use handler::VIDEOS_DIR;
pub use plan::{Plan, plan};
pub use reports::{MissingVideos, ReportFormat, ReportTo, RunView, Written};
pub use run::{
    Campaign, CampaignSummary, EnqueueStats, local_copy, open_store, retried_by_default,
    row_stream, rows, unknown_submissions,
};
pub use run_dir::{CONFIG_FILE, RunDir, STORE_FILE, new_run_id};
pub use store::{DATABASE_URL, RunStore, drop_run, is_postgres, migrate_store};
pub use threshold::{Measure, Threshold};
pub use videos::{NOT_IN_STORE, VIDEOS_KEY, VideoStore};

use framebreak_scheduler::RateLimit;

/// A rate as the configuration writes it (`10/s`, `600/m`), parsed once,
/// when the configuration is loaded: the text it was given and the limit
/// it means. It is written back as the same text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rate {
    text: String,
    limit: RateLimit,
}

impl Rate {
    /// The limit.
    #[must_use]
    pub const fn limit(&self) -> RateLimit {
        self.limit
    }
}

impl std::fmt::Display for Rate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.text)
    }
}

impl std::str::FromStr for Rate {
    type Err = Error;

    fn from_str(text: &str) -> Result<Self, Error> {
        parse_rate(text).map(|limit| Rate {
            text: text.trim().to_owned(),
            limit,
        })
    }
}

impl serde::Serialize for Rate {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> serde::Deserialize<'de> for Rate {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        text.parse()
            .map_err(|e| config::de_error(e, |reason| format!("{text:?} is not a rate: {reason}")))
    }
}

/// Parses `10/s`, `600/m` or `600/min` into a rate limit.
///
/// # Errors
///
/// [`Error::Config`] naming the text when it is not a rate.
pub fn parse_rate(text: &str) -> Result<RateLimit, Error> {
    let bad = |reason: &str| Error::Config {
        source_name: format!("rate {text:?}"),
        reason: reason.to_owned(),
    };
    let (count, unit) = text
        .split_once('/')
        .ok_or_else(|| bad("expected COUNT/s or COUNT/m, as in 10/s"))?;
    let count: u32 = count
        .trim()
        .parse()
        .map_err(|_| bad("the count is not a whole number"))?;
    let limit = match unit.trim() {
        "s" | "sec" | "second" => RateLimit::per_second(count),
        "m" | "min" | "minute" => RateLimit::per_minute(count),
        _ => return Err(bad("the unit is not s or m")),
    };
    limit.map_err(|e| bad(&e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rates_parse_and_bad_ones_are_named() {
        assert!((parse_rate("10/s").unwrap().per_second_rate() - 10.0).abs() < 1e-9);
        assert!((parse_rate("600/m").unwrap().per_second_rate() - 10.0).abs() < 1e-9);
        for bad in ["10", "x/s", "10/h", "0/s", "-1/s"] {
            let e = parse_rate(bad).unwrap_err().to_string();
            assert!(e.contains(bad), "{e}");
        }
    }
}
