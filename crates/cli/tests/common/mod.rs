//! Helpers shared by the CLI test binaries that run `framebreak` as a user
//! does (`run.rs`, `durability.rs`).

use std::path::Path;
use std::process::{Command, Output};
use std::time::{Duration, Instant};

pub(crate) fn framebreak() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_framebreak"));
    // Small clips so a debug build analyses them quickly; no stray config.
    c.env("FRAMEBREAK_ANALYSIS__SIZE", "96")
        .env("FRAMEBREAK_ANALYSIS__DEVICE", "cpu")
        .env_remove("FRAMEBREAK_SCHEDULER__STORE");
    c
}

pub(crate) fn run_args(runs: &Path, id: &str, limit: usize) -> Vec<String> {
    [
        "run",
        "--runs-dir",
        runs.to_str().unwrap(),
        "--run-id",
        id,
        "--limit",
        &limit.to_string(),
        "--size",
        "96x64",
        "--duration",
        "1",
        "--seed",
        "5",
        "-c",
        "4",
        "--progress",
        "quiet",
    ]
    .iter()
    .map(ToString::to_string)
    .collect()
}

pub(crate) fn ok(out: &Output) -> &Output {
    assert!(
        out.status.success(),
        "exit {:?}\nstdout: {}\nstderr: {}",
        out.status.code(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// Waits until `path` has at least `n` lines.
pub(crate) fn wait_for_lines(path: &Path, n: usize, limit: Duration) {
    let start = Instant::now();
    while start.elapsed() < limit {
        let count = std::fs::read_to_string(path).map_or(0, |t| t.lines().count());
        if count >= n {
            return;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    panic!("{} never reached {n} lines", path.display());
}
