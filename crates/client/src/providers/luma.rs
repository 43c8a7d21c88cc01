//! Luma Dream Machine: `POST /dream-machine/v1/generations/video`, `GET
//! /dream-machine/v1/generations/{id}` with `state`
//! `queued|dreaming|completed|failed`.

use async_trait::async_trait;
use serde::Deserialize;
use tokio::io::AsyncWrite;

use super::{Common, adapter_common, mentions_policy, policy_in_error};
use crate::download::ProgressFn;
use crate::{Asset, Error, JobState, JobStatus, RemoteJob, Result, VideoBackend, VideoRequest};

/// Luma's Dream Machine API (`LUMAAI_API_KEY`, Bearer auth).
#[derive(Clone, Debug)]
pub struct LumaBackend {
    common: Common,
}

adapter_common!(
    LumaBackend,
    "luma",
    "LUMAAI_API_KEY",
    "https://api.lumalabs.ai",
    "ray-2",
    policy_in_error
);

#[derive(Deserialize)]
struct Generation {
    id: String,
    state: String,
    #[serde(default)]
    failure_reason: Option<String>,
    #[serde(default)]
    assets: Option<Assets>,
}

#[derive(Deserialize)]
struct Assets {
    #[serde(default)]
    video: Option<String>,
}

impl LumaBackend {
    fn from_common(common: Common) -> Self {
        Self { common }
    }

    fn auth(&self, request: reqwest::RequestBuilder) -> reqwest::RequestBuilder {
        request.bearer_auth(self.common.key())
    }
}

#[async_trait]
impl VideoBackend for LumaBackend {
    async fn submit(&self, request: &VideoRequest) -> Result<RemoteJob> {
        let mut body = serde_json::Map::new();
        body.insert("prompt".into(), request.prompt.clone().into());
        body.insert("model".into(), self.model(request).into());
        // Luma takes durations as strings with a unit ("5s", "9s").
        if let Some(secs) = request.duration_secs {
            body.insert("duration".into(), format!("{secs}s").into());
        }
        if let Some(aspect) = request.aspect() {
            body.insert("aspect_ratio".into(), aspect.into());
        }
        if let Some(size) = request.size {
            body.insert(
                "resolution".into(),
                format!("{}p", size.height.min(size.width)).into(),
            );
        }
        body.extend(request.extras.clone());
        let url = self.common.url("/dream-machine/v1/generations/video");
        let (g, _): (Generation, _) = self
            .common
            .http
            .json(self.auth(self.common.http.client().post(url)).json(&body))
            .await?;
        tracing::info!(provider = Self::NAME, job = %g.id, "submitted");
        Ok(RemoteJob::new(Self::NAME, g.id))
    }

    async fn status(&self, job: &RemoteJob) -> Result<JobStatus> {
        job.expect_backend(Self::NAME)?;
        let url = self
            .common
            .url(&format!("/dream-machine/v1/generations/{}", job.id));
        let (g, _): (Generation, _) = self.common.get_json(url, |r| self.auth(r)).await?;
        let state = match g.state.as_str() {
            "queued" => JobState::Queued { position: None },
            "dreaming" => JobState::Running { progress: None },
            "completed" => match g.assets.and_then(|a| a.video) {
                Some(url) => JobState::Succeeded {
                    assets: vec![Asset {
                        url,
                        content_type: Some("video/mp4".into()),
                    }],
                },
                None => {
                    return Err(self.common.http.malformed(
                        "generation completed without assets.video",
                        &serde_json::json!({ "id": g.id }),
                    ));
                }
            },
            "failed" => {
                let message = g
                    .failure_reason
                    .unwrap_or_else(|| "the generation failed".into());
                JobState::Failed {
                    error: if mentions_policy(&message) {
                        Error::ContentPolicy {
                            provider: Self::NAME.into(),
                            message,
                            request_id: None,
                        }
                    } else {
                        Error::JobFailed {
                            provider: Self::NAME.into(),
                            job_id: g.id,
                            code: None,
                            message,
                        }
                    },
                }
            }
            other => {
                return Err(self.common.http.malformed(
                    format!("unknown generation state `{other}`"),
                    &serde_json::json!({ "id": g.id, "state": other }),
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
}
