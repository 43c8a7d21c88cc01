//! The HTTP face: the OpenAI-compatible Videos API (`POST /v1/videos`,
//! `GET /v1/videos/{id}`, `GET /v1/videos/{id}/content?variant=video`) plus
//! `GET /v1/videos/{id}/truth` and `GET /v1/stats`, with fault injection,
//! `Idempotency-Key` and an optional journal.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::body::{Body, Bytes};
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use framebreak_client::VideoRequest;
use serde::Deserialize;
use serde_json::{Value, json};
use tokio::sync::watch;

use crate::jobs::{Delivery, JobView, Jobs, Phase, SubmitFault};
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
}

impl ServerConfig {
    /// No faults, small latency, no key, two workers.
    #[must_use]
    pub fn new(simulator: Arc<Simulator>) -> Self {
        Self {
            simulator,
            faults: Faults::none(),
            latency: Latency::default(),
            api_key: None,
            workers: 2,
            journal: None,
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
        .route("/v1/videos", post(submit))
        .route("/v1/videos/{id}", get(status))
        .route("/v1/videos/{id}/content", get(content))
        .route("/v1/videos/{id}/truth", get(truth))
        .route("/v1/stats", get(stats))
        .with_state(state)
}

fn error(status: StatusCode, kind: &str, code: Option<&str>, message: &str) -> Response {
    (
        status,
        Json(json!({"error": {"message": message, "type": kind, "param": null, "code": code}})),
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

#[derive(Deserialize)]
struct SubmitBody {
    prompt: Option<String>,
    #[serde(default)]
    model: Option<String>,
    #[serde(default)]
    seconds: Option<Value>,
    #[serde(default)]
    size: Option<String>,
    #[serde(default)]
    seed: Option<u64>,
}

fn bad_request(message: &str) -> Response {
    error(
        StatusCode::BAD_REQUEST,
        "invalid_request_error",
        None,
        message,
    )
}

fn boxed_bad(message: &str) -> Box<Response> {
    Box::new(bad_request(message))
}

/// The request a submission body describes.
fn request_of(
    headers: &HeaderMap,
    body: &Bytes,
) -> std::result::Result<VideoRequest, Box<Response>> {
    let json = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"));
    if !json {
        return Err(Box::new(error(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "invalid_request_error",
            None,
            "the simulator accepts JSON submissions only (Content-Type: application/json)",
        )));
    }
    let b: SubmitBody = serde_json::from_slice(body)
        .map_err(|e| boxed_bad(&format!("the body is not a video request: {e}")))?;
    let prompt = b
        .prompt
        .filter(|p| !p.trim().is_empty())
        .ok_or_else(|| boxed_bad("`prompt` is required"))?;
    let mut r = VideoRequest::new(prompt);
    if let Some(key) = headers.get("idempotency-key") {
        let key = key
            .to_str()
            .map_err(|_| boxed_bad("the Idempotency-Key header is not visible ASCII"))?;
        r.idempotency_key = Some(key.to_owned());
    }
    r.model = b.model;
    r.seed = b.seed;
    if let Some(s) = b.seconds {
        let secs = match &s {
            Value::String(t) => t.trim().parse::<u32>().ok(),
            Value::Number(n) => n.as_u64().and_then(|n| u32::try_from(n).ok()),
            _ => None,
        };
        r.duration_secs = Some(secs.ok_or_else(|| {
            boxed_bad(&format!("`seconds` = {s} is not a whole number of seconds"))
        })?);
    }
    if let Some(size) = b.size {
        let parsed = size
            .split_once('x')
            .and_then(|(w, h)| Some((w.trim().parse().ok()?, h.trim().parse().ok()?)));
        let (w, h) =
            parsed.ok_or_else(|| boxed_bad(&format!("`size` = {size:?} is not WIDTHxHEIGHT")))?;
        r = r.size(w, h);
    }
    Ok(r)
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
    let created = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let mut v = json!({
        "id": view.id,
        "object": "video",
        "model": r.model.clone().unwrap_or_else(|| "framebreak-sim".into()),
        "status": status,
        "progress": progress.round(),
        "created_at": created,
        "size": r.size.map_or_else(|| format!("{}x{}", crate::DEFAULT_SIZE.0, crate::DEFAULT_SIZE.1), |s| s.to_string()),
        "seconds": r.duration_secs.unwrap_or(crate::DEFAULT_DURATION_SECS).to_string(),
    });
    if let Some(e) = err {
        v["error"] = e;
    }
    v
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
    let request = match request_of(&headers, &body) {
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

#[derive(Deserialize)]
struct ContentQuery {
    variant: Option<String>,
}

async fn content(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    Path(id): Path<String>,
    Query(q): Query<ContentQuery>,
) -> Response {
    if let Some(denied) = authorised(&state, &headers) {
        return denied;
    }
    if let Some(v) = q.variant.as_deref().filter(|v| *v != "video") {
        return bad_request(&format!(
            "variant `{v}` is not available: the simulator makes `video` only"
        ));
    }
    state.jobs.note_download();
    let Some((video, delivery)) = state.jobs.video_to_deliver(&id).await else {
        return error(
            StatusCode::NOT_FOUND,
            "invalid_request_error",
            Some("not_found"),
            &format!("Video {id} has no content (unknown, unfinished or failed)."),
        );
    };
    let mp4 = video.mp4.clone();
    let len = mp4.len();
    let body = match delivery {
        Delivery::Whole => Body::from(mp4),
        Delivery::Truncated => {
            let half = mp4.slice(..len / 2);
            // The head and the first half go out before the body breaks
            // off; breaking at once would look like a refused connection.
            Body::from_stream(futures::stream::unfold(Some(half), |half| async move {
                match half {
                    Some(h) => Some((Ok(h), None)),
                    None => {
                        tokio::time::sleep(Duration::from_millis(20)).await;
                        let cut = std::io::Error::new(
                            std::io::ErrorKind::BrokenPipe,
                            "truncated by fault injection",
                        );
                        Some((Err(cut), None))
                    }
                }
            }))
        }
        Delivery::Slow(bps) => {
            let chunk = (bps as usize / 10).clamp(1, 64 << 10);
            let pieces: Vec<Bytes> = (0..len)
                .step_by(chunk)
                .map(|i| mp4.slice(i..(i + chunk).min(len)))
                .collect();
            Body::from_stream(futures::stream::unfold(
                pieces.into_iter(),
                move |mut it| async move {
                    let piece = it.next()?;
                    tokio::time::sleep(Duration::from_secs_f64(piece.len() as f64 / bps as f64))
                        .await;
                    Some((Ok::<_, std::io::Error>(piece), it))
                },
            ))
        }
    };
    (
        [
            (header::CONTENT_TYPE, "video/mp4".to_owned()),
            (header::CONTENT_LENGTH, len.to_string()),
        ],
        body,
    )
        .into_response()
}

async fn truth(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Response {
    if let Some(denied) = authorised(&state, &headers) {
        return denied;
    }
    match state.jobs.video(&id) {
        Some((video, _)) => Json(&video.truth).into_response(),
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
