//! Lost answers: what a failed submission says about the job it asked for
//! (every adapter, over real sockets), and finding that job afterwards in
//! the providers whose protocol lists jobs.

use std::time::{Duration, SystemTime};

use framebreak_client::{
    HttpConfig, Lookup, LumaBackend, OpenAiBackend, RemoteJob, ReplicateBackend, Secret,
    SubmitEffect, VideoBackend, VideoRequest,
};
use mockito::Matcher;
use serde_json::json;

use crate::util::{KEY, RawServer, SilentServer, all_backends, refused_base};

fn request() -> VideoRequest {
    VideoRequest::new("a ball falls up")
}

async fn effect_of_submit(base: &str, timeout: Duration) -> Vec<(&'static str, SubmitEffect)> {
    let mut out = Vec::new();
    for (name, backend, _) in all_backends(base, timeout, KEY) {
        let err = backend
            .submit(&request())
            .await
            .expect_err("the submission must fail");
        out.push((name, err.submit_effect()));
    }
    out
}

fn all(effects: &[(&str, SubmitEffect)], want: SubmitEffect) {
    assert_eq!(effects.len(), 6);
    for (name, got) in effects {
        assert_eq!(*got, want, "{name}");
    }
}

#[tokio::test]
async fn a_refused_connection_created_nothing() {
    all(
        &effect_of_submit(&refused_base(), Duration::from_secs(5)).await,
        SubmitEffect::NotCreated,
    );
}

#[tokio::test]
async fn a_connection_closed_after_the_request_may_have_created_the_job() {
    // Reads the whole request head, then closes without a byte of answer:
    // what a reset after the provider processed the request looks like.
    let server = RawServer::start(Vec::new()).await;
    let base = server.url("");
    all(
        &effect_of_submit(base.trim_end_matches('/'), Duration::from_secs(5)).await,
        SubmitEffect::MaybeCreated,
    );
}

#[tokio::test]
async fn a_timeout_after_sending_may_have_created_the_job() {
    let server = SilentServer::start().await;
    all(
        &effect_of_submit(&server.base(), Duration::from_millis(300)).await,
        SubmitEffect::MaybeCreated,
    );
}

