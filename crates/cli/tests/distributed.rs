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

/// The simulator's counts (`GET /v1/stats`).
fn stats(addr: &str) -> serde_json::Value {
    let mut s = TcpStream::connect(addr).unwrap();
    write!(
        s,
        "GET /v1/stats HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer t\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut raw = Vec::new();
    s.read_to_end(&mut raw).unwrap();
    let text = String::from_utf8_lossy(&raw);
    let body = text.split("\r\n\r\n").nth(1).unwrap_or_default();
    serde_json::from_str(body).unwrap_or_else(|e| panic!("{e}: {text}"))
}

fn submit(url: &str, sim: &str, run: &str, dir: &Path, extra: &[&str]) {
    let out = framebreak()
        .args([
            "submit",
            "--store",
            url,
            "--run-id",
            run,
            "--backend",
            "sim-http",
        ])
        .args([
            "--base-url",
            &format!("http://{sim}"),
            "--size",
            "64x48",
            "--duration",
            "1",
        ])
        .args(extra)
        .arg("--runs-dir")
        .arg(dir.join("submitter"))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), run);
}

fn worker(url: &str, run: &str, dir: &Path, n: usize) -> Proc {
    Proc(
        framebreak()
            .args([
                "worker",
                "--run",
                run,
                "--store",
                url,
                "--progress",
                "quiet",
                "-c",
                "16",
            ])
            .arg("--runs-dir")
            .arg(dir.join(format!("w{n}")))
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap(),
    )
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

#[test]
fn four_workers_one_killed_do_every_job_once_and_the_sim_sees_each_submitted_once() {
    const JOBS: usize = 5_000;
    let url = database_url();
    let dir = tempfile::tempdir().unwrap();
    let (_sim, addr) = sim(dir.path());
    let run = fresh_run("kill");
    submit(
        &url,
        &addr,
        &run,
        dir.path(),
        &["--limit", &JOBS.to_string(), "-n", "100"],
    );

    let mut workers: Vec<Proc> = (0..4).map(|n| worker(&url, &run, dir.path(), n)).collect();
    // Kill one worker with SIGKILL in the middle of the run.
    let start = Instant::now();
    while stats(&addr)["submissions"].as_u64().unwrap() < (JOBS / 4) as u64 {
        assert!(
            start.elapsed() < Duration::from_secs(600),
            "the run never got going"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
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

    let rows = rows(&url, &run, dir.path());
    assert_eq!(rows.len(), JOBS, "every job has its one row");
    let jobs: HashSet<&str> = rows.iter().map(|r| r["job"].as_str().unwrap()).collect();
    assert_eq!(jobs.len(), JOBS, "no job twice");
    let not_done: Vec<_> = rows.iter().filter(|r| r["status"] != "done").collect();
    assert!(not_done.is_empty(), "{not_done:?}");

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
    let dir = tempfile::tempdir().unwrap();
    let (_sim, addr) = sim(dir.path());
    let run = fresh_run("rate");
    submit(
        &url,
        &addr,
        &run,
        dir.path(),
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
    // of burst 1 admits at most RATE + 1 in a closed one-second window.
    assert!(
        max_1s <= RATE + 1,
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
