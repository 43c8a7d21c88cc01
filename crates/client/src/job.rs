//! What goes in (a request), what comes back (a job handle, its status, its
//! assets).

use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::Error;

/// One text-to-video generation to ask for.
///
/// Fields a provider does not support are left out of its request (a seed
/// on Runway's older models, say); `extras` are merged into the provider's
/// input object last, so they can set anything the adapter does not know.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct VideoRequest {
    /// The prompt.
    pub prompt: String,
    /// The model, in the provider's own naming (`sora-2`,
    /// `google/veo-3`, `fal-ai/veo3/fast`, `gen4_turbo`, `ray-2`,
    /// `veo-3.0-generate-001`). `None` uses the adapter's default.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model: Option<String>,
    /// Length in whole seconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub duration_secs: Option<u32>,
    /// Frame size in pixels; adapters that speak aspect ratios derive one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub size: Option<Size>,
    /// Aspect ratio such as `16:9`, for providers that take one; derived
    /// from `size` when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub aspect_ratio: Option<String>,
    /// Random seed, where the provider supports one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seed: Option<u64>,
    /// Provider-specific input fields, merged in last.
    #[serde(default, skip_serializing_if = "serde_json::Map::is_empty")]
    pub extras: serde_json::Map<String, serde_json::Value>,
    /// A key naming this submission, so that sending it twice (a retry
    /// after a lost answer, a resume after a crash) makes one job. Sent as
    /// the `Idempotency-Key` header by adapters whose protocol takes one
    /// (the OpenAI-compatible one, the simulator); ignored by others.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub idempotency_key: Option<String>,
}

impl VideoRequest {
    /// A request with only a prompt.
    #[must_use]
    pub fn new(prompt: impl Into<String>) -> Self {
        Self {
            prompt: prompt.into(),
            ..Self::default()
        }
    }

    /// Sets the model.
    #[must_use]
    pub fn model(mut self, model: impl Into<String>) -> Self {
        self.model = Some(model.into());
        self
    }

    /// Sets the duration in seconds.
    #[must_use]
    pub fn duration_secs(mut self, secs: u32) -> Self {
        self.duration_secs = Some(secs);
        self
    }

    /// Sets the frame size.
    #[must_use]
    pub fn size(mut self, width: u32, height: u32) -> Self {
        self.size = Some(Size { width, height });
        self
    }

    /// Sets the seed.
    #[must_use]
    pub fn seed(mut self, seed: u64) -> Self {
        self.seed = Some(seed);
        self
    }

    /// Adds a provider-specific input field.
    #[must_use]
    pub fn extra(mut self, key: impl Into<String>, value: serde_json::Value) -> Self {
        self.extras.insert(key.into(), value);
        self
    }

    /// Sets the idempotency key: one key, one job, however often it is sent.
    #[must_use]
    pub fn idempotency_key(mut self, key: impl Into<String>) -> Self {
        self.idempotency_key = Some(key.into());
        self
    }

    /// The aspect ratio: the explicit one, else reduced from `size`.
    #[must_use]
    pub fn aspect(&self) -> Option<String> {
        self.aspect_ratio
            .clone()
            .or_else(|| self.size.map(|s| s.aspect()))
    }
}

/// A frame size in pixels.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Size {
    /// Width in pixels.
    pub width: u32,
    /// Height in pixels.
    pub height: u32,
}

impl Size {
    /// The reduced ratio, `1280x720` → `16:9`.
    #[must_use]
    pub fn aspect(self) -> String {
        let g = gcd(self.width, self.height).max(1);
        format!("{}:{}", self.width / g, self.height / g)
    }
}

/// Why text is not a [`Size`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{text}` is not a size like `1280x720` (WIDTHxHEIGHT, whole pixels)")]
pub struct ParseSizeError {
    /// The text as given.
    pub text: String,
}

/// `WIDTHxHEIGHT` (`1280x720`, `x` or `X`, spaces around the numbers
/// allowed): the one parser of sizes written as text, in configuration,
/// flags and request bodies alike.
///
/// ```
/// use framebreak_client::Size;
/// let size: Size = "1280x720".parse()?;
/// assert_eq!((size.width, size.height), (1280, 720));
/// assert!("1280".parse::<Size>().is_err());
/// # Ok::<(), framebreak_client::ParseSizeError>(())
/// ```
impl std::str::FromStr for Size {
    type Err = ParseSizeError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let bad = || ParseSizeError {
            text: text.to_owned(),
        };
        let (w, h) = text.split_once(['x', 'X']).ok_or_else(bad)?;
        Ok(Self {
            width: w.trim().parse().map_err(|_| bad())?,
            height: h.trim().parse().map_err(|_| bad())?,
        })
    }
}

impl std::fmt::Display for Size {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}x{}", self.width, self.height)
    }
}

fn gcd(a: u32, b: u32) -> u32 {
    if b == 0 { a } else { gcd(b, a % b) }
}

/// A submitted job, as the provider knows it.
///
/// Serialisable so that the scheduler can store it and poll it again after a
/// restart without submitting twice. `data` holds whatever else the
/// protocol needs to find the job again (fal's `status_url`, Veo's
/// operation name).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RemoteJob {
    /// The backend that created the job (`openai`, `replicate`, `fal`,
    /// `runway`, `luma`, `veo`, or another implementation's name).
    pub backend: String,
    /// The provider's job id.
    pub id: String,
    /// Protocol details needed to poll again.
    #[serde(default, skip_serializing_if = "serde_json::Map::is_empty")]
    pub data: serde_json::Map<String, serde_json::Value>,
}

