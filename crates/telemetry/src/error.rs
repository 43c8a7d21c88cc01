//! The crate's one error type.

use std::io;
use std::net::SocketAddr;

/// Everything that can go wrong while collecting, exporting or alerting.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A sample that cannot enter a history: NaN, infinite or negative.
    #[error("{series}: sample {value} is not a finite number ≥ 0")]
    InvalidSample {
        /// The series, as `name{label="value"}`.
        series: String,
        /// The value as given.
        value: f64,
    },

    /// A history of capacity 0 (it could keep nothing).
    #[error("history capacity must be at least 1")]
    ZeroCapacity,

    /// A collector setting is out of range.
    #[error("invalid setting {setting}: {reason}")]
    InvalidConfig {
        /// Which setting.
        setting: &'static str,
        /// What is wrong with it.
        reason: String,
    },

    /// The collector already holds its maximum number of series; a new
    /// label value (a runaway label) is refused rather than growing memory.
    #[error("{series}: refused, the collector already holds its limit of {limit} series")]
    TooManySeries {
        /// The series refused.
        series: String,
        /// The limit.
        limit: usize,
    },

    /// An alert rule that cannot work as written.
    #[error("alert rule {rule:?}: {reason}")]
    InvalidRule {
        /// The rule's name.
        rule: String,
        /// What is wrong with it.
        reason: String,
    },

    /// A background task was asked for outside a tokio runtime.
    #[error("{what} needs a tokio runtime: call it from inside one")]
    NoRuntime {
        /// What was asked for.
        what: &'static str,
    },

    /// The collector has been shut down.
    #[error("the telemetry collector has been shut down")]
    ShutDown,

    /// A global metrics recorder or tracing subscriber is already installed.
    #[error("a global {what} is already installed in this process")]
    AlreadyInstalled {
        /// `metrics recorder` or `tracing subscriber`.
        what: &'static str,
    },

    /// The metrics endpoint could not listen on the address.
    #[error("cannot serve metrics on {addr}: {source}")]
    Bind {
        /// The address asked for.
        addr: SocketAddr,
        /// What the OS said.
        source: io::Error,
    },

    /// A log file could not be opened.
    #[error("cannot open log file {path}: {source}")]
    LogFile {
        /// The path as given.
        path: String,
        /// What the OS said.
        source: io::Error,
    },

    /// A log filter such as `info,framebreak_scheduler=debug` does not parse.
    #[error("invalid log filter {filter:?}: {reason}")]
    InvalidFilter {
        /// The filter as given.
        filter: String,
        /// What the parser said.
        reason: String,
    },
}

/// `Result` with this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;
