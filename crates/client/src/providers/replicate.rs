//! Replicate: `POST /v1/models/{owner}/{name}/predictions` (official
//! models) or `POST /v1/predictions` with a `version`, `GET
//! /v1/predictions/{id}`, `POST /v1/predictions/{id}/cancel`.

use std::time::Duration;

use async_trait::async_trait;
use serde::Deserialize;
use tokio::io::AsyncWrite;

use super::{Common, adapter_common, mentions_policy, policy_in_error};
use crate::conform::{Frame, Seconds, Wire};
use crate::download::ProgressFn;
use crate::{
    Asset, Conformed, Error, JobState, JobStatus, RemoteJob, Result, VideoBackend, VideoRequest,
};

/// The usual input of Replicate's video models: `duration` a number,
/// `aspect_ratio`, `negative_prompt`.
const WIRE: Wire = Wire {
    duration: "duration",
    seconds: Seconds::Number,
    frame: Frame::Aspect {
        field: "aspect_ratio",
        resolution: None,
    },
    negative_prompt: Some("negative_prompt"),
};

/// Replicate's predictions API (`REPLICATE_API_TOKEN`, Bearer auth).
///
/// A model named `owner/name` goes to the model's endpoint; `owner/name:version`
/// or a bare 64-character version id goes to `/v1/predictions` with `version`.
#[derive(Clone, Debug)]
pub struct ReplicateBackend {
    common: Common,
    wait: Option<Duration>,
}

adapter_common!(
    ReplicateBackend,
    "replicate",
    "REPLICATE_API_TOKEN",
    "https://api.replicate.com",
    "google/veo-3.1-fast",
    policy_in_error
);

impl ReplicateBackend {
    fn from_common(common: Common) -> Self {
        Self { common, wait: None }
    }

    /// Sends `Prefer: wait=N` so that Replicate holds the submit request
    /// open up to `N` seconds (1–60) and may answer with a finished
    /// prediction. The job is still polled the usual way when it is not.
    #[must_use]
    pub fn with_prefer_wait(mut self, wait: Duration) -> Self {
        self.wait = Some(wait.clamp(Duration::from_secs(1), Duration::from_secs(60)));
        self
    }

    fn auth(&self, request: reqwest::RequestBuilder) -> reqwest::RequestBuilder {
        request.bearer_auth(self.common.key())
    }

    fn input(request: &VideoRequest) -> serde_json::Map<String, serde_json::Value> {
        let mut input = serde_json::Map::new();
        input.insert("prompt".into(), request.prompt.clone().into());
        if let Some(secs) = request.duration_secs {
            input.insert("duration".into(), secs.into());
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

    fn state(&self, p: Prediction) -> Result<JobState> {
        Ok(match p.status.as_str() {
            "starting" => JobState::Queued { position: None },
            "processing" => JobState::Running { progress: None },
            "succeeded" => {
                let urls = output_urls(p.output.as_ref());
                if urls.is_empty() {
                    return Err(self
                        .common
                        .http
                        .malformed("prediction succeeded without an output URL", &p.output));
                }
                JobState::Succeeded {
                    assets: urls.into_iter().map(Asset::new).collect(),
                }
            }
            "failed" => {
                let message = p.error.map_or_else(
                    || "the prediction failed".into(),
                    |e| match e {
                        serde_json::Value::String(s) => s,
                        other => other.to_string(),
                    },
                );
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
                            job_id: p.id,
                            code: None,
                            message,
                        }
                    },
                }
            }
            "canceled" | "aborted" => JobState::Failed {
                error: Error::Cancelled {
                    provider: Self::NAME.into(),
                    job_id: p.id,
                },
            },
            other => {
                return Err(self.common.http.malformed(
                    format!("unknown prediction status `{other}`"),
                    &serde_json::json!({ "id": p.id, "status": other }),
                ));
            }
        })
    }
}

/// `output` is a URL, a list of URLs, or (for some models) an object whose
/// values are URLs.
fn output_urls(output: Option<&serde_json::Value>) -> Vec<String> {
    match output {
        Some(serde_json::Value::String(s)) => vec![s.clone()],
        Some(serde_json::Value::Array(items)) => items
            .iter()
            .filter_map(|i| i.as_str().map(str::to_owned))
            .collect(),
        Some(serde_json::Value::Object(map)) => map
            .values()
            .filter_map(|v| {
                v.as_str()
                    .filter(|s| s.starts_with("http"))
                    .map(str::to_owned)
            })
            .collect(),
        _ => Vec::new(),
    }
}

#[derive(Deserialize)]
struct Prediction {
    id: String,
    status: String,
    #[serde(default)]
    output: Option<serde_json::Value>,
    #[serde(default)]
    error: Option<serde_json::Value>,
}

#[async_trait]
impl VideoBackend for ReplicateBackend {
    async fn find_submission(
        &self,
        request: &VideoRequest,
        since: std::time::SystemTime,
    ) -> Result<crate::Lookup> {
        self.lookup(request, since).await
    }

