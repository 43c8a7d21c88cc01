//! Why a step of a job failed, in the one vocabulary of the project.

use std::fmt;

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

    /// The category of an HTTP error status: 401/403 auth, 408 timeout, 429
    /// rate limited, 5xx server, any other a bad request.
    #[must_use]
    pub const fn from_status(status: u16) -> Self {
        match status {
            401 | 403 => Self::Auth,
            408 => Self::Timeout,
            429 => Self::RateLimited,
            500..=599 => Self::Server,
            _ => Self::BadRequest,
        }
    }

    /// Parses [`as_str`](Self::as_str)'s output.
    #[must_use]
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|c| c.as_str() == name)
    }

    /// The category's position in [`ALL`](Self::ALL): an index for
    /// per-category tables.
    #[must_use]
    pub const fn index(self) -> usize {
        self as usize
    }
}

impl fmt::Display for FailureCategory {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_index_is_the_position_in_all() {
        for (i, c) in FailureCategory::ALL.into_iter().enumerate() {
            assert_eq!(FailureCategory::from_name(c.as_str()), Some(c));
            assert_eq!(c.index(), i);
            let json = serde_json::to_string(&c).unwrap();
            assert_eq!(json, format!("\"{}\"", c.as_str()));
        }
        assert_eq!(FailureCategory::from_name("wobble"), None);
    }

    #[test]
    fn a_possibly_paid_submission_is_never_retried_on_its_own() {
        assert!(!FailureCategory::UnknownSubmission.is_retryable());
        assert!(FailureCategory::RateLimited.is_retryable());
        assert!(!FailureCategory::RateLimited.counts_against_backend());
    }
}
