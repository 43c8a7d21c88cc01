//! The crate's one error type and the failure categories it maps to.

use std::time::Duration;

use serde::{Deserialize, Serialize};

/// Shorthand for `Result<T, framebreak_client::Error>`.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Why a job failed: the project's one vocabulary, defined in
/// `framebreak-vocab`. [`Error::category`] classifies every error into it;
/// the scheduler decides from it alone whether to try again.
pub use framebreak_vocab::FailureCategory;

/// Whether a submission that failed may have created a job at the provider
/// (and so may be billed): the question that decides whether sending it again
/// is safe.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum SubmitEffect {
    /// The request never left (no connection, refused locally) or the
    /// provider answered with a complete error: no job exists. Safe to send
    /// again.
    NotCreated,
    /// The request may have reached the provider: a timeout or a reset
    /// after sending, a gateway's 502/504. Look the job up before sending
    /// again.
    MaybeCreated,
    /// The provider answered with a success status whose body could not be
    /// read: the job exists. Never send again; look it up.
    Created,
}

/// Everything that can go wrong while talking to a video API or to X.
///
/// Every value maps to a [`FailureCategory`] ([`Error::category`]), says
/// whether it is worth retrying ([`Error::is_retryable`]) and, when the
/// provider said so, after how long ([`Error::retry_after`]). Messages never
/// contain an API key: keys live in [`Secret`](crate::Secret)s, and text a
/// provider echoes back is scrubbed of the key before it is stored here.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The environment variable holding a provider's key is not set, neither
    /// in the process environment nor in `.env`.
    #[error("{variable} is not set: export it or put `{variable}=…` in a .env file")]
    MissingKey {
        /// The variable that was looked up, e.g. `REPLICATE_API_TOKEN`.
        variable: String,
    },

    /// The backend's configuration is unusable (a base URL that does not
    /// parse, a TLS stack that cannot start).
    #[error("{provider}: invalid configuration: {reason}")]
    Config {
        /// The provider, e.g. `replicate`.
        provider: String,
        /// What is wrong.
        reason: String,
    },

    /// The request cannot be expressed in this provider's protocol (a
    /// duration it does not offer, a job submitted to another backend).
    #[error("{provider}: invalid request: {reason}")]
    InvalidRequest {
        /// The provider.
        provider: String,
        /// What is wrong with the request.
        reason: String,
    },

    /// The server could not be reached or the connection broke before a
    /// response arrived.
    #[error("{provider}: cannot connect to {url}: {reason}")]
    Connect {
        /// The provider.
        provider: String,
        /// The URL without its query string.
        url: String,
        /// The transport's explanation.
        reason: String,
    },

    /// The connection broke after it was made (reset, closed mid-answer):
    /// the request may have reached the provider.
    #[error("{provider}: the connection to {url} broke off: {reason}")]
    Interrupted {
        /// The provider.
        provider: String,
        /// The URL without its query string.
        url: String,
        /// The transport's explanation.
        reason: String,
    },

    /// No complete response arrived within the per-request timeout.
    #[error("{provider}: no response from {url} within {}", humanize(*after))]
    Timeout {
        /// The provider.
        provider: String,
        /// The URL without its query string.
        url: String,
        /// The timeout that elapsed.
        after: Duration,
    },

    /// The provider answered with an error status.
    #[error("{provider}: HTTP {status} ({category}): {message}{}", request_id_suffix(request_id.as_deref()))]
    Http {
        /// The provider.
        provider: String,
        /// The HTTP status code.
        status: u16,
        /// How the status and the provider's error code classify.
        category: FailureCategory,
        /// The provider's error message (parsed from its error JSON).
        message: String,
        /// The provider's machine-readable error code, if any.
        code: Option<String>,
        /// The provider's request id, for support tickets.
        request_id: Option<String>,
        /// How long the provider asked us to wait.
        retry_after: Option<Duration>,
        /// An explicit retry verdict from the provider (`x-should-retry`).
        should_retry: Option<bool>,
    },

    /// A success response whose body is not what the protocol promises.
    #[error(
        "{provider}: HTTP {status} with a body that does not parse ({reason}); body starts with: {snippet}"
    )]
    MalformedResponse {
        /// The provider.
        provider: String,
        /// The HTTP status code.
        status: u16,
        /// The parser's complaint.
        reason: String,
        /// The first bytes of the body, lossily decoded.
        snippet: String,
    },

    /// The provider refused the prompt or filtered the generated video.
    #[error("{provider}: content policy: {message}{}", request_id_suffix(request_id.as_deref()))]
    ContentPolicy {
        /// The provider.
        provider: String,
        /// The provider's explanation.
        message: String,
        /// The provider's request id, if any.
        request_id: Option<String>,
    },

    /// The provider reports that the generation itself failed.
    #[error("{provider}: job {job_id} failed: {message}{}", code.as_deref().map(|c| format!(" [{c}]")).unwrap_or_default())]
    JobFailed {
        /// The provider.
        provider: String,
        /// The provider's job id.
        job_id: String,
        /// The provider's failure code, if any.
        code: Option<String>,
        /// The provider's explanation.
        message: String,
    },

    /// The provider rejected the job after accepting it, for a reason its
    /// protocol classifies (a long-running operation that ends with
    /// `INVALID_ARGUMENT` or `RESOURCE_EXHAUSTED`).
    #[error("{provider}: job {job_id} rejected ({category}): {message}{}", code.as_deref().map(|c| format!(" [{c}]")).unwrap_or_default())]
    Rejected {
        /// The provider.
        provider: String,
        /// The provider's job id.
        job_id: String,
        /// What the provider's reason classifies as.
        category: FailureCategory,
        /// The provider's code, if any.
        code: Option<String>,
        /// The provider's explanation.
        message: String,
    },

    /// The job was cancelled (by us or on the provider's side).
    #[error("{provider}: job {job_id} was cancelled")]
    Cancelled {
        /// The provider.
        provider: String,
        /// The provider's job id.
        job_id: String,
    },

    /// The video could not be fetched or written whole: a truncated body, a
    /// body over the size cap, a write that failed.
    #[error("download of {url} failed: {reason}")]
    Download {
        /// The asset's URL without its query string.
        url: String,
        /// What went wrong.
        reason: String,
    },

    /// A post is longer than X allows.
    #[error("post is {length} characters as X counts them, over the limit of {limit}")]
    PostTooLong {
        /// The weighted length.
        length: usize,
        /// The limit (280).
        limit: usize,
    },

    /// A local file could not be read or written.
    #[error("{path}: {reason}")]
    Io {
        /// The file.
        path: String,
        /// The operating system's explanation.
        reason: String,
    },
}

