//! Classified failures of one step of one job.

use std::fmt;
use std::time::Duration;

use serde::{Deserialize, Serialize};

/// Why a step failed, in the vocabulary of the whole project (see
/// ARCHITECTURE.md). The category alone decides whether a retry can help.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum FailureCategory {
    /// The backend could not be reached (refused, reset, DNS).
    Connection,
    /// The backend did not answer in time; the step may have been executed.
    Timeout,
    /// The backend said "too many requests" (HTTP 429 or equivalent).
    RateLimited,
    /// The backend failed on its side (HTTP 5xx).
    Server,
    /// The request itself is wrong (HTTP 400/404/422): retrying cannot help.
    BadRequest,
    /// Credentials are missing or refused (HTTP 401/403).
    Auth,
    /// The backend refused the content.
    ContentPolicy,
    /// Fetching a result failed midway.
    Download,
    /// A result could not be decoded.
    Decode,
    /// Analysing a result failed.
    Analysis,
    /// The job was cancelled; it ends in the `cancelled` state.
    Cancelled,
    /// A step with a paid side effect (a submission) may have had it, and
    /// the backend offers no way to find out. Never retried on its own:
    /// running the step again might pay twice. Only the user re-queues such
    /// a job, knowingly.
    UnknownSubmission,
}

impl FailureCategory {
    /// Every category, in declaration order.
    pub const ALL: [Self; 12] = [
        Self::Connection,
        Self::Timeout,
        Self::RateLimited,
        Self::Server,
        Self::BadRequest,
        Self::Auth,
        Self::ContentPolicy,
        Self::Download,
        Self::Decode,
        Self::Analysis,
        Self::Cancelled,
        Self::UnknownSubmission,
    ];

    /// Whether retrying the same step can succeed.
    #[must_use]
    pub const fn is_retryable(self) -> bool {
        matches!(
            self,
            Self::Connection | Self::Timeout | Self::RateLimited | Self::Server | Self::Download
        )
    }

    /// Whether the failure says something about the backend's health, so the
    /// circuit breaker counts it. A 429 does not: it is handled by pausing
    /// the rate-limit key, not by declaring the backend down.
    #[must_use]
    pub const fn counts_against_backend(self) -> bool {
        matches!(self, Self::Connection | Self::Timeout | Self::Server)
    }

    /// The snake_case name used in ARCHITECTURE.md, the store and metrics.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Connection => "connection",
            Self::Timeout => "timeout",
            Self::RateLimited => "rate_limited",
            Self::Server => "server",
            Self::BadRequest => "bad_request",
            Self::Auth => "auth",
            Self::ContentPolicy => "content_policy",
            Self::Download => "download",
            Self::Decode => "decode",
            Self::Analysis => "analysis",
            Self::Cancelled => "cancelled",
            Self::UnknownSubmission => "unknown_submission",
        }
    }

    /// Parses [`as_str`](Self::as_str)'s output.
    #[must_use]
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|c| c.as_str() == name)
    }

    pub(crate) const fn index(self) -> usize {
        self as usize
    }
}

impl fmt::Display for FailureCategory {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A classified failure of one step, as returned by a [`Handler`](crate::Handler).
///
/// ```
/// use std::time::Duration;
/// use framebreak_scheduler::{Failure, FailureCategory};
///
/// let f = Failure::new(FailureCategory::RateLimited, "429 from api.example")
///     .retry_after(Duration::from_secs(2))
///     .rate_limit_key("api.example");
/// assert!(f.category.is_retryable());
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Failure {
    /// What kind of failure it is.
    pub category: FailureCategory,
    /// A human-readable detail (never a secret: it is stored and logged).
    pub message: String,
    /// How long the backend asked us to wait, if it said.
    pub retry_after: Option<Duration>,
    /// The rate-limit key to pause on a [`RateLimited`](FailureCategory::RateLimited)
    /// failure; the job's backend when `None`.
    pub rate_limit_key: Option<String>,
    /// `true` when the handler knows the step had **no** side effect (the
    /// request never left, or the backend answered with a complete refusal).
    /// The retry then runs with
    /// [`possibly_executed`](crate::StepContext::possibly_executed) `false`.
    /// The default, `false`, is the safe one: the next attempt is told the
    /// step may have run.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub no_effect: bool,
    /// `true` when the failure is final whatever its category says (a
    /// generation the provider itself reports failed: asking again returns
    /// the same verdict). Never retried.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub permanent: bool,
}

impl Failure {
    /// A failure of `category` with `message`.
    pub fn new(category: FailureCategory, message: impl Into<String>) -> Self {
        Self {
            category,
            message: message.into(),
            retry_after: None,
            rate_limit_key: None,
            no_effect: false,
            permanent: false,
        }
    }

    /// Says the step certainly had no side effect, so the retry need not
    /// look for one.
    #[must_use]
    pub fn no_effect(mut self) -> Self {
        self.no_effect = true;
        self
    }

    /// Makes the failure final whatever its category.
    #[must_use]
    pub fn permanent(mut self) -> Self {
        self.permanent = true;
        self
    }

    /// Whether retrying may help: the category allows it and the failure is
    /// not [`permanent`](Self::permanent).
    #[must_use]
    pub fn is_retryable(&self) -> bool {
        !self.permanent && self.category.is_retryable()
    }

    /// Whether this failure counts against the job's attempts. A 429 does
    /// not: waiting out the provider's limit is not a failed try, and
    /// rate-limited retries are bounded by time instead (the rule's
    /// `max_elapsed`).
    #[must_use]
    pub fn counts_as_attempt(&self) -> bool {
        self.category != FailureCategory::RateLimited
    }

    /// Adds the wait the backend asked for.
    #[must_use]
    pub fn retry_after(mut self, after: Duration) -> Self {
        self.retry_after = Some(after);
        self
    }

    /// Names the rate-limit key to pause.
    #[must_use]
    pub fn rate_limit_key(mut self, key: impl Into<String>) -> Self {
        self.rate_limit_key = Some(key.into());
        self
    }
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.category, self.message)
    }
}

impl std::error::Error for Failure {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_retryability_matches_the_architecture() {
        for c in FailureCategory::ALL {
            assert_eq!(FailureCategory::from_name(c.as_str()), Some(c));
            assert_eq!(FailureCategory::ALL[c.index()], c);
        }
        let retryable: Vec<_> = FailureCategory::ALL
            .into_iter()
            .filter(|c| c.is_retryable())
            .map(FailureCategory::as_str)
            .collect();
        assert_eq!(
            retryable,
            [
                "connection",
                "timeout",
                "rate_limited",
                "server",
                "download"
            ]
        );
        assert_eq!(FailureCategory::from_name("nope"), None);
    }
}
