//! Process-wide installation: once works, twice is a typed error. (Its own
//! test binary, since a global recorder and subscriber stay for the
//! process.)

use framebreak_telemetry::{Error, LogFormat, Telemetry, init_tracing, names};

#[tokio::test]
async fn installs_once_and_refuses_a_second_time() {
    let dir = std::env::temp_dir().join(format!("framebreak-telemetry-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let log = dir.join("run.jsonl");
    init_tracing(LogFormat::Json, "info", Some(&log)).unwrap();
    let again = init_tracing(LogFormat::Pretty { ansi: false }, "info", None).unwrap_err();
    assert!(
        matches!(
            again,
            Error::AlreadyInstalled {
                what: "tracing subscriber"
            }
        ),
        "{again}"
    );

    let telemetry = Telemetry::builder()
        .metrics_addr("127.0.0.1:0".parse().unwrap())
        .install()
        .await
        .unwrap();
    let again = Telemetry::builder().install().await.unwrap_err();
    assert!(
        matches!(
            again,
            Error::AlreadyInstalled {
                what: "metrics recorder"
            }
        ),
        "{again}"
    );

    // The global facade now reaches the exporter; the global subscriber, the file.
    metrics::counter!(names::RETRIES_TOTAL, "backend" => "sim").increment(1);
    let span = framebreak_telemetry::job_span("job-1", "v-1");
    span.in_scope(|| tracing::info!(api_key = "sk-should-not-appear", "hello"));
    assert!(
        telemetry
            .render()
            .contains(r#"framebreak_retries_total{backend="sim"} 1"#)
    );
    assert!(telemetry.metrics_addr().is_some());
    telemetry.shutdown().await;

    let text = std::fs::read_to_string(&log).unwrap();
    assert!(text.contains(r#""job_id":"job-1""#), "{text}");
    assert!(!text.contains("sk-should-not-appear"), "{text}");
    std::fs::remove_dir_all(&dir).ok();
}
