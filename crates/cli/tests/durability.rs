//! What a run folder survives, and what it refuses: a store that is
//! missing, empty or another run's is never taken for an empty run, reports
//! are never replaced by fewer rows, a damaged video is fetched again, and
//! a command line that cannot run leaves no run folder behind.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

mod common;
use common::{framebreak, ok, run_args, wait_for_lines};

/// `framebreak COMMAND RUN --runs-dir RUNS --progress quiet`-style calls.
fn on_run(runs: &Path, args: &[&str]) -> Output {
    framebreak()
        .args(args)
        .args(["--runs-dir", runs.to_str().unwrap()])
        .output()
        .unwrap()
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// The run folder's files whose names start with `jobs.sqlite`.
fn store_files(run_dir: &Path) -> Vec<PathBuf> {
    std::fs::read_dir(run_dir)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .filter(|p| {
            p.file_name()
                .is_some_and(|n| n.to_string_lossy().starts_with("jobs.sqlite"))
        })
        .collect()
}

/// Starts run `id` of `limit` jobs and returns once all are enqueued.
fn start_until_enqueued(runs: &Path, id: &str, limit: usize) -> std::process::Child {
    let child = framebreak()
        .args(run_args(runs, id, limit))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let start = Instant::now();
    while !runs.join(id).join("enqueued").is_file() {
        assert!(start.elapsed() < Duration::from_secs(120), "never enqueued");
        std::thread::sleep(Duration::from_millis(5));
    }
    child
}

fn reports(run_dir: &Path) -> Vec<(String, Vec<u8>)> {
    ["results.jsonl", "results.csv", "junit.xml", "report.html"]
        .iter()
        .map(|n| (n.to_string(), std::fs::read(run_dir.join(n)).unwrap()))
        .collect()
}

/// `resume` and `report` of `run` both exit 2 with a message holding every
/// one of `needles`, and leave the reports as they were (`before`).
fn refused_by_resume_and_report(
    runs: &Path,
    run: &str,
    damage: &str,
    before: &[(String, Vec<u8>)],
    needles: &[&str],
) {
    for command in [
        &["resume", run, "--progress", "quiet"][..],
        &["report", run][..],
    ] {
        let out = on_run(runs, command);
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(2), "{damage}, {command:?}: {err}");
        assert!(
            needles.iter().all(|n| err.contains(n)),
            "{damage}, {command:?}: {err}"
        );
        assert_eq!(reports(&runs.join(run)), before, "{damage}, {command:?}");
    }
}

fn done_rows(run_dir: &Path) -> usize {
    std::fs::read_to_string(run_dir.join("results.jsonl"))
        .unwrap()
        .lines()
        .filter(|l| l.contains(r#""status":"done""#))
        .count()
}

/// Problem 1: a missing, emptied or half-deleted store was taken for an
/// empty run, and its reports were overwritten with nothing.
#[test]
fn a_missing_or_emptied_store_is_refused_and_the_reports_are_kept() {
    let runs = tempfile::tempdir().unwrap();
    let run_dir = runs.path().join("s1");
    ok(&framebreak()
        .args(run_args(runs.path(), "s1", 6))
        .output()
        .unwrap());
    assert_eq!(done_rows(&run_dir), 6);
    let before = reports(&run_dir);
    let backup = tempfile::tempdir().unwrap();
    for file in store_files(&run_dir) {
        std::fs::copy(&file, backup.path().join(file.file_name().unwrap())).unwrap();
    }
    let restore = || {
        for file in store_files(&run_dir) {
            std::fs::remove_file(file).unwrap();
        }
        for file in std::fs::read_dir(backup.path()).unwrap().flatten() {
            std::fs::copy(file.path(), run_dir.join(file.file_name())).unwrap();
        }
    };
    let damages: [(&str, &dyn Fn()); 2] = [
        ("deleted", &|| {
            for file in store_files(&run_dir) {
                std::fs::remove_file(file).unwrap();
            }
        }),
        ("truncated to 0 bytes", &|| {
            std::fs::write(run_dir.join("jobs.sqlite"), b"").unwrap();
        }),
    ];
    for (damage, apply) in damages {
        apply();
        refused_by_resume_and_report(
            runs.path(),
            "s1",
            damage,
            &before,
            &["jobs.sqlite", "6", "backup"],
        );
        // Nothing was created in its place.
        let left: Vec<_> = store_files(&run_dir)
            .iter()
            .map(|p| std::fs::metadata(p).unwrap().len())
            .collect();
        assert!(left.iter().all(|&n| n == 0), "{damage}: {left:?}");
        restore();
    }
    // Put back, the run is whole again.
    let out = on_run(runs.path(), &["resume", "s1", "--progress", "quiet"]);
    ok(&out);
    assert_eq!(done_rows(&run_dir), 6);
}

/// Problem 1, after a kill: the store's write-ahead log deleted, the store
/// holds none of the jobs the folder says were enqueued.
#[test]
fn a_store_whose_log_was_deleted_after_a_kill_is_refused() {
    let runs = tempfile::tempdir().unwrap();
    let run_dir = runs.path().join("w1");
    let mut child = start_until_enqueued(runs.path(), "w1", 24);
    child.kill().unwrap();
    child.wait().unwrap();
    for name in ["jobs.sqlite-wal", "jobs.sqlite-shm"] {
        let _ = std::fs::remove_file(run_dir.join(name));
    }
    let out = on_run(runs.path(), &["resume", "w1", "--progress", "quiet"]);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("holds no jobs") && err.contains("24"), "{err}");
    assert!(!run_dir.join("results.jsonl").exists(), "{err}");
}

/// Problem 1: a store copied from another run is that run's, not this one's.
#[test]
fn a_store_of_another_run_is_refused() {
    let runs = tempfile::tempdir().unwrap();
    for id in ["a1", "b1"] {
        ok(&framebreak()
            .args(run_args(runs.path(), id, 2))
            .output()
            .unwrap());
    }
    let a = runs.path().join("a1");
    let before = reports(&a);
    std::fs::copy(runs.path().join("b1/jobs.sqlite"), a.join("jobs.sqlite")).unwrap();
    for command in [
        &["resume", "a1", "--progress", "quiet"][..],
        &["report", "a1"][..],
    ] {
        let out = on_run(runs.path(), command);
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(2), "{command:?}: {err}");
        assert!(err.contains("belongs to run b1"), "{command:?}: {err}");
    }
    assert_eq!(reports(&a), before);
}

