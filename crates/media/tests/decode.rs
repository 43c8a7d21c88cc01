//! Decodes every fixture made by `scripts/make-fixtures.sh` and checks frame
//! counts (equal to ffprobe's), sizes, rates, timestamps and pixels against
//! the known pattern: red top-left, green top-right, grey 5 × frame number
//! in the bottom half.

use std::path::PathBuf;

use framebreak_media::{Frame, FrameSource, ReadOptions, open, read_clip};

fn fixture(name: &str) -> PathBuf {
    framebreak_testkit::fixture!(name)
}

fn decode_all(name: &str) -> (framebreak_media::ClipInfo, Vec<Frame>) {
    let mut source = open(&fixture(name)).unwrap_or_else(|e| panic!("{name}: {e}"));
    let info = source.info().clone();
    let frames: Vec<Frame> = source
        .by_ref()
        .collect::<Result<_, _>>()
        .unwrap_or_else(|e| panic!("{name}: {e}"));
    (info, frames)
}

fn close(a: [u8; 3], b: [u8; 3], tolerance: u8) -> bool {
    a.iter().zip(b).all(|(x, y)| x.abs_diff(y) <= tolerance)
}

/// Checks the pattern in frame `f`, the `i`-th of its clip.
fn assert_pattern(name: &str, f: &Frame, i: u64, tolerance: u8) {
    let (w, h) = (f.width(), f.height());
    let red = f.pixel(w / 4, h / 4).unwrap();
    let green = f.pixel(3 * w / 4, h / 4).unwrap();
    let grey = f.pixel(w / 2, 3 * h / 4).unwrap();
    let level = (5 * i) as u8;
    assert!(
        close(red, [255, 0, 0], tolerance),
        "{name} frame {i}: red is {red:?}"
    );
    assert!(
        close(green, [0, 255, 0], tolerance),
        "{name} frame {i}: green is {green:?}"
    );
    assert!(
        close(grey, [level; 3], tolerance),
        "{name} frame {i}: grey is {grey:?}, wanted {level}"
    );
}

/// `time_tolerance` is the container's timing granularity: GIF stores
/// delays in hundredths of a second, WebP in milliseconds.
fn check_video(
    name: &str,
    frames_expected: usize,
    fps: f64,
    size: (u32, u32),
    tolerance: u8,
    time_tolerance: f64,
) {
    let (info, frames) = decode_all(name);
    assert_eq!(frames.len(), frames_expected, "{name}: frame count");
    assert_eq!((info.width, info.height), size, "{name}: size");
    let period = 1.0 / info.fps;
    assert!(
        (period - 1.0 / fps).abs() <= time_tolerance + 1e-9,
        "{name}: fps {}",
        info.fps
    );
    for (i, f) in frames.iter().enumerate() {
        assert_eq!(f.index(), i as u64);
        assert_eq!((f.width(), f.height()), size);
        let t = i as f64 / fps;
        assert!(
            (f.timestamp() - t).abs() <= time_tolerance + 1e-6,
            "{name} frame {i}: t = {}, wanted {t}",
            f.timestamp()
        );
        assert_pattern(name, f, i as u64, tolerance);
    }
}

// Frame counts are ffprobe's `nb_read_frames` for each fixture.

#[test]
fn h264_constrained_baseline() {
    check_video("h264_baseline.mp4", 24, 24.0, (160, 120), 8, 0.001);
}

#[test]
fn h264_main_with_b_frames() {
    check_video("h264_main_bframes.mp4", 24, 24.0, (160, 120), 8, 0.001);
}

#[test]
fn h264_high_with_b_frames() {
    check_video("h264_high_bframes.mp4", 48, 24.0, (160, 120), 8, 0.001);
}

#[test]
fn h264_high_odd_size_is_cropped() {
    check_video("h264_high_90x62.mp4", 30, 30.0, (90, 62), 10, 0.001);
}

#[test]
fn animated_gif() {
    check_video("anim.gif", 12, 12.0, (64, 48), 2, 0.01);
}

#[test]
fn apng() {
    check_video("anim.apng", 12, 12.0, (64, 48), 1, 0.001);
}

#[test]
fn animated_webp() {
    check_video("anim.webp", 12, 12.0, (64, 48), 1, 0.001);
}

#[test]
fn png_folder() {
    check_video(
        "png_seq",
        12,
        framebreak_media::FOLDER_FPS,
        (64, 48),
        1,
        0.001,
    );
}

#[test]
fn jpeg_folder() {
    check_video(
        "jpeg_seq",
        6,
        framebreak_media::FOLDER_FPS,
        (64, 48),
        12,
        0.001,
    );
}

#[test]
fn bench_clips_decode_fully() {
    for (name, count, size) in [
        ("bench_320x240.mp4", 48, (320, 240)),
        ("bench_1280x720.mp4", 24, (1280, 720)),
    ] {
        let clip = read_clip(&fixture(name), &ReadOptions::default()).unwrap();
        assert_eq!(clip.len(), count, "{name}");
        assert_eq!((clip.info.width, clip.info.height), size);
        assert_eq!(clip.info.codec, "h264");
    }
}
