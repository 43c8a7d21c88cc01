//! The whole job flow over HTTP, framebreak against its Python predecessor's
//! design, side by side in one run: 10,000 jobs, each submit → poll until
//! completed (honouring the server's poll hint) → the 200 KB video streamed
//! to a file on disk, against the nginx mock of `../shared/bench/http_ref`
//! on 127.0.0.1:18080, at concurrency 100 and 1,000.
//!
//! framebreak is `framebreak-scheduler` (SQLite store, the real default;
//! the in-memory store alongside) driving `framebreak-client`'s
//! `OpenAiBackend` as a three-step job. The reference is
//! `http_ref/aiohttp_client.py` (asyncio queue, N worker coroutines, one
//! aiohttp session). Each side runs in its own process so that its peak RSS
//! (`VmHWM` for framebreak, `ru_maxrss` for Python, both the kernel's peak
//! resident set) is its own; both write to the same temporary filesystem.
//! The bench starts nginx itself from the shared `nginx.conf` in a temporary
//! prefix and stops it by its PID.
//!
//! Every run's downloads stay on disk until the whole bench ends. On ext4
//! without a journal (these machines' root filesystem) creating a file scans
//! past every inode deleted in the last minutes (`recently_deleted` in
//! `ext4/ialloc.c`): a client run right after another one deleted its 10,000
//! files spent about half its CPU there (`perf record`), so the run order,
//! not the client, decided much of the kernel time. With nothing deleted
//! until the end, each client pays only for its own files.
//!
//! Run with `cargo bench -p framebreak --bench http_flow` or
//! `scripts/bench-http`. Settings: `HTTP_FLOW_JOBS` (default 10,000),
//! `HTTP_FLOW_CONCURRENCY` (default `100,1000`), `HTTP_FLOW_STORES`
//! (default `sqlite,memory`), `HTTP_FLOW_PYTHON` (default
//! `.work/bench/venv/bin/python`), `HTTP_FLOW_REF_DIR` (default
//! `../shared/bench/http_ref`).
#![allow(clippy::print_stdout, clippy::print_stderr)]

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::process::{Child, Command, ExitCode, Stdio};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use framebreak_client::{
    Asset, JobState, OpenAiBackend, RemoteJob, Secret, VideoBackend, VideoRequest, no_progress,
};
use framebreak_scheduler::{
    BackendConfig, Failure, FailureCategory, Handler, JobStore, MemoryStore, NewJob, Scheduler,
    SqliteStore, Step, StepContext,
};
use serde_json::{Value, json};
use tokio::io::AsyncWrite;

const ADDR: &str = "127.0.0.1:18080";
const BASE_URL: &str = "http://127.0.0.1:18080";
/// The reference client's `--poll-interval`: the wait between polls when the
/// server gives no hint.
const DEFAULT_POLL: Duration = Duration::from_millis(500);
/// Bounds one side's run, like the reference client's `--timeout-s`.
const RUN_LIMIT: Duration = Duration::from_secs(300);
const BACKEND: &str = "openai";
/// Set in a child process: `sqlite:100` runs framebreak with that store and
/// concurrency, prints one JSON line and exits.
const CHILD_ENV: &str = "HTTP_FLOW_CHILD";
/// Set in a child process: the (new) folder its downloads go to and stay in.
const OUT_ENV: &str = "HTTP_FLOW_OUT";

fn main() -> ExitCode {
    let result = match std::env::var(CHILD_ENV) {
        Ok(spec) => child(&spec),
        Err(_) => parent(),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("http_flow: {e}");
            ExitCode::FAILURE
        }
    }
}

type BenchResult<T> = Result<T, String>;

fn env_or(name: &str, default: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| default.to_owned())
}

fn jobs_setting() -> BenchResult<usize> {
    let jobs: usize = env_or("HTTP_FLOW_JOBS", "10000")
        .parse()
        .map_err(|e| format!("HTTP_FLOW_JOBS: {e}"))?;
    if !(1..=100_000).contains(&jobs) {
        return Err(format!("HTTP_FLOW_JOBS={jobs}: must be 1 to 100000"));
    }
    Ok(jobs)
}

// ---------------------------------------------------------------- framebreak

/// Submit, poll, download: one step each, the position persisted in between.
/// The phase lives in the state, so that a poll that finds the job still
/// running can return `Step::Next` with the same state and poll again.
#[derive(Debug)]
struct VideoFlow {
    backend: OpenAiBackend,
    out_dir: PathBuf,
}