    fn conform(&self, request: &VideoRequest) -> Result<Conformed> {
        let model = self.model(request);
        let limits = super::limits::replicate(model);
        crate::conform::apply(Self::NAME, model, limits.as_ref(), WIRE, request)
    }

    async fn submit(&self, request: &VideoRequest) -> Result<RemoteJob> {
        let conformed = self.conform(request)?;
        let request = &conformed.request;
        let model = self.model(request);
        let input = Self::input(request);
        let (url, body) = match model.split_once(':') {
            Some((_, version)) => (
                self.common.url("/v1/predictions"),
                serde_json::json!({ "version": version, "input": input }),
            ),
            None if model.len() == 64 && model.bytes().all(|b| b.is_ascii_hexdigit()) => (
                self.common.url("/v1/predictions"),
                serde_json::json!({ "version": model, "input": input }),
            ),
            None => {
                let Some((owner, name)) = model.split_once('/') else {
                    return Err(self.common.invalid(format!(
                        "model `{model}` is neither `owner/name`, `owner/name:version` nor a version id"
                    )));
                };
                (
                    self.common
                        .url(&format!("/v1/models/{owner}/{name}/predictions")),
                    serde_json::json!({ "input": input }),
                )
            }
        };
        let mut builder = self.auth(self.common.http.client().post(url)).json(&body);
        if let Some(wait) = self.wait {
            builder = builder.header("Prefer", format!("wait={}", wait.as_secs()));
        }
        let (prediction, _): (Prediction, _) = self.common.http.json(builder).await?;
        tracing::info!(provider = Self::NAME, job = %prediction.id, status = %prediction.status, "submitted");
        Ok(RemoteJob::new(Self::NAME, prediction.id))
    }

    async fn status(&self, job: &RemoteJob) -> Result<JobStatus> {
        job.expect_backend(Self::NAME)?;
        let url = self.common.url(&format!("/v1/predictions/{}", job.id));
        let (prediction, _): (Prediction, _) = self.common.get_json(url, |r| self.auth(r)).await?;
        Ok(JobStatus::new(self.state(prediction)?))
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
        let url = self
            .common
            .url(&format!("/v1/predictions/{}/cancel", job.id));
        self.common
            .http
            .send(self.auth(self.common.http.client().post(url)))
            .await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn outputs_of_every_shape_give_urls() {
        let one = serde_json::json!("https://r/a.mp4");
        assert_eq!(output_urls(Some(&one)), ["https://r/a.mp4"]);
        let list = serde_json::json!(["https://r/a.mp4", "https://r/b.mp4"]);
        assert_eq!(output_urls(Some(&list)).len(), 2);
        let obj = serde_json::json!({"video": "https://r/a.mp4", "seed": 3});
        assert_eq!(output_urls(Some(&obj)), ["https://r/a.mp4"]);
        assert!(output_urls(None).is_empty());
    }
}

/// One page of `GET /v1/predictions` (newest first, 100 a page).
#[derive(Deserialize)]
struct PredictionPage {
    results: Vec<ListedPrediction>,
    #[serde(default)]
    next: Option<String>,
}

#[derive(Deserialize)]
struct ListedPrediction {
    id: String,
    #[serde(default)]
    model: Option<String>,
    #[serde(default)]
    created_at: Option<String>,
    #[serde(default)]
    input: Option<serde_json::Map<String, serde_json::Value>>,
}

impl ReplicateBackend {
    /// `GET /v1/predictions`, following `next` (on the API's own origin
    /// only: the key goes nowhere else) until a prediction older than the
    /// window. A prediction whose seed differs from the request's is not
    /// the one.
    async fn lookup(
        &self,
        request: &VideoRequest,
        since: std::time::SystemTime,
    ) -> Result<crate::Lookup> {
        let model = self.model(request).to_owned();
        let mut search = crate::reconcile::Search::new(request, &model, since);
        let mut url = self.common.url("/v1/predictions");
        loop {
            let (page, _): (PredictionPage, _) =
                self.common.get_json(&url, |r| self.auth(r)).await?;
            let seed = request.seed;
            let more = search.offer(page.results.into_iter().filter_map(|p| {
                let input = p.input.unwrap_or_default();
                let other_seed = seed.is_some_and(|s| {
                    input
                        .get("seed")
                        .and_then(serde_json::Value::as_u64)
                        .is_some_and(|listed| listed != s)
                });
                (!other_seed).then(|| crate::reconcile::Listed {
                    job: RemoteJob::new(Self::NAME, p.id),
                    prompt: input
                        .get("prompt")
                        .and_then(serde_json::Value::as_str)
                        .map(str::to_owned),
                    model: p.model,
                    created: p
                        .created_at
                        .as_deref()
                        .and_then(crate::reconcile::parse_rfc3339),
                })
            }));
            match page.next {
                Some(next) if more && self.common.same_origin(&next) => url = next,
                Some(_) if more => {
                    return Ok(crate::Lookup::Unknown {
                        reason: "the next page of predictions is on another origin".into(),
                    });
                }
                next => return Ok(search.finish(next.is_none())),
            }
        }
    }
}