fn humanize(d: Duration) -> String {
    format!("{:.1} s", d.as_secs_f64())
}

fn request_id_suffix(id: Option<&str>) -> String {
    id.map(|id| format!(" (request id {id})"))
        .unwrap_or_default()
}

impl From<framebreak_vocab::MissingKey> for Error {
    fn from(e: framebreak_vocab::MissingKey) -> Self {
        Self::MissingKey {
            variable: e.variable,
        }
    }
}

impl Error {
    /// The failure category this error maps to.
    #[must_use]
    pub fn category(&self) -> FailureCategory {
        match self {
            Self::MissingKey { .. } => FailureCategory::Auth,
            Self::Config { .. } | Self::InvalidRequest { .. } | Self::PostTooLong { .. } => {
                FailureCategory::BadRequest
            }
            Self::Connect { .. } | Self::Interrupted { .. } => FailureCategory::Connection,
            Self::Timeout { .. } => FailureCategory::Timeout,
            Self::Http { category, .. } | Self::Rejected { category, .. } => *category,
            Self::MalformedResponse { .. } | Self::JobFailed { .. } => FailureCategory::Server,
            Self::ContentPolicy { .. } => FailureCategory::ContentPolicy,
            Self::Cancelled { .. } => FailureCategory::Cancelled,
            Self::Download { .. } | Self::Io { .. } => FailureCategory::Download,
        }
    }

