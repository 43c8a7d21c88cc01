//! The OpenAI-compatible Videos API.

use std::time::Duration;

use framebreak_client::{
    Conformed, FailureCategory, HttpConfig, JobState, ModelLimits, OpenAiBackend, RemoteJob,
    Secret, SubmitEncoding, VideoBackend, VideoRequest,
};
use mockito::{Matcher, ServerGuard};
use serde_json::{Value, json};

use crate::util::KEY;

fn backend(base: &str) -> OpenAiBackend {
    OpenAiBackend::new(Secret::new(KEY))
        .unwrap()
        .with_base_url(base)
        .unwrap()
        .with_http(HttpConfig::new().unwrap().timeout(Duration::from_secs(10)))
}

fn error_body(message: &str) -> String {
    serde_json::json!({"error": {"message": message, "type": "invalid_request_error", "param": null, "code": null}}).to_string()
}

fn video(status: &str, extra: &str) -> String {
    format!(
        r#"{{"id":"video_123","object":"video","model":"sora-2","status":"{status}","progress":{},"created_at":1712697600,"size":"1280x720","seconds":"8"{extra}}}"#,
        if status == "in_progress" { 40 } else { 0 }
    )
}

#[tokio::test]
async fn passes_the_conformance_suite() {
    use crate::harness::{PolicyAt, Spec, assert_conformance, bearer, step};
    use framebreak_client::conformance::Stage;
    let status = "/v1/videos/video_123";
    let spec = Spec {
        provider: "openai",
        auth: ("authorization", bearer()),
        headers: vec![],
        submit: step("POST", "/v1/videos", 200, video("queued", "")),
        // The simulator's model: no table, so the request goes as asked.
        submit_body: Matcher::PartialJson(
            serde_json::json!({"model": "framebreak-sim", "seconds": "8", "size": "1280x720"}),
        ),
        queued: vec![step("GET", status, 200, video("queued", ""))],
        running: vec![step("GET", status, 200, video("in_progress", ""))],
        succeeded: vec![step("GET", status, 200, video("completed", ""))],
        failed: vec![step(
            "GET",
            status,
            200,
            video(
                "failed",
                r#","error":{"code":"internal_error","message":"generation crashed"}"#,
            ),
        )],
        policy: PolicyAt::Submit(step(
            "POST",
            "/v1/videos",
            400,
            r#"{"error":{"message":"Your request was blocked by our moderation system.","type":"invalid_request_error","code":"moderation_blocked"}}"#,
        )),
        download_path: "/v1/videos/video_123/content".into(),
        download_auth: true,
        error_body,
        progression: vec![Stage::Queued, Stage::Running, Stage::Succeeded],
        make: |base, http| Box::new(backend(base).with_http(http)),
    };
    assert_conformance(spec).await;
}

