//! Gemini API Veo.

use std::time::Duration;

use framebreak_client::{
    FailureCategory, HttpConfig, JobState, RemoteJob, Secret, VeoBackend, VideoBackend,
};

use crate::util::KEY;

fn backend(base: &str) -> VeoBackend {
    VeoBackend::new(Secret::new(KEY))
        .unwrap()
        .with_base_url(base)
        .unwrap()
        .with_http(HttpConfig::new().unwrap().timeout(Duration::from_secs(10)))
}

const OP: &str = "models/veo-3.0-generate-001/operations/pbrg6j8mp2fy";

fn done(response: &str) -> String {
    format!(
        r#"{{"name":"{OP}","done":true,"response":{{"@type":"type.googleapis.com/google.ai.generativelanguage.v1beta.PredictLongRunningResponse","generateVideoResponse":{response}}}}}"#
    )
}

#[cfg(feature = "conformance")]
fn google_error(message: &str) -> String {
    serde_json::json!({"error": {"code": 400, "message": message, "status": "INVALID_ARGUMENT"}})
        .to_string()
}

#[cfg(feature = "conformance")]
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
        submit: step(
            "POST",
            "/v1beta/models/veo-3.0-generate-001:predictLongRunning",
            200,
            format!(r#"{{"name":"{OP}"}}"#),
        ),
        submit_body: Matcher::PartialJson(serde_json::json!({
            "instances": [{"prompt": "a glass of water tips over and the water flows upward"}],
            "parameters": {"aspectRatio": "16:9", "durationSeconds": 8, "resolution": "720p", "seed": 7}
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
        .mock("POST", "/v1beta/models/veo-3.0-generate-001:predictLongRunning")
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
