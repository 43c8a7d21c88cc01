//! Luma Dream Machine.

use std::time::Duration;

use framebreak_client::{
    Conformed, FailureCategory, HttpConfig, LumaBackend, Secret, VideoBackend, VideoRequest,
};
use mockito::ServerGuard;
use serde_json::{Value, json};

use crate::util::KEY;

fn backend(base: &str) -> LumaBackend {
    LumaBackend::new(Secret::new(KEY))
        .unwrap()
        .with_base_url(base)
        .unwrap()
        .with_http(HttpConfig::new().unwrap().timeout(Duration::from_secs(10)))
}

fn generation(state: &str, video: &str, failure: &str) -> String {
    format!(
        r#"{{"id":"d1968551-6113-4b46-b567-09210c2e79b0","generation_type":"video","state":"{state}","failure_reason":{failure},"created_at":"2024-11-25T12:00:00Z","assets":{{"video":{video},"image":null}},"model":"ray-2","request":{{"prompt":"x"}}}}"#
    )
}

#[tokio::test]
async fn passes_the_conformance_suite() {
    use crate::harness::{PolicyAt, Spec, assert_conformance, bearer, step};
    use framebreak_client::conformance::Stage;
    use mockito::Matcher;
    let status = "/dream-machine/v1/generations/d1968551-6113-4b46-b567-09210c2e79b0";
    let spec = Spec {
        provider: "luma",
        auth: ("authorization", bearer()),
        headers: vec![],
        submit: step(
            "POST",
            "/dream-machine/v1/generations/video",
            201,
            generation("queued", "null", "null"),
        ),
        // 8 s is not offered: 9 s is the nearest.
        submit_body: Matcher::PartialJson(
            serde_json::json!({"model": "ray-2", "duration": "9s", "aspect_ratio": "16:9", "resolution": "720p"}),
        ),
        queued: vec![step(
            "GET",
            status,
            200,
            generation("queued", "null", "null"),
        )],
        running: vec![step(
            "GET",
            status,
            200,
            generation("dreaming", "null", "null"),
        )],
        succeeded: vec![step(
            "GET",
            status,
            200,
            generation("completed", r#""{base}/cdn/video.mp4""#, "null"),
        )],
        failed: vec![step(
            "GET",
            status,
            200,
            generation("failed", "null", r#""Internal server error, please retry""#),
        )],
        policy: PolicyAt::Submit(step(
            "POST",
            "/dream-machine/v1/generations/video",
            400,
            r#"{"detail":"Prompt not allowed because advanced moderation failed"}"#,
        )),
        download_path: "/cdn/video.mp4".into(),
        download_auth: false,
        error_body: |m| serde_json::json!({ "detail": m }).to_string(),
        progression: vec![Stage::Queued, Stage::Running, Stage::Succeeded],
        make: |base, http| Box::new(backend(base).with_http(http)),
    };
    assert_conformance(spec).await;
}

#[tokio::test]
async fn extras_reach_the_request_and_cancel_is_not_offered() {
    let mut server = mockito::Server::new_async().await;
    let submit = server
        .mock("POST", "/dream-machine/v1/generations/video")
        .match_body(mockito::Matcher::PartialJson(
            serde_json::json!({"prompt": "x", "loop": true, "model": "ray-flash-2"}),
        ))
        .with_status(201)
        .with_body(generation("queued", "null", "null"))
        .create_async()
        .await;
    let b = backend(&server.url());
    let job = b
        .submit(
            &VideoRequest::new("x")
                .model("ray-flash-2")
                .extra("loop", true.into()),
        )
        .await
        .unwrap();
    submit.assert_async().await;
    assert_eq!(
        b.cancel(&job).await.unwrap_err().category(),
        FailureCategory::BadRequest
    );
}

#[tokio::test]
async fn moderated_generations_fail_as_content_policy() {
    let mut server = mockito::Server::new_async().await;
    server
        .mock("GET", "/dream-machine/v1/generations/g1")
        .with_body(generation(
            "failed",
            "null",
            r#""400: Prompt not allowed because advanced moderation failed""#,
        ))
        .create_async()
        .await;
    let job = framebreak_client::RemoteJob::new("luma", "g1");
    let framebreak_client::JobState::Failed { error } =
        backend(&server.url()).status(&job).await.unwrap().state
    else {
        panic!("not failed")
    };
    assert_eq!(error.category(), FailureCategory::ContentPolicy);
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

/// `POST /dream-machine/v1/generations/video` as lumalabs-python's
/// `generation_create_params.py` types it: `duration` "5s" or "9s",
/// `resolution` "540p", "720p", "1080p" or "4k", seven aspect ratios, no
/// seed, no other field.
fn check_generation(body: &Value) -> Result<(), Value> {
    let detail = |message: String| json!({ "detail": message });
    let Some(fields) = body.as_object() else {
        return Err(detail("Invalid request body".into()));
    };
    let known = [
        "model",
        "prompt",
        "aspect_ratio",
        "duration",
        "resolution",
        "loop",
        "keyframes",
        "concepts",
        "callback_url",
        "generation_type",
    ];
    for key in fields.keys() {
        if !known.contains(&key.as_str()) {
            return Err(detail(format!("Unknown field: {key}")));
        }
    }
    for (field, valid) in [
        ("model", &["ray-1-6", "ray-2", "ray-flash-2"][..]),
        ("duration", &["5s", "9s"][..]),
        ("resolution", &["540p", "720p", "1080p", "4k"][..]),
        (
            "aspect_ratio",
            &["1:1", "16:9", "9:16", "4:3", "3:4", "21:9", "9:21"][..],
        ),
    ] {
        match fields.get(field) {
            None if field == "model" => return Err(detail("model is required".into())),
            None => {}
            Some(v) if v.as_str().is_some_and(|v| valid.contains(&v)) => {}
            Some(v) => {
                return Err(detail(format!(
                    "Invalid {field} {v}: expected one of {valid:?}"
                )));
            }
        }
    }
    Ok(())
}

fn verdict(request: &mockito::Request) -> Result<(), Value> {
    check_generation(&serde_json::from_slice(request.body().unwrap()).unwrap_or(Value::Null))
}

/// The generations endpoint, answering what Ray refuses with Luma's 400;
/// the accepting mock must be hit `accepted` times.
async fn validating_server(server: &mut ServerGuard, accepted: usize) -> mockito::Mock {
    server
        .mock("POST", "/dream-machine/v1/generations/video")
        .match_request(|r| verdict(r).is_err())
        .with_status(400)
        .with_header("content-type", "application/json")
        .with_body_from_request(|r| verdict(r).unwrap_err().to_string().into_bytes())
        .create_async()
        .await;
    server
        .mock("POST", "/dream-machine/v1/generations/video")
        .match_request(|r| verdict(r).is_ok())
        .with_status(201)
        .with_body(generation("queued", "null", "null"))
        .expect(accepted)
        .create_async()
        .await
}

#[tokio::test]
async fn default_and_campaign_requests_are_conformed_and_accepted() {
    let mut server = mockito::Server::new_async().await;
    let accepted = validating_server(&mut server, 2).await;
    let luma = backend(&server.url());
    assert_eq!(LumaBackend::DEFAULT_MODEL, "ray-2");

    let plain = VideoRequest::new("prompt");
    assert!(luma.conform(&plain).unwrap().adjustments.is_empty());
    luma.submit(&plain).await.unwrap();

    let conformed = luma.conform(&campaign()).unwrap();
    assert_eq!(
        changes(&conformed),
        [
            "duration: 2s -> 5s",
            "resolution: 240p -> 540p",
            "seed: 7 -> (none)"
        ]
    );
    assert_eq!(conformed.request.aspect().as_deref(), Some("4:3"));
    luma.submit(&campaign()).await.unwrap();
    accepted.assert_async().await;
}

#[tokio::test]
async fn a_wide_frame_keeps_its_luma_ratio() {
    let luma = backend("http://127.0.0.1:9");
    // 2520x1080 reduces to 7:3, which is Luma's 21:9.
    let conformed = luma
        .conform(
            &VideoRequest::new("prompt")
                .duration_secs(9)
                .size(2520, 1080),
        )
        .unwrap();
    assert_eq!(changes(&conformed), ["aspect_ratio: 7:3 -> 21:9"]);
    assert_eq!(conformed.request.aspect().as_deref(), Some("21:9"));
}

#[tokio::test]
async fn a_resolution_that_bypasses_conform_meets_lumas_own_400() {
    let mut server = mockito::Server::new_async().await;
    validating_server(&mut server, 0).await;
    let err = backend(&server.url())
        .submit(&VideoRequest::new("prompt").extra("resolution", "240p".into()))
        .await
        .unwrap_err();
    assert_eq!(err.category(), FailureCategory::BadRequest);
    assert!(
        err.to_string().contains("Invalid resolution \"240p\""),
        "{err}"
    );
}
