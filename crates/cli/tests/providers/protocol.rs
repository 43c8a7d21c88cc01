//! What each provider's API looks like on the wire: which request is which,
//! how it authenticates, and the JSON of its answers, as the providers
//! document them (and as `crates/client/src/providers/*.rs` read them).

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde_json::{Value, json};

/// The six providers framebreak speaks to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Provider {
    OpenAi,
    Replicate,
    Fal,
    Runway,
    Luma,
    Veo,
}

/// What a request asks for.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Route {
    /// Create a job; `model` when the path names it.
    Submit { model: Option<String> },
    /// One job's state, by the id the submit answer gave.
    Status(String),
    /// fal's result of a finished request.
    Result(String),
    /// The list of jobs (only where the provider has one).
    List,
    /// The generated file of the job with this sequence number.
    Video(usize),
    /// Nothing this provider serves.
    Unknown,
}

/// One job the mock created, as the dialects render it.
#[derive(Debug, Clone)]
pub(crate) struct Job {
    /// The provider's id (Veo: the operation name).
    pub(crate) id: String,
    /// 1-based creation order.
    pub(crate) seq: usize,
    pub(crate) prompt: String,
    pub(crate) model: Option<String>,
    /// The input as submitted (Replicate and Luma list it back).
    pub(crate) input: Value,
    pub(crate) created: SystemTime,
}

/// The state a poll reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Phase {
    Queued,
    Done,
    Failed,
}

/// What a failed generation says: nothing a policy detector would take for
/// a refusal.
const FAILURE_MESSAGE: &str = "the generation crashed on the worker (internal error 7731)";