#[tokio::test]
async fn submits_as_multipart_with_seconds_as_a_string() {
    let mut server = mockito::Server::new_async().await;
    let submit = server
        .mock("POST", "/v1/videos")
        .match_header(
            "content-type",
            Matcher::Regex("^multipart/form-data; boundary=".into()),
        )
        .match_body(Matcher::AllOf(vec![
            Matcher::Regex(r#"name="seconds"\r\n\r\n4\r\n"#.into()),
            Matcher::Regex(r#"name="size"\r\n\r\n720x1280\r\n"#.into()),
            Matcher::Regex(r#"name="model"\r\n\r\nsora-2-pro\r\n"#.into()),
        ]))
        .with_status(200)
        .with_body(video("queued", ""))
        .create_async()
        .await;
    let backend = backend(&server.url()).with_encoding(SubmitEncoding::Multipart);
    let request = VideoRequest::new("a cat")
        .model("sora-2-pro")
        .duration_secs(4)
        .size(720, 1280);
    let job = backend.submit(&request).await.unwrap();
    assert_eq!(job, RemoteJob::new("openai", "video_123"));
    submit.assert_async().await;
}

#[tokio::test]
async fn status_carries_progress_and_the_poll_hint() {
    let mut server = mockito::Server::new_async().await;
    server
        .mock("GET", "/v1/videos/video_123")
        .with_status(200)
        .with_header("openai-poll-after-ms", "2500")
        .with_body(video("in_progress", ""))
        .create_async()
        .await;
    let status = backend(&server.url())
        .status(&RemoteJob::new("openai", "video_123"))
        .await
        .unwrap();
    assert_eq!(
        status.state,
        JobState::Running {
            progress: Some(0.4)
        }
    );
    assert_eq!(status.poll_after, Some(Duration::from_millis(2500)));
}

#[tokio::test]
async fn retry_headers_and_request_ids_are_kept() {
    let mut server = mockito::Server::new_async().await;
    server
        .mock("POST", "/v1/videos")
        .with_status(500)
        .with_header("retry-after-ms", "1500")
        .with_header("retry-after", "9")
        .with_header("x-should-retry", "false")
        .with_header("x-request-id", "req_abc")
        .with_body(r#"{"error":{"message":"The model is overloaded","type":"server_error","code":"overloaded"}}"#)
        .create_async()
        .await;
    let err = backend(&server.url())
        .submit(&VideoRequest::new("x"))
        .await
        .unwrap_err();
    assert_eq!(err.category(), FailureCategory::Server);
    assert_eq!(err.retry_after(), Some(Duration::from_millis(1500)));
    assert!(!err.is_retryable(), "x-should-retry: false wins");
    assert_eq!(err.request_id(), Some("req_abc"));
    let text = err.to_string();
    assert!(
        text.contains("The model is overloaded") && text.contains("req_abc"),
        "{text}"
    );
}

#[tokio::test]
async fn a_job_from_another_backend_is_refused() {
    let err = backend("http://127.0.0.1:9")
        .status(&RemoteJob::new("luma", "x"))
        .await
        .unwrap_err();
    assert_eq!(err.category(), FailureCategory::BadRequest);
    assert!(err.to_string().contains("`luma`"), "{err}");
}

#[tokio::test]
async fn the_idempotency_key_goes_out_as_a_header_on_the_submit() {
    let mut server = mockito::Server::new_async().await;
    let keyed = server
        .mock("POST", "/v1/videos")
        .match_header("idempotency-key", "run-7:job-42")
        .with_status(200)
        .with_body(video("queued", ""))
        .expect(2)
        .create_async()
        .await;
    let backend = backend(&server.url());
    let request = VideoRequest::new("a cat").idempotency_key("run-7:job-42");
    backend.submit(&request).await.unwrap();
    let multipart = backend.clone().with_encoding(SubmitEncoding::Multipart);
    multipart.submit(&request).await.unwrap();
    keyed.assert_async().await;
}

#[tokio::test]
async fn no_idempotency_key_sends_no_header() {
    let mut server = mockito::Server::new_async().await;
    let plain = server
        .mock("POST", "/v1/videos")
        .match_header("idempotency-key", Matcher::Missing)
        .with_status(200)
        .with_body(video("queued", ""))
        .create_async()
        .await;
    backend(&server.url())
        .submit(&VideoRequest::new("a cat"))
        .await
        .unwrap();
    plain.assert_async().await;
}

#[tokio::test]
async fn an_idempotency_key_that_cannot_be_a_header_is_a_bad_request() {
    let err = backend("http://127.0.0.1:9")
        .submit(&VideoRequest::new("a cat").idempotency_key("line\nbreak"))
        .await
        .unwrap_err();
    assert_eq!(err.category(), FailureCategory::BadRequest, "{err}");
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

/// A gateway model, known only from configuration.
const GATEWAY_MODEL: &str = "gateway/video-x";

fn gateway_limits() -> ModelLimits {
    serde_json::from_value(json!({
        "durations": {"min": 4, "max": 15},
        "sizes": ["1344x768", "768x1344", "768x768"],
        "seed": false,
    }))
    .unwrap()
}

fn openai_error(param: &str, code: &str, message: String) -> Value {
    json!({"error": {"message": message, "type": "invalid_request_error", "param": param, "code": code}})
}

/// `POST /v1/videos` as openai-python's `video_create_params.py` documents
/// it: `seconds` a string of "4", "8" or "12", `size` one of four (sora-2:
/// two), nothing else but `prompt`, `model` and `input_reference`; plus the
/// gateway model above, 4 to 15 seconds.
fn check_videos(body: &Value) -> Result<(), Value> {
    let Some(fields) = body.as_object() else {
        return Err(openai_error(
            "",
            "invalid_json",
            "The body is not a JSON object.".into(),
        ));
    };
    for key in fields.keys() {
        if !["prompt", "model", "seconds", "size", "input_reference"].contains(&key.as_str()) {
            return Err(openai_error(
                key,
                "unknown_parameter",
                format!("Unknown parameter: '{key}'."),
            ));
        }
    }
    if fields
        .get("prompt")
        .and_then(Value::as_str)
        .is_none_or(str::is_empty)
    {
        return Err(openai_error(
            "prompt",
            "missing_required_parameter",
            "Missing required parameter: 'prompt'.".into(),
        ));
    }
    let strings = |v: &[&str]| v.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>();
    let (seconds, sizes) = match fields
        .get("model")
        .and_then(Value::as_str)
        .unwrap_or("sora-2")
    {
        "sora-2" => (
            strings(&["4", "8", "12"]),
            strings(&["720x1280", "1280x720"]),
        ),
        "sora-2-pro" => (
            strings(&["4", "8", "12"]),
            strings(&["720x1280", "1280x720", "1024x1792", "1792x1024"]),
        ),
        GATEWAY_MODEL => (
            (4..=15).map(|s: u32| s.to_string()).collect(),
            strings(&["1344x768", "768x1344", "768x768"]),
        ),
        other => {
            return Err(openai_error(
                "model",
                "invalid_value",
                format!("Invalid value: '{other}'."),
            ));
        }
    };
    for (param, valid) in [("seconds", &seconds), ("size", &sizes)] {
        match fields.get(param) {
            None => {}
            Some(Value::String(v)) if valid.contains(v) => {}
            Some(Value::String(v)) => {
                return Err(openai_error(
                    param,
                    "invalid_value",
                    format!(
                        "Invalid value: '{v}'. Supported values are: '{}'.",
                        valid.join("', '")
                    ),
                ));
            }
            Some(other) => {
                return Err(openai_error(
                    param,
                    "invalid_type",
                    format!(
                        "Invalid type for '{param}': expected a string, but got {other} instead."
                    ),
                ));
            }
        }
    }
    Ok(())
}

fn json_of(request: &mockito::Request) -> Value {
    serde_json::from_slice(request.body().unwrap()).unwrap_or(Value::Null)
}

/// A `/v1/videos` that accepts exactly what OpenAI documents and answers
/// anything else with its 400 `invalid_request_error`. The first mock must
/// be hit `accepted` times.
async fn validating_server(server: &mut ServerGuard, accepted: usize) -> mockito::Mock {
    server
        .mock("POST", "/v1/videos")
        .match_request(|r| check_videos(&json_of(r)).is_err())
        .with_status(400)
        .with_header("content-type", "application/json")
        .with_body_from_request(|r| {
            check_videos(&json_of(r))
                .unwrap_err()
                .to_string()
                .into_bytes()
        })
        .create_async()
        .await;
    server
        .mock("POST", "/v1/videos")
        .match_request(|r| check_videos(&json_of(r)).is_ok())
        .with_status(200)
        .with_body(video("queued", ""))
        .expect(accepted)
        .create_async()
        .await
}

#[tokio::test]
async fn default_and_campaign_requests_are_conformed_to_sora_2_and_accepted() {
    let mut server = mockito::Server::new_async().await;
    let accepted = validating_server(&mut server, 2).await;
    let sora = backend(&server.url()).with_default_model("sora-2");

    let plain = VideoRequest::new("prompt");
    assert!(sora.conform(&plain).unwrap().adjustments.is_empty());
    sora.submit(&plain).await.unwrap();

    let conformed = sora.conform(&campaign()).unwrap();
    assert_eq!(
        changes(&conformed),
        [
            "seconds: 2 -> 4",
            "size: 320x240 -> 1280x720",
            "seed: 7 -> (none)"
        ]
    );
    sora.submit(&campaign()).await.unwrap();
    accepted.assert_async().await;
}

#[tokio::test]
async fn sora_2_pro_keeps_its_larger_sizes() {
    let sora = backend("http://127.0.0.1:9").with_default_model("sora-2-pro");
    let conformed = sora
        .conform(
            &VideoRequest::new("prompt")
                .duration_secs(10)
                .size(1920, 1080),
        )
        .unwrap();
    assert_eq!(
        changes(&conformed),
        ["seconds: 10 -> 8", "size: 1920x1080 -> 1792x1024"]
    );
}

#[tokio::test]
async fn a_gateway_model_takes_the_limits_given_at_run_time() {
    let mut server = mockito::Server::new_async().await;
    let accepted = validating_server(&mut server, 2).await;
    let gateway = backend(&server.url())
        .with_default_model(GATEWAY_MODEL)
        .with_model_limits(GATEWAY_MODEL, gateway_limits());
    gateway.submit(&VideoRequest::new("prompt")).await.unwrap();
    let conformed = gateway.conform(&campaign()).unwrap();
    assert_eq!(
        changes(&conformed),
        [
            "seconds: 2 -> 4",
            "size: 320x240 -> 1344x768",
            "seed: 7 -> (none)"
        ]
    );
    gateway.submit(&campaign()).await.unwrap();
    accepted.assert_async().await;
}

#[tokio::test]
async fn the_simulators_model_passes_through_unchanged() {
    let sim = backend("http://127.0.0.1:9");
    assert_eq!(OpenAiBackend::DEFAULT_MODEL, "framebreak-sim");
    assert_eq!(
        sim.conform(&campaign()).unwrap(),
        Conformed::unchanged(&campaign())
    );
}

#[tokio::test]
async fn values_that_bypass_conform_meet_openais_own_400() {
    let mut server = mockito::Server::new_async().await;
    validating_server(&mut server, 0).await;
    let sora = backend(&server.url()).with_default_model("sora-2");
    // Extras go out as given: a number where a string is due, an unknown field.
    for (extra, value, expected) in [
        ("seconds", json!(8), "Invalid type for 'seconds'"),
        ("seed", json!(7), "Unknown parameter: 'seed'."),
    ] {
        let request = VideoRequest::new("prompt").extra(extra, value);
        let err = sora.submit(&request).await.unwrap_err();
        assert_eq!(err.category(), FailureCategory::BadRequest, "{err}");
        assert!(err.to_string().contains(expected), "{err}");
    }
}

#[tokio::test]
async fn a_duration_of_zero_is_refused_before_anything_is_sent() {
    // Nothing listens on port 9: a request that went out would be a
    // connection error, not this.
    let err = backend("http://127.0.0.1:9")
        .with_default_model("sora-2")
        .submit(&VideoRequest::new("prompt").duration_secs(0))
        .await
        .unwrap_err();
    assert_eq!(err.category(), FailureCategory::BadRequest);
    let text = err.to_string();
    assert!(
        text.contains("`seconds` = `0`") && text.contains("`4`, `8` or `12`"),
        "{text}"
    );
}
