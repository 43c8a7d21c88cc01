//! `framebreak run`, `resume`, `report` and `config` as a user runs them:
//! real processes, a real SQLite store, killed with real signals.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

mod common;
use common::{framebreak, ok, run_args, wait_for_lines};

/// `framebreak sim serve` on a free port with `extra` flags and a journal:
/// the server and its base URL.
fn sim_serve(extra: &[&str], journal: &Path) -> (std::process::Child, String) {
    use std::io::BufRead;
    let mut server = framebreak()
        .args(["sim", "serve", "--addr", "127.0.0.1:0"])
        .args(extra)
        .arg("--journal")
        .arg(journal)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut line = String::new();
    std::io::BufReader::new(server.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let url = line
        .split_whitespace()
        .find(|w| w.starts_with("http://"))
        .unwrap_or_else(|| panic!("no address in {line:?}"))
        .to_owned();
    (server, url)
}

fn lines(path: &Path) -> Vec<serde_json::Value> {
    std::fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

fn signal(pid: u32, sig: &str) {
    let status = Command::new("kill")
        .args([sig, &pid.to_string()])
        .status()
        .unwrap();
    assert!(status.success());
}

#[test]
fn a_run_killed_with_sigkill_resumes_with_nothing_lost_and_nothing_resubmitted() {
    let runs = tempfile::tempdir().unwrap();
    let run_dir: PathBuf = runs.path().join("k1");
    let mut child = framebreak()
        .args(run_args(runs.path(), "k1", 24))
        // Leases of an hour: the resume below ends only if it takes over
        // the killed process's jobs at once instead of waiting them out.
        .env("FRAMEBREAK_SCHEDULER__LEASE_TTL_SECS", "3600")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    // Kill it in the middle: some jobs submitted, most not finished.
    wait_for_lines(
        &run_dir.join("sim-journal.jsonl"),
        8,
        Duration::from_secs(120),
    );
    let resume = || {
        let mut c = framebreak();
        c.args([
            "resume",
            "k1",
            "--runs-dir",
            runs.path().to_str().unwrap(),
            "--progress",
            "quiet",
        ]);
        c
    };
    // While it runs, nobody else may run the same folder.
    let twice = resume().output().unwrap();
    assert_eq!(
        twice.status.code(),
        Some(2),
        "{}",
        String::from_utf8_lossy(&twice.stderr)
    );
    assert!(String::from_utf8_lossy(&twice.stderr).contains("another framebreak process"));
    signal(child.id(), "-KILL");
    let _ = child.wait();
    assert!(
        !run_dir.join("results.jsonl").exists(),
        "the killed run wrote no report"
    );

    let mut resumed = resume()
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = std::time::Instant::now() + Duration::from_secs(300);
    while resumed.try_wait().unwrap().is_none() {
        if std::time::Instant::now() > deadline {
            let _ = resumed.kill();
            panic!("the resume waited for the dead process's leases");
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let out = resumed.wait_with_output().unwrap();
    ok(&out);

    let rows = lines(&run_dir.join("results.jsonl"));
    assert_eq!(rows.len(), 24, "every variant has its row");
    let jobs: HashSet<_> = rows
        .iter()
        .map(|r| r["job"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(jobs.len(), 24, "no job twice");
    assert!(rows.iter().all(|r| r["status"] == "done"), "{rows:?}");

    // The simulator journals every submission it accepted, across both
    // processes: each job once.
    let journal = lines(&run_dir.join("sim-journal.jsonl"));
    assert_eq!(journal.len(), 24, "submitted exactly once each");
    let keys: HashSet<_> = journal
        .iter()
        .map(|j| j["key"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(keys.len(), 24);
}

#[test]
fn ctrl_c_stops_cleanly_says_how_to_resume_and_the_report_reads_the_store() {
    let runs = tempfile::tempdir().unwrap();
    let run_dir = runs.path().join("c1");
    let child = framebreak()
        .args(run_args(runs.path(), "c1", 30))
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    wait_for_lines(
        &run_dir.join("sim-journal.jsonl"),
        4,
        Duration::from_secs(120),
    );
    signal(child.id(), "-INT");
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(130), "{stderr}");
    assert!(stderr.contains("framebreak resume c1"), "{stderr}");

    // Reports come from the store at any time: here, part of a run.
    let csv = framebreak()
        .args([
            "report",
            "c1",
            "--runs-dir",
            runs.path().to_str().unwrap(),
            "--format",
            "csv",
            "-o",
            "-",
        ])
        .output()
        .unwrap();
    ok(&csv);
    let text = String::from_utf8(csv.stdout).unwrap();
    assert!(text.starts_with("job,base_id,control,"), "{text}");
    let finished = text.lines().count() - 1;
    assert!(finished < 30, "the run was stopped early: {finished} rows");

    // Resuming finishes it; `--fail-on` turns a bad result into exit 3.
    let out = framebreak()
        .args([
            "resume",
            "c1",
            "--runs-dir",
            runs.path().to_str().unwrap(),
            "--progress",
            "quiet",
            "--fail-on",
            "physics<101",
        ])
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(3),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(lines(&run_dir.join("results.jsonl")).len(), 30);
    for name in ["report.html", "results.csv", "junit.xml"] {
        assert!(run_dir.join(name).is_file(), "{name}");
    }

    // Roasts: a dry run by default, each post within X's 280 characters.
    let runs_arg = runs.path().to_str().unwrap();
    let out = framebreak()
        .args(["roast", "c1", "--top", "2", "--runs-dir", runs_arg])
        .output()
        .unwrap();
    ok(&out);
    let posts = lines(&run_dir.join("roasts.jsonl"));
    assert_eq!(posts.len(), 2);
    for p in &posts {
        let text = p["text"].as_str().unwrap();
        assert!(text.chars().count() <= 280, "{text}");
        assert!(text.to_lowercase().contains("physics"), "{text}");
    }
    // Publishing needs the explicit flag and a token; without the token it
    // says which variable, and posts nothing.
    let out = framebreak()
        .env_remove("X_USER_ACCESS_TOKEN")
        .args(["roast", "c1", "--publish", "x", "--runs-dir", runs_arg])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("X_USER_ACCESS_TOKEN"));
    assert_eq!(lines(&run_dir.join("roasts.jsonl")).len(), 2);
}

/// SIGTERM (what `kill`, systemd and Kubernetes send) stops as gently as
/// Ctrl-C, and a signal right after start is never the default abrupt exit.
#[test]
fn sigterm_stops_as_gently_as_ctrl_c() {
    let runs = tempfile::tempdir().unwrap();
    let child = framebreak()
        .args(run_args(runs.path(), "t1", 30))
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    wait_for_lines(
        &runs.path().join("t1").join("sim-journal.jsonl"),
        1,
        Duration::from_secs(120),
    );
    signal(child.id(), "-TERM");
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(130), "{stderr}");
    assert!(stderr.contains("framebreak resume t1"), "{stderr}");
}

#[test]
fn config_prints_the_layers_merged_with_passwords_hidden_and_refuses_typos() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("framebreak.toml"),
        "[scheduler]\nconcurrency = 33\nstore = \"postgres://fb:s3cret@db/runs\"\n",
    )
    .unwrap();
    let out = framebreak()
        .current_dir(dir.path())
        .env("FRAMEBREAK_VARIANTS__PER_PROMPT", "7")
        .args(["config", "--rate", "5/s"])
        .output()
        .unwrap();
    ok(&out);
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.contains("concurrency = 33"), "{text}");
    assert!(text.contains("per_prompt = 7"), "{text}");
    assert!(text.contains("rate = \"5/s\""), "{text}");
    assert!(!text.contains("s3cret"), "{text}");

    std::fs::write(
        dir.path().join("framebreak.toml"),
        "[scheduler]\nconcurency = 3\n",
    )
    .unwrap();
    let out = framebreak()
        .current_dir(dir.path())
        .arg("config")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("concurency"));

    let clean = tempfile::tempdir().unwrap();
    for (flag, value) in [
        ("--rate", "fast"),
        ("--size", "big"),
        ("--backend", "midjourney"),
    ] {
        let out = framebreak()
            .current_dir(clean.path())
            .args(["config", flag, value])
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2), "{flag} {value}");
        assert!(
            String::from_utf8_lossy(&out.stderr).contains(value),
            "{flag}"
        );
    }
    let out = framebreak()
        .args(["resume", "nope", "--runs-dir", dir.path().to_str().unwrap()])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("nope"));
}

