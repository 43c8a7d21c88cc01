//! Downloads: with and without Content-Length, truncation, size caps,
//! atomic files, SHA-256, progress.

use std::sync::Mutex;
use std::time::Duration;

use framebreak_client::{
    Asset, DownloadProgress, FailureCategory, HttpConfig, OpenAiBackend, Secret, VideoBackend,
    VideoBackendExt,
};
use sha2::Digest;

use crate::util::{KEY, RawServer, video_bytes};

fn backend(base: &str, cap: u64) -> OpenAiBackend {
    OpenAiBackend::new(Secret::new(KEY))
        .unwrap()
        .with_base_url(base)
        .unwrap()
        .with_http(
            HttpConfig::new()
                .unwrap()
                .timeout(Duration::from_secs(10))
                .max_download_bytes(cap),
        )
}

fn response(headers: &str, body: &[u8]) -> Vec<u8> {
    let mut r =
        format!("HTTP/1.1 200 OK\r\ncontent-type: video/mp4\r\nconnection: close\r\n{headers}\r\n")
            .into_bytes();
    r.extend_from_slice(body);
    r
}

#[tokio::test]
async fn a_body_shorter_than_its_content_length_is_a_download_error() {
    let video = video_bytes();
    let server = RawServer::start(response(
        &format!("content-length: {}\r\n", video.len()),
        &video[..1000],
    ))
    .await;
    let b = backend(&server.url(""), u64::MAX);
    let mut sink = Vec::new();
    let err = b
        .download(&Asset::new(server.url("/v.mp4")), &mut sink, &|_| {})
        .await
        .unwrap_err();
    assert_eq!(err.category(), FailureCategory::Download);
    assert!(err.is_retryable());
    assert!(err.to_string().contains("after 1000 of 300000"), "{err}");
}

#[tokio::test]
async fn a_stalled_body_times_out_per_chunk_as_a_download_error() {
    let video = video_bytes();
    let server = RawServer::start_stalling(response(
        &format!("content-length: {}\r\n", video.len()),
        &video[..2000],
    ))
    .await;
    let b = OpenAiBackend::new(Secret::new(KEY))
        .unwrap()
        .with_base_url(&server.url(""))
        .unwrap()
        .with_http(
            HttpConfig::new()
                .unwrap()
                .timeout(Duration::from_millis(300)),
        );
    let mut sink = Vec::new();
    let err = b
        .download(&Asset::new(server.url("/v.mp4")), &mut sink, &|_| {})
        .await
        .unwrap_err();
    assert_eq!(err.category(), FailureCategory::Download);
    assert!(
        err.to_string()
            .contains("no data for 300ms after 2000 bytes"),
        "{err}"
    );
}

#[tokio::test]
async fn a_body_without_content_length_streams_to_its_end() {
    let video = video_bytes();
    let server = RawServer::start(response("", &video)).await;
    let b = backend(&server.url(""), u64::MAX);
    let reports = Mutex::new(Vec::new());
    let progress = |p: DownloadProgress| reports.lock().unwrap().push(p);
    let mut sink = Vec::new();
    let n = b
        .download(&Asset::new(server.url("/v.mp4")), &mut sink, &progress)
        .await
        .unwrap();
    assert_eq!(n, video.len() as u64);
    assert_eq!(sink, video);
    let reports = reports.into_inner().unwrap();
    assert!(reports.windows(2).all(|w| w[0].received < w[1].received));
    assert_eq!(
        reports.last().unwrap(),
        &DownloadProgress {
            received: n,
            total: None
        }
    );
}

#[tokio::test]
async fn the_size_cap_holds_with_and_without_content_length() {
    let video = video_bytes();
    for headers in [
        format!("content-length: {}\r\n", video.len()),
        String::new(),
    ] {
        let server = RawServer::start(response(&headers, &video)).await;
        let b = backend(&server.url(""), 100_000);
        let mut sink = Vec::new();
        let err = b
            .download(&Asset::new(server.url("/v.mp4")), &mut sink, &|_| {})
            .await
            .unwrap_err();
        assert_eq!(err.category(), FailureCategory::Download);
        assert!(err.to_string().contains("cap of 100000 bytes"), "{err}");
        assert!(sink.len() <= 100_000);
    }
}

#[tokio::test]
async fn files_are_written_atomically_with_their_sha256() {
    let video = video_bytes();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("out.mp4");
    std::fs::write(&path, b"the previous, good file").unwrap();

    // A truncated body leaves the previous file untouched and no temporary.
    let broken = RawServer::start(response(
        &format!("content-length: {}\r\n", video.len()),
        &video[..5000],
    ))
    .await;
    let b = backend(&broken.url(""), u64::MAX);
    let err = b
        .download_to_file(&Asset::new(broken.url("/v.mp4")), &path, u64::MAX, &|_| {})
        .await
        .unwrap_err();
    assert_eq!(err.category(), FailureCategory::Download);
    assert_eq!(std::fs::read(&path).unwrap(), b"the previous, good file");
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);

    // The caller's cap holds for any backend.
    let good = RawServer::start(response(
        &format!("content-length: {}\r\n", video.len()),
        &video,
    ))
    .await;
    let b = backend(&good.url(""), u64::MAX);
    let err = b
        .download_to_file(&Asset::new(good.url("/v.mp4")), &path, 1000, &|_| {})
        .await
        .unwrap_err();
    assert_eq!(err.category(), FailureCategory::Download);
    assert!(err.to_string().contains("cap of 1000 bytes"), "{err}");
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);

    let file = b
        .download_to_file(&Asset::new(good.url("/v.mp4")), &path, u64::MAX, &|_| {})
        .await
        .unwrap();
    assert_eq!(file.bytes, video.len() as u64);
    assert_eq!(file.sha256, hex::encode(sha2::Sha256::digest(&video)));
    assert_eq!(std::fs::read(&path).unwrap(), video);
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
}

#[tokio::test]
async fn an_unwritable_directory_is_an_io_error_naming_it() {
    let server = RawServer::start(response("", b"abc")).await;
    let b = backend(&server.url(""), u64::MAX);
    let path = std::path::Path::new("/nonexistent-framebreak-dir/out.mp4");
    let err = b
        .download_to_file(&Asset::new(server.url("/v.mp4")), path, u64::MAX, &|_| {})
        .await
        .unwrap_err();
    assert!(
        err.to_string().contains("/nonexistent-framebreak-dir"),
        "{err}"
    );
}
