//! Tracing output: correlation ids on every event in a job, secrets never
//! written, in both formats.

use std::io;
use std::sync::{Arc, Mutex};

use framebreak_telemetry::{LogFormat, REDACTED, Secret, job_span, layer};
use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::layer::SubscriberExt;

#[derive(Clone, Default)]
struct Capture(Arc<Mutex<Vec<u8>>>);

impl io::Write for Capture {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl<'a> MakeWriter<'a> for Capture {
    type Writer = Capture;

    fn make_writer(&'a self) -> Capture {
        self.clone()
    }
}

const SECRETS: [&str; 6] = [
    "sk-live-4242",
    "hunter2",
    "Bearer abc.def",
    "tok-99",
    "cookie-jar-1",
    "r8_secret",
];

fn emit() {
    let job = job_span("job-7", "v-3f9a");
    let _in_job = job.enter();
    let request = tracing::info_span!("request", backend = "replicate", api_key = "sk-live-4242");
    let _in_request = request.enter();
    tracing::info!(
        password = "hunter2",
        authorization = "Bearer abc.def",
        attempt = 2,
        "submitting"
    );
    tracing::warn!(key = ?Secret::new("r8_secret"), token = %"tok-99", "retrying");
    tracing::error!(set_cookie = "cookie-jar-1", credential = ?Secret::new("7"), "failed");
}

fn capture(format: LogFormat) -> String {
    let out = Capture::default();
    let subscriber = tracing_subscriber::registry().with(layer(format, out.clone()));
    tracing::subscriber::with_default(subscriber, emit);
    let bytes = out.0.lock().unwrap().clone();
    String::from_utf8(bytes).unwrap()
}

#[test]
fn pretty_lines_carry_job_ids_and_no_secret() {
    let text = capture(LogFormat::Pretty { ansi: false });
    assert_eq!(text.lines().count(), 3, "{text}");
    for line in text.lines() {
        assert!(
            line.contains(r#"job{job_id=job-7 variant_id=v-3f9a}"#),
            "{line}"
        );
        assert!(line.contains(&format!("api_key={REDACTED}")), "{line}");
    }
    assert!(
        text.contains("submitting password=[redacted] authorization=[redacted] attempt=2"),
        "{text}"
    );
    for secret in SECRETS {
        assert!(!text.contains(secret), "{secret} leaked:\n{text}");
    }
}

#[test]
fn json_lines_carry_job_ids_as_keys_and_no_secret() {
    let text = capture(LogFormat::Json);
    for secret in SECRETS {
        assert!(!text.contains(secret), "{secret} leaked:\n{text}");
    }
    let lines: Vec<serde_json::Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 3);
    for line in &lines {
        assert_eq!(line["job_id"], "job-7");
        assert_eq!(line["variant_id"], "v-3f9a");
        assert_eq!(line["spans"][0]["name"], "job");
        assert_eq!(line["spans"][1]["api_key"], REDACTED);
        assert!(line["timestamp"].as_str().unwrap().ends_with('Z'));
    }
    assert_eq!(lines[0]["level"], "INFO");
    assert_eq!(lines[0]["fields"]["message"], "submitting");
    assert_eq!(lines[0]["fields"]["attempt"], 2);
    assert_eq!(lines[0]["fields"]["password"], REDACTED);
    assert_eq!(lines[1]["fields"]["key"], REDACTED);
    assert_eq!(lines[2]["fields"]["credential"], REDACTED);
}

#[test]
fn a_field_recorded_later_keeps_json_spans_valid() {
    let out = Capture::default();
    let subscriber = tracing_subscriber::registry().with(layer(LogFormat::Json, out.clone()));
    tracing::subscriber::with_default(subscriber, || {
        let span = tracing::info_span!(
            "job",
            job_id = "j",
            variant_id = tracing::field::Empty,
            token = tracing::field::Empty
        );
        span.record("variant_id", "v");
        span.record("token", "late-secret");
        span.in_scope(|| tracing::info!("x"));
    });
    let text = String::from_utf8(out.0.lock().unwrap().clone()).unwrap();
    assert!(!text.contains("late-secret"), "{text}");
    let line: serde_json::Value = serde_json::from_str(text.trim()).unwrap();
    assert_eq!(line["variant_id"], "v");
}

#[test]
fn secret_values_print_redacted() {
    let s = Secret::new(String::from("sk-live-4242"));
    assert_eq!(format!("{s:?} {s}"), "Secret(***) ***");
    assert_eq!(s.expose(), "sk-live-4242");
}

#[test]
fn bad_filters_and_log_files_are_typed_errors() {
    use framebreak_telemetry::{Error, init_tracing};
    let e = init_tracing(LogFormat::Json, "info,framebreak=loud", None).unwrap_err();
    assert!(matches!(e, Error::InvalidFilter { .. }), "{e}");
    let e = init_tracing(
        LogFormat::Json,
        "info",
        Some(std::path::Path::new("/nonexistent/dir/log.jsonl")),
    )
    .unwrap_err();
    assert!(matches!(e, Error::LogFile { .. }), "{e}");
}
