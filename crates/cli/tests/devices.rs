//! `framebreak devices`, run as a user runs it: the CPU with its metrics,
//! and a clear line about CUDA.

use std::process::{Command, Output, Stdio};

fn framebreak(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_framebreak"))
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("run framebreak")
}

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn lists_the_cpu_and_says_whether_cuda_is_available() {
    let out = framebreak(&["devices"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = stdout(&out);
    let lines: Vec<&str> = text.lines().collect();
    assert!(lines[0].starts_with("DEVICE"), "{text}");
    assert!(lines[1].starts_with("cpu "), "{text}");
    assert!(lines[1].contains("CPU ("), "{text}");
    if cfg!(target_os = "linux") {
        assert!(
            lines[1].contains(" %") && lines[1].contains("GiB"),
            "CPU metrics missing: {text}"
        );
    }
    let cuda = lines.last().unwrap();
    assert!(
        cuda.starts_with("no CUDA device available") || cuda.contains("CUDA device(s) available"),
        "{text}"
    );
}

#[test]
fn json_has_every_device_and_the_cuda_state() {
    let out = framebreak(&["devices", "--json"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let cpu = &report["devices"][0];
    assert_eq!(cpu["id"], "cpu");
    assert_eq!(cpu["capacity"], 1.0);
    assert_eq!(cpu["in_flight"], 0);
    if cfg!(target_os = "linux") {
        let util = cpu["latest"]["utilization_percent"].as_f64().unwrap();
        assert!((0.0..=100.0).contains(&util));
        assert!(cpu["latest"]["memory_total"].as_u64().unwrap() > 0);
        assert_eq!(cpu["stats"]["samples"], 2);
    }
    let state = report["cuda"]["state"].as_str().unwrap();
    assert!(
        ["available", "not_compiled", "no_devices"].contains(&state),
        "{state}"
    );
    if state != "available" {
        assert!(
            report["cuda"]["message"]
                .as_str()
                .unwrap()
                .starts_with("no CUDA device available")
        );
    }
}

#[test]
fn unknown_flags_are_usage_errors() {
    let out = framebreak(&["devices", "--gpus"]);
    assert_eq!(out.status.code(), Some(2));
}
