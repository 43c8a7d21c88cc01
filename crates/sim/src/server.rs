//! The HTTP face: the OpenAI-compatible Videos API (`POST /v1/videos` as
//! JSON or a form, `GET /v1/videos`, `GET` and `DELETE /v1/videos/{id}`,
//! `GET /v1/videos/{id}/content?variant=video|thumbnail|spritesheet`) plus
//! `GET /v1/videos/{id}/truth` and `GET /v1/stats`, with fault injection,
//! `Idempotency-Key` and an optional journal.

mod content;
mod list;
mod preview;
mod submission;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::{Value, json};
use tokio::sync::watch;

use self::content::content;
use self::list::list;
use self::submission::request_of;
use crate::jobs::{JobView, Jobs, Phase, SERVER_RETAINED_SETTLED_JOBS, SubmitFault};
use crate::{Error, Faults, Latency, Result, Simulator, Stats};

/// How the server behaves.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct ServerConfig {
    /// The model (shared, with its cache).
    pub simulator: Arc<Simulator>,
    /// Faults to inject.
    pub faults: Faults,
    /// How long jobs take.
    pub latency: Latency,
    /// The bearer key clients must send; `None` accepts any.
    pub api_key: Option<String>,
    /// Runtime worker threads.
    pub workers: usize,
    /// The journal that keeps jobs across restarts (see
    /// [`SimBackend::with_journal`](crate::SimBackend::with_journal)).
    pub journal: Option<PathBuf>,
    /// Whether an `Idempotency-Key` header names the job (a repeat gets
    /// the first job back); when `false` the header is ignored and every
    /// submission is a job of its own, as with a provider that promises
    /// no idempotency.
    pub honour_idempotency: bool,
}

impl ServerConfig {
    /// No faults, small latency, no key, two workers, `Idempotency-Key`
    /// honoured.
    #[must_use]
    pub fn new(simulator: Arc<Simulator>) -> Self {
        Self {
            simulator,
            faults: Faults::none(),
            latency: Latency::default(),
            api_key: None,
            workers: 2,
            journal: None,
            honour_idempotency: true,
        }
    }

    /// Injects `faults`.
    #[must_use]
    pub fn faults(mut self, faults: Faults) -> Self {
        self.faults = faults;
        self
    }

    /// Sets how long jobs take.
    #[must_use]
    pub fn latency(mut self, latency: Latency) -> Self {
        self.latency = latency;
        self
    }

    /// Requires `Authorization: Bearer <key>`.
    #[must_use]
    pub fn api_key(mut self, key: impl Into<String>) -> Self {
        self.api_key = Some(key.into());
        self
    }

    /// Keeps jobs in the journal at `path`: read back when the server
    /// starts, appended to (one JSON line per job, before its id is
    /// answered) while it runs.
    #[must_use]
    pub fn journal(mut self, path: impl Into<PathBuf>) -> Self {
        self.journal = Some(path.into());
        self
    }

    /// Honours `Idempotency-Key` headers (the default) or, with `false`,
    /// ignores them.
    #[must_use]
    pub fn honour_idempotency(mut self, honour: bool) -> Self {
        self.honour_idempotency = honour;
        self
    }

    /// Sets the number of runtime worker threads (at least one).
    #[must_use]
    pub fn workers(mut self, workers: usize) -> Self {
        self.workers = workers.max(1);
        self
    }
}

struct AppState {
    jobs: Arc<Jobs>,
    api_key: Option<String>,
    honour_idempotency: bool,
    stop: watch::Receiver<bool>,
}

/// The simulator over HTTP.
///
/// ```
/// use std::sync::Arc;
/// use framebreak_sim::{Profile, ServerConfig, SimServer, Simulator};
///
/// let sim = Arc::new(Simulator::new(Profile::weak())?);
/// let server = SimServer::bind("127.0.0.1:0", ServerConfig::new(sim))?;
/// assert!(server.local_addr().port() > 0);
/// server.shutdown();
/// # Ok::<(), framebreak_sim::Error>(())
/// ```
#[derive(Debug)]
pub struct SimServer;