fn failure(e: &framebreak_client::Error) -> Failure {
    let category =
        FailureCategory::from_name(e.category().as_str()).unwrap_or(FailureCategory::Server);
    let failure = Failure::new(category, e.to_string());
    match e.retry_after() {
        Some(after) => failure.retry_after(after),
        None => failure,
    }
}

fn bad_state(ctx: &StepContext<'_>, what: &str) -> Failure {
    Failure::new(
        FailureCategory::BadRequest,
        format!(
            "job {}: step {} state has {what}",
            ctx.job.as_str(),
            ctx.step
        ),
    )
}

#[async_trait]
impl Handler for VideoFlow {
    async fn step(&self, ctx: StepContext<'_>) -> Result<Step, Failure> {
        match ctx.state.get("phase").and_then(Value::as_str) {
            None => {
                // The OpenAI-compatible protocol has no look-up by
                // idempotency key, so a possibly executed submit is repeated.
                let prompt = ctx.payload["prompt"].as_str().unwrap_or_default();
                let request = VideoRequest::new(prompt)
                    .model("sora-2")
                    .duration_secs(4)
                    .size(1280, 720);
                let job = self
                    .backend
                    .submit(&request)
                    .await
                    .map_err(|e| failure(&e))?;
                Ok(Step::Next(json!({ "phase": "poll", "job": job })))
            }
            Some("poll") => {
                let job: RemoteJob = serde_json::from_value(ctx.state["job"].clone())
                    .map_err(|_| bad_state(&ctx, "no remote job"))?;
                let status = self.backend.status(&job).await.map_err(|e| failure(&e))?;
                match status.state {
                    JobState::Succeeded { assets } => {
                        let asset = assets.first().ok_or_else(|| bad_state(&ctx, "no asset"))?;
                        Ok(Step::Next(
                            json!({ "phase": "download", "job": job, "asset": asset }),
                        ))
                    }
                    JobState::Failed { error } => Err(failure(&error)),
                    _ => {
                        // The scheduler has no delayed step, so the wait for
                        // the next poll holds the job's slot, as the
                        // reference client's worker does.
                        let wait = status.poll_after.unwrap_or(DEFAULT_POLL);
                        tokio::select! {
                            () = tokio::time::sleep(wait) => Ok(Step::Next(ctx.state.clone())),
                            () = ctx.cancel.cancelled() => Err(Failure::new(
                                FailureCategory::Cancelled,
                                "cancelled while waiting to poll",
                            )),
                        }
                    }
                }
            }
            Some("download") => {
                let asset: Asset = serde_json::from_value(ctx.state["asset"].clone())
                    .map_err(|_| bad_state(&ctx, "no asset"))?;
                let path = self.out_dir.join(format!("{}.mp4", ctx.job.as_str()));
                let mut file = std::fs::File::create(&path)
                    .map(PageCacheFile)
                    .map_err(|e| {
                        Failure::new(
                            FailureCategory::Download,
                            format!("{}: {e}", path.display()),
                        )
                    })?;
                let bytes = self
                    .backend
                    .download(&asset, &mut file, &no_progress)
                    .await
                    .map_err(|e| failure(&e))?;
                Ok(Step::Done(json!({ "bytes": bytes })))
            }
            Some(_) => Err(bad_state(&ctx, "an unknown phase")),
        }
    }
}

/// A file written on the calling thread, as the reference client's
/// `f.write` does. Copying a chunk into the page cache takes microseconds;
/// `tokio::fs::File` instead hands every chunk to the blocking pool, which
/// here cost more CPU than the copy and a thread per download in flight.
struct PageCacheFile(std::fs::File);

impl AsyncWrite for PageCacheFile {
    fn poll_write(
        self: Pin<&mut Self>,
        _: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        Poll::Ready(self.get_mut().0.write(buf))
    }

    fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Poll::Ready(self.get_mut().0.flush())
    }

    fn poll_shutdown(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}

/// Peak resident set of this process, in KiB.
fn vm_hwm_kb() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("VmHWM:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        })
        .unwrap_or(0)
}

