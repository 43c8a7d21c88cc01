//! `framebreak analyze`, run as a user runs it: a real H.264 file, a PNG
//! folder, an unreadable file among good ones, and bad options.

use std::path::PathBuf;
use std::process::{Command, Output};

fn framebreak(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_framebreak"))
        .args(args)
        .output()
        .expect("run framebreak")
}

fn fixture(name: &str) -> String {
    let p = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../media/tests/fixtures")
        .join(name);
    p.to_str().unwrap().to_owned()
}

#[test]
fn prints_one_report_per_video_and_fails_only_the_unreadable_one() {
    let out = framebreak(&[
        "analyze",
        &fixture("h264_main_bframes.mp4"),
        &fixture("not_a_video.mp4"),
        &fixture("png_seq"),
        "--size",
        "96",
    ]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert_eq!(stderr.trim_end().lines().count(), 1, "{stderr}");
    assert!(
        stderr.starts_with("error: ") && stderr.contains("not_a_video.mp4"),
        "{stderr}"
    );
    let lines: Vec<serde_json::Value> = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 2);
    for report in &lines {
        let keys: Vec<&str> = report
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        for key in [
            "file", "frames", "fps", "width", "height", "defects", "metrics", "scores",
        ] {
            assert!(keys.contains(&key), "{report}");
        }
        let physics = report["scores"]["physics"].as_f64().unwrap();
        assert!((0.0..=100.0).contains(&physics));
        assert!(report["width"].as_u64().unwrap() <= 96);
    }
    assert!(
        lines[0]["file"]
            .as_str()
            .unwrap()
            .ends_with("h264_main_bframes.mp4")
    );
}

/// Files made elsewhere: ffmpeg's libx264 with B-frames and an animated
/// GIF; `--html` writes one page about them.
#[test]
fn mp4_and_gif_made_elsewhere_are_analysed_and_reported_in_html() {
    let dir = tempfile::tempdir().unwrap();
    let html = dir.path().join("videos.html");
    let out = framebreak(&[
        "analyze",
        &fixture("h264_high_bframes.mp4"),
        &fixture("anim.gif"),
        "--size",
        "96",
        "--html",
        html.to_str().unwrap(),
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8(out.stdout).unwrap();
    let files: Vec<String> = stdout
        .lines()
        .map(|l| {
            serde_json::from_str::<serde_json::Value>(l).unwrap()["file"]
                .as_str()
                .unwrap()
                .to_owned()
        })
        .collect();
    assert_eq!(files.len(), 2);
    assert!(files[1].ends_with("anim.gif"));
    let page = std::fs::read_to_string(&html).unwrap();
    assert!(page.starts_with("<!DOCTYPE html>"), "{}", &page[..40]);
    assert!(page.contains("anim.gif") && page.contains("<svg"));
    assert!(
        page.contains("data:image/png;base64,"),
        "contact sheets are inline"
    );
}

#[test]
fn bad_device_and_size_are_usage_errors() {
    let out = framebreak(&["analyze", &fixture("png_seq"), "--device", "tpu"]);
    assert_eq!(out.status.code(), Some(2));
    let out = framebreak(&["analyze", &fixture("png_seq"), "--size", "big"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--size"));
}

/// Without a CUDA build (or GPU) the failure says so in one line; a CUDA
/// build on a GPU machine analyses.
#[test]
fn cuda_without_the_feature_says_so() {
    let out = framebreak(&["analyze", &fixture("png_seq"), "--device", "cuda:0"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    if out.status.success() {
        return;
    }
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert_eq!(stderr.trim_end().lines().count(), 1, "{stderr}");
    assert!(stderr.contains("--features cuda"), "{stderr}");
}

/// Weights given with `--decisions` are read before any video: a file that
/// is not there or not weights is a usage error naming it; the shipped
/// weights written out and read back decide as the embedded ones do.
#[test]
fn decision_weights_from_a_file_are_checked_and_used() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("missing.safetensors");
    let out = framebreak(&[
        "analyze",
        &fixture("anim.gif"),
        "--decisions",
        missing.to_str().unwrap(),
    ]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("missing.safetensors"), "{stderr}");
    let junk = dir.path().join("junk.safetensors");
    std::fs::write(&junk, b"definitely not weights").unwrap();
    let out = framebreak(&[
        "analyze",
        &fixture("anim.gif"),
        "--decisions",
        junk.to_str().unwrap(),
    ]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("junk.safetensors") && stderr.contains("not a safetensors file"),
        "{stderr}"
    );

    let shipped = dir.path().join("shipped.safetensors");
    let bytes = framebreak::defects::DecisionModel::embedded()
        .unwrap()
        .to_safetensors()
        .unwrap();
    std::fs::write(&shipped, bytes).unwrap();
    let video = fixture("h264_high_bframes.mp4");
    let embedded = framebreak(&["analyze", &video, "--size", "96"]);
    let from_file = framebreak(&[
        "analyze",
        &video,
        "--size",
        "96",
        "--decisions",
        shipped.to_str().unwrap(),
    ]);
    assert!(embedded.status.success() && from_file.status.success());
    assert_eq!(embedded.stdout, from_file.stdout);
    let hand = framebreak(&["analyze", &video, "--size", "96", "--hand-thresholds"]);
    assert!(
        hand.status.success(),
        "{}",
        String::from_utf8_lossy(&hand.stderr)
    );
}
