//! A conformance harness over mockito: each provider describes its
//! protocol as canned responses, and this stages every scenario from them.

use std::time::Duration;

use async_trait::async_trait;
use framebreak_client::conformance::{
    Arranged, Arrangement, Expectation, Harness, Scenario, Stage,
};
use framebreak_client::{HttpConfig, VideoBackend};
use mockito::{Matcher, ServerGuard};

use crate::util::{KEY, SilentServer, refused_base, video_bytes};

/// One canned exchange. `{base}` in the body becomes the server's URL.
#[derive(Clone, Debug)]
pub(crate) struct Step {
    pub(crate) method: &'static str,
    pub(crate) path: String,
    pub(crate) status: usize,
    pub(crate) body: String,
}

pub(crate) fn step(
    method: &'static str,
    path: impl Into<String>,
    status: usize,
    body: impl Into<String>,
) -> Step {
    Step {
        method,
        path: path.into(),
        status,
        body: body.into(),
    }
}

/// Where a provider reports a content-policy refusal.
#[derive(Clone, Debug)]
pub(crate) enum PolicyAt {
    /// The submit request is refused with this response.
    Submit(Step),
    /// The job is accepted, and these responses report the refusal.
    Status(Vec<Step>),
}

/// A provider's protocol, as canned responses.
pub(crate) struct Spec {
    pub(crate) provider: &'static str,
    /// The auth header every request must carry.
    pub(crate) auth: (&'static str, String),
    /// Headers every request must carry besides auth.
    pub(crate) headers: Vec<(&'static str, &'static str)>,
    /// The accepted submit; its body must match `submit_body`.
    pub(crate) submit: Step,
    pub(crate) submit_body: Matcher,
    pub(crate) queued: Vec<Step>,
    pub(crate) running: Vec<Step>,
    pub(crate) succeeded: Vec<Step>,
    pub(crate) failed: Vec<Step>,
    pub(crate) policy: PolicyAt,
    /// Where the video is served.
    pub(crate) download_path: String,
    /// Whether the video request must carry the auth header (the asset is
    /// on the API's own host, as OpenAI's content endpoint and Veo's files).
    pub(crate) download_auth: bool,
    /// The provider's error JSON carrying a message.
    pub(crate) error_body: fn(&str) -> String,
    pub(crate) progression: Vec<Stage>,
    pub(crate) make: fn(base: &str, http: HttpConfig) -> Box<dyn VideoBackend>,
}

pub(crate) struct MockHarness(pub(crate) Spec);

impl MockHarness {
    async fn mock(
        &self,
        server: &mut ServerGuard,
        step: &Step,
        times: Option<usize>,
    ) -> mockito::Mock {
        let spec = &self.0;
        let mut mock = server
            .mock(step.method, step.path.as_str())
            .match_query(Matcher::Any)
            .match_header(spec.auth.0, spec.auth.1.as_str());
        for (name, value) in &spec.headers {
            mock = mock.match_header(*name, *value);
        }
        let body = step.body.replace("{base}", &server.url());
        let mut mock = mock
            .with_status(step.status)
            .with_header("content-type", "application/json")
            .with_header("x-request-id", "req_conformance")
            .with_body(body);
        if let Some(n) = times {
            mock = mock.expect(n);
        }
        mock.create_async().await
    }

    async fn submit_ok(&self, server: &mut ServerGuard) -> mockito::Mock {
        let spec = &self.0;
        let step = &spec.submit;
        let mut mock = server
            .mock(step.method, step.path.as_str())
            .match_query(Matcher::Any)
            .match_header(spec.auth.0, spec.auth.1.as_str())
            .match_body(spec.submit_body.clone());
        for (name, value) in &spec.headers {
            mock = mock.match_header(*name, *value);
        }
        mock.with_status(step.status)
            .with_header("content-type", "application/json")
            .with_body(step.body.replace("{base}", &server.url()))
            .create_async()
            .await
    }

    async fn submit_fails(
        &self,
        server: &mut ServerGuard,
        status: usize,
        headers: &[(&str, &str)],
        body: &str,
    ) -> mockito::Mock {
        let step = &self.0.submit;
        let mut mock = server
            .mock(step.method, step.path.as_str())
            .match_query(Matcher::Any)
            .with_status(status);
        for (name, value) in headers {
            mock = mock.with_header(*name, value);
        }
        mock.with_body(body).create_async().await
    }

    async fn steps(
        &self,
        server: &mut ServerGuard,
        steps: &[Step],
        times: Option<usize>,
        keep: &mut Vec<mockito::Mock>,
    ) {
        for step in steps {
            keep.push(self.mock(server, step, times).await);
        }
    }

