//! Luma Dream Machine.

use std::time::Duration;

use framebreak_client::{
    FailureCategory, HttpConfig, LumaBackend, Secret, VideoBackend, VideoRequest,
};

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

#[cfg(feature = "conformance")]
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
        submit_body: Matcher::PartialJson(
            serde_json::json!({"model": "ray-2", "duration": "8s", "aspect_ratio": "16:9", "resolution": "720p"}),
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