/// Problem 1: reports are never replaced by a store with fewer rows.
#[test]
fn reports_are_not_replaced_by_a_store_behind_them() {
    let runs = tempfile::tempdir().unwrap();
    let run_dir = runs.path().join("r1");
    ok(&framebreak()
        .args(run_args(runs.path(), "r1", 3))
        .output()
        .unwrap());
    // results.jsonl as a fuller store wrote it: each row twice.
    let jsonl = run_dir.join("results.jsonl");
    let text = std::fs::read_to_string(&jsonl).unwrap();
    let fuller = format!("{text}{text}");
    std::fs::write(&jsonl, &fuller).unwrap();
    for command in [
        &["report", "r1", "--format", "jsonl"][..],
        &["report", "r1"][..],
    ] {
        let out = on_run(runs.path(), command);
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(2), "{command:?}: {err}");
        assert!(err.contains("not overwritten"), "{command:?}: {err}");
    }
    assert_eq!(std::fs::read_to_string(&jsonl).unwrap(), fuller);
    // Elsewhere, it may be written.
    let other = runs.path().join("other.jsonl");
    ok(&on_run(
        runs.path(),
        &[
            "report",
            "r1",
            "--format",
            "jsonl",
            "-o",
            other.to_str().unwrap(),
        ],
    ));
    assert_eq!(std::fs::read_to_string(other).unwrap(), text);
}

