//! Gemini API Veo: `POST /v1beta/models/{model}:predictLongRunning`, then
//! `GET /v1beta/{operation}` until `done`, then
//! `generatedSamples[].video.uri` fetched with `x-goog-api-key`.

use async_trait::async_trait;
use serde::Deserialize;
use tokio::io::AsyncWrite;

use super::{Common, adapter_common, policy_in_error};
use crate::conform::{Frame, Seconds, Wire, resolution_of};
use crate::download::ProgressFn;
use crate::{
    Asset, Conformed, Error, FailureCategory, JobState, JobStatus, RemoteJob, Result, VideoBackend,
    VideoRequest,
};

/// `durationSeconds` a number, `aspectRatio`, `resolution` from the size's
/// short side, `negativePrompt`.
const WIRE: Wire = Wire {
    duration: "durationSeconds",
    seconds: Seconds::Number,
    frame: Frame::Aspect {
        field: "aspectRatio",
        resolution: Some("resolution"),
    },
    negative_prompt: Some("negativePrompt"),
};

/// Google's Gemini API for Veo (`GEMINI_API_KEY`, `x-goog-api-key`).
#[derive(Clone, Debug)]
pub struct VeoBackend {
    common: Common,
}

adapter_common!(
    VeoBackend,
    "veo",
    "GEMINI_API_KEY",
    "https://generativelanguage.googleapis.com",
    "veo-3.1-fast-generate-preview",
    policy_in_error
);

#[derive(Deserialize)]
struct Operation {
    name: String,
    #[serde(default)]
    done: bool,
    #[serde(default)]
    error: Option<Status>,
    #[serde(default)]
    response: Option<Response>,
}

#[derive(Deserialize)]
struct Status {
    #[serde(default)]
    code: i64,
    #[serde(default)]
    message: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Response {
    #[serde(default)]
    generate_video_response: Option<GenerateVideoResponse>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct GenerateVideoResponse {
    #[serde(default)]
    generated_samples: Vec<Sample>,
    #[serde(default)]
    rai_media_filtered_count: u32,
    #[serde(default)]
    rai_media_filtered_reasons: Vec<String>,
}

#[derive(Deserialize)]
struct Sample {
    video: Option<Video>,
}

#[derive(Deserialize)]
struct Video {
    uri: String,
}

impl VeoBackend {
    fn from_common(common: Common) -> Self {
        Self { common }
    }

    fn auth(&self, request: reqwest::RequestBuilder) -> reqwest::RequestBuilder {
        request.header("x-goog-api-key", self.common.key())
    }

    fn failed(&self, job: &RemoteJob, status: Status) -> Error {
        // google.rpc.Code: 3 INVALID_ARGUMENT, 7 PERMISSION_DENIED,
        // 8 RESOURCE_EXHAUSTED, 16 UNAUTHENTICATED.
        let category = match status.code {
            3 | 9 | 11 => Some(FailureCategory::BadRequest),
            7 | 16 => Some(FailureCategory::Auth),
            8 => Some(FailureCategory::RateLimited),
            _ => None,
        };
        match category {
            Some(category) => Error::Rejected {
                provider: Self::NAME.into(),
                job_id: job.id.clone(),
                category,
                code: Some(status.code.to_string()),
                message: status.message,
            },
            None => Error::JobFailed {
                provider: Self::NAME.into(),
                job_id: job.id.clone(),
                code: Some(status.code.to_string()),
                message: status.message,
            },
        }
    }
}

#[async_trait]
impl VideoBackend for VeoBackend {
    fn conform(&self, request: &VideoRequest) -> Result<Conformed> {
        let model = self.model(request);
        let limits = super::limits::veo(model);
        crate::conform::apply(Self::NAME, model, limits.as_ref(), WIRE, request)
    }

    async fn submit(&self, request: &VideoRequest) -> Result<RemoteJob> {
        let conformed = self.conform(request)?;
        let request = &conformed.request;
        let mut parameters = serde_json::Map::new();
        if let Some(aspect) = request.aspect() {
            parameters.insert("aspectRatio".into(), aspect.into());
        }
        if let Some(secs) = request.duration_secs {
            parameters.insert("durationSeconds".into(), secs.into());
        }
        if let Some(size) = request.size {
            parameters.insert("resolution".into(), resolution_of(size).into());
        }
        if let Some(seed) = request.seed {
            parameters.insert("seed".into(), seed.into());
        }
        parameters.extend(request.extras.clone());
        let body = serde_json::json!({
            "instances": [{ "prompt": request.prompt }],
            "parameters": parameters,
        });
        let url = self.common.url(&format!(
            "/v1beta/models/{}:predictLongRunning",
            self.model(request)
        ));
        let (op, _): (Operation, _) = self
            .common
            .http
            .json(self.auth(self.common.http.client().post(url)).json(&body))
            .await?;
        tracing::info!(provider = Self::NAME, job = %op.name, "submitted");
        Ok(RemoteJob::new(Self::NAME, op.name))
    }

    async fn status(&self, job: &RemoteJob) -> Result<JobStatus> {
        job.expect_backend(Self::NAME)?;
        let url = self.common.url(&format!("/v1beta/{}", job.id));
        let (op, _): (Operation, _) = self.common.get_json(url, |r| self.auth(r)).await?;
        if !op.done {
            // The operation says nothing about queues or progress.
            return Ok(JobStatus::new(JobState::Running { progress: None }));
        }
        if let Some(status) = op.error {
            return Ok(JobStatus::new(JobState::Failed {
                error: self.failed(job, status),
            }));
        }
        let response = op
            .response
            .and_then(|r| r.generate_video_response)
            .ok_or_else(|| {
                self.common
                    .http
                    .malformed("done without response.generateVideoResponse", &op.name)
            })?;
        let assets: Vec<Asset> = response
            .generated_samples
            .into_iter()
            .filter_map(|s| s.video)
            .map(|v| Asset {
                url: v.uri,
                content_type: Some("video/mp4".into()),
            })
            .collect();
        if assets.is_empty() {
            let message = if response.rai_media_filtered_count > 0 {
                let reasons = response.rai_media_filtered_reasons.join("; ");
                format!(
                    "{} video(s) filtered by safety filters: {reasons}",
                    response.rai_media_filtered_count
                )
            } else {
                "the operation finished without a video".to_owned()
            };
            let error = if response.rai_media_filtered_count > 0 {
                Error::ContentPolicy {
                    provider: Self::NAME.into(),
                    message,
                    request_id: None,
                }
            } else {
                Error::JobFailed {
                    provider: Self::NAME.into(),
                    job_id: job.id.clone(),
                    code: None,
                    message,
                }
            };
            return Ok(JobStatus::new(JobState::Failed { error }));
        }
        Ok(JobStatus::new(JobState::Succeeded { assets }))
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