/// `framebreak run` against `framebreak sim serve --faults …` over HTTP:
/// every job ends done, or failed in the category of the fault the
/// simulator dealt it (its journal records each accepted job's fate).
#[test]
fn a_run_against_a_faulty_sim_server_ends_each_job_in_its_faults_category() {
    let dir = tempfile::tempdir().unwrap();
    let journal = dir.path().join("sim.jsonl");
    let (mut server, url) = sim_serve(
        &[
            "--latency",
            "0ms",
            "--faults",
            "content_policy=0.15,failed=0.15,truncated=0.15,stay_queued=0.1,server_error=0.1,rate_limited=0.1,retry_after=0s",
        ],
        &journal,
    );
    let mut args = run_args(dir.path(), "f1", 40);
    args.extend(
        [
            "--backend",
            "sim-http",
            "--base-url",
            &url,
            "--max-attempts",
            "3",
        ]
        .map(String::from),
    );
    let out = framebreak()
        .env("FRAMEBREAK_BACKEND__GENERATION_TIMEOUT_SECS", "2")
        .args(args)
        .output()
        .unwrap();
    let _ = server.kill();
    let _ = server.wait();
    ok(&out);

    // Keys are `{run}:{job}:{step}:{request digest}`: by job and step.
    let fates: std::collections::HashMap<String, serde_json::Value> = lines(&journal)
        .into_iter()
        .map(|j| {
            let key = j["key"].as_str().unwrap();
            let parts: Vec<&str> = key.split(':').collect();
            assert_eq!((parts.len(), parts[0]), (4, "f1"), "{key}");
            (format!("{}:{}", parts[1], parts[2]), j["fate"].clone())
        })
        .collect();
    let rows = lines(&dir.path().join("f1").join("results.jsonl"));
    assert_eq!(rows.len(), 40);
    let mut seen = std::collections::BTreeMap::new();
    for row in &rows {
        let key = format!("{}:0", row["job"].as_str().unwrap());
        let category = row["failure"]["category"]
            .as_str()
            .unwrap_or("none")
            .to_owned();
        let expected: &[&str] = match fates.get(&key) {
            // Never accepted: refused by policy, or 500/429 three times.
            None => &["content_policy", "server", "rate_limited"],
            Some(f) if f["stuck"] == true => &["timeout"],
            Some(f) if f["fails"] == true => &["server"],
            Some(f) if f["delivery"] == "truncated" => &["download"],
            Some(_) => &["none"],
        };
        assert!(
            expected.contains(&category.as_str()),
            "job {key} with fate {:?} ended as {category}: {row}",
            fates.get(&key)
        );
        *seen.entry(category).or_insert(0) += 1;
    }
    assert!(seen.get("none").copied().unwrap_or(0) > 0, "{seen:?}");
    assert!(seen.len() >= 4, "the faults showed: {seen:?}");
}

