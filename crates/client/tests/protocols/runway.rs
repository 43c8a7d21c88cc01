//! Runway's developer API.

use std::time::Duration;

use framebreak_client::{
    FailureCategory, HttpConfig, JobState, RemoteJob, RunwayBackend, Secret, VideoBackend,
};

use crate::util::KEY;

fn backend(base: &str) -> RunwayBackend {
    RunwayBackend::new(Secret::new(KEY))
        .unwrap()
        .with_base_url(base)
        .unwrap()
        .with_http(HttpConfig::new().unwrap().timeout(Duration::from_secs(10)))
}

fn task(status: &str, extra: &str) -> String {
    format!(
        r#"{{"id":"17f20503-6c24-4c16-946b-35dbbce2af2f","status":"{status}","createdAt":"2024-06-27T19:49:32.334Z"{extra}}}"#
    )
}

#[cfg(feature = "conformance")]
#[tokio::test]
async fn passes_the_conformance_suite() {
    use crate::harness::{PolicyAt, Spec, assert_conformance, bearer, step};
    use framebreak_client::conformance::Stage;
    use mockito::Matcher;
    let status = "/v1/tasks/17f20503-6c24-4c16-946b-35dbbce2af2f";
    let spec = Spec {
        provider: "runway",
        auth: ("authorization", bearer()),
        headers: vec![("x-runway-version", "2024-11-06")],
        submit: step(
            "POST",
            "/v1/text_to_video",
            200,
            r#"{"id":"17f20503-6c24-4c16-946b-35dbbce2af2f"}"#,
        ),
        submit_body: Matcher::PartialJson(
            serde_json::json!({"model": "veo3.1_fast", "ratio": "1280:720", "duration": 8, "seed": 7}),
        ),
        queued: vec![step("GET", status, 200, task("THROTTLED", ""))],
        running: vec![step(
            "GET",
            status,
            200,
            task("RUNNING", r#","progress":0.42"#),
        )],
        succeeded: vec![step(
            "GET",
            status,
            200,
            task("SUCCEEDED", r#","output":["{base}/output/video.mp4"]"#),
        )],
        failed: vec![step(
            "GET",
            status,
            200,
            task(
                "FAILED",
                r#","failure":"An unexpected error occurred.","failureCode":"INTERNAL.BAD_OUTPUT.CODE01""#,
            ),
        )],
        policy: PolicyAt::Status(vec![step(
            "GET",
            status,
            200,
            task(
                "FAILED",
                r#","failure":"Your prompt did not pass our content moderation.","failureCode":"SAFETY.INPUT.TEXT""#,
            ),
        )]),
        download_path: "/output/video.mp4".into(),
        download_auth: false,
        error_body: |m| serde_json::json!({ "error": m }).to_string(),
        progression: vec![Stage::Queued, Stage::Running, Stage::Succeeded],
        make: |base, http| Box::new(backend(base).with_http(http)),
    };
    assert_conformance(spec).await;
}

#[tokio::test]
async fn pending_is_queued_running_has_progress_and_cancel_deletes() {
    let mut server = mockito::Server::new_async().await;
    let path = "/v1/tasks/t1";
    server
        .mock("GET", path)
        .match_header("x-runway-version", "2024-11-06")
        .with_body(task("PENDING", ""))
        .expect(1)
        .create_async()
        .await;
    server
        .mock("GET", path)
        .with_body(task("RUNNING", r#","progress":0.5"#))
        .create_async()
        .await;
    let delete = server
        .mock("DELETE", path)
        .match_header("x-runway-version", "2024-11-06")
        .with_status(204)
        .create_async()
        .await;
    let b = backend(&server.url());
    let job = RemoteJob::new("runway", "t1");
    assert_eq!(
        b.status(&job).await.unwrap().state,
        JobState::Queued { position: None }
    );
    assert_eq!(
        b.status(&job).await.unwrap().state,
        JobState::Running {
            progress: Some(0.5)
        }
    );
    b.cancel(&job).await.unwrap();
    delete.assert_async().await;
}

#[tokio::test]
async fn cancelled_tasks_are_cancelled() {
    let mut server = mockito::Server::new_async().await;
    server
        .mock("GET", "/v1/tasks/t2")
        .with_body(task("CANCELLED", ""))
        .create_async()
        .await;
    let JobState::Failed { error } = backend(&server.url())
        .status(&RemoteJob::new("runway", "t2"))
        .await
        .unwrap()
        .state
    else {
        panic!("not failed")
    };
    assert_eq!(error.category(), FailureCategory::Cancelled);
}
