//! The OpenAI-compatible Videos API: `POST /v1/videos`, `GET
//! /v1/videos/{id}`, `GET /v1/videos/{id}/content?variant=video`.
//!
//! OpenAI shut its own Videos API and the Sora 2 models down on
//! 2026-09-24; gateways (MiniMax, Veo, Wan, Seedance behind one key) and
//! the framebreak simulator still speak the protocol, hence the base URL
//! override. No model name is common to those gateways, so the default
//! model is the simulator's, `framebreak-sim`: name the gateway's model,
//! and give its limits with [`OpenAiBackend::with_model_limits`] where the
//! built-in table (Sora 2 only) does not know it.

use async_trait::async_trait;
use serde::Deserialize;
use tokio::io::AsyncWrite;

use super::{Common, adapter_common, policy_in_error};
use crate::conform::{Frame, Seconds, Wire};
use crate::download::ProgressFn;
use crate::http::poll_after;
use crate::{
    Asset, Conformed, Error, JobState, JobStatus, ModelLimits, RemoteJob, Result, VideoBackend,
    VideoRequest,
};

/// `seconds` as a string, `size` as `WxH`; no negative prompt.
const WIRE: Wire = Wire {
    duration: "seconds",
    seconds: Seconds::Text,
    frame: Frame::Size {
        field: "size",
        separator: 'x',
    },
    negative_prompt: None,
};

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
    models: std::collections::BTreeMap<String, ModelLimits>,
}

fn is_policy(body: &crate::http::ErrorBody) -> bool {
    policy_in_error(body)
}

adapter_common!(
    OpenAiBackend,
    "openai",
    "OPENAI_API_KEY",
    "https://api.openai.com",
    "framebreak-sim",
    is_policy
);

impl OpenAiBackend {
    fn from_common(common: Common) -> Self {
        Self {
            common,
            encoding: SubmitEncoding::Json,
            models: std::collections::BTreeMap::new(),
        }
    }

    /// Tells [`conform`](VideoBackend::conform) what `model` accepts: a
    /// gateway's own model, or one whose built-in limits (Sora 2) the
    /// gateway narrows. Replaces any earlier limits for that name.
    #[must_use]
    pub fn with_model_limits(mut self, model: impl Into<String>, limits: ModelLimits) -> Self {
        self.models.insert(model.into(), limits);
        self
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
    /// `GET /v1/models`, as gateways that speak `/v1/videos` offer it; a
    /// gateway without it (404, 405) does not say.
    async fn offered_models(&self) -> Result<Option<Vec<String>>> {
        #[derive(Deserialize)]
        struct Models {
            data: Vec<Model>,
        }
        #[derive(Deserialize)]
        struct Model {
            id: String,
        }
        let url = self.common.url("/v1/models");
        match self.common.get_json::<Models>(url, |r| self.auth(r)).await {
            Ok((models, _)) => Ok(Some(models.data.into_iter().map(|m| m.id).collect())),
            Err(Error::Http {
                status: 404 | 405, ..
            }) => Ok(None),
            Err(e) => Err(e),
        }
    }

    async fn find_submission(
        &self,
        request: &VideoRequest,
        since: std::time::SystemTime,
    ) -> Result<crate::Lookup> {
        self.lookup(request, since).await
    }

    fn conform(&self, request: &VideoRequest) -> Result<Conformed> {
        let model = self.model(request);
        let limits = self
            .models
            .get(model)
            .cloned()
            .or_else(|| super::limits::openai(model));
        crate::conform::apply(Self::NAME, model, limits.as_ref(), WIRE, request)
    }

    async fn submit(&self, request: &VideoRequest) -> Result<RemoteJob> {
        let conformed = self.conform(request)?;
        let request = &conformed.request;
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

/// One page of `GET /v1/videos`.
#[derive(Deserialize)]
struct VideoPage {
    data: Vec<ListedVideo>,
    #[serde(default)]
    has_more: bool,
    #[serde(default)]
    last_id: Option<String>,
}

#[derive(Deserialize)]
struct ListedVideo {
    id: String,
    #[serde(default)]
    created_at: Option<i64>,
    #[serde(default)]
    prompt: Option<String>,
    #[serde(default)]
    model: Option<String>,
}

impl OpenAiBackend {
    /// `GET /v1/videos?order=desc&limit=100`, page after page with `after`,
    /// until a video older than the window.
    async fn lookup(
        &self,
        request: &VideoRequest,
        since: std::time::SystemTime,
    ) -> Result<crate::Lookup> {
        let model = self.model(request).to_owned();
        let mut search = crate::reconcile::Search::new(request, &model, since);
        let mut after: Option<String> = None;
        loop {
            let mut url = self.common.url("/v1/videos?order=desc&limit=100");
            if let Some(id) = &after {
                url.push_str("&after=");
                url.push_str(id);
            }
            let (page, _): (VideoPage, _) = self.common.get_json(url, |r| self.auth(r)).await?;
            let last = page
                .last_id
                .clone()
                .or_else(|| page.data.last().map(|v| v.id.clone()));
            let more = search.offer(page.data.into_iter().map(|v| crate::reconcile::Listed {
                job: RemoteJob::new(Self::NAME, v.id),
                prompt: v.prompt,
                model: v.model,
                created: v.created_at.and_then(crate::reconcile::unix_secs),
            }));
            match last {
                Some(id) if page.has_more && more => after = Some(id),
                _ => return Ok(search.finish(!page.has_more)),
            }
        }
    }
}
