//! fal.ai's queue API.

use std::time::Duration;

use framebreak_client::{
    Conformed, FailureCategory, FalBackend, HttpConfig, JobState, Secret, VideoBackend,
    VideoRequest,
};
use mockito::{Matcher, ServerGuard};
use serde_json::{Value, json};

use crate::util::KEY;

fn backend(base: &str) -> FalBackend {
    FalBackend::new(Secret::new(KEY))
        .unwrap()
        .with_base_url(base)
        .unwrap()
        .with_http(HttpConfig::new().unwrap().timeout(Duration::from_secs(10)))
}

/// The submit answer: note that the URLs drop the model's `/fast` subpath.
const SUBMITTED: &str = r#"{"request_id":"764cabcf-b745-4b3e-ae38-1200304cf45b","response_url":"{base}/fal-ai/veo3.1/requests/764cabcf-b745-4b3e-ae38-1200304cf45b","status_url":"{base}/fal-ai/veo3.1/requests/764cabcf-b745-4b3e-ae38-1200304cf45b/status","cancel_url":"{base}/fal-ai/veo3.1/requests/764cabcf-b745-4b3e-ae38-1200304cf45b/cancel","queue_position":0}"#;
const STATUS: &str = "/fal-ai/veo3.1/requests/764cabcf-b745-4b3e-ae38-1200304cf45b/status";
const RESULT: &str = "/fal-ai/veo3.1/requests/764cabcf-b745-4b3e-ae38-1200304cf45b";

fn fal_error(message: &str) -> String {
    serde_json::json!({"detail": message}).to_string()
}

#[tokio::test]
async fn passes_the_conformance_suite() {
    use crate::harness::{PolicyAt, Spec, assert_conformance, step};
    use framebreak_client::conformance::Stage;
    let spec = Spec {
        provider: "fal",
        auth: ("authorization", format!("Key {KEY}")),
        headers: vec![],
        submit: step("POST", "/fal-ai/veo3.1/fast", 200, SUBMITTED),
        submit_body: Matcher::PartialJson(
            serde_json::json!({"duration": "8s", "aspect_ratio": "16:9", "seed": 7}),
        ),
        queued: vec![step(
            "GET",
            STATUS,
            202,
            r#"{"status":"IN_QUEUE","queue_position":3,"response_url":"{base}/x"}"#,
        )],
        running: vec![step(
            "GET",
            STATUS,
            202,
            r#"{"status":"IN_PROGRESS","logs":[]}"#,
        )],
        succeeded: vec![
            step(
                "GET",
                STATUS,
                200,
                r#"{"status":"COMPLETED","logs":[],"metrics":{"inference_time":80.1}}"#,
            ),
            step(
                "GET",
                RESULT,
                200,
                r#"{"video":{"url":"{base}/files/out.mp4","content_type":"video/mp4","file_name":"out.mp4","file_size":300000}}"#,
            ),
        ],
        failed: vec![step(
            "GET",
            STATUS,
            200,
            r#"{"status":"COMPLETED","error":"Internal error while running the model","error_type":"internal_error"}"#,
        )],
        policy: PolicyAt::Status(vec![step(
            "GET",
            STATUS,
            200,
            r#"{"status":"COMPLETED","error":"The content could not be processed because it contained material flagged by a content checker.","error_type":"content_policy_violation"}"#,
        )]),
        download_path: "/files/out.mp4".into(),
        download_auth: false,
        error_body: fal_error,
        progression: vec![Stage::Queued, Stage::Running, Stage::Succeeded],
        make: |base, http| Box::new(backend(base).with_http(http)),
    };
    assert_conformance(spec).await;
}

