//! The OpenAI-compatible Videos API: `POST /v1/videos`, `GET
//! /v1/videos/{id}`, `GET /v1/videos/{id}/content?variant=video`.
//!
//! OpenAI's own Sora endpoints are deprecated, but gateways and the
//! framebreak simulator speak this protocol, hence the base URL override.

use async_trait::async_trait;
use serde::Deserialize;
use tokio::io::AsyncWrite;

use super::{Common, adapter_common, policy_in_error};
use crate::download::ProgressFn;
use crate::http::poll_after;
use crate::{Asset, Error, JobState, JobStatus, RemoteJob, Result, VideoBackend, VideoRequest};

/// How the submit request is encoded. OpenAI accepts both; some gateways
/// accept only the multipart form the API reference shows.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum SubmitEncoding {
    /// `application/json`.
    #[default]
    Json,
    /// `multipart/form-data`, every field a text part.
    Multipart,
}

/// An OpenAI-compatible Videos API (`OPENAI_API_KEY`, Bearer auth).
#[derive(Clone, Debug)]
pub struct OpenAiBackend {
    common: Common,
    encoding: SubmitEncoding,
}

fn is_policy(body: &crate::http::ErrorBody) -> bool {
    policy_in_error(body)
}

adapter_common!(
    OpenAiBackend,
    "openai",
    "OPENAI_API_KEY",
    "https://api.openai.com",
    "sora-2",
    is_policy
);

impl OpenAiBackend {
    fn from_common(common: Common) -> Self {
        Self {
            common,
            encoding: SubmitEncoding::Json,
        }
    }

    /// Chooses JSON or multipart for submissions.
    #[must_use]
    pub fn with_encoding(mut self, encoding: SubmitEncoding) -> Self {
        self.encoding = encoding;
        self
    }

    fn auth(&self, request: reqwest::RequestBuilder) -> reqwest::RequestBuilder {
        request.bearer_auth(self.common.key())
    }

    fn fields(&self, request: &VideoRequest) -> Vec<(String, serde_json::Value)> {
        let mut fields = vec![
            ("model".to_owned(), self.model(request).into()),
            ("prompt".to_owned(), request.prompt.clone().into()),
        ];
        // The API wants seconds as a string ("4", "8", "12").
        if let Some(secs) = request.duration_secs {
            fields.push(("seconds".to_owned(), secs.to_string().into()));
        }
        if let Some(size) = request.size {
            fields.push(("size".to_owned(), size.to_string().into()));
        }
        fields.extend(request.extras.iter().map(|(k, v)| (k.clone(), v.clone())));
        fields
    }
}

#[derive(Deserialize)]
struct Video {
    id: String,
    status: String,
    #[serde(default)]
    progress: Option<f64>,
    #[serde(default)]
    error: Option<VideoError>,
}

#[derive(Deserialize)]
struct VideoError {
    #[serde(default)]
    code: Option<String>,
    #[serde(default)]
    message: Option<String>,
}

#[async_trait]
impl VideoBackend for OpenAiBackend {
    async fn submit(&self, request: &VideoRequest) -> Result<RemoteJob> {
        let url = self.common.url("/v1/videos");
        let mut builder = self.auth(self.common.http.client().post(url));
        if let Some(key) = &request.idempotency_key {
            builder = builder.header("Idempotency-Key", key);
        }
        let builder = match self.encoding {
            SubmitEncoding::Json => {
                let body: serde_json::Map<_, _> = self.fields(request).into_iter().collect();
                builder.json(&body)
            }
            SubmitEncoding::Multipart => {
                let form = self.fields(request).into_iter().fold(
                    reqwest::multipart::Form::new(),
                    |form, (k, v)| match v {
                        serde_json::Value::String(s) => form.text(k, s),
                        other => form.text(k, other.to_string()),
                    },
                );
                builder.multipart(form)
            }
        };
        let (video, _): (Video, _) = self.common.http.json(builder).await?;
        tracing::info!(provider = Self::NAME, job = %video.id, "submitted");
        Ok(RemoteJob::new(Self::NAME, video.id))
    }

    async fn status(&self, job: &RemoteJob) -> Result<JobStatus> {
        job.expect_backend(Self::NAME)?;
        let url = self.common.url(&format!("/v1/videos/{}", job.id));
        let (video, headers): (Video, _) = self.common.get_json(url, |r| self.auth(r)).await?;
        let state = match video.status.as_str() {
            "queued" => JobState::Queued { position: None },
            "in_progress" => JobState::Running {
                progress: video.progress.map(|p| (p / 100.0).clamp(0.0, 1.0) as f32),
            },
            "completed" => JobState::Succeeded {
                assets: vec![Asset {
                    url: self
                        .common
                        .url(&format!("/v1/videos/{}/content?variant=video", video.id)),
                    content_type: Some("video/mp4".into()),
                }],
            },
            "failed" => {
                let err = video.error.unwrap_or(VideoError {
                    code: None,
                    message: None,
                });
                let message = err
                    .message
                    .unwrap_or_else(|| "the generation failed".into());
                let body = crate::http::ErrorBody {
                    message: message.clone(),
                    code: err.code.clone(),
                    retry_delay: None,
                };
                JobState::Failed {
                    error: if is_policy(&body) {
                        Error::ContentPolicy {
                            provider: Self::NAME.into(),
                            message,
                            request_id: None,
                        }
                    } else {
                        Error::JobFailed {
                            provider: Self::NAME.into(),
                            job_id: video.id,
                            code: err.code,
                            message,
                        }
                    },
                }
            }
            "cancelled" => JobState::Failed {
                error: Error::Cancelled {
                    provider: Self::NAME.into(),
                    job_id: video.id,
                },
            },
            other => {
                return Err(self.common.http.malformed(
                    format!("unknown status `{other}`"),
                    &serde_json::json!({ "id": video.id, "status": other }),
                ));
            }
        };
        Ok(JobStatus::new(state).poll_after(poll_after(&headers)))
    }

    async fn download(
        &self,
        asset: &Asset,
        sink: &mut (dyn AsyncWrite + Unpin + Send),
        progress: ProgressFn<'_>,
    ) -> Result<u64> {
        self.common
            .download(asset, sink, progress, |r| self.auth(r))
            .await
    }
}
