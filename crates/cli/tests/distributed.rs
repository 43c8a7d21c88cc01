//! Many `framebreak worker` processes on one campaign in a real PostgreSQL
//! store, against `framebreak sim serve` over loopback HTTP.
//!
//! They need `FRAMEBREAK_TEST_DATABASE_URL` and fail (never skip) without
//! it: `scripts/test` starts a throwaway server and sets it, or run
//! `eval "$(scripts/pg/start)"` first.
#![allow(clippy::print_stderr)]

use std::collections::HashSet;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

fn database_url() -> String {
    std::env::var("FRAMEBREAK_TEST_DATABASE_URL").unwrap_or_else(|_| {
        panic!(
            "FRAMEBREAK_TEST_DATABASE_URL is not set: these tests need a PostgreSQL server. \
             Run scripts/test, or `eval \"$(scripts/pg/start)\"` and then this command."
        )
    })
}

/// A run id no other test (or earlier run) uses.
fn fresh_run(name: &str) -> String {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    format!("{name}-{}-{nanos}", std::process::id())
}

/// A child process killed when the test ends, however it ends.
struct Proc(Child);

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn framebreak() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_framebreak"));
    // Tiny clips, few frames: the jobs are about coordination here.
    c.env("FRAMEBREAK_ANALYSIS__SIZE", "64")
        .env("FRAMEBREAK_ANALYSIS__MAX_FRAMES", "4")
        .env("FRAMEBREAK_ANALYSIS__DEVICE", "cpu")
        .env("FRAMEBREAK_SCHEDULER__LEASE_TTL_SECS", "3")
        .env_remove("DATABASE_URL");
    c
}

/// `framebreak sim serve` with a journal; its address.
fn sim(dir: &Path) -> (Proc, String) {
    let mut child = framebreak()
        .args([
            "sim",
            "serve",
            "--addr",
            "127.0.0.1:0",
            "--latency",
            "0ms",
            "--journal",
        ])
        .arg(dir.join("sim.jsonl"))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let proc = Proc(child);
    let mut line = String::new();
    BufReader::new(stdout).read_line(&mut line).unwrap();
    let addr = line
        .split("http://")
        .nth(1)
        .and_then(|r| r.split_whitespace().next())
        .unwrap_or_else(|| panic!("no address in {line:?}"))
        .to_owned();
    (proc, addr)
}

/// One HTTP/1.1 request with no body (`"GET /v1/stats"`) to `addr`, with
/// `headers` lines: the whole response.
fn http(addr: &str, request: &str, headers: &str) -> String {
    let mut s = TcpStream::connect(addr).unwrap();
    write!(
        s,
        "{request} HTTP/1.1\r\nHost: {addr}\r\n{headers}Connection: close\r\n\r\n"
    )
    .unwrap();
    let mut raw = Vec::new();
    s.read_to_end(&mut raw).unwrap();
    String::from_utf8_lossy(&raw).into_owned()
}

/// The simulator's counts (`GET /v1/stats`).
fn stats(addr: &str) -> serde_json::Value {
    let text = http(addr, "GET /v1/stats", "Authorization: Bearer t\r\n");
    let body = text.split("\r\n\r\n").nth(1).unwrap_or_default();
    serde_json::from_str(body).unwrap_or_else(|e| panic!("{e}: {text}"))
}

/// `framebreak submit` of run `run` against the simulator at `sim`, with
/// its run folders under `runs_dir`.
fn submit_command(url: &str, sim: &str, run: &str, runs_dir: &Path, extra: &[&str]) -> Command {
    let mut command = framebreak();
    command
        .args([
            "submit",
            "--store",
            url,
            "--run-id",
            run,
            "--backend",
            "sim-http",
        ])
        .args(["--base-url", &format!("http://{sim}")])
        .args(["--size", "64x48", "--duration", "1"])
        .args(extra)
        .arg("--runs-dir")
        .arg(runs_dir);
    command
}

fn submit(url: &str, sim: &str, run: &str, dir: &Path, extra: &[&str]) {
    let out = submit_command(url, sim, run, &dir.join("submitter"), extra)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), run);
}