#[test]
fn a_first_ctrl_c_stops_jobs_waiting_on_a_slow_generation_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let journal = dir.path().join("sim.jsonl");
    // Every generation takes a minute.
    let (mut server, url) = sim_serve(&["--latency", "60s"], &journal);
    let mut args = run_args(dir.path(), "slow", 3);
    args.extend(["--backend", "sim-http", "--base-url", &url].map(String::from));
    let mut run = framebreak()
        .args(&args)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    wait_for_lines(&journal, 3, Duration::from_secs(60));
    // Let the submissions' answers arrive and polling begin.
    std::thread::sleep(Duration::from_millis(500));
    let sent = Command::new("kill")
        .args(["-INT", &run.id().to_string()])
        .status()
        .unwrap();
    assert!(sent.success());
    // The drain deadline is 30 s and each generation a minute: a run that
    // waited for either would still be here.
    let start = std::time::Instant::now();
    let status = loop {
        if let Some(s) = run.try_wait().unwrap() {
            break s;
        }
        if start.elapsed() > Duration::from_secs(20) {
            let _ = run.kill();
            let _ = server.kill();
            panic!("the run was still waiting 20 s after one Ctrl-C");
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let _ = server.kill();
    let _ = server.wait();
    let mut err = String::new();
    std::io::Read::read_to_string(&mut run.stderr.take().unwrap(), &mut err).unwrap();
    assert_eq!(status.code(), Some(130), "{err}");
    // Each job was submitted once and is left to `resume`, not failed.
    assert_eq!(lines(&journal).len(), 3);
    let out = framebreak()
        .args([
            "status",
            "--json",
            "--runs-dir",
            dir.path().to_str().unwrap(),
            "slow",
        ])
        .output()
        .unwrap();
    let status: serde_json::Value = serde_json::from_slice(&ok(&out).stdout).unwrap();
    let counts = &status["counts"];
    assert_eq!(
        (
            counts["pending"].as_u64(),
            counts["failed"].as_u64(),
            counts["cancelled"].as_u64()
        ),
        (Some(3), Some(0), Some(0)),
        "{status}"
    );
}

#[test]
fn a_second_run_of_the_same_prompts_gets_its_own_videos_from_a_server_that_honours_keys() {
    let dir = tempfile::tempdir().unwrap();
    let journal = dir.path().join("sim.jsonl");
    let (mut server, url) = sim_serve(&["--latency", "0ms"], &journal);
    for (id, size) in [("first", "96x64"), ("second", "64x48")] {
        let mut args = run_args(dir.path(), id, 4);
        args.extend(["--backend", "sim-http", "--base-url", &url].map(String::from));
        let at = args.iter().position(|a| a == "--size").unwrap();
        args[at + 1] = size.into();
        ok(&framebreak().args(&args).output().unwrap());
    }
    let _ = server.kill();
    let _ = server.wait();
    // Same prompts, same job ids: without the run in the key, the server
    // would have handed the second run the first run's 96x64 videos.
    let keys: HashSet<String> = lines(&journal)
        .iter()
        .map(|j| j["key"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(keys.len(), 8, "{keys:?}");
    for row in lines(&dir.path().join("second").join("results.jsonl")) {
        assert_eq!(row["analysis"]["width"], 64, "{row}");
    }
}

/// `framebreak run --backend sim --budget …`: the run stops at the budget
/// with exit code 4 and says so, the simulator made no more videos than the
/// budget pays for, the report shows the spend; `--dry-run` says what it
/// would cost (the run that finishes costs that) and makes nothing.
#[test]
fn a_budget_stops_the_run_with_its_own_exit_code_and_the_report_shows_the_spend() {
    let dir = tempfile::tempdir().unwrap();
    let runs = dir.path().join("runs");
    let mut plan = framebreak();
    plan.args(run_args(&runs, "b", 30))
        .args(["--budget", "0.50usd", "--dry-run"]);
    let out = plan.output().unwrap();
    ok(&out);
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.contains("jobs: 30"), "{text}");
    assert!(
        text.contains("estimated cost: $1.50 ($0.05 per job)"),
        "{text}"
    );
    assert!(text.contains("it admits about 10 of the 30 jobs"), "{text}");
    assert!(!runs.exists(), "a dry run makes no run folder");

    // Its progress (JSON lines) says what the run has committed to.
    let mut args = run_args(&runs, "b", 30);
    args.truncate(args.len() - 2);
    let out = framebreak()
        .args(args)
        .args(["--budget", "0.50usd", "--progress", "json"])
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(4),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let last: serde_json::Value =
        serde_json::from_str(String::from_utf8_lossy(&out.stdout).lines().last().unwrap()).unwrap();
    assert_eq!(last["spend"]["committed_usd"], 0.5, "{last}");
    assert_eq!(last["spend"]["budget_usd"], 0.5, "{last}");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("its budget of $0.50 is reached") && err.contains("resume b"),
        "{err}"
    );
    let journal = lines(&runs.join("b").join("sim-journal.jsonl"));
    assert_eq!(journal.len(), 10, "submissions the budget pays for");
    let rows = lines(&runs.join("b").join("results.jsonl"));
    let done = rows.iter().filter(|r| r["status"] == "done").count();
    assert_eq!(done, 10, "every paid job finished");
    assert_eq!(
        rows.len(),
        30,
        "the rest are rows too, cancelled unsubmitted"
    );
    let page = std::fs::read_to_string(runs.join("b").join("report.html")).unwrap();
    assert!(page.contains("Estimated spend <strong>$0.50</strong> for 10 submitted jobs"));
    let csv = std::fs::read_to_string(runs.join("b").join("results.csv")).unwrap();
    assert!(
        csv.lines()
            .next()
            .unwrap()
            .ends_with("cost_low_usd,cost_high_usd")
    );

    // Resumed with a larger budget, the run finishes: 30 videos, $1.50, as
    // the plan said; `--fail-on cost>1usd` then fails it (exit 3).
    let out = framebreak()
        .args([
            "resume",
            "b",
            "--runs-dir",
            runs.to_str().unwrap(),
            "--budget",
            "5usd",
        ])
        .args(["--fail-on", "cost>1usd"])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(3), "{err}");
    assert!(
        err.contains("spend: $1.50 committed of its $5.00 budget"),
        "{err}"
    );
    assert!(
        err.contains("--fail-on cost>1: the run measured 1.500"),
        "{err}"
    );
    assert_eq!(lines(&runs.join("b").join("sim-journal.jsonl")).len(), 30);
    // `status` says what each run committed.
    let out = framebreak()
        .args(["status", "--runs-dir", runs.to_str().unwrap(), "--json"])
        .output()
        .unwrap();
    ok(&out);
    let status: serde_json::Value =
        serde_json::from_str(String::from_utf8_lossy(&out.stdout).trim()).unwrap();
    assert_eq!(status["spent_usd"], 1.5, "{status}");

    // Bad amounts and unpriced models are usage errors naming the input.
    for (flags, says) in [
        (vec!["--budget", "5eur"], "not USD"),
        (vec!["--budget=-1usd"], "negative"),
        (
            vec![
                "--backend",
                "replicate",
                "--model",
                "someone/new",
                "--budget",
                "5usd",
            ],
            "no price for replicate:someone/new",
        ),
    ] {
        let out = framebreak()
            .args(run_args(&runs, "bad", 3))
            .args(&flags)
            .env_remove("REPLICATE_API_TOKEN")
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{flags:?}: {err}");
        assert!(err.contains(says), "{flags:?}: {err}");
    }
    assert!(!runs.join("bad").exists());
}
