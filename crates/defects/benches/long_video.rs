//! Peak memory of analysing a long video: a 1920×1080, 10 s, 24 fps H.264
//! file read as `framebreak analyze` reads it (longest side 320), analysed
//! in the default windows of frames and, for reference, as one window of
//! the whole video; then the same for a video three times as long, to show
//! that the windowed peak does not grow with the length. Peak heap is
//! measured with a counting allocator (live bytes, reset between runs).
//!
//! Run: `cargo bench -p framebreak-defects --bench long_video`
#![allow(clippy::print_stdout, missing_docs)]

use std::path::{Path, PathBuf};
use std::time::Instant;

use framebreak_defects::{Analyzer, Window};
use framebreak_media::{Frame, Mp4Writer, ReadOptions, Resize};

framebreak_testkit::count_allocations!();

const W: u32 = 1920;
const H: u32 = 1080;
const FPS: f64 = 24.0;

/// A textured scene panning two pixels a frame, with a ball crossing it.
fn frame(i: u64) -> Frame {
    let mut data = Vec::with_capacity((W * H * 3) as usize);
    let (bx, by) = (
        200.0 + 6.0 * i as f64,
        500.0 + 120.0 * (i as f64 * 0.05).sin(),
    );
    for y in 0..H {
        for x in 0..W {
            let (xf, yf) = (f64::from(x) + 2.0 * i as f64, f64::from(y));
            let mut v = 110.0
                + 45.0 * (xf * 0.031).sin() * (yf * 0.027).cos()
                + 25.0 * ((xf + yf) * 0.013).sin();
            if (f64::from(x) - bx).hypot(f64::from(y) - by) < 40.0 {
                v = 230.0;
            }
            let v = v.clamp(0.0, 255.0) as u8;
            data.extend([v, v.saturating_sub(20), v.saturating_add(10)]);
        }
    }
    Frame::from_rgb8(i, i as f64 / FPS, W, H, data).expect("a frame of the right size")
}

/// The video of `seconds` (made once, kept in the target folder).
fn video(seconds: u64) -> PathBuf {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/bench-videos");
    std::fs::create_dir_all(&dir).expect("a folder for the bench videos");
    let path = dir.join(format!("pan_1080p_{seconds}s.mp4"));
    if !path.exists() {
        let t = Instant::now();
        let partial = path.with_extension("partial.mp4");
        let mut w = Mp4Writer::create(&partial, FPS).expect("an H.264 writer");
        for i in 0..seconds * FPS as u64 {
            w.write(&frame(i)).expect("a frame encodes");
        }
        w.finish().expect("the file closes");
        std::fs::rename(&partial, &path).expect("the file moves into place");
        println!(
            "  (made {} in {:.0} s)",
            path.display(),
            t.elapsed().as_secs_f64()
        );
    }
    path
}

/// Peak live heap (MB) and seconds of one analysis.
fn measure(analyzer: &Analyzer, path: &Path) -> (f64, f64, usize) {
    let t = Instant::now();
    framebreak_testkit::reset_peak();
    let before = framebreak_testkit::live() as isize;
    let report = analyzer.analyze_file(path).expect("the video analyses");
    let peak = (framebreak_testkit::peak() as isize) - before;
    (
        peak as f64 / 1e6,
        t.elapsed().as_secs_f64(),
        report.frames as usize,
    )
}

fn main() {
    let read = ReadOptions {
        resize: Some(Resize::MaxSide(320)),
        ..ReadOptions::default()
    };
    println!("analysis of 1920x1080 H.264 at {FPS} fps read at longest side 320 (peak live heap)");
    let windowed = Analyzer::new().read_options(read.clone());
    let whole = Analyzer::new().read_options(read).window(Window {
        frames: 100_000,
        overlap: 24,
    });
    let w = Window::default();
    let mut rows = Vec::new();
    for seconds in [10, 30] {
        let path = video(seconds);
        let (wp, wt, frames) = measure(&windowed, &path);
        let (hp, ht, _) = measure(&whole, &path);
        rows.push((seconds, frames, wp, wt, hp, ht));
    }
    for (seconds, frames, wp, wt, hp, ht) in &rows {
        println!(
            "  {seconds:>2} s ({frames} frames): windows of {}/{} {wp:>7.0} MB {wt:>5.1} s | whole video {hp:>7.0} MB {ht:>5.1} s | ratio {:.2}",
            w.frames,
            w.overlap,
            wp / hp
        );
    }
    if let [(_, _, a, ..), (_, _, b, ..)] = rows[..] {
        println!("  windowed peak, 30 s against 10 s: {:.2}x", b / a);
    }
}
