//! No key shows up in any error, Debug output or log line, even when a
//! server echoes it back.

use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use framebreak_client::{
    FalBackend, HttpConfig, LumaBackend, OpenAiBackend, Post, Publisher, RemoteJob,
    ReplicateBackend, RunwayBackend, Secret, VeoBackend, VideoBackend, VideoRequest, XPublisher,
};
use tracing_subscriber::fmt::MakeWriter;

use crate::util::{SilentServer, refused_base};

const LEAKY_KEY: &str = "sk-live-TOPSECRET-7c2f0e9b4d";

#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> MakeWriter<'a> for Captured {
    type Writer = Self;
    fn make_writer(&'a self) -> Self {
        self.clone()
    }
}

/// Every adapter as (name, backend, its Debug output), with the leaky key.
fn backends(base: &str, timeout: Duration) -> Vec<(&'static str, Box<dyn VideoBackend>, String)> {
    crate::util::all_backends(base, timeout, LEAKY_KEY)
}

/// Answers every request with `status` and a body quoting the key, as a
/// careless gateway might.
async fn echoing_server(status: usize) -> mockito::ServerGuard {
    let mut server = mockito::Server::new_async().await;
    let body = format!(
        r#"{{"error":{{"message":"Incorrect API key provided: {LEAKY_KEY}","code":"invalid_api_key"}},"detail":"key {LEAKY_KEY}"}}"#
    );
    for method in ["GET", "POST"] {
        server
            .mock(method, mockito::Matcher::Any)
            .with_status(status)
            .with_body(&body)
            .create_async()
            .await;
    }
    server
}

#[tokio::test]
async fn no_key_in_errors_debug_output_or_logs() {
    let captured = Captured::default();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_writer(captured.clone())
        .with_ansi(false)
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);

    let mut seen = Vec::new();
    let silent = SilentServer::start().await;
    let mut bases = Vec::new();
    let mut servers = Vec::new();
    for status in [401, 429, 500, 200] {
        let server = echoing_server(status).await;
        bases.push((server.url(), Duration::from_secs(10)));
        servers.push(server);
    }
    bases.push((refused_base(), Duration::from_secs(5)));
    bases.push((silent.base(), Duration::from_millis(200)));

    for (base, timeout) in &bases {
        for (name, backend, debug) in backends(base, *timeout) {
            seen.push(debug);
            let err = backend
                .submit(&VideoRequest::new("a cat"))
                .await
                .unwrap_err();
            seen.push(format!("{err} {err:?}"));
            let job = RemoteJob::new(name, "job-1");
            if let Err(err) = backend.status(&job).await {
                seen.push(format!("{err} {err:?}"));
            }
        }
        let x = XPublisher::new(Secret::new(LEAKY_KEY))
            .unwrap()
            .with_base_url(base)
            .unwrap()
            .with_http(HttpConfig::new().unwrap().timeout(*timeout));
        seen.push(format!("{x:?}"));
        let err = x.publish(&Post::new("hello")).await.unwrap_err();
        seen.push(format!("{err} {err:?}"));
    }
    seen.push(format!(
        "{:?} {}",
        Secret::new(LEAKY_KEY),
        Secret::new(LEAKY_KEY)
    ));

    let logs = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
    assert!(
        logs.contains("error response"),
        "the log capture works: {logs}"
    );
    assert!(!logs.contains(LEAKY_KEY), "a log line holds the key");
    for text in &seen {
        assert!(!text.contains(LEAKY_KEY), "the key leaked into: {text}");
    }
    // The echoed messages still arrive, with the key scrubbed.
    assert!(
        seen.iter()
            .any(|t| t.contains("Incorrect API key provided: ***")),
        "{seen:#?}"
    );
    assert!(seen.len() > 70);
}

#[test]
fn a_missing_key_names_its_variable() {
    let err = Secret::from_env("FRAMEBREAK_TEST_UNSET_VARIABLE_1").unwrap_err();
    assert!(
        err.to_string()
            .starts_with("FRAMEBREAK_TEST_UNSET_VARIABLE_1 is not set"),
        "{err}"
    );
    assert_eq!(OpenAiBackend::KEY_VAR, "OPENAI_API_KEY");
    assert_eq!(ReplicateBackend::KEY_VAR, "REPLICATE_API_TOKEN");
    assert_eq!(FalBackend::KEY_VAR, "FAL_KEY");
    assert_eq!(RunwayBackend::KEY_VAR, "RUNWAYML_API_SECRET");
    assert_eq!(LumaBackend::KEY_VAR, "LUMAAI_API_KEY");
    assert_eq!(VeoBackend::KEY_VAR, "GEMINI_API_KEY");
}