    async fn video(&self, server: &mut ServerGuard, truncated: bool) -> mockito::Mock {
        let mut mock = server
            .mock("GET", self.0.download_path.as_str())
            .match_query(Matcher::Any);
        if self.0.download_auth {
            mock = mock.match_header(self.0.auth.0, self.0.auth.1.as_str());
        }
        let mock = mock
            .with_status(200)
            .with_header("content-type", "video/mp4");
        let mock = if truncated {
            // Half the video, then the connection breaks mid-body.
            mock.with_chunked_body(|w| {
                let video = video_bytes();
                w.write_all(&video[..video.len() / 2])?;
                Err(std::io::Error::other("connection lost"))
            })
        } else {
            mock.with_body(video_bytes())
        };
        mock.create_async().await
    }

    fn expect(&self) -> Expectation {
        Expectation::new(self.0.provider, video_bytes())
            .progression(self.0.progression.clone())
            .retry_after(Some(Duration::from_secs(7)))
    }

    fn backend(&self, base: &str, timeout: Duration) -> Box<dyn VideoBackend> {
        (self.0.make)(base, HttpConfig::new().unwrap().timeout(timeout))
    }
}

#[async_trait]
impl Harness for MockHarness {
    async fn arrange(&self, scenario: Scenario) -> Arrangement {
        let expect = self.expect();
        match scenario {
            Scenario::Timeout => {
                let silent = SilentServer::start().await;
                let backend = self.backend(&silent.base(), Duration::from_millis(300));
                return Arrangement::Ready(Box::new(Arranged::new(
                    backend,
                    expect,
                    Box::new(silent),
                )));
            }
            Scenario::ConnectionRefused => {
                let backend = self.backend(&refused_base(), Duration::from_secs(5));
                return Arrangement::Ready(Box::new(Arranged::new(backend, expect, Box::new(()))));
            }
            _ => {}
        }
        let mut server = mockito::Server::new_async().await;
        let mut keep = Vec::new();
        let error = self.0.error_body;
        match scenario {
            Scenario::HappyPath => {
                keep.push(self.submit_ok(&mut server).await);
                self.steps(&mut server, &self.0.succeeded, None, &mut keep)
                    .await;
                keep.push(self.video(&mut server, false).await);
            }
            Scenario::QueuedRunningDone => {
                keep.push(self.submit_ok(&mut server).await);
                self.steps(&mut server, &self.0.queued, Some(1), &mut keep)
                    .await;
                self.steps(&mut server, &self.0.running, Some(1), &mut keep)
                    .await;
                self.steps(&mut server, &self.0.succeeded, None, &mut keep)
                    .await;
                keep.push(self.video(&mut server, false).await);
            }
            Scenario::FailedJob => {
                keep.push(self.submit_ok(&mut server).await);
                self.steps(&mut server, &self.0.failed, None, &mut keep)
                    .await;
            }
            Scenario::RateLimitedWithRetryAfter => {
                let body = error("Too many requests, slow down");
                keep.push(
                    self.submit_fails(&mut server, 429, &[("retry-after", "7")], &body)
                        .await,
                );
            }
            Scenario::RateLimitedWithoutRetryAfter => {
                let body = error("Too many requests");
                keep.push(self.submit_fails(&mut server, 429, &[], &body).await);
            }
            Scenario::ServerError => {
                let body = error("The server had an error while processing your request");
                keep.push(self.submit_fails(&mut server, 503, &[], &body).await);
            }
            Scenario::AuthFailure => {
                let body = error("Invalid API key");
                keep.push(self.submit_fails(&mut server, 401, &[], &body).await);
            }
            Scenario::MalformedJson => {
                let body = "<html><body>502 Bad Gateway from a proxy</body></html>";
                keep.push(
                    self.submit_fails(&mut server, 200, &[("content-type", "text/html")], body)
                        .await,
                );
            }
            Scenario::ContentPolicy => match &self.0.policy {
                PolicyAt::Submit(step) => {
                    let step = step.clone();
                    keep.push(self.mock(&mut server, &step, None).await);
                }
                PolicyAt::Status(steps) => {
                    keep.push(self.submit_ok(&mut server).await);
                    let steps = steps.clone();
                    self.steps(&mut server, &steps, None, &mut keep).await;
                }
            },
            Scenario::TruncatedDownload => {
                keep.push(self.submit_ok(&mut server).await);
                self.steps(&mut server, &self.0.succeeded, None, &mut keep)
                    .await;
                keep.push(self.video(&mut server, true).await);
            }
            other => {
                return Arrangement::Unsupported(format!("{other} is not staged by this harness"));
            }
        }
        let backend = self.backend(&server.url(), Duration::from_secs(10));
        Arrangement::Ready(Box::new(Arranged::new(
            backend,
            expect,
            Box::new((server, keep)),
        )))
    }
}

/// The Bearer header value of the test key.
pub(crate) fn bearer() -> String {
    format!("Bearer {KEY}")
}

/// Runs the whole suite and insists that every scenario was staged and held.
pub(crate) async fn assert_conformance(spec: Spec) {
    let report = framebreak_client::conformance::run_suite(&MockHarness(spec)).await;
    report.assert_passed();
    assert!(
        report.unsupported.is_empty(),
        "unstaged: {:?}",
        report.unsupported
    );
    assert_eq!(report.passed.len(), Scenario::ALL.len());
}