/// User and system CPU seconds of this process (all threads).
fn cpu_seconds() -> (f64, f64) {
    let Ok(stat) = std::fs::read_to_string("/proc/self/stat") else {
        return (0.0, 0.0);
    };
    // Fields after the parenthesised command name; utime and stime are the
    // 14th and 15th fields overall, in clock ticks (100 per second on Linux).
    let rest = stat.rsplit_once(')').map_or("", |(_, r)| r);
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |i: usize| {
        fields
            .get(i)
            .and_then(|v| v.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    (ticks(11) / 100.0, ticks(12) / 100.0)
}

fn child(spec: &str) -> BenchResult<()> {
    let (store_kind, concurrency) = spec
        .split_once(':')
        .and_then(|(s, c)| Some((s.to_owned(), c.parse::<usize>().ok()?)))
        .ok_or_else(|| format!("{CHILD_ENV}={spec}: expected STORE:CONCURRENCY"))?;
    let jobs = jobs_setting()?;
    let threads = std::thread::available_parallelism().map_or(2, usize::from);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(threads)
        .enable_all()
        .build()
        .map_err(|e| format!("tokio runtime: {e}"))?;
    let line = runtime.block_on(run_framebreak(&store_kind, concurrency, jobs))?;
    println!("{line}");
    Ok(())
}

async fn run_framebreak(store_kind: &str, concurrency: usize, jobs: usize) -> BenchResult<Value> {
    let work = tempfile::tempdir().map_err(|e| format!("temporary directory: {e}"))?;
    // The parent removes the downloads when the whole bench is over.
    let out_dir = match std::env::var_os(OUT_ENV) {
        Some(dir) => PathBuf::from(dir),
        None => work.path().join("dl"),
    };
    std::fs::create_dir(&out_dir).map_err(|e| format!("{}: {e}", out_dir.display()))?;
    let store: Arc<dyn JobStore> = match store_kind {
        "sqlite" => Arc::new(
            SqliteStore::open(work.path().join("jobs.db")).map_err(|e| format!("SQLite: {e}"))?,
        ),
        "memory" => Arc::new(MemoryStore::new()),
        other => return Err(format!("unknown store `{other}`: sqlite or memory")),
    };
    // Like the reference client, every job is queued before the clock starts.
    let new_jobs = (0..jobs)
        .map(|i| {
            NewJob::new(
                format!("job-{i:06}"),
                BACKEND,
                json!({ "prompt": format!("prompt {i}: a red fox running through snow, cinematic") }),
            )
        })
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| format!("job: {e}"))?;
    store
        .enqueue(new_jobs)
        .await
        .map_err(|e| format!("enqueue: {e}"))?;

    let backend = OpenAiBackend::new(Secret::new("sk-bench-loopback"))
        .and_then(|b| b.with_base_url(BASE_URL))
        .map_err(|e| format!("OpenAiBackend: {e}"))?;
    let handler = VideoFlow {
        backend,
        out_dir: out_dir.clone(),
    };
    let scheduler = Scheduler::builder(Arc::clone(&store), handler)
        .concurrency(concurrency)
        .backend(
            BACKEND,
            BackendConfig {
                max_in_flight: concurrency,
                ..BackendConfig::default()
            },
        )
        .build()
        .map_err(|e| format!("scheduler: {e}"))?;

    let start = Instant::now();
    let summary = tokio::time::timeout(RUN_LIMIT, scheduler.run()).await;
    let wall = start.elapsed().as_secs_f64();
    // The whole process, start-up and enqueueing included, as the reference
    // client's getrusage figure includes its interpreter start and queue.
    let (cpu_user, cpu_sys) = cpu_seconds();
    let (timed_out, snapshot) = match summary {
        Ok(Ok(summary)) => (false, Some(summary.snapshot)),
        Ok(Err(e)) => return Err(format!("scheduler run: {e}")),
        Err(_) => (true, None),
    };
    let counts = store.counts().await.map_err(|e| format!("counts: {e}"))?;
    let (mut files, mut bytes) = (0u64, 0u64);
    for entry in std::fs::read_dir(&out_dir).map_err(|e| format!("{}: {e}", out_dir.display()))? {
        let meta = entry
            .and_then(|e| e.metadata())
            .map_err(|e| e.to_string())?;
        files += 1;
        bytes += meta.len();
    }
    Ok(json!({
        "store": store_kind,
        "concurrency": concurrency,
        "jobs": jobs,
        "ok": counts.done,
        "failed": counts.failed + counts.cancelled,
        "timed_out": timed_out,
        "wall_s": wall,
        "jobs_per_s": counts.done as f64 / wall,
        "steps": snapshot.as_ref().map(|s| s.steps),
        "retries": snapshot.as_ref().map(|s| s.retries),
        "files_on_disk": files,
        "bytes": bytes,
        "cpu_user_s": cpu_user,
        "cpu_sys_s": cpu_sys,
        "maxrss_kb": vm_hwm_kb(),
    }))
}

// -------------------------------------------------------------- orchestration

/// The nginx master, stopped by its PID when dropped.
struct Nginx {
    child: Child,
}

impl Nginx {
    fn start(prefix: &Path, conf: &Path) -> BenchResult<Self> {
        let addr: SocketAddr = ADDR.parse().map_err(|e| format!("{ADDR}: {e}"))?;
        if TcpStream::connect_timeout(&addr, Duration::from_millis(300)).is_ok() {
            return Err(format!(
                "{ADDR} is already in use (another mock running?); stop it first"
            ));
        }
        let mut prefix_arg = prefix.as_os_str().to_owned();
        prefix_arg.push("/");
        let child = Command::new("nginx")
            .arg("-p")
            .arg(&prefix_arg)
            .arg("-e")
            .arg(prefix.join("error.log"))
            .arg("-c")
            .arg(conf)
            .args(["-g", "daemon off; worker_processes 1;"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| format!("starting nginx: {e}"))?;
        let mut nginx = Self { child };
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            if let Ok(Some(status)) = nginx.child.try_wait() {
                let log = std::fs::read_to_string(prefix.join("error.log")).unwrap_or_default();
                return Err(format!("nginx exited ({status}): {}", log.trim()));
            }
            if mock_answers(&addr) {
                return Ok(nginx);
            }
            if Instant::now() > deadline {
                return Err("nginx did not answer within 10 s".into());
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

fn mock_answers(addr: &SocketAddr) -> bool {
    let Ok(mut s) = TcpStream::connect_timeout(addr, Duration::from_millis(200)) else {
        return false;
    };
    let _ = s.set_read_timeout(Some(Duration::from_secs(1)));
    let req = "GET /v1/videos/video_x HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n";
    let mut answer = String::new();
    s.write_all(req.as_bytes()).is_ok()
        && s.read_to_string(&mut answer).is_ok()
        && answer.contains("\"completed\"")
}

impl Drop for Nginx {
    fn drop(&mut self) {
        let pid = self.child.id().to_string();
        // SIGQUIT: graceful stop of the master and its workers.
        let _ = Command::new("kill").args(["-QUIT", &pid]).status();
        let deadline = Instant::now() + Duration::from_secs(15);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                eprintln!("  nginx pid {pid} stopped");
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
        eprintln!("  nginx pid {pid} killed after 15 s");
    }
}

/// The 4-second 640×360 H.264 sample the reference serves (~200 KB): the
/// one `run_http_bench.py` made, or the same made here with ffmpeg.
fn sample_mp4(root: &Path, static_dir: &Path) -> BenchResult<u64> {
    let target = static_dir.join("sample.mp4");
    let cached = root.join(".work/bench/nginx/static/sample.mp4");
    if cached.is_file() {
        std::fs::copy(&cached, &target).map_err(|e| format!("{}: {e}", cached.display()))?;
    } else {
        let status = Command::new("ffmpeg")
            .args([
                "-y",
                "-hide_banner",
                "-loglevel",
                "error",
                "-f",
                "lavfi",
                "-i",
            ])
            .arg("testsrc2=size=640x360:rate=24:duration=4")
            .args(["-c:v", "libx264", "-preset", "medium", "-b:v", "400k"])
            .args(["-pix_fmt", "yuv420p", "-movflags", "+faststart", "-an"])
            .arg(&target)
            .status()
            .map_err(|e| format!("ffmpeg (needed to make the sample video): {e}"))?;
        if !status.success() {
            return Err(format!("ffmpeg failed making {}", target.display()));
        }
    }
    let meta = std::fs::metadata(&target).map_err(|e| e.to_string())?;
    Ok(meta.len())
}

fn make_readable(path: &Path, mode: u32) -> BenchResult<()> {
    use std::os::unix::fs::PermissionsExt;
    // nginx workers may run as another user than the master.
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))
        .map_err(|e| format!("{}: {e}", path.display()))
}

fn last_json_line(stdout: &[u8], what: &str) -> BenchResult<Value> {
    let text = String::from_utf8_lossy(stdout);
    let line = text
        .lines()
        .rev()
        .find(|l| l.trim_start().starts_with('{'))
        .ok_or_else(|| format!("{what} printed no result"))?;
    serde_json::from_str(line).map_err(|e| format!("{what} result: {e}"))
}

fn run_python(
    python: &Path,
    client: &Path,
    jobs: usize,
    concurrency: usize,
    out_dir: &Path,
) -> BenchResult<Value> {
    let out = Command::new(python)
        .arg(client)
        .args(["--base-url", BASE_URL, "--jobs", &jobs.to_string()])
        .args(["--concurrency", &concurrency.to_string()])
        .arg("--out-dir")
        .arg(out_dir)
        .arg("--keep-files")
        .args(["--timeout-s", &RUN_LIMIT.as_secs().to_string()])
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("{}: {e}", python.display()))?;
    if !out.status.success() {
        return Err(format!(
            "reference client failed ({}): {}",
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        ));
    }
    last_json_line(&out.stdout, "reference client")
}

fn run_child(store: &str, concurrency: usize, out_dir: &Path) -> BenchResult<Value> {
    let exe = std::env::current_exe().map_err(|e| format!("own executable: {e}"))?;
    let out = Command::new(exe)
        .env(CHILD_ENV, format!("{store}:{concurrency}"))
        .env(OUT_ENV, out_dir)
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("framebreak child: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "framebreak child ({store}, {concurrency}) failed ({}): {}",
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        ));
    }
    last_json_line(&out.stdout, "framebreak child")
}

