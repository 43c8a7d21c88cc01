//! Gemini API Veo.

use std::time::Duration;

use framebreak_client::{
    Conformed, FailureCategory, HttpConfig, JobState, RemoteJob, Secret, VeoBackend, VideoBackend,
    VideoRequest,
};
use mockito::ServerGuard;
use serde_json::Value;

use crate::util::KEY;

fn backend(base: &str) -> VeoBackend {
    VeoBackend::new(Secret::new(KEY))
        .unwrap()
        .with_base_url(base)
        .unwrap()
        .with_http(HttpConfig::new().unwrap().timeout(Duration::from_secs(10)))
}

const OP: &str = "models/veo-3.1-fast-generate-preview/operations/pbrg6j8mp2fy";
const SUBMIT: &str = "/v1beta/models/veo-3.1-fast-generate-preview:predictLongRunning";

fn done(response: &str) -> String {
    format!(
        r#"{{"name":"{OP}","done":true,"response":{{"@type":"type.googleapis.com/google.ai.generativelanguage.v1beta.PredictLongRunningResponse","generateVideoResponse":{response}}}}}"#
    )
}

fn google_error(message: &str) -> String {
    serde_json::json!({"error": {"code": 400, "message": message, "status": "INVALID_ARGUMENT"}})
        .to_string()
}