/// A fresh folder, a simulator, and a run named after `name` submitted
/// to it in `url` with `extra` flags: `(folder, simulator, its address,
/// run id)`.
fn submitted(url: &str, name: &str, extra: &[&str]) -> (tempfile::TempDir, Proc, String, String) {
    let dir = tempfile::tempdir().unwrap();
    let (sim, addr) = sim(dir.path());
    let run = fresh_run(name);
    submit(url, &addr, &run, dir.path(), extra);
    (dir, sim, addr, run)
}

fn worker(url: &str, run: &str, dir: &Path, n: usize) -> Proc {
    worker_showing(url, run, dir, n, "quiet", Stdio::null())
}

/// `framebreak worker` on `run` with `--progress progress`, its run folders
/// under `runs_dir`.
fn worker_command(url: &str, run: &str, runs_dir: &Path, progress: &str) -> Command {
    let mut command = framebreak();
    command
        .args([
            "worker",
            "--run",
            run,
            "--store",
            url,
            "--progress",
            progress,
        ])
        .args(["-c", "16"])
        .arg("--runs-dir")
        .arg(runs_dir);
    command
}

/// A worker with `--progress progress`, its standard output to `stdout`.
fn worker_showing(
    url: &str,
    run: &str,
    dir: &Path,
    n: usize,
    progress: &str,
    stdout: Stdio,
) -> Proc {
    Proc(
        worker_command(url, run, &dir.join(format!("w{n}")), progress)
            .stdout(stdout)
            .stderr(Stdio::piped())
            .spawn()
            .unwrap(),
    )
}

