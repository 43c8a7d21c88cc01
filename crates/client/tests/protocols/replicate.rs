//! Replicate's predictions API.

use std::time::Duration;

use framebreak_client::{
    Conformed, FailureCategory, HttpConfig, JobState, RemoteJob, ReplicateBackend, Secret,
    VideoBackend, VideoRequest,
};
use mockito::{Matcher, ServerGuard};
use serde_json::{Value, json};

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
        r#"{{"id":"ufawqhfynnddngldkgtslldrkq","model":"google/veo-3.1-fast","version":"dp-4d1b2a","input":{{"prompt":"x"}},"logs":"","output":{output},"error":{error},"status":"{status}","created_at":"2025-01-01T00:00:00.000Z","urls":{{"get":"https://api.replicate.com/v1/predictions/ufawqhfynnddngldkgtslldrkq","cancel":"https://api.replicate.com/v1/predictions/ufawqhfynnddngldkgtslldrkq/cancel"}}}}"#
    )
}

fn problem(detail: &str) -> String {
    serde_json::json!({"title": "Request failed", "detail": detail, "status": 400}).to_string()
}

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
            "/v1/models/google/veo-3.1-fast/predictions",
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
    validating_server(&mut server, 0).await;
    // An extra goes out as given, past conform: the model's own 422 answers.
    let err = backend(&server.url())
        .submit(&VideoRequest::new("x").extra("duration", 5.into()))
        .await
        .unwrap_err();
    assert_eq!(err.category(), FailureCategory::BadRequest);
    assert!(
        err.to_string().contains(
            "Input validation failed: - input.duration: must be one of the following: 4, 6, 8"
        ),
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

fn problem422(detail: String) -> Value {
    json!({"title": "Input validation failed", "detail": detail, "status": 422})
}

/// The input of google/veo-3.1-fast and luma/ray-2-720p as their API pages
/// name it, with the models' own values: an integer `duration`, an
/// `aspect_ratio` from the list, a `seed` for Veo only, no other field.
fn check_input(path: &str, body: &Value) -> Result<(), Value> {
    let Some(input) = body.get("input").and_then(Value::as_object) else {
        return Err(problem422("- input: Invalid type. Expected: object".into()));
    };
    let (known, durations, ratios): (&[&str], &[i64], &[&str]) =
        if path.contains("google/veo-3.1-fast") {
            (
                &[
                    "prompt",
                    "duration",
                    "aspect_ratio",
                    "image",
                    "last_frame",
                    "negative_prompt",
                    "resolution",
                    "generate_audio",
                    "seed",
                ],
                &[4, 6, 8],
                &["16:9", "9:16"],
            )
        } else {
            (
                &[
                    "prompt",
                    "duration",
                    "aspect_ratio",
                    "loop",
                    "concepts",
                    "start_image",
                    "end_image",
                ],
                &[5, 9],
                &["1:1", "3:4", "4:3", "9:16", "16:9", "9:21", "21:9"],
            )
        };
    for key in input.keys() {
        if !known.contains(&key.as_str()) {
            return Err(problem422(format!(
                "- input: Additional property {key} is not allowed"
            )));
        }
    }
    if !input.get("prompt").is_some_and(Value::is_string) {
        return Err(problem422("- input: prompt is required".into()));
    }
    if let Some(d) = input.get("duration")
        && !d.as_i64().is_some_and(|d| durations.contains(&d))
    {
        let list: Vec<String> = durations.iter().map(ToString::to_string).collect();
        return Err(problem422(format!(
            "- input.duration: must be one of the following: {}",
            list.join(", ")
        )));
    }
    if let Some(a) = input.get("aspect_ratio")
        && !a.as_str().is_some_and(|a| ratios.contains(&a))
    {
        return Err(problem422(format!(
            "- input.aspect_ratio: must be one of the following: {}",
            ratios.join(", ")
        )));
    }
    if let Some(seed) = input.get("seed")
        && !seed.is_i64()
        && !seed.is_u64()
    {
        return Err(problem422(
            "- input.seed: Invalid type. Expected: integer".into(),
        ));
    }
    Ok(())
}

fn verdict(request: &mockito::Request) -> Result<(), Value> {
    let body = serde_json::from_slice(request.body().unwrap()).unwrap_or(Value::Null);
    check_input(request.path(), &body)
}

/// Both models' endpoints, answering anything they do not take with
/// Replicate's 422 problem; the accepting mock must be hit `accepted`
/// times.
async fn validating_server(server: &mut ServerGuard, accepted: usize) -> mockito::Mock {
    let endpoints =
        Matcher::Regex(r"^/v1/models/(google/veo-3\.1-fast|luma/ray-2-720p)/predictions$".into());
    server
        .mock("POST", endpoints.clone())
        .match_request(|r| verdict(r).is_err())
        .with_status(422)
        .with_header("content-type", "application/problem+json")
        .with_body_from_request(|r| verdict(r).unwrap_err().to_string().into_bytes())
        .create_async()
        .await;
    server
        .mock("POST", endpoints)
        .match_request(|r| verdict(r).is_ok())
        .with_status(201)
        .with_body(prediction("starting", "null", "null"))
        .expect(accepted)
        .create_async()
        .await
}

#[tokio::test]
async fn default_and_campaign_requests_are_conformed_and_accepted() {
    let mut server = mockito::Server::new_async().await;
    let accepted = validating_server(&mut server, 2).await;
    let veo = backend(&server.url());
    assert_eq!(ReplicateBackend::DEFAULT_MODEL, "google/veo-3.1-fast");

    let plain = VideoRequest::new("prompt");
    assert!(veo.conform(&plain).unwrap().adjustments.is_empty());
    veo.submit(&plain).await.unwrap();

    let conformed = veo.conform(&campaign()).unwrap();
    assert_eq!(
        changes(&conformed),
        ["duration: 2 -> 4", "aspect_ratio: 4:3 -> 16:9"]
    );
    assert_eq!(
        conformed.request.seed,
        Some(7),
        "Veo on Replicate takes a seed"
    );
    veo.submit(&campaign()).await.unwrap();
    accepted.assert_async().await;
}

#[tokio::test]
async fn a_model_without_a_seed_loses_it() {
    let mut server = mockito::Server::new_async().await;
    let accepted = validating_server(&mut server, 1).await;
    let ray = backend(&server.url()).with_default_model("luma/ray-2-720p");
    let conformed = ray.conform(&campaign()).unwrap();
    assert_eq!(
        changes(&conformed),
        ["duration: 2 -> 5", "seed: 7 -> (none)"]
    );
    ray.submit(&campaign()).await.unwrap();
    accepted.assert_async().await;
}

#[tokio::test]
async fn an_unknown_model_passes_through_unchanged() {
    let other = backend("http://127.0.0.1:9").with_default_model("acme/new-video-model");
    assert_eq!(
        other.conform(&campaign()).unwrap(),
        Conformed::unchanged(&campaign())
    );
}

#[tokio::test]
async fn an_unknown_input_meets_replicates_own_422() {
    let mut server = mockito::Server::new_async().await;
    validating_server(&mut server, 0).await;
    let err = backend(&server.url())
        .submit(&VideoRequest::new("prompt").extra("fps", 24.into()))
        .await
        .unwrap_err();
    assert_eq!(err.category(), FailureCategory::BadRequest);
    assert!(
        err.to_string()
            .contains("Additional property fps is not allowed"),
        "{err}"
    );
}
