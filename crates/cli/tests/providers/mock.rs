//! A fault-injecting mock of one provider's HTTP API: a raw TCP listener
//! with just enough HTTP/1.1 (one request per connection, `Connection:
//! close`) to lose answers the way networks and gateways lose them.
//!
//! It counts what a user would be billed for: every job it created, per
//! prompt. Faults hit submissions (chosen by submission number or by seeded
//! odds) and, for `JobFails`, the job's later polls.

use std::collections::{BTreeMap, HashMap};
use std::net::SocketAddr;
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant, SystemTime};

use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

use crate::faults::{Fault, Plan};
use crate::protocol::{Job, Phase, Provider, Route};

/// The key the tests give the binary, and the only one the mock accepts.
pub(crate) const KEY: &str = "test-key-7f3a";

/// What the mock did with one prompt.
#[derive(Debug, Clone, Default)]
pub(crate) struct PromptLog {
    /// Submissions received.
    pub(crate) submits: usize,
    /// Jobs created: more than one is a duplicate the user paid for.
    pub(crate) created: usize,
    /// Faults dealt to its submissions, in order.
    pub(crate) faults: Vec<Fault>,
    /// Whether the submission that created its job was answered in full.
    pub(crate) answered: bool,
    /// The id of the (first) job created.
    pub(crate) job: Option<String>,
    /// Whether its job reports a failure.
    pub(crate) fails: bool,
}

/// Everything the mock saw.
#[derive(Debug, Clone, Default)]
pub(crate) struct Seen {
    pub(crate) submits: usize,
    pub(crate) created: usize,
    pub(crate) prompts: BTreeMap<String, PromptLog>,
    /// Faults dealt, by kind.
    pub(crate) dealt: BTreeMap<String, usize>,
    pub(crate) lists: usize,
    pub(crate) polls: usize,
    pub(crate) downloads: usize,
    /// Requests it did not understand or refused (wrong auth, no prompt).
    pub(crate) unexpected: Vec<String>,
}

#[derive(Default)]
struct State {
    seen: Seen,
    jobs: Vec<Job>,
    polls_of: HashMap<String, u32>,
    prompt_index: HashMap<String, usize>,
}

struct Shared {
    provider: Provider,
    plan: Plan,
    base: String,
    video: Vec<u8>,
    state: Mutex<State>,
    changed: Condvar,
}

/// A running mock; it stops when dropped.
pub(crate) struct Mock {
    shared: Arc<Shared>,
    runtime: Option<tokio::runtime::Runtime>,
}

impl Mock {
    /// Listens on a free port of 127.0.0.1.
    pub(crate) fn start(provider: Provider, plan: Plan) -> Self {
        let video = std::fs::read(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../media/tests/fixtures/bench_320x240.mp4"
        ))
        .expect("the video fixture");
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .unwrap();
        let listener = runtime.block_on(TcpListener::bind("127.0.0.1:0")).unwrap();
        let addr: SocketAddr = listener.local_addr().unwrap();
        let shared = Arc::new(Shared {
            provider,
            plan,
            base: format!("http://{addr}"),
            video,
            state: Mutex::new(State::default()),
            changed: Condvar::new(),
        });
        let server = shared.clone();
        runtime.spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                tokio::spawn(serve(server.clone(), stream));
            }
        });
        Self {
            shared,
            runtime: Some(runtime),
        }
    }

    /// The base URL to give `--base-url`.
    pub(crate) fn url(&self) -> &str {
        &self.shared.base
    }

    /// A copy of what it saw so far.
    pub(crate) fn seen(&self) -> Seen {
        self.shared.state.lock().unwrap().seen.clone()
    }

    /// Waits until it has created `n` jobs; `false` after `limit`.
    pub(crate) fn wait_for_created(&self, n: usize, limit: Duration) -> bool {
        let deadline = Instant::now() + limit;
        let mut state = self.shared.state.lock().unwrap();
        while state.seen.created < n {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return false;
            }
            state = self.shared.changed.wait_timeout(state, left).unwrap().0;
        }
        true
    }
}

impl Drop for Mock {
    fn drop(&mut self) {
        if let Some(rt) = self.runtime.take() {
            rt.shutdown_background();
        }
    }
}

