//! Runway: `POST /v1/text_to_video`, `GET /v1/tasks/{id}`, `DELETE
//! /v1/tasks/{id}`, every request with `X-Runway-Version: 2024-11-06`.

use async_trait::async_trait;
use serde::Deserialize;
use tokio::io::AsyncWrite;

use super::{Common, adapter_common, mentions_policy, policy_in_error};
use crate::conform::{Frame, Seconds, Wire};
use crate::download::ProgressFn;
use crate::{
    Asset, Conformed, Error, JobState, JobStatus, RemoteJob, Result, VideoBackend, VideoRequest,
};

/// `duration` a number, `ratio` a pixel size with a colon,
/// `negativePrompt`.
const WIRE: Wire = Wire {
    duration: "duration",
    seconds: Seconds::Number,
    frame: Frame::Size {
        field: "ratio",
        separator: ':',
    },
    negative_prompt: Some("negativePrompt"),
};

/// The API version this adapter speaks.
const API_VERSION: &str = "2024-11-06";

/// Runway's developer API (`RUNWAYML_API_SECRET`, Bearer auth).
#[derive(Clone, Debug)]
pub struct RunwayBackend {
    common: Common,
}

adapter_common!(
    RunwayBackend,
    "runway",
    "RUNWAYML_API_SECRET",
    "https://api.dev.runwayml.com",
    "veo3.1_fast",
    policy_in_error
);

#[derive(Deserialize)]
struct Created {
    id: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Task {
    id: String,
    status: String,
    #[serde(default)]
    progress: Option<f64>,
    #[serde(default)]
    output: Option<Vec<String>>,
    #[serde(default)]
    failure: Option<String>,
    #[serde(default)]
    failure_code: Option<String>,
}

impl RunwayBackend {
    fn from_common(common: Common) -> Self {
        Self { common }
    }

    fn auth(&self, request: reqwest::RequestBuilder) -> reqwest::RequestBuilder {
        request
            .bearer_auth(self.common.key())
            .header("X-Runway-Version", API_VERSION)
    }
}

#[async_trait]
impl VideoBackend for RunwayBackend {
    fn conform(&self, request: &VideoRequest) -> Result<Conformed> {
        let model = self.model(request);
        let limits = super::limits::runway(model);
        crate::conform::apply(Self::NAME, model, limits.as_ref(), WIRE, request)
    }

    async fn submit(&self, request: &VideoRequest) -> Result<RemoteJob> {
        let conformed = self.conform(request)?;
        let request = &conformed.request;
        let mut body = serde_json::Map::new();
        body.insert("model".into(), self.model(request).into());
        body.insert("promptText".into(), request.prompt.clone().into());
        // Runway names ratios by pixel size with a colon: "1280:720".
        if let Some(size) = request.size {
            body.insert(
                "ratio".into(),
                format!("{}:{}", size.width, size.height).into(),
            );
        }
        if let Some(secs) = request.duration_secs {
            body.insert("duration".into(), secs.into());
        }
        if let Some(seed) = request.seed {
            body.insert("seed".into(), seed.into());
        }
        body.extend(request.extras.clone());
        let url = self.common.url("/v1/text_to_video");
        let (created, _): (Created, _) = self
            .common
            .http
            .json(self.auth(self.common.http.client().post(url)).json(&body))
            .await?;
        tracing::info!(provider = Self::NAME, job = %created.id, "submitted");
        Ok(RemoteJob::new(Self::NAME, created.id))
    }

    async fn status(&self, job: &RemoteJob) -> Result<JobStatus> {
        job.expect_backend(Self::NAME)?;
        let url = self.common.url(&format!("/v1/tasks/{}", job.id));
        let (task, _): (Task, _) = self.common.get_json(url, |r| self.auth(r)).await?;
        let state = match task.status.as_str() {
            "PENDING" | "THROTTLED" => JobState::Queued { position: None },
            "RUNNING" => JobState::Running {
                progress: task.progress.map(|p| p.clamp(0.0, 1.0) as f32),
            },
            "SUCCEEDED" => {
                let urls = task.output.unwrap_or_default();
                if urls.is_empty() {
                    return Err(self.common.http.malformed(
                        "task succeeded without output",
                        &serde_json::json!({ "id": task.id }),
                    ));
                }
                JobState::Succeeded {
                    assets: urls.into_iter().map(Asset::new).collect(),
                }
            }
            "FAILED" => {
                let message = task.failure.unwrap_or_else(|| "the task failed".into());
                // Failure codes such as SAFETY.INPUT.TEXT name moderation.
                let policy = task.failure_code.as_deref().is_some_and(mentions_policy);
                JobState::Failed {
                    error: if policy {
                        Error::ContentPolicy {
                            provider: Self::NAME.into(),
                            message,
                            request_id: None,
                        }
                    } else {
                        Error::JobFailed {
                            provider: Self::NAME.into(),
                            job_id: task.id,
                            code: task.failure_code,
                            message,
                        }
                    },
                }
            }
            "CANCELLED" => JobState::Failed {
                error: Error::Cancelled {
                    provider: Self::NAME.into(),
                    job_id: task.id,
                },
            },
            other => {
                return Err(self.common.http.malformed(
                    format!("unknown task status `{other}`"),
                    &serde_json::json!({ "id": task.id, "status": other }),
                ));
            }
        };
        Ok(JobStatus::new(state))
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

    async fn cancel(&self, job: &RemoteJob) -> Result<()> {
        job.expect_backend(Self::NAME)?;
        let url = self.common.url(&format!("/v1/tasks/{}", job.id));
        self.common
            .http
            .send(self.auth(self.common.http.client().delete(url)))
            .await?;
        Ok(())
    }
}
