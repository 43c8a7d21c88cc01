//! The `/metrics` endpoint, scraped over loopback and parsed.

use std::collections::HashMap;
use std::net::SocketAddr;

use framebreak_telemetry::{Telemetry, names};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

async fn get(addr: SocketAddr, request: &str) -> (String, String) {
    let mut stream = TcpStream::connect(addr).await.unwrap();
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).await.unwrap();
    let (head, body) = response.split_once("\r\n\r\n").expect("a head and a body");
    (head.to_owned(), body.to_owned())
}

/// Parses the text exposition format: `name{labels} value` per sample line.
fn parse(body: &str) -> HashMap<String, f64> {
    body.lines()
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(|l| {
            let (series, value) = l
                .rsplit_once(' ')
                .unwrap_or_else(|| panic!("bad line {l:?}"));
            (
                series.to_owned(),
                value
                    .parse()
                    .unwrap_or_else(|_| panic!("bad value in {l:?}")),
            )
        })
        .collect()
}

#[tokio::test]
async fn scraping_the_endpoint_over_loopback_returns_every_metric() {
    let (telemetry, recorder) = Telemetry::builder()
        .metrics_addr("127.0.0.1:0".parse().unwrap())
        .build()
        .unwrap();
    telemetry.start().await.unwrap();
    let addr = telemetry.metrics_addr().unwrap();
    assert!(addr.ip().is_loopback() && addr.port() != 0);

    metrics::with_local_recorder(&recorder, || {
        names::describe();
        metrics::counter!(names::JOBS_FINISHED_TOTAL, "outcome" => "done").increment(7);
        metrics::counter!(names::JOBS_FINISHED_TOTAL, "outcome" => "failed").increment(2);
        metrics::counter!(names::RETRIES_TOTAL, "backend" => "replicate").increment(3);
        metrics::gauge!(names::BREAKER_STATE, "backend" => "replicate").set(2.0);
        metrics::gauge!(names::DEVICE_UTILIZATION_PERCENT, "device" => "cpu").set(37.5);
        for ms in [100.0, 200.0, 300.0] {
            metrics::histogram!(names::REQUEST_DURATION_SECONDS, "backend" => "sim")
                .record(ms / 1000.0);
        }
        metrics::histogram!(names::FRAME_ANALYSIS_SECONDS, "device" => "cpu").record(0.004);
        metrics::histogram!(names::RATE_LIMIT_WAIT_SECONDS, "backend" => "fal").record(1.5);
    });

    let (head, body) = get(addr, "GET /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n").await;
    assert!(head.starts_with("HTTP/1.1 200 OK"), "{head}");
    assert!(head.contains("text/plain; version=0.0.4"), "{head}");
    assert!(
        body.contains("# HELP framebreak_retries_total Retries scheduled"),
        "{body}"
    );
    let samples = parse(&body);
    let value = |series: &str| {
        *samples
            .get(series)
            .unwrap_or_else(|| panic!("{series} missing from\n{body}"))
    };
    assert_eq!(
        value(r#"framebreak_jobs_finished_total{outcome="done"}"#),
        7.0
    );
    assert_eq!(
        value(r#"framebreak_jobs_finished_total{outcome="failed"}"#),
        2.0
    );
    assert_eq!(
        value(r#"framebreak_retries_total{backend="replicate"}"#),
        3.0
    );
    assert_eq!(
        value(r#"framebreak_breaker_state{backend="replicate"}"#),
        2.0
    );
    assert_eq!(
        value(r#"framebreak_device_utilization_percent{device="cpu"}"#),
        37.5
    );
    assert_eq!(
        value(r#"framebreak_request_duration_seconds_count{backend="sim"}"#),
        3.0
    );
    assert!(
        (value(r#"framebreak_request_duration_seconds_sum{backend="sim"}"#) - 0.6).abs() < 1e-9
    );
    assert_eq!(
        value(r#"framebreak_frame_analysis_seconds_count{device="cpu"}"#),
        1.0
    );
    assert_eq!(
        value(r#"framebreak_rate_limit_wait_seconds_count{backend="fal"}"#),
        1.0
    );

    // The same samples reached the bounded histories.
    let key = framebreak_telemetry::SeriesKey::new(names::REQUEST_DURATION_SECONDS)
        .label("backend", "sim");
    let now = std::time::Instant::now();
    let agg = telemetry
        .collector()
        .aggregates(&key, now, std::time::Duration::from_secs(60))
        .unwrap()
        .unwrap();
    assert_eq!(agg.count, 3);
    assert!((agg.mean - 0.2).abs() < 1e-9 && (agg.p50 - 0.2).abs() < 1e-3);

    let (head, _) = get(addr, "GET /other HTTP/1.1\r\n\r\n").await;
    assert!(head.starts_with("HTTP/1.1 404"), "{head}");
    let (head, _) = get(addr, "POST /metrics HTTP/1.1\r\n\r\n").await;
    assert!(head.starts_with("HTTP/1.1 405"), "{head}");

    telemetry.shutdown().await;
    assert!(
        TcpStream::connect(addr).await.is_err(),
        "still listening after shutdown"
    );
}

#[tokio::test]
async fn an_address_in_use_is_a_typed_error() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap();
    let (telemetry, _recorder) = Telemetry::builder().metrics_addr(addr).build().unwrap();
    let err = telemetry.start().await.unwrap_err();
    assert!(
        matches!(err, framebreak_telemetry::Error::Bind { addr: a, .. } if a == addr),
        "{err}"
    );
    assert!(err.to_string().contains(&addr.to_string()));
}

#[tokio::test]
async fn invalid_samples_reach_prometheus_but_not_the_histories() {
    let (telemetry, recorder) = Telemetry::builder().build().unwrap();
    metrics::with_local_recorder(&recorder, || {
        metrics::gauge!(names::QUEUE_DEPTH).set(f64::NAN);
        metrics::histogram!(names::FRAME_ANALYSIS_SECONDS).record(-1.0);
    });
    assert_eq!(recorder.dropped(), 2);
    assert!(
        telemetry
            .render()
            .contains("framebreak_telemetry_dropped_samples_total 2")
    );
    assert_eq!(telemetry.collector().series_count().unwrap(), 0);
    telemetry.shutdown().await;
}
