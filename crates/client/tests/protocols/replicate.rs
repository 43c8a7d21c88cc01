//! Replicate's predictions API.

use std::time::Duration;

use framebreak_client::{
    FailureCategory, HttpConfig, JobState, RemoteJob, ReplicateBackend, Secret, VideoBackend,
    VideoRequest,
};
use mockito::Matcher;

use crate::util::KEY;

fn backend(base: &str) -> ReplicateBackend {
    ReplicateBackend::new(Secret::new(KEY))
        .unwrap()
        .with_base_url(base)
        .unwrap()
        .with_http(HttpConfig::new().unwrap().timeout(Duration::from_secs(10)))
}

fn prediction(status: &str, output: &str, error: &str) -> String {
    format!(
        r#"{{"id":"ufawqhfynnddngldkgtslldrkq","model":"google/veo-3","version":"dp-4d1b2a","input":{{"prompt":"x"}},"logs":"","output":{output},"error":{error},"status":"{status}","created_at":"2025-01-01T00:00:00.000Z","urls":{{"get":"https://api.replicate.com/v1/predictions/ufawqhfynnddngldkgtslldrkq","cancel":"https://api.replicate.com/v1/predictions/ufawqhfynnddngldkgtslldrkq/cancel"}}}}"#
    )
}

#[cfg(feature = "conformance")]
fn problem(detail: &str) -> String {
    serde_json::json!({"title": "Request failed", "detail": detail, "status": 400}).to_string()
}

#[cfg(feature = "conformance")]
#[tokio::test]
async fn passes_the_conformance_suite() {
    use crate::harness::{PolicyAt, Spec, assert_conformance, bearer, step};
    use framebreak_client::conformance::Stage;
    let status = "/v1/predictions/ufawqhfynnddngldkgtslldrkq";
    let spec = Spec {
        provider: "replicate",
        auth: ("authorization", bearer()),
        headers: vec![],
        submit: step(
            "POST",
            "/v1/models/google/veo-3/predictions",
            201,
            prediction("starting", "null", "null"),
        ),
        submit_body: Matcher::PartialJson(
            serde_json::json!({"input": {"duration": 8, "aspect_ratio": "16:9", "seed": 7}}),
        ),
        queued: vec![step(
            "GET",
            status,
            200,
            prediction("starting", "null", "null"),
        )],
        running: vec![step(
            "GET",
            status,
            200,
            prediction("processing", "null", "null"),
        )],
        succeeded: vec![step(
            "GET",
            status,
            200,
            prediction("succeeded", r#""{base}/delivery/out.mp4""#, "null"),
        )],
        failed: vec![step(
            "GET",
            status,
            200,
            prediction("failed", "null", r#""CUDA out of memory""#),
        )],
        policy: PolicyAt::Status(vec![step(
            "GET",
            status,
            200,
            prediction(
                "failed",
                "null",
                r#""The input or output was flagged as sensitive. Please try again with different inputs. (E005)""#,
            ),
        )]),
        download_path: "/delivery/out.mp4".into(),
        download_auth: false,
        error_body: problem,
        progression: vec![Stage::Queued, Stage::Running, Stage::Succeeded],
        make: |base, http| Box::new(backend(base).with_http(http)),
    };
    assert_conformance(spec).await;
}

#[tokio::test]
async fn versions_go_to_the_predictions_endpoint_with_prefer_wait() {
    let mut server = mockito::Server::new_async().await;
    let version = "5c7d5dc6dd8bf75c1acaa8565735e7986bc5b66206b55cca93cb72c9bf15ccaa";
    let submit = server
        .mock("POST", "/v1/predictions")
        .match_header("prefer", "wait=60")
        .match_body(Matcher::PartialJson(
            serde_json::json!({"version": version, "input": {"prompt": "a cat", "fps": 24}}),
        ))
        .with_status(201)
        .with_body(prediction(
            "succeeded",
            r#"["https://replicate.delivery/a.mp4","https://replicate.delivery/b.mp4"]"#,
            "null",
        ))
        .create_async()
        .await;
    let request = VideoRequest::new("a cat")
        .model(format!("owner/model:{version}"))
        .extra("fps", 24.into());
    let job = backend(&server.url())
        .with_prefer_wait(Duration::from_secs(600))
        .submit(&request)
        .await
        .unwrap();
    submit.assert_async().await;
    assert_eq!(job.id, "ufawqhfynnddngldkgtslldrkq");
}

#[tokio::test]
async fn output_lists_become_assets_and_cancel_is_sent() {
    let mut server = mockito::Server::new_async().await;
    server
        .mock("GET", "/v1/predictions/p1")
        .with_status(200)
        .with_body(prediction(
            "succeeded",
            r#"["https://replicate.delivery/a.mp4","https://replicate.delivery/b.mp4"]"#,
            "null",
        ))
        .create_async()
        .await;
    let cancel = server
        .mock("POST", "/v1/predictions/p1/cancel")
        .with_status(200)
        .with_body(prediction("canceled", "null", "null"))
        .create_async()
        .await;
    let b = backend(&server.url());
    let job = RemoteJob::new("replicate", "p1");
    let JobState::Succeeded { assets } = b.status(&job).await.unwrap().state else {
        panic!("not succeeded")
    };
    assert_eq!(assets.len(), 2);
    assert_eq!(assets[1].url, "https://replicate.delivery/b.mp4");
    b.cancel(&job).await.unwrap();
    cancel.assert_async().await;
}

#[tokio::test]
async fn canceled_and_aborted_predictions_are_cancelled() {
    let mut server = mockito::Server::new_async().await;
    for (id, status) in [("c1", "canceled"), ("a1", "aborted")] {
        server
            .mock("GET", format!("/v1/predictions/{id}").as_str())
            .with_body(prediction(status, "null", "null"))
            .create_async()
            .await;
        let state = backend(&server.url())
            .status(&RemoteJob::new("replicate", id))
            .await
            .unwrap()
            .state;
        let JobState::Failed { error } = state else {
            panic!("{state:?}")
        };
        assert_eq!(error.category(), FailureCategory::Cancelled);
    }
}

#[tokio::test]
async fn rfc7807_errors_become_messages() {
    let mut server = mockito::Server::new_async().await;
    server
        .mock("POST", "/v1/models/google/veo-3/predictions")
        .with_status(422)
        .with_header("content-type", "application/problem+json")
        .with_body(r#"{"title":"Input validation failed","detail":"- input.duration: must be one of 4, 6, 8","status":422}"#)
        .create_async()
        .await;
    let err = backend(&server.url())
        .submit(&VideoRequest::new("x").duration_secs(5))
        .await
        .unwrap_err();
    assert_eq!(err.category(), FailureCategory::BadRequest);
    assert!(
        err.to_string()
            .contains("Input validation failed: - input.duration: must be one of 4, 6, 8"),
        "{err}"
    );
}

#[tokio::test]
async fn a_model_without_an_owner_is_refused_before_sending() {
    let err = backend("http://127.0.0.1:9")
        .submit(&VideoRequest::new("x").model("veo"))
        .await
        .unwrap_err();
    assert_eq!(err.category(), FailureCategory::BadRequest);
    assert!(err.to_string().contains("`veo`"), "{err}");
}