/// A running server; dropping it (or [`shutdown`](Self::shutdown)) stops it.
#[derive(Debug)]
pub struct ServerHandle {
    addr: SocketAddr,
    jobs: Arc<Jobs>,
    stop: Option<watch::Sender<bool>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl SimServer {
    /// Listens on `addr` (`127.0.0.1:0` picks a free port) and serves on
    /// a runtime of its own thread, so it works from sync and async code.
    ///
    /// # Errors
    ///
    /// [`Error::Bind`] when the address is taken or invalid;
    /// [`Error::Io`] or [`Error::Journal`] when the journal cannot be used.
    pub fn bind(addr: &str, config: ServerConfig) -> Result<ServerHandle> {
        let jobs = Arc::new(match &config.journal {
            Some(path) => Jobs::open(config.simulator, config.faults, config.latency, path)?,
            None => Jobs::new(config.simulator, config.faults, config.latency),
        });
        // Many workers share the server: one may fetch again a video
        // another downloaded long before.
        jobs.retain_settled(SERVER_RETAINED_SETTLED_JOBS);
        let bind = |reason: String| Error::Bind {
            addr: addr.to_owned(),
            reason,
        };
        let listener = std::net::TcpListener::bind(addr).map_err(|e| bind(e.to_string()))?;
        listener
            .set_nonblocking(true)
            .map_err(|e| bind(e.to_string()))?;
        let local = listener.local_addr().map_err(|e| bind(e.to_string()))?;
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(config.workers)
            .thread_name("framebreak-sim")
            .enable_all()
            .build()
            .map_err(|e| bind(format!("cannot start the runtime: {e}")))?;
        let (tx, rx) = watch::channel(false);
        let state = Arc::new(AppState {
            jobs: jobs.clone(),
            api_key: config.api_key,
            honour_idempotency: config.honour_idempotency,
            stop: rx.clone(),
        });
        let app = router(state);
        let thread = std::thread::Builder::new()
            .name("framebreak-sim-server".into())
            .spawn(move || {
                runtime.block_on(async move {
                    let Ok(listener) = tokio::net::TcpListener::from_std(listener) else { return };
                    let mut stopped = rx.clone();
                    let mut forced = rx;
                    let serve = axum::serve(listener, app).with_graceful_shutdown(async move {
                        let _ = stopped.wait_for(|s| *s).await;
                    });
                    // Connections still busy (a slow download) get a short
                    // grace, then the runtime goes.
                    tokio::select! {
                        r = serve => if let Err(e) = r { tracing::error!(error = %e, "simulator server failed") },
                        () = async { let _ = forced.wait_for(|s| *s).await; tokio::time::sleep(Duration::from_secs(2)).await; } => {}
                    }
                });
                runtime.shutdown_timeout(Duration::from_millis(200));
            })
            .map_err(|e| bind(format!("cannot start the server thread: {e}")))?;
        tracing::info!(addr = %local, "simulator listening");
        Ok(ServerHandle {
            addr: local,
            jobs,
            stop: Some(tx),
            thread: Some(thread),
        })
    }
}

impl ServerHandle {
    /// Where it listens.
    #[must_use]
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://ADDR`, the base URL for a client.
    #[must_use]
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// What the server has been asked so far, as `GET /v1/stats` says.
    #[must_use]
    pub fn stats(&self) -> Stats {
        self.jobs.stats()
    }

    /// Stops accepting, lets requests under way finish (2 s at most) and
    /// waits for the server thread.
    pub fn shutdown(mut self) {
        self.stop_now();
    }

    /// Blocks until the server stops (it stops only when shut down, so
    /// this serves for ever: the CLI's foreground mode).
    pub fn wait(mut self) {
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }

    fn stop_now(&mut self) {
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(true);
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl Drop for ServerHandle {
    fn drop(&mut self) {
        self.stop_now();
    }
}

fn router(state: Arc<AppState>) -> Router {
    Router::new()
        .route("/v1/videos", post(submit).get(list))
        .route("/v1/videos/{id}", get(status).delete(delete))
        .route("/v1/videos/{id}/content", get(content))
        .route("/v1/videos/{id}/truth", get(truth))
        .route("/v1/stats", get(stats))
        .with_state(state)
}

fn error(status: StatusCode, kind: &str, code: Option<&str>, message: &str) -> Response {
    error_on(status, kind, code, None, message)
}

/// The OpenAI error body, naming the request parameter at fault.
fn error_on(
    status: StatusCode,
    kind: &str,
    code: Option<&str>,
    param: Option<&str>,
    message: &str,
) -> Response {
    (
        status,
        Json(json!({"error": {"message": message, "type": kind, "param": param, "code": code}})),
    )
        .into_response()
}

fn authorised(state: &AppState, headers: &HeaderMap) -> Option<Response> {
    let key = state.api_key.as_deref()?;
    let given = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "));
    if given == Some(key) {
        None
    } else {
        Some(error(
            StatusCode::UNAUTHORIZED,
            "invalid_request_error",
            Some("invalid_api_key"),
            "Incorrect API key provided.",
        ))
    }
}

fn bad_request(message: &str) -> Response {
    error(
        StatusCode::BAD_REQUEST,
        "invalid_request_error",
        None,
        message,
    )
}

/// A 400 naming the query or body parameter at fault.
fn bad_param(param: &str, message: &str) -> Response {
    error_on(
        StatusCode::BAD_REQUEST,
        "invalid_request_error",
        None,
        Some(param),
        message,
    )
}

fn video_json(view: &JobView) -> Value {
    let (status, progress, err) = match &view.phase {
        Phase::Queued => ("queued", 0.0, None),
        Phase::Running(p) => ("in_progress", f64::from(*p) * 100.0, None),
        Phase::Done => ("completed", 100.0, None),
        Phase::Failed { code, message } => (
            "failed",
            0.0,
            Some(json!({"code": code, "message": message})),
        ),
    };
    let r = &view.request;
    json!({
        "id": view.id,
        "object": "video",
        "model": r.model.clone().unwrap_or_else(|| "framebreak-sim".into()),
        "status": status,
        "progress": progress.round() as u64,
        "created_at": view.created_ms / 1000,
        "completed_at": view.completed_ms.map(|ms| ms / 1000),
        // The simulator keeps a job's assets until the job is deleted.
        "expires_at": null,
        "prompt": r.prompt,
        "remixed_from_video_id": null,
        "size": r.size.map_or_else(|| format!("{}x{}", crate::DEFAULT_SIZE.0, crate::DEFAULT_SIZE.1), |s| s.to_string()),
        "seconds": r.duration_secs.unwrap_or(crate::DEFAULT_DURATION_SECS).to_string(),
        "error": err,
    })
}

fn with_hint(state: &AppState, view: &JobView) -> Response {
    let mut resp = Json(video_json(view)).into_response();
    if !matches!(view.phase, Phase::Done | Phase::Failed { .. })
        && let Ok(v) = HeaderValue::from_str(&state.jobs.latency.poll_after.as_millis().to_string())
    {
        resp.headers_mut().insert("openai-poll-after-ms", v);
    }
    resp
}

async fn submit(State(state): State<Arc<AppState>>, headers: HeaderMap, body: Bytes) -> Response {
    state.jobs.note_submit_request();
    if let Some(denied) = authorised(&state, &headers) {
        state.jobs.note_rejected();
        return denied;
    }
    let fault = state.jobs.submit_fault();
    if fault.is_some() {
        state.jobs.note_rejected();
    }
    match fault {
        Some(SubmitFault::RateLimited(wait)) => {
            let mut resp = error(
                StatusCode::TOO_MANY_REQUESTS,
                "rate_limit_error",
                Some("rate_limit_exceeded"),
                "Rate limit reached for video generation.",
            );
            if let Some(w) = wait {
                let h = resp.headers_mut();
                h.insert(header::RETRY_AFTER, HeaderValue::from(w.as_secs()));
                h.insert("retry-after-ms", HeaderValue::from(w.as_millis() as u64));
            }
            return resp;
        }
        Some(SubmitFault::ServerError) => {
            return error(
                StatusCode::INTERNAL_SERVER_ERROR,
                "server_error",
                None,
                "The simulator had an internal error.",
            );
        }
        Some(SubmitFault::Hang) => {
            let mut stop = state.stop.clone();
            let _ = stop.wait_for(|s| *s).await;
            return error(
                StatusCode::SERVICE_UNAVAILABLE,
                "server_error",
                None,
                "shutting down",
            );
        }
        Some(SubmitFault::ContentPolicy) => {
            return error(
                StatusCode::BAD_REQUEST,
                "invalid_request_error",
                Some("moderation_blocked"),
                "Your request was blocked by our moderation system.",
            );
        }
        Some(SubmitFault::Malformed) => {
            return (
                StatusCode::OK,
                [(header::CONTENT_TYPE, "text/html")],
                "<html><body>502 Bad Gateway</body></html>",
            )
                .into_response();
        }
        None => {}
    }
    let request = match request_of(&headers, &body, state.honour_idempotency) {
        Ok(r) => r,
        Err(resp) => {
            state.jobs.note_rejected();
            return *resp;
        }
    };
    match state.jobs.submit(&request) {
        Ok(view) => Json(video_json(&view)).into_response(),
        Err(e @ Error::Io { .. }) => error(
            StatusCode::INTERNAL_SERVER_ERROR,
            "server_error",
            None,
            &e.to_string(),
        ),
        Err(e) => bad_request(&e.to_string()),
    }
}

fn not_found(id: &str) -> Response {
    error(
        StatusCode::NOT_FOUND,
        "invalid_request_error",
        Some("not_found"),
        &format!("No video with id {id}."),
    )
}

async fn status(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Response {
    if let Some(denied) = authorised(&state, &headers) {
        return denied;
    }
    match state.jobs.poll(&id) {
        Some(view) => with_hint(&state, &view),
        None => not_found(&id),
    }
}

async fn delete(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Response {
    if let Some(denied) = authorised(&state, &headers) {
        return denied;
    }
    match state.jobs.delete(&id) {
        Ok(true) => {
            Json(json!({"id": id, "object": "video.deleted", "deleted": true})).into_response()
        }
        Ok(false) => not_found(&id),
        Err(e) => error(
            StatusCode::INTERNAL_SERVER_ERROR,
            "server_error",
            None,
            &e.to_string(),
        ),
    }
}

async fn truth(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Response {
    if let Some(denied) = authorised(&state, &headers) {
        return denied;
    }
    match state.jobs.truth(&id) {
        Some(truth) => Json(&truth).into_response(),
        None => error(
            StatusCode::NOT_FOUND,
            "invalid_request_error",
            Some("not_found"),
            &format!("Video {id} has no ground truth (unknown, unfinished or failed)."),
        ),
    }
}

async fn stats(State(state): State<Arc<AppState>>, headers: HeaderMap) -> Response {
    if let Some(denied) = authorised(&state, &headers) {
        return denied;
    }
    Json(state.jobs.stats()).into_response()
}
