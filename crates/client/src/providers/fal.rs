//! fal.ai's queue: `POST https://queue.fal.run/{model}`, then the returned
//! `status_url` and `response_url` (on which the model's subpath is
//! dropped, so they are stored rather than rebuilt).

use async_trait::async_trait;
use serde::Deserialize;
use tokio::io::AsyncWrite;

use super::{Common, adapter_common, mentions_policy, policy_in_error};
use crate::conform::{Frame, Seconds, Wire};
use crate::download::ProgressFn;
use crate::{
    Asset, Conformed, Error, JobState, JobStatus, RemoteJob, Result, VideoBackend, VideoRequest,
};

/// fal's video models: `duration` with a unit (`"8s"`), `aspect_ratio`,
/// `negative_prompt`.
const WIRE: Wire = Wire {
    duration: "duration",
    seconds: Seconds::Suffixed,
    frame: Frame::Aspect {
        field: "aspect_ratio",
        resolution: None,
    },
    negative_prompt: Some("negative_prompt"),
};

/// fal.ai's queue API (`FAL_KEY`, `Authorization: Key …`).
#[derive(Clone, Debug)]
pub struct FalBackend {
    common: Common,
}

adapter_common!(
    FalBackend,
    "fal",
    "FAL_KEY",
    "https://queue.fal.run",
    "fal-ai/veo3.1/fast",
    policy_in_error
);

#[derive(Deserialize)]
struct Submitted {
    request_id: String,
    status_url: String,
    response_url: String,
    #[serde(default)]
    cancel_url: Option<String>,
}

#[derive(Deserialize)]
struct Status {
    status: String,
    #[serde(default)]
    queue_position: Option<u64>,
    #[serde(default)]
    error: Option<serde_json::Value>,
    #[serde(default)]
    error_type: Option<String>,
}

#[derive(Deserialize)]
struct Output {
    video: Option<File>,
}

#[derive(Deserialize)]
struct File {
    url: String,
    #[serde(default)]
    content_type: Option<String>,
}

impl FalBackend {
    fn from_common(common: Common) -> Self {
        Self { common }
    }

    fn auth(&self, request: reqwest::RequestBuilder) -> reqwest::RequestBuilder {
        request.header("Authorization", format!("Key {}", self.common.key()))
    }

    fn input(request: &VideoRequest) -> serde_json::Map<String, serde_json::Value> {
        let mut input = serde_json::Map::new();
        input.insert("prompt".into(), request.prompt.clone().into());
        // fal's video models take durations as strings with a unit ("8s").
        if let Some(secs) = request.duration_secs {
            input.insert("duration".into(), format!("{secs}s").into());
        }
        if let Some(aspect) = request.aspect() {
            input.insert("aspect_ratio".into(), aspect.into());
        }
        if let Some(seed) = request.seed {
            input.insert("seed".into(), seed.into());
        }
        input.extend(request.extras.clone());
        input
    }

    fn stored<'a>(&self, job: &'a RemoteJob, key: &str) -> Result<&'a str> {
        job.data_str(key).ok_or_else(|| {
            self.common
                .invalid(format!("job {} has no `{key}`", job.id))
        })
    }

    async fn result(&self, job: &RemoteJob) -> Result<JobState> {
        let url = self.stored(job, "response_url")?;
        let (output, _): (Output, _) = self.common.get_json(url, |r| self.auth(r)).await?;
        let video = output.video.ok_or_else(|| {
            self.common
                .http
                .malformed("result has no `video`", &serde_json::json!({}))
        })?;
        Ok(JobState::Succeeded {
            assets: vec![Asset {
                url: video.url,
                content_type: video.content_type,
            }],
        })
    }
}

#[async_trait]
impl VideoBackend for FalBackend {
    fn conform(&self, request: &VideoRequest) -> Result<Conformed> {
        let model = self.model(request);
        let limits = super::limits::fal(model);
        crate::conform::apply(Self::NAME, model, limits.as_ref(), WIRE, request)
    }

    async fn submit(&self, request: &VideoRequest) -> Result<RemoteJob> {
        let conformed = self.conform(request)?;
        let request = &conformed.request;
        let model = self.model(request).trim_matches('/');
        let url = self.common.url(model);
        let builder = self
            .auth(self.common.http.client().post(url))
            .json(&Self::input(request));
        let (s, _): (Submitted, _) = self.common.http.json(builder).await?;
        tracing::info!(provider = Self::NAME, job = %s.request_id, "submitted");
        let mut job = RemoteJob::new(Self::NAME, s.request_id)
            .with_data("status_url", s.status_url)
            .with_data("response_url", s.response_url);
        if let Some(cancel) = s.cancel_url {
            job = job.with_data("cancel_url", cancel);
        }
        Ok(job)
    }

    async fn status(&self, job: &RemoteJob) -> Result<JobStatus> {
        job.expect_backend(Self::NAME)?;
        let url = self.stored(job, "status_url")?;
        let (s, _): (Status, _) = self.common.get_json(url, |r| self.auth(r)).await?;
        let state = match s.status.as_str() {
            "IN_QUEUE" => JobState::Queued {
                position: s.queue_position,
            },
            "IN_PROGRESS" => JobState::Running { progress: None },
            // A failure is also COMPLETED, with an `error`.
            "COMPLETED" => match s.error.filter(|e| !e.is_null()) {
                None => self.result(job).await?,
                Some(error) => {
                    let message = match error {
                        serde_json::Value::String(s) => s,
                        other => other.to_string(),
                    };
                    let policy = s.error_type.as_deref().is_some_and(mentions_policy)
                        || mentions_policy(&message);
                    JobState::Failed {
                        error: if policy {
                            Error::ContentPolicy {
                                provider: Self::NAME.into(),
                                message,
                                request_id: Some(job.id.clone()),
                            }
                        } else {
                            Error::JobFailed {
                                provider: Self::NAME.into(),
                                job_id: job.id.clone(),
                                code: s.error_type,
                                message,
                            }
                        },
                    }
                }
            },
            other => {
                return Err(self.common.http.malformed(
                    format!("unknown queue status `{other}`"),
                    &serde_json::json!({ "status": other }),
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
        let url = self.stored(job, "cancel_url")?;
        self.common
            .http
            .send(self.auth(self.common.http.client().put(url)))
            .await?;
        Ok(())
    }
}