/// `command` run to its end: its exit code and standard error.
fn outcome(command: &mut Command) -> (Option<i32>, String) {
    let out = command.output().unwrap();
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// A worker run to its end in folder `dir/w`: its exit code and standard
/// error.
fn worker_output(url: &str, run: &str, dir: &Path) -> (Option<i32>, String) {
    outcome(&mut worker_command(url, run, &dir.join("w"), "quiet"))
}

fn finish(mut w: Proc) -> std::process::ExitStatus {
    let status = w.0.wait().unwrap();
    if !status.success() {
        let mut err = String::new();
        if let Some(mut e) = w.0.stderr.take() {
            let _ = e.read_to_string(&mut err);
        }
        panic!("worker exited {status}: {err}");
    }
    status
}

/// Every row of the run, from the store.
fn rows(url: &str, run: &str, dir: &Path) -> Vec<serde_json::Value> {
    let out = framebreak()
        .args([
            "report",
            run,
            "--store",
            url,
            "--format",
            "jsonl",
            "-o",
            "-",
            "--runs-dir",
        ])
        .arg(dir.join("report"))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

/// Waits until the simulator at `addr` has taken `n` submissions, for at
/// most `limit`.
fn wait_for_submissions(addr: &str, n: u64, limit: Duration) {
    let start = Instant::now();
    while stats(addr)["submissions"].as_u64().unwrap() < n {
        assert!(start.elapsed() < limit, "the run never got going");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// The run's report has one row per job, `jobs` of them, every one done.
fn every_job_done_once(url: &str, run: &str, dir: &Path, jobs: usize) {
    let rows = rows(url, run, dir);
    assert_eq!(rows.len(), jobs, "every job has its one row");
    let ids: HashSet<&str> = rows.iter().map(|r| r["job"].as_str().unwrap()).collect();
    assert_eq!(ids.len(), jobs, "no job twice");
    let not_done: Vec<_> = rows.iter().filter(|r| r["status"] != "done").collect();
    assert!(not_done.is_empty(), "{not_done:?}");
}

#[test]
fn four_workers_one_killed_do_every_job_once_and_the_sim_sees_each_submitted_once() {
    const JOBS: usize = 5_000;
    let url = database_url();
    let (dir, _sim, addr, run) =
        submitted(&url, "kill", &["--limit", &JOBS.to_string(), "-n", "100"]);

    let mut workers: Vec<Proc> = (0..4).map(|n| worker(&url, &run, dir.path(), n)).collect();
    // Kill one worker with SIGKILL in the middle of the run.
    let start = Instant::now();
    wait_for_submissions(&addr, (JOBS / 4) as u64, Duration::from_secs(600));
    let victim = workers.remove(0);
    let status = Command::new("kill")
        .args(["-KILL", &victim.0.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    drop(victim);
    for w in workers {
        finish(w);
    }

    every_job_done_once(&url, &run, dir.path(), JOBS);

    // The simulator made one generation per job: repeats after the kill
    // carried the job's idempotency key and were answered with its job.
    let s = stats(&addr);
    assert_eq!(s["submissions"], JOBS, "{s}");
    let journal = std::fs::read_to_string(dir.path().join("sim.jsonl")).unwrap();
    let keys: HashSet<String> = journal
        .lines()
        .map(|l| {
            serde_json::from_str::<serde_json::Value>(l).unwrap()["key"]
                .as_str()
                .unwrap()
                .to_owned()
        })
        .collect();
    assert_eq!(keys.len(), JOBS);
    eprintln!(
        "{JOBS} jobs by 4 workers (one killed) in {:.1} s; the sim answered {} repeated submissions by key",
        start.elapsed().as_secs_f64(),
        s["duplicate_submissions"]
    );
}

#[test]
fn a_rate_limit_holds_for_the_whole_campaign_not_per_worker() {
    const RATE: u64 = 20;
    const JOBS: u64 = 200;
    let url = database_url();
    let (dir, _sim, addr, run) = submitted(
        &url,
        "rate",
        &["--limit", &JOBS.to_string(), "--rate", &format!("{RATE}/s")],
    );

    let start = Instant::now();
    let workers: Vec<Proc> = (0..4).map(|n| worker(&url, &run, dir.path(), n)).collect();
    for w in workers {
        finish(w);
    }
    let elapsed = start.elapsed().as_secs_f64();
    let s = stats(&addr);
    let submitted = s["submissions"].as_u64().unwrap();
    let max_1s = s["max_submit_rate_1s"].as_u64().unwrap();
    eprintln!(
        "4 workers, limit {RATE}/s: {submitted} submissions in {elapsed:.1} s ({:.1}/s), at most {max_1s} in any 1 s window",
        submitted as f64 / elapsed
    );
    assert_eq!(submitted, JOBS);
    // Four workers with per-process buckets would reach 4 x RATE. A bucket
    // of burst 1 admits at most RATE + 1 in a closed one-second window;
    // the window is measured where the requests arrive, so on a loaded
    // machine a few admitted apart can arrive bunched (23 seen once, with
    // the whole test suite running beside it).
    assert!(
        max_1s <= RATE + RATE / 4,
        "{max_1s} submissions in one second, limit {RATE}/s"
    );
    assert!(
        elapsed >= (JOBS / RATE) as f64 - 1.0,
        "{JOBS} jobs at {RATE}/s cannot finish in {elapsed:.1} s"
    );
}

#[test]
fn submit_worker_and_status_refuse_bad_input_by_name() {
    let dir = tempfile::tempdir().unwrap();
    let out = framebreak()
        .args(["submit", "--limit", "3"])
        .current_dir(dir.path())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--store postgres://"));

    let out = framebreak()
        .args(["worker", "--run", "x", "--store", "sqlite"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));

    // A store that is not there: named without its password.
    let out = framebreak()
        .args([
            "worker",
            "--run",
            "x",
            "--store",
            "postgres://fb:hunter2@127.0.0.1:1/db",
        ])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains("127.0.0.1:1") && !err.contains("hunter2"),
        "{err}"
    );

    // Worker-side variables are read and checked (before connecting);
    // others are said to be ignored, not silently dropped.
    // A worker whose store cannot be reached, with `vars` set.
    let unreachable = |vars: &[(&str, &str)]| {
        let out = framebreak()
            .envs(vars.iter().copied())
            .args([
                "worker",
                "--run",
                "x",
                "--store",
                "postgres://127.0.0.1:1/db",
            ])
            .output()
            .unwrap();
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    let (code, err) = unreachable(&[("FRAMEBREAK_SCHEDULER__CONCURRENCY", "many")]);
    assert_eq!(code, Some(2), "{err}");
    assert!(
        err.contains("FRAMEBREAK_SCHEDULER__CONCURRENCY=\"many\""),
        "{err}"
    );
    let (code, err) = unreachable(&[
        ("FRAMEBREAK_VARIANTS__SEED", "7"),
        ("FRAMEBREAK_SCHEDULER__CONCURRENCY", "3"),
    ]);
    assert_eq!(code, Some(1), "{err}");
    assert!(
        err.contains("FRAMEBREAK_VARIANTS__SEED is ignored"),
        "{err}"
    );
    assert!(
        !err.contains("FRAMEBREAK_SCHEDULER__CONCURRENCY is ignored"),
        "{err}"
    );

    // A run the store does not hold.
    let url = database_url();
    let out = framebreak()
        .args(["worker", "--run", &fresh_run("none"), "--store", &url])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("framebreak submit"), "{err}");
}

/// A PostgreSQL server of this test's own (`scripts/pg/start`), stopped and
/// deleted when the test ends: one the test may restart without disturbing
/// the others.
struct OwnServer {
    url: String,
    dir: String,
}

impl OwnServer {
    fn start() -> Self {
        let scripts = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scripts/pg");
        let out = Command::new(scripts.join("start")).output().unwrap();
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        assert!(
            out.status.success(),
            "scripts/pg/start: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let var = |name: &str| {
            text.lines()
                .find_map(|l| l.strip_prefix(&format!("export {name}=")))
                .unwrap_or_else(|| panic!("no {name} in {text:?}"))
                .to_owned()
        };
        Self {
            url: var("FRAMEBREAK_TEST_DATABASE_URL"),
            dir: var("FRAMEBREAK_PG_DIR"),
        }
    }

    /// Stops the server, waits `down`, starts it again.
    fn restart(&self, down: Duration) {
        let status =
            Command::new(Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scripts/pg/restart"))
                .arg(&self.dir)
                .arg(down.as_secs().to_string())
                .status()
                .unwrap();
        assert!(status.success(), "scripts/pg/restart failed");
    }
}

impl Drop for OwnServer {
    fn drop(&mut self) {
        let _ = Command::new(Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scripts/pg/stop"))
            .arg(&self.dir)
            .status();
    }
}

#[test]
fn four_workers_ride_out_a_database_restart_and_do_every_job_once() {
    const JOBS: usize = 1_000;
    let server = OwnServer::start();
    let url = server.url.clone();
    let (dir, _sim, addr, run) = submitted(
        &url,
        "restart",
        &["--limit", &JOBS.to_string(), "-n", "100"],
    );
    let workers: Vec<Proc> = (0..4).map(|n| worker(&url, &run, dir.path(), n)).collect();
    let start = Instant::now();
    wait_for_submissions(&addr, (JOBS / 4) as u64, Duration::from_secs(300));
    // PostgreSQL goes down for 3 s in the middle of the run.
    let before = stats(&addr)["submissions"].as_u64().unwrap();
    server.restart(Duration::from_secs(3));
    let mut workers = workers;
    for w in &mut workers {
        assert!(
            w.0.try_wait().unwrap().is_none(),
            "a worker exited while the database restarted"
        );
    }
    for w in workers {
        finish(w);
    }
    assert!(
        before < JOBS as u64,
        "the restart came after the last submission: the test proved nothing"
    );

    every_job_done_once(&url, &run, dir.path(), JOBS);
    let s = stats(&addr);
    assert_eq!(s["submissions"], JOBS, "one generation per job: {s}");
    eprintln!(
        "{JOBS} jobs by 4 workers through a 3 s PostgreSQL restart at {before} submissions, in {:.1} s; \
         the sim answered {} repeated submissions by key",
        start.elapsed().as_secs_f64(),
        s["duplicate_submissions"]
    );
}

#[test]
fn only_submit_and_db_migrate_create_the_schema_and_the_rest_say_to_run_it() {
    let server = OwnServer::start();
    let url = server.url.clone();
    let dir = tempfile::tempdir().unwrap();
    let run = |args: &[&str]| outcome(framebreak().args(args).arg("--runs-dir").arg(dir.path()));
    let migrate = |url: &str| outcome(framebreak().args(["db", "migrate", "--store", url]));
    // A database without framebreak's tables (a fresh server's `postgres`,
    // as a wrong database would be): refused by name, twice, so the first
    // refusal created nothing.
    for _ in 0..2 {
        for args in [
            vec!["status", "--store", &url],
            vec![
                "report", "some-run", "--store", &url, "--format", "jsonl", "-o", "-",
            ],
            vec!["worker", "--run", "some-run", "--store", &url],
        ] {
            let (code, err) = run(&args);
            assert_eq!(code, Some(1), "{args:?}: {err}");
            assert!(
                err.contains("no framebreak schema") && err.contains("framebreak db migrate"),
                "{args:?}: {err}"
            );
        }
    }
    let (code, err) = migrate(&url);
    assert_eq!(code, Some(0), "{err}");
    assert!(err.contains("applied migration(s) 1, 2, 3, 4"), "{err}");
    let (code, err) = migrate(&url);
    assert_eq!(code, Some(0), "{err}");
    assert!(err.contains("nothing to do"), "{err}");
    let (code, err) = run(&["status", "--store", &url]);
    assert_eq!(code, Some(0), "{err}");
    // Not a PostgreSQL store: a usage error.
    let (code, err) = migrate("sqlite");
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("only a PostgreSQL store"), "{err}");
}

/// `framebreak submit` of `limit` jobs as a child process, not waited for.
fn submit_process(url: &str, run: &str, dir: &Path, limit: usize) -> Child {
    let (limit, per_prompt) = (limit.to_string(), (limit / 20 + 20).to_string());
    submit_command(
        url,
        "127.0.0.1:9",
        run,
        dir,
        &["--limit", &limit, "-n", &per_prompt],
    )
    .stdout(Stdio::piped())
    .stderr(Stdio::piped())
    .spawn()
    .unwrap()
}

/// A run's jobs in the store (`status --json` of every run), 0 when it
/// lists none.
fn jobs_in_store(url: &str, run: &str, dir: &Path) -> u64 {
    let out = framebreak()
        .args(["status", "--store", url, "--json", "--runs-dir"])
        .arg(dir)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .filter(|v| v["run"] == run)
        .map(|v| {
            let c = &v["counts"];
            ["pending", "leased", "done", "failed", "cancelled"]
                .iter()
                .map(|k| c[k].as_u64().unwrap())
                .sum::<u64>()
        })
        .sum()
}

#[test]
fn two_submits_of_one_run_id_at_once_never_merge() {
    let url = database_url();
    let dir = tempfile::tempdir().unwrap();
    for attempt in 0..3 {
        let run = fresh_run(&format!("race{attempt}"));
        let a = submit_process(&url, &run, &dir.path().join("a"), 300);
        let b = submit_process(&url, &run, &dir.path().join("b"), 400);
        let (a, b) = (a.wait_with_output().unwrap(), b.wait_with_output().unwrap());
        let won: Vec<usize> = [(&a, 300), (&b, 400)]
            .iter()
            .filter(|(o, _)| o.status.success())
            .map(|(_, n)| *n)
            .collect();
        assert_eq!(
            won.len(),
            1,
            "exactly one submit of {run} wins: a {} {}, b {} {}",
            a.status,
            String::from_utf8_lossy(&a.stderr),
            b.status,
            String::from_utf8_lossy(&b.stderr)
        );
        let lost = if a.status.success() { &b } else { &a };
        let err = String::from_utf8_lossy(&lost.stderr);
        assert_eq!(lost.status.code(), Some(1), "{err}");
        assert!(err.contains(&format!("run id {run:?}")), "{err}");
        assert_eq!(
            jobs_in_store(&url, &run, dir.path()),
            won[0] as u64,
            "the run holds the winner's jobs, and only them"
        );
    }
}

#[test]
fn an_interrupted_submit_is_refused_by_workers_then_finished_or_dropped() {
    const JOBS: usize = 100_000;
    let url = database_url();
    let dir = tempfile::tempdir().unwrap();
    let run = fresh_run("cut-submit");
    let mut submit = submit_process(&url, &run, &dir.path().join("s"), JOBS);
    // Killed once its first jobs are in.
    let start = Instant::now();
    while jobs_in_store(&url, &run, dir.path()) == 0 {
        assert!(start.elapsed() < Duration::from_secs(120), "no job got in");
        assert!(
            submit.try_wait().unwrap().is_none(),
            "the submit ended before it was killed"
        );
    }
    submit.kill().unwrap();
    submit.wait().unwrap();
    let got_in = jobs_in_store(&url, &run, dir.path());
    assert!(
        got_in < JOBS as u64,
        "all {JOBS} jobs got in before the kill: the test proved nothing"
    );

    // A worker refuses it (it would finish the jobs that got in and call
    // the run complete).
    let (code, err) = worker_output(&url, &run, dir.path());
    assert_eq!(code, Some(1), "{err}");
    assert!(
        err.contains("submit has not finished") && err.contains("db drop-run"),
        "{err}"
    );

    // Another configuration under the same id is refused.
    let other = submit_process(&url, &run, &dir.path().join("o"), 10)
        .wait_with_output()
        .unwrap();
    let err = String::from_utf8_lossy(&other.stderr);
    assert_eq!(other.status.code(), Some(1), "{err}");
    assert!(err.contains("another configuration"), "{err}");

    // The same submit again, from another folder (another machine),
    // finishes it; a third is refused.
    let again = submit_process(&url, &run, &dir.path().join("s2"), JOBS)
        .wait_with_output()
        .unwrap();
    assert!(
        again.status.success(),
        "{}",
        String::from_utf8_lossy(&again.stderr)
    );
    assert_eq!(jobs_in_store(&url, &run, dir.path()), JOBS as u64);
    let third = submit_process(&url, &run, &dir.path().join("s3"), JOBS)
        .wait_with_output()
        .unwrap();
    let err = String::from_utf8_lossy(&third.stderr);
    assert_eq!(third.status.code(), Some(1), "{err}");
    assert!(err.contains("already holds a submitted run"), "{err}");

    // Dropped, it is gone; dropping it again says there is no such run.
    let drop_run = || {
        framebreak()
            .args(["db", "drop-run", &run, "--store", &url])
            .output()
            .unwrap()
    };
    let out = drop_run();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{err}");
    assert!(
        err.contains(&format!("removed run {run} ({JOBS} jobs)")),
        "{err}"
    );
    assert_eq!(jobs_in_store(&url, &run, dir.path()), 0);
    let out = drop_run();
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("no run with this id"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn a_workers_progress_counts_the_whole_run_beside_its_own_share() {
    const JOBS: u64 = 300;
    let url = database_url();
    let (dir, _sim, _addr, run) = submitted(
        &url,
        "progress",
        &["--limit", &JOBS.to_string(), "-n", "20"],
    );
    let mut workers: Vec<Proc> = (0..2)
        .map(|n| worker_showing(&url, &run, dir.path(), n, "json", Stdio::piped()))
        .collect();
    // Both outputs read at once: a pipe left unread would stall its worker.
    let readers: Vec<_> = workers
        .iter_mut()
        .map(|w| {
            let mut stdout = w.0.stdout.take().unwrap();
            std::thread::spawn(move || {
                let mut out = String::new();
                stdout.read_to_string(&mut out).unwrap();
                out
            })
        })
        .collect();
    let mut own = Vec::new();
    for (w, reader) in workers.into_iter().zip(readers) {
        let out = reader.join().unwrap();
        finish(w);
        let last: serde_json::Value = serde_json::from_str(out.lines().last().unwrap()).unwrap();
        let run_counts = &last["run"]["counts"];
        assert_eq!(
            run_counts["done"].as_u64().unwrap() + run_counts["failed"].as_u64().unwrap(),
            JOBS,
            "the whole run, as the store counts it: {last}"
        );
        assert_eq!(run_counts["pending"], 0, "{last}");
        own.push(last["snapshot"]["finished"].as_u64().unwrap());
    }
    assert_eq!(
        own.iter().sum::<u64>(),
        JOBS,
        "each worker's own share: {own:?}"
    );
}

/// `psql` of the installed PostgreSQL (`scripts/pg/start` installs it), or
/// the one on PATH.
fn psql() -> Command {
    let found = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .map(|v| v.path().join("bin/psql"))
        .find(|p| p.exists());
    Command::new(found.unwrap_or_else(|| "psql".into()))
}

#[test]
fn a_stored_configuration_this_build_cannot_read_is_named_as_the_culprit() {
    let url = database_url();
    let dir = tempfile::tempdir().unwrap();
    let run = fresh_run("newer");
    submit(
        &url,
        "127.0.0.1:9",
        &run,
        dir.path(),
        &["--limit", "5", "-n", "5"],
    );
    // As a newer framebreak would have written it: a section this one
    // does not know.
    let status = psql()
        .arg(&url)
        .args(["-q", "-v", "ON_ERROR_STOP=1", "-c"])
        .arg(format!(
            "UPDATE framebreak_queue_meta SET value = value || E'\\n[webhooks]\\nurl = 1\\n' \
             WHERE queue = '{run}' AND key = 'campaign.toml'"
        ))
        .status()
        .unwrap();
    assert!(status.success(), "psql failed");
    let (code, err) = worker_output(&url, &run, dir.path());
    assert_ne!(code, Some(0), "{err}");
    assert!(
        err.contains(&format!(
            "the configuration of run {run} in the store: webhooks"
        )) && err.contains("newer framebreak"),
        "{err}"
    );
    assert!(!err.contains("built-in defaults"), "{err}");
}

/// The S3 server of the tests (`scripts/s3/start`, which `scripts/test`
/// runs); these tests fail, never skip, without it.
fn s3_endpoint() -> String {
    std::env::var("FRAMEBREAK_TEST_S3_ENDPOINT").unwrap_or_else(|_| {
        panic!(
            "FRAMEBREAK_TEST_S3_ENDPOINT is not set: this test needs an S3-compatible server. \
             Run scripts/test, or `eval \"$(scripts/s3/start)\"` first."
        )
    })
}

const S3_SECRET: &str = "s3-secret-never-shown";

/// `command` with the test server's S3 settings, as an operator sets them.
fn with_s3(command: &mut Command) -> &mut Command {
    command
        .env("AWS_ENDPOINT_URL", s3_endpoint())
        .env("AWS_ACCESS_KEY_ID", "framebreak-test")
        .env("AWS_SECRET_ACCESS_KEY", S3_SECRET)
        .env("AWS_DEFAULT_REGION", "us-east-1")
}

/// A new bucket on the test server (S3's CreateBucket: `PUT /NAME`).
fn s3_bucket(name: &str) -> String {
    let endpoint = s3_endpoint();
    let addr = endpoint.trim_start_matches("http://");
    let bucket = fresh_run(name).to_lowercase();
    let raw = http(addr, &format!("PUT /{bucket}"), "Content-Length: 0\r\n");
    assert!(raw.starts_with("HTTP/1.1 200"), "{raw}");
    bucket
}

/// Two workers, each in its own folder (as on two machines), finish `run`;
/// then `framebreak report` writes its HTML page in a third folder: the
/// page and the report's standard error.
fn report_from_elsewhere(url: &str, run: &str, dir: &Path) -> (String, String) {
    let workers: Vec<Proc> = (0..2)
        .map(|n| {
            let mut command = worker_command(url, run, &dir.join(format!("w{n}")), "quiet");
            Proc(
                with_s3(&mut command)
                    .stdout(Stdio::null())
                    .stderr(Stdio::piped())
                    .spawn()
                    .unwrap(),
            )
        })
        .collect();
    for w in workers {
        finish(w);
    }
    let elsewhere = dir.join("elsewhere");
    let mut report = framebreak();
    report
        .args(["report", run, "--store", url, "--runs-dir"])
        .arg(&elsewhere);
    let (code, err) = outcome(with_s3(&mut report));
    assert_eq!(code, Some(0), "{err}");
    let page = std::fs::read_to_string(elsewhere.join(run).join("report.html")).unwrap();
    (page, err)
}

#[test]
fn a_distributed_runs_report_shows_its_worst_videos_from_any_machine_through_the_shared_store() {
    const JOBS: &str = "30";
    let url = database_url();
    let bucket = s3_bucket("fb-shared");
    let videos = format!("s3://{bucket}/campaigns");
    let dir = tempfile::tempdir().unwrap();
    let (_sim, addr) = sim(dir.path());
    let run = fresh_run("shared-videos");
    let mut command = submit_command(
        &url,
        &addr,
        &run,
        &dir.path().join("submitter"),
        &["--limit", JOBS, "-n", "10", "--videos", &videos],
    );
    let (code, err) = outcome(with_s3(&mut command));
    assert_eq!(code, Some(0), "{err}");
    let (page, err) = report_from_elsewhere(&url, &run, dir.path());
    assert_eq!(page.matches("alt=\"contact sheet of").count(), 12, "{err}");
    assert!(!page.contains("not available here"));
    assert!(!err.contains("not available here"), "{err}");
    assert!(!err.contains(S3_SECRET) && !page.contains(S3_SECRET));
    // Posts about the worst videos, from a fourth folder: the videos to
    // attach come from the store too.
    let roaster = dir.path().join("roaster");
    let mut roast = framebreak();
    roast
        .args(["roast", &run, "--store", &url, "--top", "3", "--runs-dir"])
        .arg(&roaster);
    let out = with_s3(&mut roast).output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let posts = String::from_utf8(out.stdout).unwrap();
    let attached: Vec<&str> = posts
        .lines()
        .filter_map(|l| l.split("· video ").nth(1))
        .map(|v| v.trim_end_matches(']'))
        .collect();
    assert_eq!(attached.len(), 3, "{posts}");
    for video in attached {
        assert!(roaster.join(&run).join(video).is_file(), "{video}");
    }

    // The same run with no shared store: the report on a third machine
    // has none of the videos, and says so on the page and in the terminal.
    let run = fresh_run("local-videos");
    submit(
        &url,
        &addr,
        &run,
        dir.path(),
        &["--limit", JOBS, "-n", "10"],
    );
    let (page, err) = report_from_elsewhere(&url, &run, dir.path());
    assert_eq!(page.matches("alt=\"contact sheet of").count(), 0);
    assert!(
        page.contains("<strong>12 of these 12 videos are not available here</strong>"),
        "{page}"
    );
    assert!(
        err.contains("12 of the report's 12 worst videos are not available here")
            && err.contains("no shared video store (--videos, output.videos)"),
        "{err}"
    );
}

/// Four workers on one run with a budget hold from one ledger in the
/// database: together they never pay for more than it, every job they paid
/// for is finished, the rest end unsubmitted, and a worker that met the
/// budget exits with its code.
#[test]
fn four_workers_together_never_pass_the_runs_budget() {
    let url = database_url();
    // 1 s clips at the simulator's nominal $0.05 a second: $1 pays for 20
    // of the 200 jobs.
    let (dir, _sim, addr, run) = submitted(
        &url,
        "budget",
        &["--limit", "200", "-n", "10", "--budget", "1usd"],
    );
    let workers: Vec<Proc> = (0..4).map(|n| worker(&url, &run, dir.path(), n)).collect();
    let mut stopped = 0;
    for mut w in workers {
        let status = w.0.wait().unwrap();
        let mut err = String::new();
        w.0.stderr.take().unwrap().read_to_string(&mut err).unwrap();
        // A worker that met the budget says so with its code; one that
        // never did ends as the drained run it worked on.
        match status.code() {
            Some(4) => {
                assert!(err.contains("its budget of $1.00 is reached"), "{err}");
                stopped += 1;
            }
            other => assert_eq!(other, Some(0), "{err}"),
        }
    }
    assert!(stopped >= 1);
    let s = stats(&addr);
    assert_eq!(s["submissions"], 20, "{s}");
    let rows = rows(&url, &run, dir.path());
    let done: Vec<_> = rows.iter().filter(|r| r["status"] == "done").collect();
    assert_eq!(done.len(), 20, "every paid job finished, no other");
    assert!(done.iter().all(|r| r["cost"]["high"] == "0.05usd"));
    assert_eq!(rows.len(), 200, "the rest ended unsubmitted");
    let out = framebreak()
        .args(["status", &run, "--store", &url, "--json"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let status: serde_json::Value =
        serde_json::from_str(String::from_utf8_lossy(&out.stdout).trim()).unwrap();
    assert_eq!(status["spent_usd"], 1.0, "{status}");
}
