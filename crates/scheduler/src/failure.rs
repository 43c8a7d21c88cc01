//! Classified failures of one step of one job.

use std::fmt;
use std::time::Duration;

use serde::{Deserialize, Serialize};

/// Why a step failed: the project's one vocabulary, defined in
/// `framebreak-vocab` and re-exported here. The category alone decides
/// whether a retry can help.
pub use framebreak_vocab::FailureCategory;

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
