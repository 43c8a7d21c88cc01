//! Redirects: followed by framebreak, never carrying a credential or a
//! `Referer` to another origin, for every adapter; bodies repeated on 307,
//! dropped on 303; loops and odd targets are errors.

use std::time::Duration;

use framebreak_client::{
    Asset, Error, FalBackend, HttpConfig, LumaBackend, OpenAiBackend, RemoteJob, ReplicateBackend,
    RunwayBackend, Secret, SubmitEncoding, VeoBackend, VideoBackend, VideoRequest,
};
use mockito::{Matcher, Mock};

use crate::util::{KEY, video_bytes};

fn http() -> HttpConfig {
    HttpConfig::new().unwrap().timeout(Duration::from_secs(10))
}

/// One adapter: how to build it against a base URL, and the header that
/// carries its key with the value it must have on its own origin.
struct Adapter {
    name: &'static str,
    make: fn(&str) -> Box<dyn VideoBackend>,
    auth: (&'static str, String),
}

macro_rules! make {
    ($ty:ty) => {
        |base: &str| -> Box<dyn VideoBackend> {
            Box::new(
                <$ty>::new(Secret::new(KEY))
                    .unwrap()
                    .with_base_url(base)
                    .unwrap()
                    .with_http(http()),
            )
        }
    };
}

fn adapters() -> [Adapter; 6] {
    let bearer = || ("authorization", format!("Bearer {KEY}"));
    [
        Adapter {
            name: "openai",
            make: make!(OpenAiBackend),
            auth: bearer(),
        },
        Adapter {
            name: "replicate",
            make: make!(ReplicateBackend),
            auth: bearer(),
        },
        Adapter {
            name: "fal",
            make: make!(FalBackend),
            auth: ("authorization", format!("Key {KEY}")),
        },
        Adapter {
            name: "runway",
            make: make!(RunwayBackend),
            auth: bearer(),
        },
        Adapter {
            name: "luma",
            make: make!(LumaBackend),
            auth: bearer(),
        },
        Adapter {
            name: "veo",
            make: make!(VeoBackend),
            auth: ("x-goog-api-key", KEY.to_owned()),
        },
    ]
}

/// Matches only a request with no credential of any kind and no `Referer`.
fn without_credentials(mock: Mock) -> Mock {
    [
        "authorization",
        "proxy-authorization",
        "cookie",
        "x-goog-api-key",
        "x-api-key",
        "referer",
    ]
    .into_iter()
    .fold(mock, |mock, name| mock.match_header(name, Matcher::Missing))
    .match_request(|request| {
        !request
            .headers()
            .values()
            .any(|v| String::from_utf8_lossy(v.as_bytes()).contains(KEY))
    })
}

/// Matches only a request with the adapter's credential and no `Referer`.
fn with_credential(mock: Mock, adapter: &Adapter) -> Mock {
    mock.match_header(adapter.auth.0, adapter.auth.1.as_str())
        .match_header("referer", Matcher::Missing)
}

fn redirect(mock: Mock, status: usize, location: &str) -> Mock {
    mock.with_status(status).with_header("location", location)
}

async fn serve_video(mock: Mock) -> Mock {
    mock.with_status(200)
        .with_header("content-type", "video/mp4")
        .with_body(video_bytes())
        .create_async()
        .await
}

async fn download(backend: &dyn VideoBackend, url: &str) -> Result<Vec<u8>, Error> {
    let mut sink = Vec::new();
    backend
        .download(&Asset::new(url), &mut sink, &|_| {})
        .await?;
    Ok(sink)
}

#[tokio::test]
async fn a_cross_origin_redirect_drops_every_credential_for_all_six() {
    for adapter in adapters() {
        let mut origin = mockito::Server::new_async().await;
        let mut cdn = mockito::Server::new_async().await;
        let hop = with_credential(origin.mock("GET", "/files/video.mp4"), &adapter);
        let hop = redirect(hop, 302, &format!("{}/cdn/video.mp4", cdn.url()))
            .create_async()
            .await;
        let fetched = serve_video(without_credentials(cdn.mock("GET", "/cdn/video.mp4"))).await;

        let backend = (adapter.make)(&origin.url());
        let body = download(
            backend.as_ref(),
            &format!("{}/files/video.mp4", origin.url()),
        )
        .await
        .unwrap_or_else(|e| panic!("{}: {e}", adapter.name));
        assert!(body == video_bytes(), "{}: wrong bytes", adapter.name);
        hop.assert_async().await;
        fetched.assert_async().await;
    }
}

#[tokio::test]
async fn a_same_origin_redirect_keeps_the_credential_for_all_six() {
    for adapter in adapters() {
        let mut origin = mockito::Server::new_async().await;
        let hop = with_credential(origin.mock("GET", "/files/video.mp4"), &adapter);
        let hop = redirect(hop, 302, "/moved/video.mp4").create_async().await;
        let fetched = serve_video(with_credential(
            origin.mock("GET", "/moved/video.mp4"),
            &adapter,
        ))
        .await;

        let backend = (adapter.make)(&origin.url());
        let body = download(
            backend.as_ref(),
            &format!("{}/files/video.mp4", origin.url()),
        )
        .await
        .unwrap_or_else(|e| panic!("{}: {e}", adapter.name));
        assert!(body == video_bytes(), "{}: wrong bytes", adapter.name);
        hop.assert_async().await;
        fetched.assert_async().await;
    }
}

#[tokio::test]
async fn a_dropped_credential_stays_dropped_back_on_the_origin_for_all_six() {
    for adapter in adapters() {
        let mut origin = mockito::Server::new_async().await;
        let mut other = mockito::Server::new_async().await;
        let out = with_credential(origin.mock("GET", "/files/video.mp4"), &adapter);
        let out = redirect(out, 302, &format!("{}/bounce", other.url()))
            .create_async()
            .await;
        let bounce = without_credentials(other.mock("GET", "/bounce"));
        let bounce = redirect(bounce, 307, &format!("{}/back/video.mp4", origin.url()))
            .create_async()
            .await;
        let back = serve_video(without_credentials(origin.mock("GET", "/back/video.mp4"))).await;

        let backend = (adapter.make)(&origin.url());
        let body = download(
            backend.as_ref(),
            &format!("{}/files/video.mp4", origin.url()),
        )
        .await
        .unwrap_or_else(|e| panic!("{}: {e}", adapter.name));
        assert!(body == video_bytes(), "{}: wrong bytes", adapter.name);
        for mock in [out, bounce, back] {
            mock.assert_async().await;
        }
    }
}

const VIDEO_JSON: &str = r#"{"id":"video_123","object":"video","model":"framebreak-sim","status":"queued","progress":0,"created_at":1712697600,"size":"1280x720","seconds":"8"}"#;

fn openai(base: &str) -> OpenAiBackend {
    OpenAiBackend::new(Secret::new(KEY))
        .unwrap()
        .with_base_url(base)
        .unwrap()
        .with_http(http())
}

fn submit_body() -> Matcher {
    Matcher::PartialJson(serde_json::json!({"prompt": "a cat"}))
}

#[tokio::test]
async fn a_307_repeats_the_post_and_its_body() {
    let adapter = &adapters()[0];
    let mut server = mockito::Server::new_async().await;
    let first =
        with_credential(server.mock("POST", "/v1/videos"), adapter).match_body(submit_body());
    let first = redirect(first, 307, "/v2/videos").create_async().await;
    let second = with_credential(server.mock("POST", "/v2/videos"), adapter)
        .match_body(submit_body())
        .with_body(VIDEO_JSON)
        .create_async()
        .await;

    let job = openai(&server.url())
        .submit(&VideoRequest::new("a cat"))
        .await
        .unwrap();
    assert_eq!(job, RemoteJob::new("openai", "video_123"));
    first.assert_async().await;
    second.assert_async().await;
}

#[tokio::test]
async fn a_cross_origin_308_repeats_the_body_without_the_key() {
    let mut origin = mockito::Server::new_async().await;
    let mut other = mockito::Server::new_async().await;
    let first = redirect(
        origin.mock("POST", "/v1/videos"),
        308,
        &format!("{}/v1/videos", other.url()),
    )
    .create_async()
    .await;
    let second = without_credentials(other.mock("POST", "/v1/videos"))
        .match_body(submit_body())
        .with_body(VIDEO_JSON)
        .create_async()
        .await;

    let job = openai(&origin.url())
        .submit(&VideoRequest::new("a cat"))
        .await
        .unwrap();
    assert_eq!(job, RemoteJob::new("openai", "video_123"));
    first.assert_async().await;
    second.assert_async().await;
}

#[tokio::test]
async fn a_303_turns_the_post_into_a_get_without_body() {
    let adapter = &adapters()[0];
    let mut server = mockito::Server::new_async().await;
    let first = redirect(
        server.mock("POST", "/v1/videos"),
        303,
        "/v1/videos/video_123",
    )
    .create_async()
    .await;
    let second = with_credential(server.mock("GET", "/v1/videos/video_123"), adapter)
        .match_header("content-type", Matcher::Missing)
        .match_body(Matcher::Exact(String::new()))
        .with_body(VIDEO_JSON)
        .create_async()
        .await;

    let job = openai(&server.url())
        .submit(&VideoRequest::new("a cat"))
        .await
        .unwrap();
    assert_eq!(job, RemoteJob::new("openai", "video_123"));
    first.assert_async().await;
    second.assert_async().await;
}

#[tokio::test]
async fn a_307_with_a_streamed_body_is_the_3xx_as_an_error() {
    let mut server = mockito::Server::new_async().await;
    let first = redirect(server.mock("POST", "/v1/videos"), 307, "/v2/videos")
        .create_async()
        .await;
    let second = server
        .mock("POST", "/v2/videos")
        .expect(0)
        .create_async()
        .await;

    let err = openai(&server.url())
        .with_encoding(SubmitEncoding::Multipart)
        .submit(&VideoRequest::new("a cat"))
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Http { status: 307, .. }), "{err:?}");
    assert!(err.to_string().contains("cannot be sent again"), "{err}");
    first.assert_async().await;
    second.assert_async().await;
}

