//! The `framebreak` binary, run as a user runs it.
//!
//! - `variants`: determinism, stdin, output file, every bad input.
//! - `traps`: table and JSON.
//! - exit codes: 0 done, 1 failure, 2 usage.

use std::io::Write;
use std::path::Path;
use std::process::{Command, Output, Stdio};

fn framebreak(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_framebreak"))
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("run framebreak")
}

fn with_stdin(args: &[&str], input: &[u8]) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_framebreak"))
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run framebreak");
    child.stdin.take().unwrap().write_all(input).unwrap();
    child.wait_with_output().unwrap()
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// Asserts the exit code and that stderr is one `error: …` line holding `needle`.
fn fails_with(out: &Output, code: i32, needle: &str) {
    let err = stderr(out);
    assert_eq!(out.status.code(), Some(code), "stderr: {err}");
    assert!(err.starts_with("error: "), "{err}");
    assert_eq!(err.trim_end().lines().count(), 1, "one line: {err}");
    assert!(err.contains(needle), "{err:?} lacks {needle:?}");
}

fn write(dir: &Path, name: &str, bytes: &[u8]) -> String {
    let path = dir.join(name);
    std::fs::write(&path, bytes).unwrap();
    path.to_str().unwrap().to_owned()
}

#[test]
fn same_seed_prints_the_same_bytes() {
    let a = framebreak(&["variants", "--per-prompt", "5", "--seed", "7"]);
    let b = framebreak(&["variants", "--per-prompt", "5", "--seed", "7"]);
    assert!(a.status.success(), "{}", stderr(&a));
    assert_eq!(a.stdout, b.stdout);
    let lines: Vec<serde_json::Value> = a
        .stdout
        .split(|&b| b == b'\n')
        .filter(|l| !l.is_empty())
        .map(|l| serde_json::from_slice(l).unwrap())
        .collect();
    assert!(lines.len() >= 200, "{} variants", lines.len());
    for key in [
        "id",
        "base_id",
        "base_prompt",
        "prompt",
        "seed",
        "mutations",
    ] {
        assert!(lines.iter().all(|v| v.get(key).is_some()), "{key} missing");
    }
    let m = &lines[0]["mutations"][0];
    for key in ["mutator", "trap", "family", "provokes", "text"] {
        assert!(m.get(key).is_some(), "mutation lacks {key}: {m}");
    }
    assert!(
        stderr(&a).contains("variants (0 controls) from"),
        "{}",
        stderr(&a)
    );
    let c = framebreak(&["variants", "--per-prompt", "5", "--seed", "8"]);
    assert_ne!(a.stdout, c.stdout);
}

#[test]
fn prompts_from_stdin_with_controls_and_a_filter() {
    let out = with_stdin(
        &[
            "variants",
            "-i",
            "-",
            "-n",
            "3",
            "--control",
            "--traps",
            "physics.*",
            "--quiet",
        ],
        b"A ball is thrown\n{\"id\":\"dog\",\"prompt\":\"A dog runs\",\"tags\":[\"animal\"]}\n",
    );
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(out.stderr.is_empty());
    let lines: Vec<serde_json::Value> = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 8);
    assert_eq!(lines[0]["prompt"], "A ball is thrown");
    assert_eq!(lines[0]["mutations"].as_array().unwrap().len(), 0);
    assert_eq!(lines[4]["base_id"], "dog");
    assert_eq!(lines[5]["tags"][0], "animal");
    for l in &lines {
        for m in l["mutations"].as_array().unwrap() {
            if let Some(f) = m["family"].as_str() {
                assert_eq!(f, "physics");
            }
        }
    }
}

#[test]
fn output_file_is_written_whole_or_not_at_all() {
    let dir = tempfile::tempdir().unwrap();
    let out_path = dir.path().join("v.jsonl");
    let ok = framebreak(&["variants", "-n", "2", "-o", out_path.to_str().unwrap()]);
    assert!(ok.status.success(), "{}", stderr(&ok));
    let good = std::fs::read(&out_path).unwrap();
    assert!(!good.is_empty());
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&out_path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o644, "an ordinary file, not a private temporary one");
    }

    let bad = write(dir.path(), "bad.txt", b"A ball\nA dog \xff\n");
    let failed = framebreak(&["variants", "-i", &bad, "-o", out_path.to_str().unwrap()]);
    assert_eq!(failed.status.code(), Some(1));
    assert_eq!(
        std::fs::read(&out_path).unwrap(),
        good,
        "the old file is untouched"
    );
    let leftovers = std::fs::read_dir(dir.path()).unwrap().count();
    assert_eq!(leftovers, 2, "no temporary file is left behind");
}