/// One parsed request.
struct Request {
    method: String,
    path: String,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

async fn read_request(stream: &mut TcpStream) -> Option<Request> {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 8192];
    let head_end = loop {
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break i + 4;
        }
        let n = stream.read(&mut chunk).await.ok()?;
        if n == 0 || buf.len() > 1 << 20 {
            return None;
        }
        buf.extend_from_slice(&chunk[..n]);
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).into_owned();
    let mut lines = head.split("\r\n");
    let mut first = lines.next()?.split(' ');
    let (method, path) = (first.next()?.to_owned(), first.next()?.to_owned());
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_owned()))
        .collect();
    let length = headers
        .iter()
        .find(|(n, _)| n == "content-length")
        .and_then(|(_, v)| v.parse::<usize>().ok())
        .unwrap_or(0);
    let mut body = buf[head_end..].to_vec();
    while body.len() < length {
        let n = stream.read(&mut chunk).await.ok()?;
        if n == 0 {
            return None;
        }
        body.extend_from_slice(&chunk[..n]);
    }
    Some(Request {
        method,
        path,
        headers,
        body,
    })
}

async fn respond(
    stream: &mut TcpStream,
    status: u16,
    extra: &str,
    content_type: &str,
    body: &[u8],
) {
    let reason = match status {
        200 => "OK",
        201 => "Created",
        401 => "Unauthorized",
        404 => "Not Found",
        429 => "Too Many Requests",
        _ => "Internal Server Error",
    };
    let head = format!(
        "HTTP/1.1 {status} {reason}\r\ncontent-type: {content_type}\r\ncontent-length: {}\r\nconnection: close\r\n{extra}\r\n",
        body.len()
    );
    let _ = stream.write_all(head.as_bytes()).await;
    let _ = stream.write_all(body).await;
    let _ = stream.shutdown().await;
}

async fn json(stream: &mut TcpStream, status: u16, extra: &str, body: &Value) {
    let text = serde_json::to_vec(body).unwrap();
    respond(stream, status, extra, "application/json", &text).await;
}

/// Holds the connection until the client closes it.
async fn hold(stream: &mut TcpStream) {
    let mut sink = [0u8; 1024];
    while matches!(stream.read(&mut sink).await, Ok(n) if n > 0) {}
}

async fn serve(shared: Arc<Shared>, mut stream: TcpStream) {
    let Some(request) = read_request(&mut stream).await else {
        return;
    };
    let provider = shared.provider;
    let route = provider.route(&request.method, &request.path);
    let what = format!("{} {}", request.method, request.path);
    if !matches!(route, Route::Video(_)) && !provider.authorized(&request.headers, KEY) {
        shared.note_unexpected(format!("{what}: no valid credentials"));
        let body = provider.error(401, "invalid credentials");
        return json(&mut stream, 401, "", &body).await;
    }
    match route {
        Route::Submit { model } => submit(&shared, &mut stream, &request, model).await,
        Route::Status(id) => {
            let answer = shared.poll(&id, false);
            match answer {
                Some(body) => json(&mut stream, 200, "", &body).await,
                None => not_found(&shared, &mut stream, what).await,
            }
        }
        Route::Result(id) => match shared.poll(&id, true) {
            Some(body) => json(&mut stream, 200, "", &body).await,
            None => not_found(&shared, &mut stream, what).await,
        },
        Route::List => {
            let body = {
                let mut state = shared.state.lock().unwrap();
                state.seen.lists += 1;
                provider.list(&state.jobs, &request.path, &shared.base)
            };
            json(&mut stream, 200, "", &body).await;
        }
        Route::Video(seq) => {
            let exists = {
                let mut state = shared.state.lock().unwrap();
                state.seen.downloads += 1;
                (1..=state.jobs.len()).contains(&seq)
            };
            if exists {
                respond(&mut stream, 200, "", "video/mp4", &shared.video).await;
            } else {
                not_found(&shared, &mut stream, what).await;
            }
        }
        Route::Unknown => not_found(&shared, &mut stream, what).await,
    }
}

async fn not_found(shared: &Shared, stream: &mut TcpStream, what: String) {
    shared.note_unexpected(format!("{what}: not found"));
    let body = shared.provider.error(404, "not found");
    json(stream, 404, "", &body).await;
}