fn loadavg() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_default()
}

fn f(v: &Value, key: &str) -> f64 {
    v[key].as_f64().unwrap_or(f64::NAN)
}

fn cpu_of(v: &Value) -> f64 {
    f(v, "cpu_user_s") + f(v, "cpu_sys_s")
}

fn cpu_per_job(v: &Value) -> f64 {
    cpu_of(v) / f(v, "ok")
}

/// User-space CPU per job: the part the client's code decides. The kernel's
/// share (loopback receive, page-cache write, file create) is the same work
/// for every client.
fn user_per_job(v: &Value) -> f64 {
    f(v, "cpu_user_s") / f(v, "ok")
}

fn report(label: &str, v: &Value) {
    let wall = f(v, "wall_s");
    println!(
        "  {label:<22} c={:<5} ok={:<6} failed={:<3} files={:<6} {:>8.1} jobs/s  wall {:>6.2} s  \
         cpu {:>5.2} cores  peak RSS {:>6.1} MiB",
        v["concurrency"],
        v["ok"],
        v["failed"],
        v["files_on_disk"],
        f(v, "jobs_per_s"),
        wall,
        cpu_of(v) / wall,
        f(v, "maxrss_kb") / 1024.0,
    );
}

fn check(label: &str, v: &Value, jobs: usize) -> BenchResult<()> {
    let ok = v["ok"].as_u64().unwrap_or(0);
    let files = v["files_on_disk"].as_u64().unwrap_or(0);
    if ok != jobs as u64 || files != jobs as u64 || v["timed_out"] == json!(true) {
        return Err(format!(
            "{label}: {ok} of {jobs} jobs done, {files} files on disk: {v}"
        ));
    }
    Ok(())
}

