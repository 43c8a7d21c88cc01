//! The X publisher: posts, problem+json errors, rate limits, chunked
//! media upload.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use framebreak_client::{FailureCategory, HttpConfig, Post, Publisher, Secret, XPublisher};
use mockito::Matcher;

const TOKEN: &str = "x-user-token-0b1d";

fn publisher(base: &str) -> XPublisher {
    XPublisher::new(Secret::new(TOKEN))
        .unwrap()
        .with_base_url(base)
        .unwrap()
        .with_http(HttpConfig::new().unwrap().timeout(Duration::from_secs(10)))
}

#[tokio::test]
async fn posts_text_with_the_user_token() {
    let mut server = mockito::Server::new_async().await;
    let tweet = server
        .mock("POST", "/2/tweets")
        .match_header("authorization", format!("Bearer {TOKEN}").as_str())
        .match_body(Matcher::Json(serde_json::json!({"text": "veo-3 melted a teapot"})))
        .with_status(201)
        .with_body(r#"{"data":{"id":"1445880548472328192","text":"veo-3 melted a teapot","edit_history_tweet_ids":["1445880548472328192"]}}"#)
        .create_async()
        .await;
    let published = publisher(&server.url())
        .publish(&Post::new("veo-3 melted a teapot"))
        .await
        .unwrap();
    assert_eq!(published.id, "1445880548472328192");
    tweet.assert_async().await;
}

#[tokio::test]
async fn rate_limits_wait_until_the_reset() {
    let mut server = mockito::Server::new_async().await;
    let reset = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
        + 600;
    server
        .mock("POST", "/2/tweets")
        .with_status(429)
        .with_header("content-type", "application/problem+json")
        .with_header("x-rate-limit-limit", "200")
        .with_header("x-rate-limit-remaining", "0")
        .with_header("x-rate-limit-reset", &reset.to_string())
        .with_body(r#"{"title":"Too Many Requests","detail":"Too Many Requests","type":"about:blank","status":429}"#)
        .create_async()
        .await;
    let err = publisher(&server.url())
        .publish(&Post::new("hi"))
        .await
        .unwrap_err();
    assert_eq!(err.category(), FailureCategory::RateLimited);
    let wait = err.retry_after().unwrap();
    assert!(
        wait > Duration::from_secs(590) && wait <= Duration::from_secs(600),
        "{wait:?}"
    );
}

#[tokio::test]
async fn problem_json_errors_become_messages() {
    let mut server = mockito::Server::new_async().await;
    server
        .mock("POST", "/2/tweets")
        .with_status(403)
        .with_header("content-type", "application/problem+json")
        .with_body(r#"{"detail":"You are not allowed to create a Tweet with duplicate content.","type":"about:blank","title":"Forbidden","status":403}"#)
        .create_async()
        .await;
    let err = publisher(&server.url())
        .publish(&Post::new("hi"))
        .await
        .unwrap_err();
    assert_eq!(err.category(), FailureCategory::Auth);
    assert!(
        err.to_string()
            .contains("Forbidden: You are not allowed to create a Tweet with duplicate content."),
        "{err}"
    );
}

#[tokio::test]
async fn long_posts_are_refused_before_sending_and_urls_count_23() {
    let url = format!("https://example.com/{}", "x".repeat(300));
    let fits = format!("{} {url}", "a".repeat(280 - 24));
    let server = mockito::Server::new_async().await;
    let err = publisher(&server.url())
        .publish(&Post::new("a".repeat(281)))
        .await
        .unwrap_err();
    assert_eq!(err.category(), FailureCategory::BadRequest);
    assert!(err.to_string().contains("281"), "{err}");
    assert!(Post::new(fits).check_len().is_ok());
}

#[tokio::test]
async fn videos_go_through_the_chunked_upload() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("clip.mp4");
    // Two chunks: the publisher appends at most 4 MiB at a time.
    let video: Vec<u8> = (0..(5u32 << 20)).map(|i| i as u8).collect();
    std::fs::write(&path, &video).unwrap();
    let mut server = mockito::Server::new_async().await;
    let auth = format!("Bearer {TOKEN}");
    let init = server
        .mock("POST", "/2/media/upload/initialize")
        .match_header("authorization", auth.as_str())
        .match_body(Matcher::Json(serde_json::json!({"media_type": "video/mp4", "total_bytes": 5u32 << 20, "media_category": "tweet_video"})))
        .with_body(r#"{"data":{"id":"1880028106020515840","media_key":"13_1880028106020515840","expires_after_secs":1295999}}"#)
        .create_async()
        .await;
    let append0 = server
        .mock("POST", "/2/media/upload/1880028106020515840/append")
        .match_body(Matcher::Regex(
            r#"name="segment_index"\r\n\r\n0\r\n"#.into(),
        ))
        .create_async()
        .await;
    let append1 = server
        .mock("POST", "/2/media/upload/1880028106020515840/append")
        .match_body(Matcher::Regex(
            r#"name="segment_index"\r\n\r\n1\r\n"#.into(),
        ))
        .create_async()
        .await;
    let finalize = server
        .mock("POST", "/2/media/upload/1880028106020515840/finalize")
        .with_body(r#"{"data":{"id":"1880028106020515840","media_key":"13_1880028106020515840","size":5242880,"processing_info":{"state":"pending","check_after_secs":0}}}"#)
        .create_async()
        .await;
    let status = server
        .mock("GET", "/2/media/upload")
        .match_query(Matcher::AllOf(vec![
            Matcher::UrlEncoded("command".into(), "STATUS".into()),
            Matcher::UrlEncoded("media_id".into(), "1880028106020515840".into()),
        ]))
        .with_body(r#"{"data":{"id":"1880028106020515840","processing_info":{"state":"succeeded","progress_percent":100}}}"#)
        .create_async()
        .await;
    let tweet = server
        .mock("POST", "/2/tweets")
        .match_body(Matcher::Json(
            serde_json::json!({"text": "melted", "media": {"media_ids": ["1880028106020515840"]}}),
        ))
        .with_status(201)
        .with_body(r#"{"data":{"id":"1","text":"melted https://t.co/abc"}}"#)
        .create_async()
        .await;
    let published = publisher(&server.url())
        .publish(&Post::new("melted").with_video(&path))
        .await
        .unwrap();
    assert_eq!(published.text, "melted https://t.co/abc");
    for mock in [init, append0, append1, finalize, status, tweet] {
        mock.assert_async().await;
    }
}

#[tokio::test]
async fn failed_media_processing_is_reported() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("clip.mp4");
    std::fs::write(&path, b"not really a video").unwrap();
    let mut server = mockito::Server::new_async().await;
    server
        .mock("POST", "/2/media/upload/initialize")
        .with_body(r#"{"data":{"id":"9"}}"#)
        .create_async()
        .await;
    server
        .mock("POST", "/2/media/upload/9/append")
        .create_async()
        .await;
    server
        .mock("POST", "/2/media/upload/9/finalize")
        .with_body(r#"{"data":{"id":"9","processing_info":{"state":"failed","error":{"code":1,"name":"InvalidMedia","message":"Invalid or Unsupported media"}}}}"#)
        .create_async()
        .await;
    let err = publisher(&server.url())
        .publish(&Post::new("x").with_video(&path))
        .await
        .unwrap_err();
    assert!(err.to_string().contains("Unsupported media"), "{err}");
}

/// `POST /2/tweets` answered as X does, the id made from the text.
async fn tweets_server() -> mockito::ServerGuard {
    let mut server = mockito::Server::new_async().await;
    server
        .mock("POST", "/2/tweets")
        .with_status(201)
        .with_body_from_request(|request| {
            let body: serde_json::Value = serde_json::from_slice(request.body().unwrap()).unwrap();
            let text = body["text"].as_str().unwrap().to_owned();
            let id = text.bytes().fold(1_445_880_548_472_328_192u64, |h, b| {
                h.wrapping_mul(31).wrapping_add(u64::from(b))
            });
            serde_json::json!({"data": {"id": id.to_string(), "text": text}})
                .to_string()
                .into_bytes()
        })
        .create_async()
        .await;
    server
}

#[tokio::test]
async fn the_x_and_dry_run_publishers_pass_the_publisher_suite() {
    let server = tweets_server().await;
    framebreak_client::conformance::publisher::run_all(&publisher(&server.url())).await;
    let dir = tempfile::tempdir().unwrap();
    let dry = framebreak_client::DryRunPublisher::new(dir.path().join("posts.jsonl"));
    framebreak_client::conformance::publisher::run_all(&dry).await;
}

/// Answers every post with one id, and sends posts of any length.
struct Careless;

#[async_trait::async_trait]
impl Publisher for Careless {
    async fn publish(
        &self,
        post: &Post,
    ) -> framebreak_client::Result<framebreak_client::Published> {
        Ok(framebreak_client::Published {
            id: "1".into(),
            text: post.text.clone(),
        })
    }
}

#[tokio::test]
async fn a_publisher_that_reuses_ids_and_skips_checks_fails_the_suite() {
    let outcome = tokio::spawn(async {
        framebreak_client::conformance::publisher::run_all(&Careless).await;
    })
    .await;
    assert!(outcome.is_err_and(|e| e.is_panic()));
}