#[tokio::test]
async fn passes_the_conformance_suite() {
    use crate::harness::{PolicyAt, Spec, assert_conformance, step};
    use framebreak_client::conformance::Stage;
    use mockito::Matcher;
    let status = format!("/v1beta/{OP}");
    let spec = Spec {
        provider: "veo",
        auth: ("x-goog-api-key", KEY.to_owned()),
        headers: vec![],
        submit: step("POST", SUBMIT, 200, format!(r#"{{"name":"{OP}"}}"#)),
        // The whole body: the Gemini API takes no seed, so none goes out.
        submit_body: Matcher::Json(serde_json::json!({
            "instances": [{"prompt": "a glass of water tips over and the water flows upward"}],
            "parameters": {"aspectRatio": "16:9", "durationSeconds": 8, "resolution": "720p"}
        })),
        queued: vec![step(
            "GET",
            status.clone(),
            200,
            format!(r#"{{"name":"{OP}"}}"#),
        )],
        running: vec![step(
            "GET",
            status.clone(),
            200,
            format!(r#"{{"name":"{OP}","done":false,"metadata":{{}}}}"#),
        )],
        succeeded: vec![step(
            "GET",
            status.clone(),
            200,
            done(
                r#"{"generatedSamples":[{"video":{"uri":"{base}/v1beta/files/3z1b6ud7xyz:download?alt=media"}}]}"#,
            ),
        )],
        failed: vec![step(
            "GET",
            status.clone(),
            200,
            format!(
                r#"{{"name":"{OP}","done":true,"error":{{"code":13,"message":"Internal error encountered."}}}}"#
            ),
        )],
        policy: PolicyAt::Status(vec![step(
            "GET",
            status,
            200,
            done(
                r#"{"raiMediaFilteredCount":1,"raiMediaFilteredReasons":["Your prompt couldn't be submitted due to a safety filter."]}"#,
            ),
        )]),
        download_path: "/v1beta/files/3z1b6ud7xyz:download".into(),
        download_auth: true,
        error_body: google_error,
        // An operation is either done or not: the protocol cannot say "queued".
        progression: vec![Stage::Running, Stage::Succeeded],
        make: |base, http| Box::new(backend(base).with_http(http)),
    };
    assert_conformance(spec).await;
}

#[tokio::test]
async fn quota_errors_carry_google_retry_info() {
    let mut server = mockito::Server::new_async().await;
    server
        .mock("POST", SUBMIT)
        .with_status(429)
        .with_body(r#"{"error":{"code":429,"message":"Resource has been exhausted (e.g. check quota).","status":"RESOURCE_EXHAUSTED","details":[{"@type":"type.googleapis.com/google.rpc.RetryInfo","retryDelay":"31s"}]}}"#)
        .create_async()
        .await;
    let err = backend(&server.url())
        .submit(&framebreak_client::VideoRequest::new("x"))
        .await
        .unwrap_err();
    assert_eq!(err.category(), FailureCategory::RateLimited);
    assert_eq!(err.retry_after(), Some(Duration::from_secs(31)));
}

#[tokio::test]
async fn a_sample_url_on_another_host_does_not_get_the_key() {
    let mut cdn = mockito::Server::new_async().await;
    let fetched = cdn
        .mock("GET", "/v.mp4")
        .match_header("x-goog-api-key", mockito::Matcher::Missing)
        .with_body("video")
        .create_async()
        .await;
    let mut api = mockito::Server::new_async().await;
    let sample = format!(
        r#"{{"generatedSamples":[{{"video":{{"uri":"{}/v.mp4"}}}}]}}"#,
        cdn.url()
    );
    api.mock("GET", format!("/v1beta/{OP}").as_str())
        .with_body(done(&sample))
        .create_async()
        .await;
    let b = backend(&api.url());
    let JobState::Succeeded { assets } = b.status(&RemoteJob::new("veo", OP)).await.unwrap().state
    else {
        panic!()
    };
    let mut sink = Vec::new();
    assert_eq!(b.download(&assets[0], &mut sink, &|_| {}).await.unwrap(), 5);
    fetched.assert_async().await;
}

#[tokio::test]
async fn invalid_argument_operations_are_bad_requests() {
    let mut server = mockito::Server::new_async().await;
    server
        .mock("GET", format!("/v1beta/{OP}").as_str())
        .with_body(format!(r#"{{"name":"{OP}","done":true,"error":{{"code":3,"message":"durationSeconds must be between 4 and 8"}}}}"#))
        .create_async()
        .await;
    let JobState::Failed { error } = backend(&server.url())
        .status(&RemoteJob::new("veo", OP))
        .await
        .unwrap()
        .state
    else {
        panic!()
    };
    assert_eq!(error.category(), FailureCategory::BadRequest);
    assert!(error.to_string().contains("durationSeconds"), "{error}");
}

// --- Conforming to what the model accepts -----------------------------------

/// The request framebreak's campaign sends unless told otherwise.
fn campaign() -> VideoRequest {
    VideoRequest::new("prompt")
        .duration_secs(2)
        .size(320, 240)
        .seed(7)
}

fn changes(conformed: &Conformed) -> Vec<String> {
    conformed
        .adjustments
        .iter()
        .map(ToString::to_string)
        .collect()
}

/// `predictLongRunning` for veo-3.1-fast-generate-preview as the Gemini
/// API's Veo page documents it: `durationSeconds` 4, 6 or 8 (a number, as
/// google-genai sends it), `aspectRatio` "16:9" or "9:16", `resolution`
/// "720p", or "1080p" and "4k" at 8 s only; `negativePrompt`,
/// `personGeneration`, `sampleCount`; never a `seed` (google-genai refuses
/// it outside Vertex).
fn check_predict(body: &Value) -> Result<(), String> {
    let prompt = body.pointer("/instances/0/prompt").and_then(Value::as_str);
    if prompt.is_none_or(str::is_empty) {
        return Err("instances[0].prompt is required.".into());
    }
    let empty = serde_json::Map::new();
    let parameters = match body.get("parameters") {
        None => &empty,
        Some(Value::Object(p)) => p,
        Some(_) => return Err("Invalid value at 'parameters'.".into()),
    };
    let known = [
        "aspectRatio",
        "durationSeconds",
        "resolution",
        "negativePrompt",
        "personGeneration",
        "sampleCount",
    ];
    for key in parameters.keys() {
        if key == "seed" {
            return Err("`seed` isn't supported by this model.".into());
        }
        if !known.contains(&key.as_str()) {
            return Err(format!(
                "Invalid JSON payload received. Unknown name \"{key}\" at 'parameters': Cannot find field."
            ));
        }
    }
    let secs = match parameters.get("durationSeconds") {
        None => 8,
        Some(d) => match d.as_u64() {
            Some(s @ (4 | 6 | 8)) => s,
            _ => {
                return Err(format!(
                    "durationSeconds {d} is not supported: use 4, 6 or 8."
                ));
            }
        },
    };
    match parameters.get("aspectRatio").map(|a| a.as_str()) {
        None | Some(Some("16:9" | "9:16")) => {}
        Some(a) => {
            return Err(format!(
                "aspectRatio {a:?} is not supported: use 16:9 or 9:16."
            ));
        }
    }
    match parameters.get("resolution").map(|r| r.as_str()) {
        None | Some(Some("720p")) => {}
        Some(Some("1080p" | "4k")) if secs == 8 => {}
        Some(Some(r @ ("1080p" | "4k"))) => {
            return Err(format!("{r} is only supported with an 8 second duration."));
        }
        Some(r) => return Err(format!("resolution {r:?} is not supported.")),
    }
    Ok(())
}

fn verdict(request: &mockito::Request) -> Result<(), String> {
    check_predict(&serde_json::from_slice(request.body().unwrap()).unwrap_or(Value::Null))
}

/// The model's `predictLongRunning`, answering what it refuses with
/// Google's 400 `INVALID_ARGUMENT`; the accepting mock must be hit
/// `accepted` times.
async fn validating_server(server: &mut ServerGuard, accepted: usize) -> mockito::Mock {
    server
        .mock("POST", SUBMIT)
        .match_header("x-goog-api-key", KEY)
        .match_request(|r| verdict(r).is_err())
        .with_status(400)
        .with_header("content-type", "application/json")
        .with_body_from_request(|r| google_error(&verdict(r).unwrap_err()).into_bytes())
        .create_async()
        .await;
    server
        .mock("POST", SUBMIT)
        .match_header("x-goog-api-key", KEY)
        .match_request(|r| verdict(r).is_ok())
        .with_body(format!(r#"{{"name":"{OP}"}}"#))
        .expect(accepted)
        .create_async()
        .await
}

#[tokio::test]
async fn default_and_campaign_requests_are_conformed_and_accepted() {
    let mut server = mockito::Server::new_async().await;
    let accepted = validating_server(&mut server, 2).await;
    let veo = backend(&server.url());
    assert_eq!(VeoBackend::DEFAULT_MODEL, "veo-3.1-fast-generate-preview");

    let plain = VideoRequest::new("prompt");
    assert!(veo.conform(&plain).unwrap().adjustments.is_empty());
    veo.submit(&plain).await.unwrap();

    let conformed = veo.conform(&campaign()).unwrap();
    assert_eq!(
        changes(&conformed),
        [
            "durationSeconds: 2 -> 4",
            "aspectRatio: 4:3 -> 16:9",
            "resolution: 240p -> 720p",
            "seed: 7 -> (none)",
        ]
    );
    veo.submit(&campaign()).await.unwrap();
    accepted.assert_async().await;
}

#[tokio::test]
async fn full_hd_below_8_seconds_steps_down_to_720p() {
    let mut server = mockito::Server::new_async().await;
    let accepted = validating_server(&mut server, 2).await;
    let veo = backend(&server.url());
    let short = VideoRequest::new("prompt")
        .duration_secs(4)
        .size(1920, 1080);
    assert_eq!(
        changes(&veo.conform(&short).unwrap()),
        ["resolution: 1080p -> 720p"]
    );
    veo.submit(&short).await.unwrap();
    let long = VideoRequest::new("prompt")
        .duration_secs(8)
        .size(1920, 1080);
    assert!(veo.conform(&long).unwrap().adjustments.is_empty());
    veo.submit(&long).await.unwrap();
    accepted.assert_async().await;
}

#[tokio::test]
async fn a_seed_that_bypasses_conform_meets_googles_invalid_argument() {
    let mut server = mockito::Server::new_async().await;
    validating_server(&mut server, 0).await;
    let err = backend(&server.url())
        .submit(&VideoRequest::new("prompt").extra("seed", 7.into()))
        .await
        .unwrap_err();
    assert_eq!(err.category(), FailureCategory::BadRequest);
    assert!(err.to_string().contains("`seed` isn't supported"), "{err}");
}

#[tokio::test]
async fn a_wrong_key_is_auth_although_google_answers_400() {
    let mut server = mockito::Server::new_async().await;
    server
        .mock("POST", mockito::Matcher::Any)
        .with_status(400)
        .with_body(
            serde_json::json!({"error": {"code": 400, "message": "API key not valid. Please pass a valid API key.", "status": "INVALID_ARGUMENT",
                "details": [{"@type": "type.googleapis.com/google.rpc.ErrorInfo", "reason": "API_KEY_INVALID", "domain": "googleapis.com"}]}})
            .to_string(),
        )
        .create_async()
        .await;
    let err = backend(&server.url())
        .submit(&VideoRequest::new("a ball"))
        .await
        .unwrap_err();
    assert_eq!(err.category(), FailureCategory::Auth, "{err}");
    assert!(!err.is_retryable());
}