impl Provider {
    /// `--backend`.
    pub(crate) const fn backend(self) -> &'static str {
        match self {
            Self::OpenAi => "openai",
            Self::Replicate => "replicate",
            Self::Fal => "fal",
            Self::Runway => "runway",
            Self::Luma => "luma",
            Self::Veo => "veo",
        }
    }

    /// The environment variable of its key.
    pub(crate) const fn key_var(self) -> &'static str {
        match self {
            Self::OpenAi => "OPENAI_API_KEY",
            Self::Replicate => "REPLICATE_API_TOKEN",
            Self::Fal => "FAL_KEY",
            Self::Runway => "RUNWAYML_API_SECRET",
            Self::Luma => "LUMAAI_API_KEY",
            Self::Veo => "GEMINI_API_KEY",
        }
    }

    /// Whether its API lists the jobs of an account (so that a submission
    /// whose answer was lost can be found).
    pub(crate) const fn lists_jobs(self) -> bool {
        matches!(self, Self::OpenAi | Self::Replicate | Self::Luma)
    }

    /// Whether `headers` (lower-case names) carry `key` as this provider
    /// expects it.
    pub(crate) fn authorized(self, headers: &[(String, String)], key: &str) -> bool {
        let header = |name: &str| {
            headers
                .iter()
                .find(|(n, _)| n == name)
                .map(|(_, v)| v.as_str())
        };
        let bearer = header("authorization") == Some(format!("Bearer {key}").as_str());
        match self {
            Self::OpenAi | Self::Replicate | Self::Luma => bearer,
            Self::Runway => bearer && header("x-runway-version").is_some(),
            Self::Fal => header("authorization") == Some(format!("Key {key}").as_str()),
            Self::Veo => header("x-goog-api-key") == Some(key),
        }
    }

    /// Which request `method path` is (`path` with its query).
    pub(crate) fn route(self, method: &str, path: &str) -> Route {
        let (path, query) = path.split_once('?').unwrap_or((path, ""));
        if let Some(seq) = video_seq(path).filter(|_| method == "GET") {
            return Route::Video(seq);
        }
        let segments: Vec<&str> = path.trim_start_matches('/').split('/').collect();
        match (self, method, segments.as_slice()) {
            (Self::OpenAi, "POST", ["v1", "videos"])
            | (Self::Runway, "POST", ["v1", "text_to_video"])
            | (Self::Luma, "POST", ["dream-machine", "v1", "generations", "video"])
            | (Self::Replicate, "POST", ["v1", "predictions"]) => Route::Submit { model: None },
            (Self::Replicate, "POST", ["v1", "models", owner, name, "predictions"]) => {
                Route::Submit {
                    model: Some(format!("{owner}/{name}")),
                }
            }
            (Self::Veo, "POST", ["v1beta", "models", call]) => match call.split_once(':') {
                Some((model, "predictLongRunning")) => Route::Submit {
                    model: Some(model.to_owned()),
                },
                _ => Route::Unknown,
            },
            (Self::OpenAi, "GET", ["v1", "videos"])
            | (Self::Replicate, "GET", ["v1", "predictions"])
            | (Self::Luma, "GET", ["dream-machine", "v1", "generations"]) => Route::List,
            (Self::OpenAi, "GET", ["v1", "videos", id, "content"])
                if query.contains("variant=video") =>
            {
                Route::Video(openai_seq(id).unwrap_or(0))
            }
            (Self::OpenAi, "GET", ["v1", "videos", id])
            | (Self::Replicate, "GET", ["v1", "predictions", id])
            | (Self::Runway, "GET", ["v1", "tasks", id])
            | (Self::Luma, "GET", ["dream-machine", "v1", "generations", id]) => {
                Route::Status((*id).to_owned())
            }
            (Self::Veo, "GET", ["v1beta", rest @ ..]) if rest.contains(&"operations") => {
                Route::Status(rest.join("/"))
            }
            (Self::Fal, "GET", [.., "requests", id, "status"]) => Route::Status((*id).to_owned()),
            (Self::Fal, "GET", [.., "requests", id]) => Route::Result((*id).to_owned()),
            (Self::Fal, "POST", [_, ..]) if !segments.contains(&"requests") => Route::Submit {
                model: Some(segments.join("/")),
            },
            _ => Route::Unknown,
        }
    }

    /// The prompt of a submit body, wherever this provider keeps it.
    pub(crate) fn prompt(self, body: &Value) -> Option<String> {
        let prompt = match self {
            Self::OpenAi | Self::Luma | Self::Fal => &body["prompt"],
            Self::Replicate => &body["input"]["prompt"],
            Self::Runway => &body["promptText"],
            Self::Veo => &body["instances"][0]["prompt"],
        };
        prompt.as_str().map(str::to_owned)
    }

    /// The model of a submit body, for providers that put it there.
    pub(crate) fn model(self, body: &Value) -> Option<String> {
        body["model"].as_str().map(str::to_owned)
    }

    /// The input the provider keeps with the job (listed back by Replicate
    /// and Luma).
    pub(crate) fn input(self, body: &Value) -> Value {
        match self {
            Self::Replicate => body["input"].clone(),
            _ => body.clone(),
        }
    }

    /// The id of the `seq`-th job.
    pub(crate) fn job_id(self, seq: usize, model: Option<&str>) -> String {
        match self {
            Self::OpenAi => format!("video_{seq:08}"),
            Self::Replicate => format!("rp{seq:08}xq5a2m"),
            Self::Fal | Self::Runway | Self::Luma => {
                format!("00000000-0000-4000-8000-{seq:012}")
            }
            Self::Veo => format!(
                "models/{}/operations/op{seq:08}",
                model.unwrap_or("veo-3.1-fast-generate-preview")
            ),
        }
    }

    /// The answer to a submit that created `job`.
    pub(crate) fn submitted(self, job: &Job, base: &str) -> Value {
        match self {
            Self::Fal => {
                let app = fal_app(job.model.as_deref());
                json!({
                    "request_id": job.id,
                    "status_url": format!("{base}/{app}/requests/{}/status", job.id),
                    "response_url": format!("{base}/{app}/requests/{}", job.id),
                    "cancel_url": format!("{base}/{app}/requests/{}/cancel", job.id),
                    "queue_position": 0,
                })
            }
            Self::Runway => json!({ "id": job.id }),
            Self::Veo => json!({ "name": job.id }),
            _ => self.status(job, Phase::Queued, base),
        }
    }

    /// A poll's answer.
    pub(crate) fn status(self, job: &Job, phase: Phase, base: &str) -> Value {
        let video = format!("{base}/files/{}/video.mp4", job.seq);
        let created_unix = unix(job.created).as_secs();
        match self {
            Self::OpenAi => {
                let mut v = json!({
                    "id": job.id,
                    "object": "video",
                    "model": job.model,
                    "prompt": job.prompt,
                    "created_at": created_unix,
                    "seconds": "4",
                    "size": "1280x720",
                });
                match phase {
                    Phase::Queued => v["status"] = json!("queued"),
                    Phase::Done => {
                        v["status"] = json!("completed");
                        v["progress"] = json!(100);
                    }
                    Phase::Failed => {
                        v["status"] = json!("failed");
                        v["error"] =
                            json!({ "code": "internal_error", "message": FAILURE_MESSAGE });
                    }
                }
                v
            }
            Self::Replicate => {
                let (status, output, error) = match phase {
                    Phase::Queued => ("starting", Value::Null, Value::Null),
                    Phase::Done => ("succeeded", json!(video), Value::Null),
                    Phase::Failed => ("failed", Value::Null, json!(FAILURE_MESSAGE)),
                };
                json!({
                    "id": job.id,
                    "model": job.model,
                    "version": "hidden",
                    "input": job.input,
                    "status": status,
                    "output": output,
                    "error": error,
                    "created_at": rfc3339(job.created),
                    "urls": { "get": format!("{base}/v1/predictions/{}", job.id) },
                })
            }
            Self::Fal => match phase {
                Phase::Queued => json!({ "status": "IN_QUEUE", "queue_position": 0 }),
                Phase::Done => json!({ "status": "COMPLETED", "logs": null }),
                Phase::Failed => json!({
                    "status": "COMPLETED",
                    "error": FAILURE_MESSAGE,
                    "error_type": "internal_error",
                }),
            },
            Self::Runway => match phase {
                Phase::Queued => json!({ "id": job.id, "status": "PENDING" }),
                Phase::Done => json!({ "id": job.id, "status": "SUCCEEDED", "output": [video] }),
                Phase::Failed => json!({
                    "id": job.id,
                    "status": "FAILED",
                    "failure": FAILURE_MESSAGE,
                    "failureCode": "INTERNAL.BAD_OUTPUT.CODE01",
                }),
            },
            Self::Luma => {
                let mut v = json!({
                    "id": job.id,
                    "generation_type": "video",
                    "model": job.model,
                    "created_at": rfc3339(job.created),
                    "request": job.input,
                    "assets": null,
                    "failure_reason": null,
                });
                match phase {
                    Phase::Queued => v["state"] = json!("queued"),
                    Phase::Done => {
                        v["state"] = json!("completed");
                        v["assets"] = json!({ "video": video });
                    }
                    Phase::Failed => {
                        v["state"] = json!("failed");
                        v["failure_reason"] = json!(FAILURE_MESSAGE);
                    }
                }
                v
            }
            Self::Veo => match phase {
                Phase::Queued => json!({ "name": job.id, "done": false }),
                Phase::Done => json!({
                    "name": job.id,
                    "done": true,
                    "response": {
                        "@type": "type.googleapis.com/google.ai.generativelanguage.v1beta.PredictLongRunningResponse",
                        "generateVideoResponse": {
                            "generatedSamples": [ { "video": { "uri": video } } ]
                        }
                    }
                }),
                Phase::Failed => json!({
                    "name": job.id,
                    "done": true,
                    "error": { "code": 13, "message": FAILURE_MESSAGE },
                }),
            },
        }
    }

    /// fal's result of a completed request.
    pub(crate) fn result(job: &Job, base: &str) -> Value {
        json!({
            "video": {
                "url": format!("{base}/files/{}/video.mp4", job.seq),
                "content_type": "video/mp4",
            },
            "seed": 1,
        })
    }

    /// One page of the job list, newest first; `jobs` is in creation order.
    pub(crate) fn list(self, jobs: &[Job], path: &str, base: &str) -> Value {
        let query = |name: &str| {
            path.split_once('?')
                .map_or("", |(_, q)| q)
                .split('&')
                .find_map(|kv| kv.strip_prefix(name)?.strip_prefix('='))
                .map(str::to_owned)
        };
        let limit = query("limit")
            .and_then(|l| l.parse().ok())
            .unwrap_or(100usize);
        let newest: Vec<&Job> = jobs.iter().rev().collect();
        let start = match self {
            Self::OpenAi => query("after")
                .and_then(|after| newest.iter().position(|j| j.id == after).map(|i| i + 1))
                .unwrap_or(0),
            Self::Replicate => query("cursor").and_then(|c| c.parse().ok()).unwrap_or(0),
            _ => query("offset").and_then(|o| o.parse().ok()).unwrap_or(0),
        };
        let page: Vec<&Job> = newest.iter().skip(start).take(limit).copied().collect();
        let more = start + page.len() < newest.len();
        match self {
            Self::OpenAi => json!({
                "object": "list",
                "data": page.iter().map(|j| self.status(j, Phase::Queued, base)).collect::<Vec<_>>(),
                "first_id": page.first().map(|j| &j.id),
                "last_id": page.last().map(|j| &j.id),
                "has_more": more,
            }),
            Self::Replicate => json!({
                "previous": null,
                "next": more.then(|| format!("{base}/v1/predictions?cursor={}", start + page.len())),
                "results": page.iter().map(|j| self.status(j, Phase::Queued, base)).collect::<Vec<_>>(),
            }),
            _ => json!({
                "generations": page.iter().map(|j| self.status(j, Phase::Queued, base)).collect::<Vec<_>>(),
                "has_more": more,
                "count": newest.len(),
                "limit": limit,
                "offset": start,
            }),
        }
    }

    /// The provider's error document for `status`.
    pub(crate) fn error(self, status: u16, message: &str) -> Value {
        match self {
            Self::OpenAi => json!({
                "error": { "message": message, "type": if status == 429 { "rate_limit_exceeded" } else { "server_error" }, "param": null, "code": null }
            }),
            Self::Replicate => json!({ "title": message, "detail": message, "status": status }),
            Self::Fal | Self::Luma => json!({ "detail": message }),
            Self::Runway => json!({ "error": message }),
            Self::Veo => json!({
                "error": {
                    "code": status,
                    "message": message,
                    "status": if status == 429 { "RESOURCE_EXHAUSTED" } else { "INTERNAL" },
                }
            }),
        }
    }
}