    /// Whether trying again may succeed: the category's verdict, unless the
    /// provider said otherwise with `x-should-retry`.
    #[must_use]
    pub fn is_retryable(&self) -> bool {
        match self {
            Self::Http {
                should_retry: Some(verdict),
                ..
            } => *verdict,
            _ => self.category().is_retryable(),
        }
    }

    /// How long the provider asked us to wait before trying again, from
    /// `retry-after-ms`, `retry-after`, `x-rate-limit-reset` or a body hint.
    #[must_use]
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            Self::Http { retry_after, .. } => *retry_after,
            _ => None,
        }
    }

    /// What a failed submission tells about the job it asked for: whether
    /// the provider may have created (and will bill) it. See
    /// [`SubmitEffect`].
    #[must_use]
    pub fn submit_effect(&self) -> SubmitEffect {
        match self {
            // Refused before sending, or answered with a complete refusal.
            Self::MissingKey { .. }
            | Self::Config { .. }
            | Self::InvalidRequest { .. }
            | Self::Connect { .. }
            | Self::ContentPolicy { .. }
            | Self::PostTooLong { .. } => SubmitEffect::NotCreated,
            // A gateway that timed out or lost its upstream may have
            // forwarded the request first.
            Self::Http {
                status: 502 | 504, ..
            } => SubmitEffect::MaybeCreated,
            Self::Http { .. } => SubmitEffect::NotCreated,
            // A success status whose body we could not read or parse.
            Self::MalformedResponse { status, .. } if (200..300).contains(status) => {
                SubmitEffect::Created
            }
            _ => SubmitEffect::MaybeCreated,
        }
    }

    /// The provider's request id, when it sent one.
    #[must_use]
    pub fn request_id(&self) -> Option<&str> {
        match self {
            Self::Http { request_id, .. } | Self::ContentPolicy { request_id, .. } => {
                request_id.as_deref()
            }
            _ => None,
        }
    }

    pub(crate) fn io(path: &std::path::Path, err: &std::io::Error) -> Self {
        Self::Io {
            path: path.display().to_string(),
            reason: err.to_string(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn categories_serialise_as_snake_case() {
        let json = serde_json::to_string(&FailureCategory::ContentPolicy).unwrap();
        assert_eq!(json, "\"content_policy\"");
        let back: FailureCategory = serde_json::from_str("\"rate_limited\"").unwrap();
        assert_eq!(back, FailureCategory::RateLimited);
        assert_eq!(FailureCategory::BadRequest.to_string(), "bad_request");
    }

    #[test]
    fn statuses_classify() {
        assert_eq!(FailureCategory::from_status(401), FailureCategory::Auth);
        assert_eq!(FailureCategory::from_status(403), FailureCategory::Auth);
        assert_eq!(
            FailureCategory::from_status(429),
            FailureCategory::RateLimited
        );
        assert_eq!(FailureCategory::from_status(503), FailureCategory::Server);
        assert_eq!(
            FailureCategory::from_status(422),
            FailureCategory::BadRequest
        );
        assert_eq!(FailureCategory::from_status(408), FailureCategory::Timeout);
    }

    #[test]
    fn should_retry_overrides_the_category() {
        let err = Error::Http {
            provider: "openai".into(),
            status: 500,
            category: FailureCategory::Server,
            message: "boom".into(),
            code: None,
            request_id: Some("req_1".into()),
            retry_after: None,
            should_retry: Some(false),
        };
        assert!(FailureCategory::Server.is_retryable());
        assert!(!err.is_retryable());
        assert_eq!(err.request_id(), Some("req_1"));
        assert!(err.to_string().contains("request id req_1"), "{err}");
    }

    #[test]
    fn local_and_policy_failures_are_final() {
        for c in [
            FailureCategory::BadRequest,
            FailureCategory::Auth,
            FailureCategory::ContentPolicy,
            FailureCategory::Decode,
            FailureCategory::Analysis,
            FailureCategory::Cancelled,
        ] {
            assert!(!c.is_retryable(), "{c}");
        }
    }
}