/// Problem 5: videos damaged on disk while waiting for analysis are fetched
/// again, not failed as `decode`.
#[test]
fn videos_damaged_while_waiting_for_analysis_are_fetched_again() {
    let runs = tempfile::tempdir().unwrap();
    let run_dir = runs.path().join("v1");
    let videos = run_dir.join("videos");
    let mut child = framebreak()
        .args([
            "run",
            "--runs-dir",
            runs.path().to_str().unwrap(),
            "--run-id",
            "v1",
        ])
        .args([
            "--limit",
            "16",
            "--size",
            "320x240",
            "--duration",
            "2",
            "-c",
            "8",
        ])
        // One slow analysis at a time: downloaded videos queue up for it.
        .args(["--analysis-workers", "1", "--progress", "quiet"])
        .env("FRAMEBREAK_ANALYSIS__SIZE", "320")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mp4s = || {
        std::fs::read_dir(&videos)
            .map(|d| {
                d.flatten()
                    .map(|e| e.path())
                    .filter(|p| p.extension().is_some_and(|x| x == "mp4"))
                    .collect::<Vec<_>>()
            })
            .unwrap_or_default()
    };
    let start = Instant::now();
    while mp4s().len() < 6 {
        assert!(start.elapsed() < Duration::from_secs(180), "too few videos");
        std::thread::sleep(Duration::from_millis(10));
    }
    child.kill().unwrap();
    child.wait().unwrap();
    for video in mp4s() {
        let bytes = std::fs::read(&video).unwrap();
        std::fs::write(&video, &bytes[..bytes.len() / 2]).unwrap();
    }
    let out = on_run(runs.path(), &["resume", "v1", "--progress", "quiet"]);
    ok(&out);
    let text = std::fs::read_to_string(run_dir.join("results.jsonl")).unwrap();
    assert_eq!(text.lines().count(), 16);
    assert!(!text.contains(r#""category":"decode""#), "{text}");
    assert_eq!(done_rows(&run_dir), 16);
}

/// Problem 6: what cannot run is a usage error (exit 2) before any run
/// folder is made.
#[test]
fn bad_settings_are_usage_errors_that_leave_no_run_folder() {
    let runs = tempfile::tempdir().unwrap();
    let empty = runs.path().join("empty.txt");
    std::fs::write(&empty, "\n# only a comment\n").unwrap();
    let missing = runs.path().join("missing.txt");
    let cases: Vec<(Vec<&str>, &str)> = vec![
        (vec!["-c", "10000000"], "scheduler.concurrency"),
        (vec!["--traps", "nosuch.*"], "nosuch"),
        (vec!["-i", empty.to_str().unwrap()], "no prompts"),
        (vec!["-i", missing.to_str().unwrap()], "missing.txt"),
        (vec!["--size", "0x0"], "0x0"),
        (vec!["--size", "1x1"], "1x1"),
        (vec!["--size", "161x121"], "161x121"),
        (vec!["--size", "100000x100000"], "100000x100000"),
        (vec!["--duration", "0"], "request.duration_secs"),
        (vec!["--duration", "100000"], "request.duration_secs"),
        (vec!["--profile", "nosuch"], "strong"),
    ];
    let runs_arg = runs.path().join("R");
    for (flags, says) in cases {
        let out = framebreak()
            .args([
                "run",
                "--runs-dir",
                runs_arg.to_str().unwrap(),
                "--limit",
                "6",
            ])
            .args(["--progress", "quiet"])
            .args(&flags)
            .output()
            .unwrap();
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(2), "{flags:?}: {err}");
        assert!(err.contains(says), "{flags:?}: {err}");
        assert!(!runs_arg.exists(), "{flags:?} left a run folder");
    }
    let out = framebreak()
        .args([
            "run",
            "--runs-dir",
            runs_arg.to_str().unwrap(),
            "--limit",
            "6",
        ])
        .args(["--progress", "quiet"])
        .env("FRAMEBREAK_SCHEDULER__LEASE_TTL_SECS", "9223372036854775")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("scheduler.lease_ttl_secs"));
    assert!(!runs_arg.exists());
}

/// Problem 6: a run in which every job failed says why, even with `-q`.
#[test]
fn a_run_where_every_job_failed_says_why_even_when_quiet() {
    let runs = tempfile::tempdir().unwrap();
    let out = framebreak()
        .args(run_args(runs.path(), "f1", 4))
        .args(["--faults", "failed=1", "-q"])
        .output()
        .unwrap();
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("every job failed (4)"), "{err}");
    assert!(err.contains("(4), e.g. "), "{err}");
    // Failed jobs are jobs, not videos.
    let out = on_run(runs.path(), &["report", "f1"]);
    let err = stderr(&out);
    assert!(out.status.success(), "{err}");
    assert!(err.contains("(4 jobs, 0 videos analysed)"), "{err}");
}

/// Problem 7: the resume hint names a runs folder that is not the default,
/// and the temporary files a killed process left are removed on resume
/// (only old ones: a fresh one may be a report being written).
#[test]
fn a_stopped_run_names_its_runs_dir_and_resuming_removes_stale_temporaries() {
    let runs = tempfile::tempdir().unwrap();
    let run_dir = runs.path().join("t1");
    let child = framebreak()
        .args(run_args(runs.path(), "t1", 30))
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    wait_for_lines(
        &run_dir.join("sim-journal.jsonl"),
        4,
        Duration::from_secs(120),
    );
    let status = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let out = child.wait_with_output().unwrap();
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(130), "{err}");
    let hint = format!("framebreak resume t1 --runs-dir {}", runs.path().display());
    assert!(err.contains(&hint), "{err}");

    let stale = [
        run_dir.join(".framebreak-a1b2.tmp"),
        run_dir.join("videos/.framebreak-download-c3d4"),
    ];
    let fresh = run_dir.join(".framebreak-e5f6.tmp");
    for file in stale.iter().chain([&fresh]) {
        std::fs::write(file, b"half").unwrap();
    }
    for file in &stale {
        let touched = Command::new("touch")
            .args(["-d", "1 hour ago"])
            .arg(file)
            .status()
            .unwrap();
        assert!(touched.success());
    }
    ok(&on_run(
        runs.path(),
        &["resume", "t1", "--progress", "quiet"],
    ));
    for file in &stale {
        assert!(!file.exists(), "{} is left", file.display());
    }
    assert!(fresh.exists());
    assert_eq!(done_rows(&run_dir), 30);
}