/// fal's status URLs drop the model's subpath: `fal-ai/veo3.1/fast` is
/// polled under `fal-ai/veo3.1`.
fn fal_app(model: Option<&str>) -> String {
    let model = model.unwrap_or("fal-ai/unknown");
    let parts: Vec<&str> = model.split('/').collect();
    parts[..parts.len().min(2)].join("/")
}

fn video_seq(path: &str) -> Option<usize> {
    path.strip_prefix("/files/")?
        .strip_suffix("/video.mp4")?
        .parse()
        .ok()
}

fn openai_seq(id: &str) -> Option<usize> {
    id.strip_prefix("video_")?.parse().ok()
}

fn unix(t: SystemTime) -> Duration {
    t.duration_since(UNIX_EPOCH).unwrap_or_default()
}

/// `2026-12-06T20:52:25.123Z`.
pub(crate) fn rfc3339(t: SystemTime) -> String {
    let d = unix(t);
    let secs = d.as_secs() as i64;
    let (days, rem) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    // Civil date from days (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{:03}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60,
        d.subsec_millis()
    )
}

#[test]
fn times_are_rfc3339() {
    assert_eq!(rfc3339(UNIX_EPOCH), "1970-01-01T00:00:00.000Z");
    assert_eq!(
        rfc3339(UNIX_EPOCH + Duration::from_millis(1_694_189_974_907)),
        "2023-09-08T16:19:34.907Z"
    );
    assert_eq!(
        rfc3339(UNIX_EPOCH + Duration::from_secs(951_782_400)),
        "2000-02-29T00:00:00.000Z"
    );
}
