//! X (Twitter) API v2: `POST /2/tweets` with a user-context OAuth 2.0
//! token, and the chunked media upload for a video attachment.

use std::path::Path;
use std::time::Duration;

use async_trait::async_trait;
use serde::Deserialize;
use tokio::io::AsyncReadExt;

use super::{Post, Published, Publisher};
use crate::http::{Http, HttpConfig, join, parse_base};
use crate::{Error, Result, Secret};

/// Each APPEND carries at most this much; X takes up to 5 MB per chunk.
const CHUNK: usize = 4 << 20;

/// How many times a processing video is polled before giving up.
const MAX_STATUS_POLLS: u32 = 120;

/// Publishes to X with a user-context OAuth 2.0 bearer token
/// (`X_USER_ACCESS_TOKEN`).
///
/// Rate limits come back as `rate_limited` errors whose
/// [`retry_after`](Error::retry_after) is read from `x-rate-limit-reset`.
#[derive(Clone, Debug)]
pub struct XPublisher {
    http: Http,
    base: String,
}

#[derive(Deserialize)]
struct Envelope<T> {
    data: T,
}

#[derive(Deserialize)]
struct Tweet {
    id: String,
    text: String,
}

#[derive(Deserialize)]
struct Media {
    id: String,
    #[serde(default)]
    processing_info: Option<Processing>,
}

#[derive(Deserialize)]
struct Processing {
    state: String,
    #[serde(default)]
    check_after_secs: Option<u64>,
    #[serde(default)]
    error: Option<serde_json::Value>,
}

impl XPublisher {
    /// The environment variable holding the token.
    pub const KEY_VAR: &'static str = "X_USER_ACCESS_TOKEN";
    /// X's API endpoint.
    pub const DEFAULT_BASE_URL: &'static str = "https://api.x.com";

    /// A publisher posting with `token`.
    ///
    /// # Errors
    ///
    /// [`Error::Config`] if the TLS stack cannot start.
    pub fn new(token: Secret) -> Result<Self> {
        Ok(Self {
            http: Http::new(HttpConfig::new()?, "x", token),
            base: Self::DEFAULT_BASE_URL.into(),
        })
    }

    /// A publisher whose token is read from the environment or `.env`.
    ///
    /// # Errors
    ///
    /// [`Error::MissingKey`] naming `X_USER_ACCESS_TOKEN`.
    pub fn from_env() -> Result<Self> {
        Self::new(Secret::from_env(Self::KEY_VAR)?)
    }

    /// Talks to `base_url` instead of api.x.com.
    ///
    /// # Errors
    ///
    /// [`Error::Config`] if it is not a URL.
    pub fn with_base_url(mut self, base_url: &str) -> Result<Self> {
        self.base = parse_base("x", base_url)?;
        Ok(self)
    }

    /// Uses another client or timeout.
    #[must_use]
    pub fn with_http(mut self, config: HttpConfig) -> Self {
        self.http.config = config;
        self
    }

    fn post(&self, path: &str) -> reqwest::RequestBuilder {
        self.http
            .client()
            .post(join(&self.base, path))
            .bearer_auth(self.http.key.expose())
    }

    /// INIT, APPEND in chunks read from disk, FINALIZE, then STATUS until
    /// X has processed the video. Returns the media id.
    async fn upload(&self, path: &Path) -> Result<String> {
        let mut file = tokio::fs::File::open(path)
            .await
            .map_err(|e| Error::io(path, &e))?;
        let total = file
            .metadata()
            .await
            .map_err(|e| Error::io(path, &e))?
            .len();
        let init = serde_json::json!({
            "media_type": "video/mp4",
            "total_bytes": total,
            "media_category": "tweet_video",
        });
        let (media, _): (Envelope<Media>, _) = self
            .http
            .json(self.post("/2/media/upload/initialize").json(&init))
            .await?;
        let id = media.data.id;
        let mut buf = vec![0u8; CHUNK];
        let mut segment = 0u32;
        loop {
            let n = read_full(&mut file, &mut buf)
                .await
                .map_err(|e| Error::io(path, &e))?;
            if n == 0 {
                break;
            }
            let part = reqwest::multipart::Part::bytes(buf[..n].to_vec())
                .file_name("chunk")
                .mime_str("application/octet-stream")
                .map_err(|e| Error::InvalidRequest {
                    provider: "x".into(),
                    reason: e.to_string(),
                })?;
            let form = reqwest::multipart::Form::new()
                .text("segment_index", segment.to_string())
                .part("media", part);
            self.http
                .send(
                    self.post(&format!("/2/media/upload/{id}/append"))
                        .multipart(form),
                )
                .await?;
            segment += 1;
        }
        let (finalized, _): (Envelope<Media>, _) = self
            .http
            .json(self.post(&format!("/2/media/upload/{id}/finalize")))
            .await?;
        let mut processing = finalized.data.processing_info;
        for _ in 0..MAX_STATUS_POLLS {
            let Some(info) = processing else {
                return Ok(id);
            };
            match info.state.as_str() {
                "succeeded" => return Ok(id),
                "failed" => {
                    return Err(Error::JobFailed {
                        provider: "x".into(),
                        job_id: id,
                        code: None,
                        message: info
                            .error
                            .map_or_else(|| "media processing failed".into(), |e| e.to_string()),
                    });
                }
                _ => {}
            }
            tokio::time::sleep(Duration::from_secs(info.check_after_secs.unwrap_or(1))).await;
            let request = self
                .http
                .client()
                .get(join(
                    &self.base,
                    &format!("/2/media/upload?command=STATUS&media_id={id}"),
                ))
                .bearer_auth(self.http.key.expose());
            let (status, _): (Envelope<Media>, _) = self.http.json(request).await?;
            processing = status.data.processing_info;
        }
        Err(Error::JobFailed {
            provider: "x".into(),
            job_id: id,
            code: None,
            message: format!("media still processing after {MAX_STATUS_POLLS} checks"),
        })
    }
}

async fn read_full(file: &mut tokio::fs::File, buf: &mut [u8]) -> std::io::Result<usize> {
    let mut filled = 0;
    while filled < buf.len() {
        let n = file.read(&mut buf[filled..]).await?;
        if n == 0 {
            break;
        }
        filled += n;
    }
    Ok(filled)
}

#[async_trait]
impl Publisher for XPublisher {
    async fn publish(&self, post: &Post) -> Result<Published> {
        post.check_len()?;
        let mut body = serde_json::json!({ "text": post.text });
        if let Some(video) = &post.video {
            let media_id = self.upload(video).await?;
            body["media"] = serde_json::json!({ "media_ids": [media_id] });
        }
        let (tweet, _): (Envelope<Tweet>, _) =
            self.http.json(self.post("/2/tweets").json(&body)).await?;
        tracing::info!(id = %tweet.data.id, "posted to X");
        Ok(Published {
            id: tweet.data.id,
            text: tweet.data.text,
        })
    }
}
