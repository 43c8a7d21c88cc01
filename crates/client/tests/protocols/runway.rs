//! Runway's developer API.

use std::time::Duration;

use framebreak_client::{
    Conformed, FailureCategory, HttpConfig, JobState, RemoteJob, RunwayBackend, Secret,
    VideoBackend, VideoRequest,
};
use mockito::ServerGuard;
use serde_json::{Value, json};

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
        // The whole body: veo3.1_fast takes no seed, so none goes out.
        submit_body: Matcher::Json(serde_json::json!({
            "model": "veo3.1_fast",
            "promptText": "a glass of water tips over and the water flows upward",
            "ratio": "1280:720",
            "duration": 8,
        })),
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

fn runway_error(message: String) -> Value {
    json!({"error": "Validation of body failed", "issues": [{"message": message}]})
}

/// `POST /v1/text_to_video` for veo3.1_fast and gen4.5 as runwayml's
/// `text_to_video_create_params.py` (5.13.0) types them: `ratio` required
/// from each model's list, `duration` an integer (4, 6, 8; gen4.5: 2 to
/// 10, required), `seed` for gen4.5 only, no other key.
fn check_text_to_video(body: &Value) -> Result<(), Value> {
    let Some(fields) = body.as_object() else {
        return Err(runway_error("Expected object".into()));
    };
    let model = fields
        .get("model")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let (known, ratios, durations, duration_required): (&[&str], &[&str], Vec<i64>, bool) =
        match model {
            "veo3.1_fast" => (
                &[
                    "model",
                    "promptText",
                    "ratio",
                    "duration",
                    "audio",
                    "negativePrompt",
                ],
                &["1280:720", "720:1280", "1080:1920", "1920:1080"],
                vec![4, 6, 8],
                false,
            ),
            "gen4.5" => (
                &[
                    "model",
                    "promptText",
                    "ratio",
                    "duration",
                    "seed",
                    "contentModeration",
                ],
                &["1280:720", "720:1280"],
                (2..=10).collect(),
                true,
            ),
            other => return Err(runway_error(format!("Invalid model `{other}`"))),
        };
    let unknown: Vec<&String> = fields
        .keys()
        .filter(|k| !known.contains(&k.as_str()))
        .collect();
    if !unknown.is_empty() {
        return Err(runway_error(format!(
            "Unrecognized key(s) in object: {unknown:?}"
        )));
    }
    if fields
        .get("promptText")
        .and_then(Value::as_str)
        .is_none_or(str::is_empty)
    {
        return Err(runway_error("promptText: Required".into()));
    }
    match fields.get("ratio").and_then(Value::as_str) {
        Some(r) if ratios.contains(&r) => {}
        Some(r) => {
            return Err(runway_error(format!(
                "ratio: Invalid enum value. Expected {ratios:?}, received '{r}'"
            )));
        }
        None => return Err(runway_error("ratio: Required".into())),
    }
    match fields.get("duration") {
        None if duration_required => return Err(runway_error("duration: Required".into())),
        None => {}
        Some(d) if d.as_i64().is_some_and(|d| durations.contains(&d)) => {}
        Some(d) => {
            return Err(runway_error(format!(
                "duration: Invalid value {d}, expected one of {durations:?}"
            )));
        }
    }
    Ok(())
}

fn verdict(request: &mockito::Request) -> Result<(), Value> {
    check_text_to_video(&serde_json::from_slice(request.body().unwrap()).unwrap_or(Value::Null))
}

/// `POST /v1/text_to_video`, answering what the model refuses with
/// Runway's 400; the accepting mock must be hit `accepted` times.
async fn validating_server(server: &mut ServerGuard, accepted: usize) -> mockito::Mock {
    server
        .mock("POST", "/v1/text_to_video")
        .match_header("x-runway-version", "2024-11-06")
        .match_request(|r| verdict(r).is_err())
        .with_status(400)
        .with_header("content-type", "application/json")
        .with_body_from_request(|r| verdict(r).unwrap_err().to_string().into_bytes())
        .create_async()
        .await;
    server
        .mock("POST", "/v1/text_to_video")
        .match_header("x-runway-version", "2024-11-06")
        .match_request(|r| verdict(r).is_ok())
        .with_body(r#"{"id":"17f20503-6c24-4c16-946b-35dbbce2af2f"}"#)
        .expect(accepted)
        .create_async()
        .await
}

#[tokio::test]
async fn default_and_campaign_requests_are_conformed_and_accepted() {
    let mut server = mockito::Server::new_async().await;
    let accepted = validating_server(&mut server, 2).await;
    let runway = backend(&server.url());
    assert_eq!(RunwayBackend::DEFAULT_MODEL, "veo3.1_fast");

    // `ratio` is required: a request without a size gets the landscape one.
    let plain = VideoRequest::new("prompt");
    let conformed = runway.conform(&plain).unwrap();
    assert_eq!(changes(&conformed), ["ratio: (none) -> 1280:720"]);
    runway.submit(&plain).await.unwrap();

    let conformed = runway.conform(&campaign()).unwrap();
    assert_eq!(
        changes(&conformed),
        [
            "duration: 2 -> 4",
            "ratio: 320:240 -> 1280:720",
            "seed: 7 -> (none)"
        ]
    );
    runway.submit(&campaign()).await.unwrap();
    accepted.assert_async().await;
}

#[tokio::test]
async fn gen4_5_keeps_short_clips_and_seeds_and_fills_what_it_requires() {
    let mut server = mockito::Server::new_async().await;
    let accepted = validating_server(&mut server, 2).await;
    let gen45 = backend(&server.url()).with_default_model("gen4.5");

    let plain = VideoRequest::new("prompt");
    let conformed = gen45.conform(&plain).unwrap();
    assert_eq!(
        changes(&conformed),
        ["duration: (none) -> 2", "ratio: (none) -> 1280:720"]
    );
    gen45.submit(&plain).await.unwrap();

    let conformed = gen45.conform(&campaign()).unwrap();
    assert_eq!(changes(&conformed), ["ratio: 320:240 -> 1280:720"]);
    assert_eq!(conformed.request.seed, Some(7));
    gen45.submit(&campaign()).await.unwrap();
    accepted.assert_async().await;
}

#[tokio::test]
async fn a_seed_that_bypasses_conform_meets_runways_own_400() {
    let mut server = mockito::Server::new_async().await;
    validating_server(&mut server, 0).await;
    let err = backend(&server.url())
        .submit(
            &VideoRequest::new("prompt")
                .size(1280, 720)
                .extra("seed", 7.into()),
        )
        .await
        .unwrap_err();
    assert_eq!(err.category(), FailureCategory::BadRequest);
    assert!(
        err.to_string().contains("Validation of body failed"),
        "{err}"
    );
}