fn parent() -> BenchResult<()> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let jobs = jobs_setting()?;
    let concurrencies = env_or("HTTP_FLOW_CONCURRENCY", "100,1000")
        .split(',')
        .map(|c| c.trim().parse::<usize>())
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| format!("HTTP_FLOW_CONCURRENCY: {e}"))?;
    let stores: Vec<String> = env_or("HTTP_FLOW_STORES", "sqlite,memory")
        .split(',')
        .map(|s| s.trim().to_owned())
        .collect();
    let python = PathBuf::from(env_or(
        "HTTP_FLOW_PYTHON",
        &root.join(".work/bench/venv/bin/python").to_string_lossy(),
    ));
    let ref_dir = PathBuf::from(env_or(
        "HTTP_FLOW_REF_DIR",
        &root.join("../shared/bench/http_ref").to_string_lossy(),
    ));
    let client = ref_dir.join("aiohttp_client.py");
    let conf = ref_dir.join("nginx.conf");
    for needed in [&python, &client, &conf] {
        if !needed.exists() {
            return Err(format!(
                "{} is missing; see ../shared/bench/README.md (Setup)",
                needed.display()
            ));
        }
    }

    let prefix = tempfile::tempdir().map_err(|e| format!("temporary directory: {e}"))?;
    let static_dir = prefix.path().join("static");
    std::fs::create_dir(&static_dir).map_err(|e| e.to_string())?;
    let sample_bytes = sample_mp4(root, &static_dir)?;
    make_readable(prefix.path(), 0o755)?;
    make_readable(&static_dir, 0o755)?;
    make_readable(&static_dir.join("sample.mp4"), 0o644)?;

    let load_start = loadavg();
    println!(
        "http_flow: {jobs} jobs per run, submit → poll → {sample_bytes}-byte download to disk, \
         nginx mock on {ADDR}; load average at start {load_start}"
    );
    // Every run's downloads, removed only when the bench is over (see the
    // module docs: deleting between runs bills the next run).
    let downloads = tempfile::tempdir().map_err(|e| format!("temporary directory: {e}"))?;
    let runs = concurrencies.len() * (1 + stores.len());
    println!(
        "  downloads kept until the end in {}: {runs} runs × {jobs} files ≈ {:.1} GB",
        downloads.path().display(),
        (runs * jobs) as f64 * sample_bytes as f64 / 1e9
    );
    let nginx = Nginx::start(prefix.path(), &conf)?;
    eprintln!("  nginx master started, pid {}", nginx.child.id());

    let mut rows = Vec::new();
    for &concurrency in &concurrencies {
        let py_dir = downloads.path().join(format!("python-c{concurrency}"));
        let py = run_python(&python, &client, jobs, concurrency, &py_dir)?;
        report("python aiohttp", &py);
        check("python aiohttp", &py, jobs)?;
        let mut ours = Vec::new();
        for store in &stores {
            let dir = downloads
                .path()
                .join(format!("framebreak-{store}-c{concurrency}"));
            let v = run_child(store, concurrency, &dir)?;
            let label = format!("framebreak ({store})");
            report(&label, &v);
            check(&label, &v, jobs)?;
            ours.push((store.clone(), v));
        }
        rows.push((concurrency, py, ours));
    }
    drop(nginx);

    println!();
    // CPU time per job is the figure least bent by other processes on a
    // shared machine: jobs/s falls with the cores left over, CPU per job
    // hardly moves.
    println!(
        "| concurrency | client | jobs/s | vs aiohttp | CPU ms/job (user+sys) | aiohttp CPU / this | user CPU ms/job | aiohttp user / this | peak RSS MiB | aiohttp RSS / this | cores used |"
    );
    println!("|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
    for (concurrency, py, ours) in &rows {
        let (py_rate, py_rss, py_cpu) = (f(py, "jobs_per_s"), f(py, "maxrss_kb"), cpu_per_job(py));
        println!(
            "| {concurrency} | Python asyncio + aiohttp | {py_rate:.0} | 1.00× | {:.3} | 1.00× | {:.3} | 1.00× | {:.1} | 1.00× | {:.2} |",
            py_cpu * 1e3,
            user_per_job(py) * 1e3,
            py_rss / 1024.0,
            cpu_of(py) / f(py, "wall_s"),
        );
        for (store, v) in ours {
            println!(
                "| {concurrency} | framebreak, {store} store | {:.0} | **{:.2}×** | {:.3} | **{:.2}×** | {:.3} | **{:.2}×** | {:.1} | **{:.2}×** | {:.2} |",
                f(v, "jobs_per_s"),
                f(v, "jobs_per_s") / py_rate,
                cpu_per_job(v) * 1e3,
                py_cpu / cpu_per_job(v),
                user_per_job(v) * 1e3,
                user_per_job(py) / user_per_job(v),
                f(v, "maxrss_kb") / 1024.0,
                py_rss / f(v, "maxrss_kb"),
                cpu_of(v) / f(v, "wall_s"),
            );
        }
    }
    println!();
    println!(
        "target: framebreak ≥ 5× the aiohttp client's jobs/s at equal concurrency, with less memory. \
         Load average at start {load_start}, at end {}.",
        loadavg()
    );
    Ok(())
}
