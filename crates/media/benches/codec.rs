//! Decode and encode speed: H.264 decode frames per second of a 320×240 and
//! a 1280×720 libx264 clip (High profile, B-frames), to RGB8, beside ffmpeg
//! decoding the same file to RGB24 on one thread when an `ffmpeg` binary is
//! on PATH (the ratio is ours / ffmpeg's; ffmpeg decodes with libavcodec's
//! own H.264 decoder); openh264 encode time per frame at
//! both sizes; resize time per frame from 1280×720 to 320×180.
//!
//! Run with `cargo bench -p framebreak-media --bench codec`.
#![allow(clippy::print_stdout)]

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use framebreak_media::{Frame, Mp4Writer, ReadOptions, read_clip, resize};

fn fixture(name: &str) -> PathBuf {
    framebreak_testkit::fixture!(name)
}

/// Repeats `run` (which handles `n` frames) for at least `budget`, returns
/// frames per second.
fn rate(budget: Duration, mut run: impl FnMut() -> usize) -> f64 {
    let _ = run();
    let start = Instant::now();
    let mut frames = 0;
    while start.elapsed() < budget {
        frames += run();
    }
    frames as f64 / start.elapsed().as_secs_f64()
}

/// ffmpeg decoding the clip 20 times over in one process (`-stream_loop`),
/// so its process start weighs little.
fn ffmpeg_rate(path: &Path, frames: usize) -> Option<f64> {
    const LOOPS: usize = 20;
    let run = || {
        Command::new("ffmpeg")
            .args(["-v", "error", "-threads", "1", "-stream_loop", "19", "-i"])
            .arg(path)
            .args(["-f", "rawvideo", "-pix_fmt", "rgb24", "-y", "/dev/null"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .ok()
            .filter(|s| s.success())
    };
    run()?;
    Some(rate(Duration::from_secs(3), || {
        run().map_or(0, |_| frames * LOOPS)
    }))
}

fn main() {
    println!("H.264 decode to RGB8 (openh264 via framebreak-media, one thread):");
    for name in ["bench_320x240.mp4", "bench_1280x720.mp4"] {
        let path = fixture(name);
        let frames = read_clip(&path, &ReadOptions::default())
            .expect("fixture decodes")
            .len();
        let ours = rate(Duration::from_secs(4), || {
            read_clip(&path, &ReadOptions::default()).map_or(0, |c| c.len())
        });
        match ffmpeg_rate(&path, frames) {
            Some(reference) => println!(
                "  {name}: {ours:.0} frames/s; ffmpeg -threads 1 (clip looped 20x per process): {reference:.0} frames/s; ratio {:.2}",
                ours / reference
            ),
            None => println!("  {name}: {ours:.0} frames/s (no ffmpeg on PATH for a reference)"),
        }
    }

    println!("H.264 encode (openh264, Constrained Baseline, 0.3 bit/pixel):");
    let dir = tempfile::tempdir().expect("temp dir");
    for (name, size) in [
        ("bench_320x240.mp4", (320, 240)),
        ("bench_1280x720.mp4", (1280, 720)),
    ] {
        let clip = read_clip(&fixture(name), &ReadOptions::default()).expect("fixture decodes");
        let out = dir.path().join("out.mp4");
        let start = Instant::now();
        let mut rounds = 0;
        while rounds == 0 || start.elapsed() < Duration::from_secs(4) {
            let mut writer = Mp4Writer::create(&out, 24.0).expect("create");
            for frame in &clip.frames {
                writer.write(frame).expect("encode");
            }
            writer.finish().expect("finish");
            rounds += 1;
        }
        let per_frame = start.elapsed().as_secs_f64() * 1000.0 / (rounds * clip.len()) as f64;
        println!(
            "  {}x{}: {per_frame:.2} ms/frame ({:.0} frames/s)",
            size.0,
            size.1,
            1000.0 / per_frame
        );
    }

    let clip = read_clip(&fixture("bench_1280x720.mp4"), &ReadOptions::default())
        .expect("fixture decodes");
    let frames: &[Frame] = &clip.frames;
    let per_second = rate(Duration::from_secs(3), || {
        frames
            .iter()
            .map(|f| resize(f, 320, 180).width() as usize / 320)
            .sum()
    });
    println!(
        "Resize 1280x720 -> 320x180 (triangle filter): {:.2} ms/frame",
        1000.0 / per_second
    );
}