async fn submit(shared: &Shared, stream: &mut TcpStream, request: &Request, model: Option<String>) {
    let provider = shared.provider;
    let body: Value = serde_json::from_slice(&request.body).unwrap_or(Value::Null);
    let Some(prompt) = provider.prompt(&body) else {
        shared.note_unexpected(format!("POST {}: no prompt in {body}", request.path));
        let answer = provider.error(400, "prompt is required");
        return json(stream, 400, "", &answer).await;
    };
    let model = model.or_else(|| provider.model(&body));
    let fault = shared.take_submit(&prompt);
    match fault {
        Some(Fault::Server5xx) => {
            let answer = provider.error(500, "internal server error");
            return json(stream, 500, "", &answer).await;
        }
        Some(Fault::RateLimited) => {
            let answer = provider.error(429, "too many requests");
            return json(stream, 429, "retry-after: 1\r\n", &answer).await;
        }
        _ => {}
    }
    let job = shared.create(&prompt, model, provider.input(&body), fault.is_none());
    let answer = serde_json::to_vec(&provider.submitted(&job, &shared.base)).unwrap();
    match fault {
        None => respond(stream, 200, "", "application/json", &answer).await,
        Some(Fault::ResetAfterProcessing) => {}
        Some(Fault::Truncated2xx) => {
            let head = format!(
                "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
                answer.len()
            );
            let _ = stream.write_all(head.as_bytes()).await;
            let _ = stream.write_all(&answer[..answer.len() / 2]).await;
            let _ = stream.flush().await;
        }
        Some(Fault::HangAfterProcessing) => hold(stream).await,
        Some(Fault::Server5xx | Fault::RateLimited) => unreachable!("answered above"),
    }
}

impl Shared {
    fn note_unexpected(&self, what: String) {
        self.state.lock().unwrap().seen.unexpected.push(what);
    }

    /// Counts a submission of `prompt` and picks its fault.
    fn take_submit(&self, prompt: &str) -> Option<Fault> {
        let mut state = self.state.lock().unwrap();
        let next_index = state.prompt_index.len();
        let index = *state
            .prompt_index
            .entry(prompt.to_owned())
            .or_insert(next_index);
        state.seen.submits += 1;
        let number = state.seen.submits;
        let log = state.seen.prompts.entry(prompt.to_owned()).or_default();
        let nth = log.submits;
        log.submits += 1;
        let fault = self.plan.submit_fault(number, index, nth);
        if let Some(f) = fault {
            log.faults.push(f);
            *state.seen.dealt.entry(format!("{f:?}")).or_default() += 1;
        }
        fault
    }

    fn create(&self, prompt: &str, model: Option<String>, input: Value, answered: bool) -> Job {
        let mut state = self.state.lock().unwrap();
        let seq = state.jobs.len() + 1;
        let index = state.prompt_index[prompt];
        let job = Job {
            id: self.provider.job_id(seq, model.as_deref()),
            seq,
            prompt: prompt.to_owned(),
            model,
            input,
            created: SystemTime::now(),
        };
        let fails = self.plan.job_fails(index);
        if fails {
            *state.seen.dealt.entry("JobFails".into()).or_default() += 1;
        }
        let log = state
            .seen
            .prompts
            .get_mut(prompt)
            .expect("counted at submit");
        log.created += 1;
        if log.job.is_none() {
            log.job = Some(job.id.clone());
            log.answered = answered;
            log.fails = fails;
        }
        state.seen.created += 1;
        state.jobs.push(job.clone());
        drop(state);
        self.changed.notify_all();
        job
    }

    /// The answer to a poll of job `id` (a fal result when `result`): the
    /// first poll finds it queued, later ones finished or failed.
    fn poll(&self, id: &str, result: bool) -> Option<Value> {
        let mut state = self.state.lock().unwrap();
        let job = state.jobs.iter().find(|j| j.id == id)?.clone();
        let fails = state.seen.prompts[&job.prompt].fails
            && state.seen.prompts[&job.prompt].job.as_deref() == Some(id);
        state.seen.polls += 1;
        if result {
            return Some(Provider::result(&job, &self.base));
        }
        let polls = state.polls_of.entry(job.id.clone()).or_default();
        *polls += 1;
        let phase = match (*polls, fails) {
            (1, _) => Phase::Queued,
            (_, false) => Phase::Done,
            (_, true) => Phase::Failed,
        };
        Some(self.provider.status(&job, phase, &self.base))
    }
}
