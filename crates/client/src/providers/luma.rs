//! Luma Dream Machine: `POST /dream-machine/v1/generations/video`, `GET
//! /dream-machine/v1/generations/{id}` with `state`
//! `queued|dreaming|completed|failed`.

use async_trait::async_trait;
use serde::Deserialize;
use tokio::io::AsyncWrite;

use super::{Common, adapter_common, mentions_policy, policy_in_error};
use crate::conform::{Frame, Seconds, Wire, resolution_of};
use crate::download::ProgressFn;
use crate::{
    Asset, Conformed, Error, JobState, JobStatus, RemoteJob, Result, VideoBackend, VideoRequest,
};

/// `duration` with a unit (`"5s"`), `aspect_ratio`, `resolution` from the
/// size's short side.
const WIRE: Wire = Wire {
    duration: "duration",
    seconds: Seconds::Suffixed,
    frame: Frame::Aspect {
        field: "aspect_ratio",
        resolution: Some("resolution"),
    },
    negative_prompt: None,
};

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
    async fn find_submission(
        &self,
        request: &VideoRequest,
        since: std::time::SystemTime,
    ) -> Result<crate::Lookup> {
        self.lookup(request, since).await
    }

    fn conform(&self, request: &VideoRequest) -> Result<Conformed> {
        let model = self.model(request);
        let limits = super::limits::luma(model);
        crate::conform::apply(Self::NAME, model, limits.as_ref(), WIRE, request)
    }

    async fn submit(&self, request: &VideoRequest) -> Result<RemoteJob> {
        let conformed = self.conform(request)?;
        let request = &conformed.request;
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
            body.insert("resolution".into(), resolution_of(size).into());
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

/// One page of `GET /dream-machine/v1/generations`.
#[derive(Deserialize)]
struct GenerationPage {
    generations: Vec<ListedGeneration>,
    #[serde(default)]
    has_more: Option<bool>,
}

#[derive(Deserialize)]
struct ListedGeneration {
    id: String,
    #[serde(default)]
    created_at: Option<String>,
    #[serde(default)]
    model: Option<String>,
    #[serde(default)]
    request: Option<serde_json::Value>,
}

impl LumaBackend {
    /// Generations a page.
    const PAGE: usize = 100;

    /// `GET /dream-machine/v1/generations?limit=100&offset=N`. The API
    /// reference documents no order, so the list is read to its end (or
    /// [`MAX_PAGES`](crate::reconcile::MAX_PAGES)), not only until an old
    /// generation.
    async fn lookup(
        &self,
        request: &VideoRequest,
        since: std::time::SystemTime,
    ) -> Result<crate::Lookup> {
        let model = self.model(request).to_owned();
        let mut search = crate::reconcile::Search::new(request, &model, since).unordered();
        let mut offset = 0;
        loop {
            let url = self.common.url(&format!(
                "/dream-machine/v1/generations?limit={}&offset={offset}",
                Self::PAGE
            ));
            let (page, _): (GenerationPage, _) =
                self.common.get_json(url, |r| self.auth(r)).await?;
            let count = page.generations.len();
            let more = search.offer(page.generations.into_iter().map(|g| {
                crate::reconcile::Listed {
                    job: RemoteJob::new(Self::NAME, g.id),
                    prompt: g
                        .request
                        .as_ref()
                        .and_then(|r| r.get("prompt"))
                        .and_then(serde_json::Value::as_str)
                        .map(str::to_owned),
                    model: g.model,
                    created: g
                        .created_at
                        .as_deref()
                        .and_then(crate::reconcile::parse_rfc3339),
                }
            }));
            let exhausted = page.has_more == Some(false) || count < Self::PAGE;
            if exhausted || !more {
                return Ok(search.finish(exhausted));
            }
            offset += count;
        }
    }
}
