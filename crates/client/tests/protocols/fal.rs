//! fal.ai's queue API.

use std::time::Duration;

use framebreak_client::{
    FailureCategory, FalBackend, HttpConfig, JobState, Secret, VideoBackend, VideoRequest,
};

use crate::util::KEY;

fn backend(base: &str) -> FalBackend {
    FalBackend::new(Secret::new(KEY))
        .unwrap()
        .with_base_url(base)
        .unwrap()
        .with_http(HttpConfig::new().unwrap().timeout(Duration::from_secs(10)))
}

/// The submit answer: note that the URLs drop the model's `/fast` subpath.
const SUBMITTED: &str = r#"{"request_id":"764cabcf-b745-4b3e-ae38-1200304cf45b","response_url":"{base}/fal-ai/veo3/requests/764cabcf-b745-4b3e-ae38-1200304cf45b","status_url":"{base}/fal-ai/veo3/requests/764cabcf-b745-4b3e-ae38-1200304cf45b/status","cancel_url":"{base}/fal-ai/veo3/requests/764cabcf-b745-4b3e-ae38-1200304cf45b/cancel","queue_position":0}"#;
const STATUS: &str = "/fal-ai/veo3/requests/764cabcf-b745-4b3e-ae38-1200304cf45b/status";
#[cfg(feature = "conformance")]
const RESULT: &str = "/fal-ai/veo3/requests/764cabcf-b745-4b3e-ae38-1200304cf45b";

#[cfg(feature = "conformance")]
fn fal_error(message: &str) -> String {
    serde_json::json!({"detail": message}).to_string()
}

#[cfg(feature = "conformance")]
#[tokio::test]
async fn passes_the_conformance_suite() {
    use crate::harness::{PolicyAt, Spec, assert_conformance, step};
    use framebreak_client::conformance::Stage;
    let spec = Spec {
        provider: "fal",
        auth: ("authorization", format!("Key {KEY}")),
        headers: vec![],
        submit: step("POST", "/fal-ai/veo3/fast", 200, SUBMITTED),
        submit_body: mockito::Matcher::PartialJson(
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
        .mock("POST", "/fal-ai/veo3/fast")
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
    server.mock("POST", "/fal-ai/veo3/fast")
        .with_status(422)
        .with_body(r#"{"detail":[{"loc":["body","duration"],"msg":"Input should be '4s', '6s' or '8s'","type":"literal_error"}]}"#)
        .create_async().await;
    let err = backend(&server.url())
        .submit(&VideoRequest::new("x").duration_secs(5))
        .await
        .unwrap_err();
    assert_eq!(err.category(), FailureCategory::BadRequest);
    assert!(
        err.to_string()
            .contains("Input should be '4s', '6s' or '8s'"),
        "{err}"
    );
}
