//! The OpenAI Videos API surface beyond what `OpenAiBackend` uses, over
//! raw HTTP: form submissions, listing, deletion, the thumbnail and
//! spritesheet variants, the error shape, and ignoring idempotency keys.

use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use framebreak_sim::{Faults, Latency, Profile, ServerConfig, ServerHandle, SimServer, Simulator};
use reqwest::{Client, StatusCode};
use serde_json::{Value, json};

fn config() -> ServerConfig {
    let sim = Arc::new(Simulator::new(Profile::weak()).unwrap());
    ServerConfig::new(sim).latency(Latency::none())
}

fn serve(config: ServerConfig) -> (ServerHandle, Client, String) {
    let server = SimServer::bind("127.0.0.1:0", config).unwrap();
    let base = format!("{}/v1/videos", server.url());
    // The workspace builds reqwest without a rustls crypto provider;
    // `HttpConfig::new` installs the process default a bare client needs.
    framebreak_client::HttpConfig::new().unwrap();
    (server, Client::new(), base)
}

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

/// A `multipart/form-data` body as the OpenAI SDKs send it.
fn form(fields: &[(&str, &str)]) -> (String, String) {
    let boundary = "framebreak-test-boundary-1f2e3d";
    let mut body = String::new();
    for (name, value) in fields {
        body.push_str(&format!(
            "--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n{value}\r\n"
        ));
    }
    body.push_str(&format!("--{boundary}--\r\n"));
    (format!("multipart/form-data; boundary={boundary}"), body)
}