#[test]
fn invalid_utf8_input() {
    let dir = tempfile::tempdir().unwrap();
    let path = write(dir.path(), "p.txt", b"A ball\nA dog \xff runs\n");
    fails_with(
        &framebreak(&["variants", "-i", &path]),
        1,
        "p.txt:2:7: invalid UTF-8",
    );
}

#[test]
fn malformed_json_input() {
    let dir = tempfile::tempdir().unwrap();
    let path = write(
        dir.path(),
        "p.jsonl",
        b"{\"prompt\":\"A ball\"}\n{\"prompt\": \"A dog\"\n",
    );
    fails_with(
        &framebreak(&["variants", "-i", &path]),
        1,
        "p.jsonl:2:18: malformed JSON: EOF while parsing an object",
    );
}

#[test]
fn prompt_too_long() {
    let out = with_stdin(
        &["variants", "-i", "-", "--max-prompt-len", "10"],
        b"A ball that is thrown far\n",
    );
    fails_with(
        &out,
        1,
        "<stdin>:1: prompt is 25 characters long, over the limit of 10",
    );
}

#[test]
fn empty_input() {
    let out = with_stdin(&["variants", "-i", "-"], b"\n\n");
    fails_with(&out, 1, "<stdin>: no prompts");
}

#[test]
fn missing_input_file() {
    fails_with(
        &framebreak(&["variants", "-i", "/nonexistent/prompts.txt"]),
        1,
        "/nonexistent/prompts.txt: No such file",
    );
}

#[test]
fn empty_catalogue() {
    let dir = tempfile::tempdir().unwrap();
    let path = write(dir.path(), "cat.toml", b"extend_builtin = false\n");
    fails_with(
        &framebreak(&["variants", "--catalogue", &path]),
        1,
        "cat.toml: the catalogue has no traps",
    );
}

#[test]
fn malformed_user_catalogue_names_line_and_column() {
    let dir = tempfile::tempdir().unwrap();
    let path = write(
        dir.path(),
        "cat.toml",
        b"[[trap]]\nid = \"physics.x\"\nfamily = \"physics\"\nflavour = 1\n",
    );
    fails_with(
        &framebreak(&["traps", "--catalogue", &path]),
        1,
        "cat.toml:4:1: unknown field `flavour`",
    );
}

#[test]
fn unknown_trap_id_suggests_the_nearest() {
    fails_with(
        &framebreak(&["variants", "--traps", "physics.zero_gravity"]),
        2,
        "unknown trap id `physics.zero_gravity`; did you mean `physics.zero_g`?",
    );
    fails_with(
        &framebreak(&["traps", "--traps", "audio.*"]),
        2,
        "matches no trap",
    );
}