#[tokio::test]
async fn a_truncated_success_created_the_job() {
    let head = b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 400\r\nconnection: close\r\n\r\n{\"id\": \"job_1\", \"sta";
    let server = RawServer::start(head.to_vec()).await;
    let base = server.url("");
    all(
        &effect_of_submit(base.trim_end_matches('/'), Duration::from_secs(5)).await,
        SubmitEffect::Created,
    );
}

#[tokio::test]
async fn an_unparseable_success_created_the_job() {
    let body = b"<html>ok</html>";
    let mut response = format!(
        "HTTP/1.1 200 OK\r\ncontent-type: text/html\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
        body.len()
    )
    .into_bytes();
    response.extend_from_slice(body);
    let server = RawServer::start(response).await;
    let base = server.url("");
    all(
        &effect_of_submit(base.trim_end_matches('/'), Duration::from_secs(5)).await,
        SubmitEffect::Created,
    );
}

#[tokio::test]
async fn complete_error_answers_created_nothing_but_a_gateway_502_or_504_may_have() {
    for (status, want) in [
        (400, SubmitEffect::NotCreated),
        (401, SubmitEffect::NotCreated),
        (429, SubmitEffect::NotCreated),
        (500, SubmitEffect::NotCreated),
        (503, SubmitEffect::NotCreated),
        (502, SubmitEffect::MaybeCreated),
        (504, SubmitEffect::MaybeCreated),
    ] {
        let mut server = mockito::Server::new_async().await;
        server
            .mock("POST", Matcher::Any)
            .with_status(status)
            .with_body("<html>bad gateway</html>")
            .create_async()
            .await;
        let effects = effect_of_submit(&server.url(), Duration::from_secs(5)).await;
        for (name, got) in effects {
            assert_eq!(got, want, "{name} after HTTP {status}");
        }
    }
}

/// One of the listing adapters, talking to `base`.
fn at<B: Listing>(base: &str) -> B {
    B::make(
        base,
        HttpConfig::new().unwrap().timeout(Duration::from_secs(10)),
    )
}

trait Listing {
    fn make(base: &str, http: HttpConfig) -> Self;
}

macro_rules! listing {
    ($($ty:ty),*) => {$(
        impl Listing for $ty {
            fn make(base: &str, http: HttpConfig) -> Self {
                <$ty>::new(Secret::new(KEY))
                    .unwrap()
                    .with_base_url(base)
                    .unwrap()
                    .with_http(http)
            }
        }
    )*};
}

listing!(OpenAiBackend, ReplicateBackend, LumaBackend);

fn now_secs() -> u64 {
    SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

fn rfc3339(secs: u64) -> String {
    // Whole days since the epoch are enough for these tests' clock.
    let days = secs / 86_400;
    let rem = secs % 86_400;
    let (y, m, d) = civil(days as i64);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.250Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

/// Howard Hinnant's days-to-civil.
fn civil(z: i64) -> (i64, i64, i64) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}

#[tokio::test]
async fn openai_finds_the_one_video_of_the_window_across_pages() {
    let mut server = mockito::Server::new_async().await;
    let now = now_secs();
    let first = server
        .mock("GET", "/v1/videos")
        .match_query(Matcher::Regex("^order=desc&limit=100$".into()))
        .match_header("authorization", format!("Bearer {KEY}").as_str())
        .with_body(
            json!({"object": "list", "has_more": true, "last_id": "video_b", "data": [
                {"id": "video_a", "object": "video", "created_at": now, "prompt": "other", "model": "sora-2"},
                {"id": "video_b", "object": "video", "created_at": now, "prompt": "other too", "model": "sora-2"},
            ]})
            .to_string(),
        )
        .create_async()
        .await;
    let second = server
        .mock("GET", "/v1/videos")
        .match_query(Matcher::UrlEncoded("after".into(), "video_b".into()))
        .with_body(
            json!({"object": "list", "has_more": true, "last_id": "video_old", "data": [
                {"id": "video_mine", "object": "video", "created_at": now - 5, "prompt": "a ball falls up", "model": "sora-2"},
                {"id": "video_old", "object": "video", "created_at": now - 86_400, "prompt": "a ball falls up", "model": "sora-2"},
            ]})
            .to_string(),
        )
        .create_async()
        .await;
    let backend = at::<OpenAiBackend>(&server.url());
    let since = SystemTime::now() - Duration::from_secs(60);
    let found = backend
        .find_submission(&request().model("sora-2"), since)
        .await
        .unwrap();
    assert_eq!(
        found,
        Lookup::Found(RemoteJob::new("openai", "video_mine")),
        "the video older than the window is not a candidate and ends the search"
    );
    first.assert_async().await;
    second.assert_async().await;
}

#[tokio::test]
async fn openai_without_prompts_in_its_list_cannot_tell() {
    let mut server = mockito::Server::new_async().await;
    server
        .mock("GET", "/v1/videos")
        .match_query(Matcher::Any)
        .with_body(
            json!({"object": "list", "has_more": false, "data": [
                {"id": "video_a", "object": "video", "created_at": now_secs(), "model": "sora-2"},
            ]})
            .to_string(),
        )
        .create_async()
        .await;
    let backend = at::<OpenAiBackend>(&server.url());
    let found = backend
        .find_submission(&request(), SystemTime::now())
        .await
        .unwrap();
    assert!(matches!(found, Lookup::Unknown { .. }), "{found:?}");
}

#[tokio::test]
async fn replicate_follows_next_matches_prompt_model_and_seed() {
    let mut server = mockito::Server::new_async().await;
    let now = now_secs();
    let next = format!("{}/v1/predictions?cursor=abc", server.url());
    server
        .mock("GET", "/v1/predictions")
        .match_query(Matcher::Missing)
        .match_header("authorization", format!("Bearer {KEY}").as_str())
        .with_body(
            json!({"previous": null, "next": next, "results": [
                {"id": "p_other_seed", "model": "google/veo-3", "created_at": rfc3339(now), "input": {"prompt": "a ball falls up", "seed": 8}, "status": "starting"},
                {"id": "p_other_model", "model": "minimax/video-01", "created_at": rfc3339(now), "input": {"prompt": "a ball falls up", "seed": 7}, "status": "starting"},
            ]})
            .to_string(),
        )
        .create_async()
        .await;
    let page2 = server
        .mock("GET", "/v1/predictions")
        .match_query(Matcher::UrlEncoded("cursor".into(), "abc".into()))
        .with_body(
            json!({"previous": null, "next": null, "results": [
                {"id": "p_mine", "model": "google/veo-3", "created_at": rfc3339(now - 3), "input": {"prompt": "a ball falls up", "seed": 7}, "status": "processing"},
            ]})
            .to_string(),
        )
        .create_async()
        .await;
    let backend = at::<ReplicateBackend>(&server.url());
    let since = SystemTime::now() - Duration::from_secs(60);
    let found = backend
        .find_submission(&request().model("google/veo-3").seed(7), since)
        .await
        .unwrap();
    assert_eq!(found, Lookup::Found(RemoteJob::new("replicate", "p_mine")));
    page2.assert_async().await;
}

#[tokio::test]
async fn replicate_with_no_match_in_a_covered_window_is_absent() {
    let mut server = mockito::Server::new_async().await;
    server
        .mock("GET", "/v1/predictions")
        .with_body(
            json!({"previous": null, "next": null, "results": [
                {"id": "p_x", "model": "google/veo-3", "created_at": rfc3339(now_secs()), "input": {"prompt": "something else"}, "status": "starting"},
            ]})
            .to_string(),
        )
        .create_async()
        .await;
    let backend = at::<ReplicateBackend>(&server.url());
    let found = backend
        .find_submission(&request(), SystemTime::now())
        .await
        .unwrap();
    assert_eq!(found, Lookup::Absent);
}

#[tokio::test]
async fn luma_reads_every_page_because_its_order_is_not_documented() {
    let mut server = mockito::Server::new_async().await;
    let now = now_secs();
    // A full page of old generations first: an ordered search would stop
    // here and call the job absent.
    let old: Vec<_> = (0..100)
        .map(|i| json!({"id": format!("g_old_{i}"), "created_at": rfc3339(now - 86_400), "model": "ray-2", "state": "completed", "request": {"prompt": "a ball falls up"}}))
        .collect();
    server
        .mock("GET", "/dream-machine/v1/generations")
        .match_query(Matcher::AllOf(vec![
            Matcher::UrlEncoded("limit".into(), "100".into()),
            Matcher::UrlEncoded("offset".into(), "0".into()),
        ]))
        .with_body(json!({"generations": old, "has_more": true}).to_string())
        .create_async()
        .await;
    let page2 = server
        .mock("GET", "/dream-machine/v1/generations")
        .match_query(Matcher::UrlEncoded("offset".into(), "100".into()))
        .with_body(
            json!({"generations": [
                {"id": "g_mine", "created_at": rfc3339(now), "model": "ray-2", "state": "queued", "request": {"prompt": "a ball falls up", "model": "ray-2"}},
            ], "has_more": false})
            .to_string(),
        )
        .create_async()
        .await;
    let backend = at::<LumaBackend>(&server.url());
    let since = SystemTime::now() - Duration::from_secs(60);
    let found = backend
        .find_submission(&request().model("ray-2"), since)
        .await
        .unwrap();
    assert_eq!(found, Lookup::Found(RemoteJob::new("luma", "g_mine")));
    page2.assert_async().await;
}

#[tokio::test]
async fn two_matching_jobs_are_never_adopted() {
    let mut server = mockito::Server::new_async().await;
    let now = now_secs();
    server
        .mock("GET", "/v1/videos")
        .match_query(Matcher::Any)
        .with_body(
            json!({"object": "list", "has_more": false, "data": [
                {"id": "video_a", "object": "video", "created_at": now, "prompt": "a ball falls up", "model": "sora-2"},
                {"id": "video_b", "object": "video", "created_at": now, "prompt": "a ball falls up", "model": "sora-2"},
            ]})
            .to_string(),
        )
        .create_async()
        .await;
    let backend = at::<OpenAiBackend>(&server.url());
    let found = backend
        .find_submission(&request().model("sora-2"), SystemTime::now())
        .await
        .unwrap();
    let Lookup::Unknown { reason } = found else {
        panic!("two candidates must not be adopted: {found:?}");
    };
    assert!(
        reason.contains("video_a") && reason.contains("video_b"),
        "{reason}"
    );
}

#[tokio::test]
async fn fal_runway_and_veo_cannot_list_so_they_cannot_tell() {
    // Nothing listens: the answer must not need the network at all.
    for (name, backend, _) in all_backends(&refused_base(), Duration::from_secs(1), KEY) {
        if matches!(name, "fal" | "runway" | "veo") {
            let found = backend
                .find_submission(&request(), SystemTime::now())
                .await
                .unwrap();
            assert!(matches!(found, Lookup::Unknown { .. }), "{name}: {found:?}");
        }
    }
}

#[tokio::test]
async fn a_gateway_says_which_models_it_offers_or_that_it_does_not_say() {
    let mut server = mockito::Server::new_async().await;
    let listed = server
        .mock("GET", "/v1/models")
        .match_header("authorization", format!("Bearer {KEY}").as_str())
        .with_body(
            json!({"object": "list", "data": [{"id": "wan-2.5", "object": "model"}]}).to_string(),
        )
        .create_async()
        .await;
    let backend = at::<OpenAiBackend>(&server.url());
    assert_eq!(
        backend.offered_models().await.unwrap(),
        Some(vec!["wan-2.5".to_owned()])
    );
    listed.assert_async().await;
    let mut silent = mockito::Server::new_async().await;
    silent
        .mock("GET", "/v1/models")
        .with_status(404)
        .create_async()
        .await;
    assert_eq!(
        at::<OpenAiBackend>(&silent.url())
            .offered_models()
            .await
            .unwrap(),
        None
    );
    // Providers whose protocols list no models do not say.
    for (name, backend, _) in all_backends(&refused_base(), Duration::from_secs(1), KEY) {
        if name != "openai" {
            assert_eq!(backend.offered_models().await.unwrap(), None, "{name}");
        }
    }
}