async fn submit_json(http: &Client, base: &str, prompt: &str) -> Value {
    let resp = http
        .post(base)
        .json(&json!({"prompt": prompt, "size": "64x48", "seconds": 1}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    resp.json().await.unwrap()
}

/// Polls `id` until it is completed.
async fn completed(http: &Client, base: &str, id: &str) -> Value {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let v: Value = http
            .get(format!("{base}/{id}"))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        if v["status"] == "completed" {
            return v;
        }
        assert_ne!(v["status"], "failed", "{v}");
        assert!(Instant::now() < deadline, "{id} never finished: {v}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

async fn get(http: &Client, url: &str) -> (StatusCode, Value) {
    let resp = http.get(url).send().await.unwrap();
    (resp.status(), resp.json().await.unwrap())
}

fn assert_openai_error(status: StatusCode, body: &Value, want: StatusCode, param: &str) {
    assert_eq!(status, want, "{body}");
    let e = &body["error"];
    assert_eq!(e["type"], "invalid_request_error", "{body}");
    assert_eq!(e["param"], param, "{body}");
    assert!(
        e["message"].as_str().is_some_and(|m| !m.is_empty()),
        "{body}"
    );
    assert!(e.get("code").is_some(), "{body}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_form_submission_makes_the_same_video_as_json() {
    let (_server, http, base) = serve(config());
    let before = now();
    let (content_type, body) = form(&[
        ("prompt", "a red ball bounces; \"twice\""),
        ("model", "sora-2"),
        ("seconds", "1"),
        ("size", "64x48"),
        ("seed", "7"),
    ]);
    let resp = http
        .post(&base)
        .header("content-type", content_type)
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    let v: Value = resp.json().await.unwrap();
    assert_eq!(v["object"], "video");
    assert_eq!(v["prompt"], "a red ball bounces; \"twice\"");
    assert_eq!(v["model"], "sora-2");
    assert_eq!((&v["size"], &v["seconds"]), (&json!("64x48"), &json!("1")));
    let created = v["created_at"].as_u64().unwrap();
    assert!((before..=now()).contains(&created), "{v}");
    assert_eq!(
        (&v["expires_at"], &v["completed_at"], &v["error"]),
        (&Value::Null, &Value::Null, &Value::Null),
        "{v}"
    );

    let done = completed(&http, &base, v["id"].as_str().unwrap()).await;
    assert_eq!(
        done["created_at"], v["created_at"],
        "created_at is the submission's"
    );
    assert_eq!(done["progress"], 100);
    assert!(done["completed_at"].as_u64().unwrap() >= created, "{done}");
    // The same request as JSON is the same clip (seed included).
    let json_body = json!({"prompt": "a red ball bounces; \"twice\"", "seconds": 1, "size": "64x48", "seed": 7});
    let twin: Value = http
        .post(&base)
        .json(&json_body)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    completed(&http, &base, twin["id"].as_str().unwrap()).await;
    let mp4 = |id: Value| {
        let (http, base) = (http.clone(), base.clone());
        async move {
            http.get(format!("{base}/{}/content", id.as_str().unwrap()))
                .send()
                .await
                .unwrap()
                .bytes()
                .await
                .unwrap()
        }
    };
    assert_eq!(mp4(v["id"].clone()).await, mp4(twin["id"].clone()).await);

    // A reference file is refused by name, and so is another media type.
    let (content_type, body) = form(&[("prompt", "x"), ("input_reference", "\u{7f}PNG")]);
    let resp = http
        .post(&base)
        .header("content-type", content_type)
        .body(body)
        .send()
        .await
        .unwrap();
    let status = resp.status();
    assert_openai_error(
        status,
        &resp.json().await.unwrap(),
        StatusCode::BAD_REQUEST,
        "input_reference",
    );
    let resp = http
        .post(&base)
        .header("content-type", "text/plain")
        .body("a ball")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn listing_pages_with_limit_order_and_after() {
    let (server, http, base) = serve(config());
    let mut made = Vec::new();
    for i in 0..5 {
        let v = submit_json(&http, &base, &format!("a pendulum swings, take {i}")).await;
        made.push(v["id"].as_str().unwrap().to_owned());
    }
    let ids = |page: &Value| -> Vec<String> {
        page["data"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v["id"].as_str().unwrap().to_owned())
            .collect()
    };

    // Newest first by default, 20 at most; a listing is not a poll.
    let polls = server.stats().polls;
    let (status, page) = get(&http, &base).await;
    assert_eq!(server.stats().polls, polls);
    assert_eq!(status, StatusCode::OK);
    assert_eq!(page["object"], "list");
    let newest_first: Vec<String> = made.iter().rev().cloned().collect();
    assert_eq!(ids(&page), newest_first);
    assert_eq!(page["has_more"], false);
    assert_eq!(page["first_id"], made[4].as_str());
    assert_eq!(page["last_id"], made[0].as_str());
    let first = &page["data"][4];
    assert_eq!(first["prompt"], "a pendulum swings, take 0");
    assert!(first["created_at"].as_u64().is_some(), "{first}");

    // Pages of two, ascending, each after the last one's `last_id`.
    let mut seen = Vec::new();
    let mut url = format!("{base}?limit=2&order=asc");
    loop {
        let (_, page) = get(&http, &url).await;
        seen.extend(ids(&page));
        if page["has_more"] == false {
            break;
        }
        url = format!(
            "{base}?limit=2&order=asc&after={}",
            page["last_id"].as_str().unwrap()
        );
    }
    assert_eq!(seen, made);

    // Descending after an id: the older ones.
    let (_, page) = get(&http, &format!("{base}?order=desc&after={}", made[2])).await;
    assert_eq!(ids(&page), [made[1].clone(), made[0].clone()]);
    // A cursor whose video was deleted still pages.
    let resp = http
        .delete(format!("{base}/{}", made[2]))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    let (_, page) = get(&http, &format!("{base}?order=asc&after={}", made[2])).await;
    assert_eq!(ids(&page), [made[3].clone(), made[4].clone()]);
    // An empty page names no ids.
    let (_, page) = get(&http, &format!("{base}?order=asc&after={}", made[4])).await;
    assert_eq!(page["data"], json!([]));
    assert_eq!(
        (&page["first_id"], &page["last_id"]),
        (&Value::Null, &Value::Null)
    );

    // A listed video is as its next poll would find it, though never
    // polled: this one's clip is made (its twin was polled to its end).
    let twin = submit_json(&http, &base, "a red ball bounces").await;
    completed(&http, &base, twin["id"].as_str().unwrap()).await;
    let unpolled = submit_json(&http, &base, "a red ball bounces").await;
    let polls = server.stats().polls;
    let (_, page) = get(&http, &format!("{base}?limit=1")).await;
    assert_eq!(page["data"][0]["id"], unpolled["id"]);
    assert_eq!(page["data"][0]["status"], "completed", "{page}");
    assert_eq!(server.stats().polls, polls);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_list_and_content_queries_get_the_openai_error() {
    let (_server, http, base) = serve(config());
    let v = submit_json(&http, &base, "a ball rolls down a ramp").await;
    for (query, param) in [
        ("limit=0", "limit"),
        ("limit=101", "limit"),
        ("limit=ten", "limit"),
        ("order=newest", "order"),
        ("after=nope", "after"),
    ] {
        let (status, body) = get(&http, &format!("{base}?{query}")).await;
        assert_openai_error(status, &body, StatusCode::BAD_REQUEST, param);
    }
    let (status, body) = get(&http, &format!("{base}?limit=100")).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let id = v["id"].as_str().unwrap();
    let (status, body) = get(&http, &format!("{base}/{id}/content?variant=poster")).await;
    assert_openai_error(status, &body, StatusCode::BAD_REQUEST, "variant");
    for (field, bad) in [("size", json!("big")), ("seconds", json!("four"))] {
        let resp = http
            .post(&base)
            .json(&json!({"prompt": "a ball", field: bad}))
            .send()
            .await
            .unwrap();
        let status = resp.status();
        assert_openai_error(
            status,
            &resp.json().await.unwrap(),
            StatusCode::BAD_REQUEST,
            field,
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deleted_video_is_gone_everywhere() {
    let (server, http, base) = serve(config());
    let v = submit_json(&http, &base, "a glass of water").await;
    let id = v["id"].as_str().unwrap().to_owned();
    completed(&http, &base, &id).await;
    let resp = http.delete(format!("{base}/{id}")).send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    let body: Value = resp.json().await.unwrap();
    assert_eq!(
        body,
        json!({"id": id, "object": "video.deleted", "deleted": true})
    );
    for url in [
        format!("{base}/{id}"),
        format!("{base}/{id}/content"),
        format!("{base}/{id}/content?variant=thumbnail"),
        format!("{base}/{id}/truth"),
    ] {
        let resp = http.get(&url).send().await.unwrap();
        assert_eq!(resp.status(), StatusCode::NOT_FOUND, "{url}");
    }
    let resp = http.delete(format!("{base}/{id}")).send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::NOT_FOUND);
    let (_, page) = get(&http, &base).await;
    assert_eq!(page["data"], json!([]));
    assert_eq!(
        server.stats().submissions,
        1,
        "a deletion unmakes no submission"
    );

    // A deleted job's idempotency key makes a new job.
    let keyed = |http: &Client| {
        http.post(&base)
            .header("Idempotency-Key", "run-1:job-0")
            .json(&json!({"prompt": "a pendulum swings", "size": "64x48", "seconds": 1}))
            .send()
    };
    let first: Value = keyed(&http).await.unwrap().json().await.unwrap();
    let first = first["id"].as_str().unwrap().to_owned();
    http.delete(format!("{base}/{first}")).send().await.unwrap();
    let second: Value = keyed(&http).await.unwrap().json().await.unwrap();
    assert_ne!(second["id"].as_str().unwrap(), first);
    assert_eq!(server.stats().duplicate_submissions, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deletion_outlives_a_restart_through_the_journal() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("journal.jsonl");
    let (server, http, base) = serve(config().journal(&path));
    let kept = submit_json(&http, &base, "a pendulum swings").await;
    let gone = submit_json(&http, &base, "a red ball bounces").await;
    let gone_id = gone["id"].as_str().unwrap();
    let resp = http
        .delete(format!("{base}/{gone_id}"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    server.shutdown();

    let (server, http, base) = serve(config().journal(&path));
    let (status, _) = get(&http, &format!("{base}/{gone_id}")).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, again) = get(&http, &format!("{base}/{}", kept["id"].as_str().unwrap())).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(again["created_at"], kept["created_at"]);
    assert_eq!(again["prompt"], kept["prompt"]);
    // The deleted job's id is not handed out again.
    let next = submit_json(&http, &base, "a glass of water").await;
    assert!(next["id"].as_str().unwrap() > gone_id, "{next}");
    assert_eq!(server.stats().submissions, 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn thumbnail_and_spritesheet_are_images_of_the_clip() {
    // Download faults break the MP4 only: the previews come whole.
    let truncated: Faults = "truncated=1".parse().unwrap();
    let (_server, http, base) = serve(config().faults(truncated));
    // 24 frames at 64x48: 16 tiles in four rows of four.
    let v = submit_json(&http, &base, "a red ball bounces on a wooden floor").await;
    let id = v["id"].as_str().unwrap();
    completed(&http, &base, id).await;
    let fetch = |variant: &str| {
        let url = format!("{base}/{id}/content?variant={variant}");
        let http = http.clone();
        async move {
            let resp = http.get(url).send().await.unwrap();
            assert_eq!(resp.status(), StatusCode::OK);
            let content_type = resp.headers()["content-type"].to_str().unwrap().to_owned();
            (content_type, resp.bytes().await.unwrap())
        }
    };
    let (content_type, thumb) = fetch("thumbnail").await;
    assert_eq!(content_type, "image/webp");
    let thumb = image::load_from_memory_with_format(&thumb, image::ImageFormat::WebP).unwrap();
    assert_eq!((thumb.width(), thumb.height()), (64, 48));
    // Lossless: exactly the clip's first frame.
    let sim = Simulator::new(Profile::weak()).unwrap();
    let request = framebreak_client::VideoRequest::new("a red ball bounces on a wooden floor")
        .size(64, 48)
        .duration_secs(1);
    let mp4 = sim.render(&request).unwrap().mp4.to_vec();
    let first = framebreak_media::open_bytes(std::path::Path::new("clip.mp4"), mp4)
        .unwrap()
        .next()
        .unwrap()
        .unwrap();
    assert_eq!(thumb.to_rgb8().as_raw(), first.data());
    let (content_type, sheet) = fetch("spritesheet").await;
    assert_eq!(content_type, "image/jpeg");
    let sheet = image::load_from_memory_with_format(&sheet, image::ImageFormat::Jpeg).unwrap();
    assert_eq!((sheet.width(), sheet.height()), (4 * 64, 4 * 48));
    // The sheet's first tile is the thumbnail's frame.
    let (a, b) = (thumb.to_rgb8(), sheet.to_rgb8());
    let diff: u64 = (0..48)
        .flat_map(|y| (0..64).map(move |x| (x, y)))
        .map(|(x, y)| {
            let (p, q) = (a.get_pixel(x, y).0, b.get_pixel(x, y).0);
            (0..3).map(|c| u64::from(p[c].abs_diff(q[c]))).sum::<u64>()
        })
        .sum();
    assert!(
        diff / (64 * 48 * 3) < 12,
        "mean difference {}",
        diff / (64 * 48 * 3)
    );
    let resp = http
        .get(format!("{base}/{id}/content?variant=video"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.headers()["content-type"], "video/mp4");
    assert!(resp.bytes().await.is_err(), "the MP4 was not truncated");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ignoring_idempotency_keys_makes_a_job_per_submission() {
    let body = json!({"prompt": "a pendulum swings", "size": "64x48", "seconds": 1});
    for honour in [true, false] {
        let (server, http, base) = serve(config().honour_idempotency(honour));
        let mut ids = Vec::new();
        for _ in 0..2 {
            let v: Value = http
                .post(&base)
                .header("Idempotency-Key", "run-1:job-0")
                .json(&body)
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
            ids.push(v["id"].as_str().unwrap().to_owned());
        }
        let stats = server.stats();
        if honour {
            assert_eq!(ids[0], ids[1]);
            assert_eq!((stats.submissions, stats.duplicate_submissions), (1, 1));
        } else {
            assert_ne!(ids[0], ids[1]);
            assert_eq!((stats.submissions, stats.duplicate_submissions), (2, 0));
        }
    }
}