#[test]
fn usage_errors_exit_2() {
    let out = framebreak(&["variants", "--per-prompt", "lots"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("invalid value 'lots'"),
        "{}",
        stderr(&out)
    );
    fails_with(
        &framebreak(&["variants", "--per-prompt", "0"]),
        2,
        "invalid per-prompt: must be at least 1",
    );
    fails_with(
        &framebreak(&["variants", "--strategy", "exhaustive", "-n", "3"]),
        2,
        "--per-prompt has no effect",
    );
    assert_eq!(framebreak(&["frobnicate"]).status.code(), Some(2));
    assert_eq!(framebreak(&["--help"]).status.code(), Some(0));
}

#[test]
fn traps_lists_the_catalogue() {
    let table = framebreak(&["traps"]);
    assert!(table.status.success());
    let text = String::from_utf8(table.stdout).unwrap();
    assert!(
        text.contains("physics.zero_g") && text.contains("coherence.emerald_sparks"),
        "{text}"
    );

    let json = framebreak(&["traps", "--json", "--traps", "coherence"]);
    let traps: Vec<serde_json::Value> = String::from_utf8(json.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert!(traps.len() >= 12);
    assert!(
        traps
            .iter()
            .all(|t| t["family"] == "coherence" && !t["phrasings"].as_array().unwrap().is_empty())
    );
}

#[test]
fn exhaustive_covers_every_phrasing() {
    let out = framebreak(&[
        "variants",
        "--strategy",
        "exhaustive",
        "--traps",
        "physics.zero_g",
        "-q",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let traps = framebreak(&["traps", "--json", "--traps", "physics.zero_g"]);
    let trap: serde_json::Value = serde_json::from_slice(&traps.stdout).unwrap();
    let phrasings = trap["phrasings"].as_array().unwrap().len();
    let scenes = String::from_utf8(framebreak(&["variants", "-n", "1", "-q"]).stdout)
        .unwrap()
        .lines()
        .count();
    assert_eq!(
        String::from_utf8(out.stdout).unwrap().lines().count(),
        phrasings * scenes
    );
}

#[test]
fn run_help_names_every_key_variable_and_default_model() {
    use framebreak::campaign::BackendKind;
    let out = framebreak(&["run", "--help"]);
    assert!(out.status.success());
    let help = String::from_utf8_lossy(&out.stdout);
    for name in BackendKind::NAMES {
        let kind = BackendKind::parse(name).unwrap();
        if let Some(var) = kind.key_var() {
            assert!(help.contains(var), "{name}: {var} missing from\n{help}");
        }
        if !kind.is_sim() && kind != BackendKind::OpenAi {
            let model = kind.default_model();
            assert!(help.contains(model), "{name}: {model} missing from\n{help}");
        }
    }
}

#[test]
fn config_shows_the_default_model_and_the_key_variable() {
    let out = framebreak(&["config", "--backend", "veo"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = String::from_utf8_lossy(&out.stdout);
    let model = framebreak::campaign::BackendKind::Veo.default_model();
    assert!(
        text.contains(&format!(
            "model {model} (the backend's default), key from GEMINI_API_KEY"
        )),
        "{text}"
    );
}

#[test]
fn the_openai_backend_without_a_gateway_url_is_a_usage_error() {
    let out = framebreak(&["run", "--backend", "openai", "--progress", "quiet"]);
    fails_with(&out, 2, "give the gateway's URL and its model");
}

#[test]
fn an_impossible_request_is_refused_before_any_submission_naming_the_valid_values() {
    let dir = tempfile::tempdir().unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_framebreak"))
        .args([
            "run",
            "--backend",
            "luma",
            "--duration",
            "0",
            "--runs-dir",
            dir.path().to_str().unwrap(),
            "--progress",
            "quiet",
        ])
        .env("LUMAAI_API_KEY", "test-key")
        // Nothing listens here: a submission would fail differently.
        .env("FRAMEBREAK_BACKEND__BASE_URL", "http://127.0.0.1:9")
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(
        err.contains("5s") && err.contains("9s"),
        "names the valid durations: {err}"
    );
}

#[test]
fn a_gateway_models_limits_come_from_framebreak_toml_and_fit_the_request() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("framebreak.toml"),
        "[backend]\nkind = \"openai\"\nmodel = \"wan-x\"\n\n[backend.models.\"wan-x\"]\ndurations = [5, 10]\nsizes = [\"1280x720\", \"720x1280\"]\nseed = false\n",
    )
    .unwrap();
    // Nothing listens at the gateway: the one job fails to connect (nothing
    // is created), after the fitted request was printed.
    let out = Command::new(env!("CARGO_BIN_EXE_framebreak"))
        .current_dir(dir.path())
        .args([
            "run",
            "--base-url",
            "http://127.0.0.1:9/v1",
            "--limit",
            "1",
            "--duration",
            "9",
            "--size",
            "320x240",
            "--max-attempts",
            "1",
            "--no-report",
        ])
        .env("OPENAI_API_KEY", "test-key")
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let err = stderr(&out);
    assert!(
        err.contains(
            "the request is fitted to the model: seconds: 9 -> 10, size: 320x240 -> 1280x720"
        ),
        "{err}"
    );
    assert!(
        err.contains("seed"),
        "the seed it does not take is dropped: {err}"
    );
}