#[tokio::test]
async fn a_redirect_loop_is_an_error_not_a_hang() {
    let mut server = mockito::Server::new_async().await;
    let looping = server
        .mock("GET", "/loop")
        .match_query(Matcher::Any)
        .with_status(302)
        .with_header("location", "/loop?sig=secret-ish")
        .expect(11)
        .create_async()
        .await;

    let backend = (adapters()[5].make)(&server.url());
    let url = format!("{}/loop?sig=secret-ish", server.url());
    let err = tokio::time::timeout(Duration::from_secs(20), download(backend.as_ref(), &url))
        .await
        .expect("a redirect loop must end")
        .unwrap_err();
    assert!(matches!(err, Error::Http { status: 302, .. }), "{err:?}");
    assert!(!err.is_retryable());
    let text = err.to_string();
    assert!(text.contains(&format!("{}/loop", server.url())), "{text}");
    assert!(text.contains("more than 10"), "{text}");
    assert!(!text.contains("sig="), "{text}");
    assert!(!text.contains(KEY), "{text}");
    looping.assert_async().await;
}

#[tokio::test]
async fn a_redirect_without_a_usable_http_location_is_an_error() {
    let mut server = mockito::Server::new_async().await;
    for (path, location, says) in [
        (
            "/ftp",
            Some(format!("ftp://files.example/{KEY}.mp4")),
            "`ftp:` URL",
        ),
        ("/unparseable", Some("http://[::1".to_owned()), "not a URL"),
        ("/nowhere", None, "without a Location"),
    ] {
        let mock = server
            .mock("GET", path)
            .match_query(Matcher::Any)
            .with_status(302);
        match &location {
            Some(location) => mock.with_header("location", location),
            None => mock,
        }
        .create_async()
        .await;
        let backend = (adapters()[5].make)(&server.url());
        let url = format!("{}{path}?token=abc", server.url());
        let err = download(backend.as_ref(), &url).await.unwrap_err();
        assert!(matches!(err, Error::Http { status: 302, .. }), "{err:?}");
        let text = err.to_string();
        assert!(text.contains(says), "{text}");
        assert!(text.contains(&format!("{}{path}", server.url())), "{text}");
        assert!(!text.contains("token="), "{text}");
        assert!(!text.contains(KEY), "{text}");
    }
}

/// Checks the checks: the credential matchers really do refuse a request
/// that carries the key, so the tests above would fail on a leak.
#[tokio::test]
async fn the_credential_matchers_refuse_a_leak() {
    let mut server = mockito::Server::new_async().await;
    let refused = without_credentials(server.mock("GET", "/x"))
        .expect(0)
        .create_async()
        .await;
    // The shared TLS setup installs the crypto provider reqwest needs.
    HttpConfig::new().unwrap();
    let client = reqwest::Client::new();
    for (name, value) in [
        ("authorization", format!("Bearer {KEY}")),
        ("x-goog-api-key", KEY.to_owned()),
        ("x-other", format!("k={KEY}")),
        ("referer", "http://origin/".to_owned()),
    ] {
        let response = client
            .get(format!("{}/x", server.url()))
            .header(name, value)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 501, "{name} got through");
    }
    refused.assert_async().await;
}
