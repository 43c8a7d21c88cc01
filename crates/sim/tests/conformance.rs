//! Both faces pass the client's `VideoBackend` conformance suite, staged by
//! configuring the simulator's faults.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use framebreak_client::conformance::{
    Arranged, Arrangement, Expectation, Harness, Scenario, run_suite,
};
use framebreak_client::{HttpConfig, OpenAiBackend, Secret, VideoRequest};
use framebreak_sim::{Faults, Latency, Profile, ServerConfig, SimBackend, SimServer, Simulator};

const KEY: &str = "sk-sim-test";

struct Shared {
    sim: Arc<Simulator>,
    request: VideoRequest,
    video: Vec<u8>,
}

fn shared() -> Shared {
    let sim = Arc::new(Simulator::new(Profile::weak()).unwrap());
    let request = VideoRequest::new("a glass of water tips over and the water flows upward")
        .duration_secs(1)
        .size(96, 64)
        .seed(7)
        // The OpenAI protocol has no seed field; the simulator reads this
        // extension, which the adapter merges into the body.
        .extra("seed", serde_json::json!(7));
    // Rendered once here; every arrangement finds it in the shared cache.
    let video = sim.render(&request).unwrap().mp4.to_vec();
    Shared {
        sim,
        request,
        video,
    }
}

fn faults(spec: &str) -> Faults {
    spec.parse().unwrap()
}

/// What each scenario needs from the simulator.
fn staging(scenario: Scenario) -> Option<(Faults, Latency)> {
    let fast = Latency::none();
    Some(match scenario {
        Scenario::HappyPath => (Faults::none(), fast),
        Scenario::QueuedRunningDone => (Faults::none(), fast.polls(1, 1)),
        Scenario::FailedJob => (faults("failed=1"), fast),
        Scenario::RateLimitedWithRetryAfter => (faults("rate_limited=1,retry_after=7s"), fast),
        Scenario::RateLimitedWithoutRetryAfter => (faults("rate_limited=1"), fast),
        Scenario::ServerError => (faults("server_error=1"), fast),
        Scenario::Timeout => (faults("hang=1"), fast),
        Scenario::ContentPolicy => (faults("content_policy=1"), fast),
        Scenario::TruncatedDownload => (faults("truncated=1"), fast),
        Scenario::MalformedJson => (faults("malformed=1"), fast),
        _ => return None,
    })
}

struct InProcess(Shared);

#[async_trait]
impl Harness for InProcess {
    async fn arrange(&self, scenario: Scenario) -> Arrangement {
        if matches!(
            scenario,
            Scenario::ConnectionRefused | Scenario::AuthFailure | Scenario::MalformedJson
        ) {
            return Arrangement::Unsupported(format!(
                "{scenario}: an in-process backend has no connection, key or wire format"
            ));
        }
        let Some((faults, latency)) = staging(scenario) else {
            return Arrangement::Unsupported(format!("{scenario} is not staged"));
        };
        let backend = SimBackend::shared(self.0.sim.clone(), faults, latency)
            .timeout(Duration::from_millis(200));
        let mut expect = Expectation::new("sim", self.0.video.clone());
        expect.request = self.0.request.clone();
        Arrangement::Ready(Box::new(Arranged::new(
            Box::new(backend),
            expect,
            Box::new(()),
        )))
    }
}

struct OverHttp(Shared);

fn client(base: &str, key: &str) -> OpenAiBackend {
    OpenAiBackend::new(Secret::new(key))
        .unwrap()
        .with_base_url(base)
        .unwrap()
        .with_http(
            HttpConfig::new()
                .unwrap()
                .timeout(Duration::from_millis(500)),
        )
}

#[async_trait]
impl Harness for OverHttp {
    async fn arrange(&self, scenario: Scenario) -> Arrangement {
        let mut expect = Expectation::new("openai", self.0.video.clone());
        expect.request = self.0.request.clone();
        if scenario == Scenario::ConnectionRefused {
            let closed = std::net::TcpListener::bind("127.0.0.1:0")
                .unwrap()
                .local_addr()
                .unwrap();
            let backend = client(&format!("http://{closed}"), KEY);
            return Arrangement::Ready(Box::new(Arranged::new(
                Box::new(backend),
                expect,
                Box::new(()),
            )));
        }
        let (faults, latency) = if scenario == Scenario::AuthFailure {
            (Faults::none(), Latency::none())
        } else {
            match staging(scenario) {
                Some(s) => s,
                None => return Arrangement::Unsupported(format!("{scenario} is not staged")),
            }
        };
        let config = ServerConfig::new(self.0.sim.clone())
            .faults(faults)
            .latency(latency)
            .api_key(KEY);
        let server = SimServer::bind("127.0.0.1:0", config).unwrap();
        let key = if scenario == Scenario::AuthFailure {
            "sk-wrong"
        } else {
            KEY
        };
        let backend = client(&server.url(), key);
        Arrangement::Ready(Box::new(Arranged::new(
            Box::new(backend),
            expect,
            Box::new(server),
        )))
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_in_process_backend_passes_the_conformance_suite() {
    let report = run_suite(&InProcess(shared())).await;
    report.assert_passed();
    assert_eq!(report.passed.len(), 9, "{report:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_http_server_passes_the_conformance_suite_through_the_openai_adapter() {
    let report = run_suite(&OverHttp(shared())).await;
    report.assert_passed();
    assert_eq!(report.passed.len(), 12, "{report:?}");
    assert!(report.unsupported.is_empty());
}