#[tokio::test]
async fn queue_position_and_stored_urls_survive_a_restart() {
    let mut server = mockito::Server::new_async().await;
    server
        .mock("POST", "/fal-ai/veo3.1/fast")
        .match_header("authorization", format!("Key {KEY}").as_str())
        .with_body(SUBMITTED.replace("{base}", &server.url()))
        .create_async()
        .await;
    server
        .mock("GET", STATUS)
        .with_status(202)
        .with_body(r#"{"status":"IN_QUEUE","queue_position":3}"#)
        .create_async()
        .await;
    let job = backend(&server.url())
        .submit(&VideoRequest::new("x"))
        .await
        .unwrap();
    let stored = serde_json::to_string(&job).unwrap();
    // A fresh backend, as after a restart, finds the job from the stored handle alone.
    let job = serde_json::from_str(&stored).unwrap();
    let status = backend(&server.url()).status(&job).await.unwrap();
    assert_eq!(status.state, JobState::Queued { position: Some(3) });
}

#[tokio::test]
async fn validation_errors_on_the_result_are_bad_requests() {
    let mut server = mockito::Server::new_async().await;
    validating_server(&mut server, 0).await;
    // An extra goes out as given, past conform: fal's own 422 answers.
    let err = backend(&server.url())
        .submit(&VideoRequest::new("x").extra("duration", "5s".into()))
        .await
        .unwrap_err();
    assert_eq!(err.category(), FailureCategory::BadRequest);
    assert!(
        err.to_string()
            .contains("Input should be '4s', '6s' or '8s'"),
        "{err}"
    );
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

/// A pydantic 422, as fal's queue answers an input its model refuses.
fn literal_error(field: &str, msg: String, kind: &str, input: &Value) -> Value {
    json!({"detail": [{"loc": ["body", field], "msg": msg, "type": kind, "input": input}]})
}

/// fal-ai/veo3.1/fast's input schema (fal's model page): `duration` the
/// string "4s", "6s" or "8s", `aspect_ratio` "16:9" or "9:16", `resolution`
/// "720p", "1080p" or "4k", an integer `seed`. Unknown fields are refused
/// here, which may be stricter than fal.
fn check_veo31(body: &Value) -> Result<(), Value> {
    let Some(input) = body.as_object() else {
        return Err(literal_error(
            "",
            "Input should be an object".into(),
            "model_type",
            body,
        ));
    };
    let known = [
        "prompt",
        "duration",
        "aspect_ratio",
        "resolution",
        "negative_prompt",
        "generate_audio",
        "seed",
        "auto_fix",
        "safety_tolerance",
    ];
    for (key, value) in input {
        if !known.contains(&key.as_str()) {
            return Err(literal_error(
                key,
                "Extra inputs are not permitted".into(),
                "extra_forbidden",
                value,
            ));
        }
    }
    if !input.get("prompt").is_some_and(Value::is_string) {
        return Err(literal_error(
            "prompt",
            "Field required".into(),
            "missing",
            &Value::Null,
        ));
    }
    for (field, valid) in [
        ("duration", &["4s", "6s", "8s"][..]),
        ("aspect_ratio", &["16:9", "9:16"][..]),
        ("resolution", &["720p", "1080p", "4k"][..]),
    ] {
        if let Some(value) = input.get(field)
            && !value.as_str().is_some_and(|v| valid.contains(&v))
        {
            let quoted: Vec<String> = valid.iter().map(|v| format!("'{v}'")).collect();
            let (last, rest) = quoted.split_last().unwrap();
            let msg = format!("Input should be {} or {last}", rest.join(", "));
            return Err(literal_error(field, msg, "literal_error", value));
        }
    }
    if let Some(seed) = input.get("seed")
        && !seed.is_i64()
        && !seed.is_u64()
    {
        return Err(literal_error(
            "seed",
            "Input should be a valid integer".into(),
            "int_type",
            seed,
        ));
    }
    Ok(())
}

fn verdict(request: &mockito::Request) -> Result<(), Value> {
    check_veo31(&serde_json::from_slice(request.body().unwrap()).unwrap_or(Value::Null))
}

/// `POST /fal-ai/veo3.1/fast`, answering what the model refuses with fal's
/// 422; the accepting mock must be hit `accepted` times.
async fn validating_server(server: &mut ServerGuard, accepted: usize) -> mockito::Mock {
    server
        .mock("POST", "/fal-ai/veo3.1/fast")
        .match_request(|r| verdict(r).is_err())
        .with_status(422)
        .with_header("content-type", "application/json")
        .with_body_from_request(|r| verdict(r).unwrap_err().to_string().into_bytes())
        .create_async()
        .await;
    let submitted = SUBMITTED.replace("{base}", &server.url());
    server
        .mock("POST", "/fal-ai/veo3.1/fast")
        .match_request(|r| verdict(r).is_ok())
        .with_body(submitted)
        .expect(accepted)
        .create_async()
        .await
}

#[tokio::test]
async fn default_and_campaign_requests_are_conformed_and_accepted() {
    let mut server = mockito::Server::new_async().await;
    let accepted = validating_server(&mut server, 2).await;
    let fal = backend(&server.url());
    assert_eq!(FalBackend::DEFAULT_MODEL, "fal-ai/veo3.1/fast");

    let plain = VideoRequest::new("prompt");
    assert!(fal.conform(&plain).unwrap().adjustments.is_empty());
    fal.submit(&plain).await.unwrap();

    let conformed = fal.conform(&campaign()).unwrap();
    assert_eq!(
        changes(&conformed),
        ["duration: 2s -> 4s", "aspect_ratio: 4:3 -> 16:9"]
    );
    assert_eq!(conformed.request.seed, Some(7), "Veo on fal takes a seed");
    fal.submit(&campaign()).await.unwrap();
    accepted.assert_async().await;
}

#[tokio::test]
async fn a_portrait_request_stays_portrait() {
    let fal = backend("http://127.0.0.1:9");
    let conformed = fal
        .conform(&VideoRequest::new("prompt").duration_secs(7).size(480, 640))
        .unwrap();
    assert_eq!(
        changes(&conformed),
        ["duration: 7s -> 6s", "aspect_ratio: 3:4 -> 9:16"]
    );
}

#[tokio::test]
async fn a_duration_as_a_number_meets_fals_own_422() {
    let mut server = mockito::Server::new_async().await;
    validating_server(&mut server, 0).await;
    let err = backend(&server.url())
        .submit(&VideoRequest::new("prompt").extra("duration", 8.into()))
        .await
        .unwrap_err();
    assert_eq!(err.category(), FailureCategory::BadRequest);
    assert!(
        err.to_string()
            .contains("Input should be '4s', '6s' or '8s'"),
        "{err}"
    );
}