/// A store put back from an older copy (or that lost its newest writes):
/// its done jobs would run, and be paid for, again.
#[test]
fn a_store_that_lost_its_newest_writes_is_refused() {
    let runs = tempfile::tempdir().unwrap();
    let run_dir = runs.path().join("l1");
    let backup = runs.path().join("backup");
    std::fs::create_dir(&backup).unwrap();
    let mut child = start_until_enqueued(runs.path(), "l1", 6);
    // A copy taken early, as a backup would be: every job enqueued, few done
    // (the -shm index is rebuilt from the log when it is missing).
    for name in ["jobs.sqlite", "jobs.sqlite-wal"] {
        let _ = std::fs::copy(run_dir.join(name), backup.join(name));
    }
    assert!(child.wait().unwrap().success());
    assert_eq!(
        std::fs::read_to_string(run_dir.join("done"))
            .unwrap()
            .trim(),
        "6"
    );
    let reports_before = reports(&run_dir);
    for f in store_files(&run_dir) {
        std::fs::remove_file(f).unwrap();
    }
    for name in ["jobs.sqlite", "jobs.sqlite-wal"] {
        if backup.join(name).exists() {
            std::fs::copy(backup.join(name), run_dir.join(name)).unwrap();
        }
    }
    for command in [
        &["resume", "l1", "--progress", "quiet"][..],
        &["report", "l1"][..],
    ] {
        let out = on_run(runs.path(), command);
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(2), "{command:?}: {err}");
        assert!(
            err.contains("lost its newest writes") && err.contains("recorded 6"),
            "{command:?}: {err}"
        );
    }
    assert_eq!(reports(&run_dir), reports_before);
    // Knowingly: without the record, the jobs run again.
    std::fs::remove_file(run_dir.join("done")).unwrap();
    ok(&on_run(
        runs.path(),
        &["resume", "l1", "--progress", "quiet"],
    ));
    assert_eq!(done_rows(&run_dir), 6);
}

/// The run folder's bookkeeping damaged: a missing or unreadable
/// `campaign.toml` is refused as a usage error naming it, the reports kept;
/// a missing `enqueued` is written again by `resume` from the configuration,
/// which makes exactly the same variants, so no job is added or run twice.
#[test]
fn a_damaged_configuration_is_refused_and_a_lost_enqueued_count_rebuilt() {
    let runs = tempfile::tempdir().unwrap();
    let run_dir = runs.path().join("b1");
    ok(&framebreak()
        .args(run_args(runs.path(), "b1", 6))
        .output()
        .unwrap());
    let before = reports(&run_dir);
    let config = std::fs::read(run_dir.join("campaign.toml")).unwrap();
    let damages: [(&str, &dyn Fn()); 2] = [
        ("deleted", &|| {
            std::fs::remove_file(run_dir.join("campaign.toml")).unwrap();
        }),
        ("overwritten", &|| {
            std::fs::write(run_dir.join("campaign.toml"), b"[scheduler\nconcurrency = ").unwrap();
        }),
    ];
    for (damage, apply) in damages {
        apply();
        refused_by_resume_and_report(runs.path(), "b1", damage, &before, &["campaign.toml"]);
        std::fs::write(run_dir.join("campaign.toml"), &config).unwrap();
    }
    std::fs::remove_file(run_dir.join("enqueued")).unwrap();
    ok(&on_run(
        runs.path(),
        &["resume", "b1", "--progress", "quiet"],
    ));
    assert_eq!(
        std::fs::read_to_string(run_dir.join("enqueued"))
            .unwrap()
            .trim(),
        "6"
    );
    let rows = std::fs::read_to_string(run_dir.join("results.jsonl")).unwrap();
    assert_eq!(rows.lines().count(), 6, "{rows}");
    assert_eq!(done_rows(&run_dir), 6);
    let journal = std::fs::read_to_string(run_dir.join("sim-journal.jsonl")).unwrap();
    assert_eq!(journal.lines().count(), 6, "one submission per job");
}
