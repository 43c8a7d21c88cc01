//! The OpenAI-compatible Videos API.

use std::time::Duration;

use framebreak_client::{
    FailureCategory, HttpConfig, JobState, OpenAiBackend, RemoteJob, Secret, SubmitEncoding,
    VideoBackend, VideoRequest,
};
use mockito::Matcher;

use crate::util::KEY;

fn backend(base: &str) -> OpenAiBackend {
    OpenAiBackend::new(Secret::new(KEY))
        .unwrap()
        .with_base_url(base)
        .unwrap()
        .with_http(HttpConfig::new().unwrap().timeout(Duration::from_secs(10)))
}

#[cfg(feature = "conformance")]
fn error_body(message: &str) -> String {
    serde_json::json!({"error": {"message": message, "type": "invalid_request_error", "param": null, "code": null}}).to_string()
}

fn video(status: &str, extra: &str) -> String {
    format!(
        r#"{{"id":"video_123","object":"video","model":"sora-2","status":"{status}","progress":{},"created_at":1712697600,"size":"1280x720","seconds":"8"{extra}}}"#,
        if status == "in_progress" { 40 } else { 0 }
    )
}

#[cfg(feature = "conformance")]
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
        submit_body: Matcher::PartialJson(
            serde_json::json!({"model": "sora-2", "seconds": "8", "size": "1280x720"}),
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