impl RemoteJob {
    /// A job handle with no extra data.
    #[must_use]
    pub fn new(backend: impl Into<String>, id: impl Into<String>) -> Self {
        Self {
            backend: backend.into(),
            id: id.into(),
            data: serde_json::Map::new(),
        }
    }

    /// A string stored in `data`.
    #[must_use]
    pub fn data_str(&self, key: &str) -> Option<&str> {
        self.data.get(key).and_then(serde_json::Value::as_str)
    }

    pub(crate) fn with_data(mut self, key: &str, value: impl Into<String>) -> Self {
        self.data
            .insert(key.to_owned(), serde_json::Value::String(value.into()));
        self
    }

    /// Fails with [`Error::InvalidRequest`] unless this job belongs to
    /// `backend`: a job id means nothing to another provider.
    pub(crate) fn expect_backend(&self, backend: &str) -> crate::Result<()> {
        if self.backend == backend {
            Ok(())
        } else {
            Err(Error::InvalidRequest {
                provider: backend.to_owned(),
                reason: format!(
                    "job {} was created by backend `{}`, not `{backend}`",
                    self.id, self.backend
                ),
            })
        }
    }
}

/// A generated file ready to download.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Asset {
    /// Where to fetch it.
    pub url: String,
    /// Its MIME type, when the provider says.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content_type: Option<String>,
}

impl Asset {
    /// An asset at `url`.
    #[must_use]
    pub fn new(url: impl Into<String>) -> Self {
        Self {
            url: url.into(),
            content_type: None,
        }
    }
}

/// Where a job stands.
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub enum JobState {
    /// Waiting for a worker; `position` in the queue when the provider says.
    Queued {
        /// 0-based place in the provider's queue.
        position: Option<u64>,
    },
    /// Generating; `progress` in [0, 1] when the provider says.
    Running {
        /// Fraction done.
        progress: Option<f32>,
    },
    /// Done; the videos to download (at least one).
    Succeeded {
        /// The generated files.
        assets: Vec<Asset>,
    },
    /// Done without a video. The error's category says why
    /// (`content_policy`, `server`, `cancelled`…).
    Failed {
        /// What the provider reported.
        error: Error,
    },
}

impl JobState {
    /// Whether the job will not change any more.
    #[must_use]
    pub fn is_terminal(&self) -> bool {
        matches!(self, Self::Succeeded { .. } | Self::Failed { .. })
    }
}

/// A job's state plus the provider's hint of when to ask again.
///
/// The scheduler decides when to poll; `poll_after` is advice from the
/// provider (`openai-poll-after-ms`, fal's and Runway's pacing) that it may
/// honour.
#[derive(Clone, Debug, PartialEq)]
pub struct JobStatus {
    /// Where the job stands.
    pub state: JobState,
    /// How long the provider suggests waiting before the next poll.
    pub poll_after: Option<Duration>,
}

impl JobStatus {
    /// A status with no polling hint.
    #[must_use]
    pub fn new(state: JobState) -> Self {
        Self {
            state,
            poll_after: None,
        }
    }

    /// Sets the polling hint.
    #[must_use]
    pub fn poll_after(mut self, hint: Option<Duration>) -> Self {
        self.poll_after = hint;
        self
    }
}

impl From<JobState> for JobStatus {
    fn from(state: JobState) -> Self {
        Self::new(state)
    }
}

/// Progress of a download, passed to the callback after every chunk.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DownloadProgress {
    /// Bytes received so far.
    pub received: u64,
    /// The size announced by `Content-Length`, if any.
    pub total: Option<u64>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn remote_jobs_round_trip_through_json() {
        let job = RemoteJob::new("fal", "req-1").with_data("status_url", "https://q/x/status");
        let json = serde_json::to_string(&job).unwrap();
        let back: RemoteJob = serde_json::from_str(&json).unwrap();
        assert_eq!(back, job);
        assert_eq!(back.data_str("status_url"), Some("https://q/x/status"));
        assert!(back.expect_backend("luma").is_err());
    }

    #[test]
    fn aspect_is_reduced_from_size() {
        let r = VideoRequest::new("a cat").size(1280, 720);
        assert_eq!(r.aspect().as_deref(), Some("16:9"));
        assert_eq!(r.size.unwrap().to_string(), "1280x720");
    }

    #[test]
    fn the_idempotency_key_round_trips_and_is_left_out_when_absent() {
        let plain = serde_json::to_value(VideoRequest::new("a cat")).unwrap();
        assert!(plain.get("idempotency_key").is_none(), "{plain}");
        let keyed = VideoRequest::new("a cat").idempotency_key("run-1:7");
        let json = serde_json::to_string(&keyed).unwrap();
        let back: VideoRequest = serde_json::from_str(&json).unwrap();
        assert_eq!(back.idempotency_key.as_deref(), Some("run-1:7"));
        let old: VideoRequest = serde_json::from_str(r#"{"prompt":"a cat"}"#).unwrap();
        assert_eq!(old.idempotency_key, None);
    }
}
