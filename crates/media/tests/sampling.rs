//! Sampling and resizing on real files, and the ffmpeg path when an
//! `ffmpeg` binary is available.

use std::path::PathBuf;

use framebreak_media::{ReadOptions, Resize, Sampling, ffmpeg_available, read_clip};

fn fixture(name: &str) -> PathBuf {
    framebreak_testkit::fixture!(name)
}

fn options(sampling: Sampling, resize: Option<Resize>, max_frames: Option<usize>) -> ReadOptions {
    ReadOptions {
        sampling,
        resize,
        max_frames,
    }
}

#[test]
fn every_nth_frame_of_a_b_frame_stream() {
    let clip = read_clip(
        &fixture("h264_high_bframes.mp4"),
        &options(Sampling::EveryNth(5), None, None),
    )
    .unwrap();
    let indices: Vec<u64> = clip.frames.iter().map(|f| f.index()).collect();
    assert_eq!(indices, [0, 5, 10, 15, 20, 25, 30, 35, 40, 45]);
    assert!((clip.info.fps - 24.0 / 5.0).abs() < 1e-9);
    assert_eq!(clip.info.frame_count, Some(10));
    // The grey level still matches the source index: order is presentation order.
    for f in &clip.frames {
        let grey = f.pixel(80, 90).unwrap()[0];
        assert!(
            grey.abs_diff((5 * f.index()) as u8) <= 8,
            "frame {}: {grey}",
            f.index()
        );
    }
}

#[test]
fn target_fps_samples_by_time() {
    let clip = read_clip(
        &fixture("h264_high_90x62.mp4"),
        &options(Sampling::TargetFps(10.0), None, None),
    )
    .unwrap();
    let indices: Vec<u64> = clip.frames.iter().map(|f| f.index()).collect();
    assert_eq!(indices, [0, 3, 6, 9, 12, 15, 18, 21, 24, 27]);
    assert_eq!(clip.info.fps, 10.0);
    let all = read_clip(
        &fixture("h264_high_90x62.mp4"),
        &options(Sampling::TargetFps(120.0), None, None),
    )
    .unwrap();
    assert_eq!(all.len(), 30);
    assert_eq!(all.info.fps, 30.0);
}

#[test]
fn resize_to_max_side_and_exact_keeps_the_pattern() {
    let path = fixture("h264_main_bframes.mp4");
    let clip = read_clip(
        &path,
        &options(Sampling::Every, Some(Resize::MaxSide(40)), Some(5)),
    )
    .unwrap();
    assert_eq!(clip.len(), 5);
    assert_eq!((clip.info.width, clip.info.height), (40, 30));
    let f = &clip.frames[4];
    assert_eq!((f.width(), f.height()), (40, 30));
    let red = f.pixel(10, 7).unwrap();
    assert!(red[0] > 230 && red[1] < 25 && red[2] < 25, "{red:?}");
    let exact = read_clip(
        &path,
        &options(
            Sampling::Every,
            Some(Resize::Exact {
                width: 32,
                height: 32,
            }),
            None,
        ),
    )
    .unwrap();
    assert_eq!(
        (exact.info.width, exact.info.height, exact.len()),
        (32, 32, 24)
    );
}

#[test]
fn max_frames_stops_early() {
    let clip = read_clip(
        &fixture("anim.gif"),
        &options(Sampling::EveryNth(2), None, Some(3)),
    )
    .unwrap();
    let indices: Vec<u64> = clip.frames.iter().map(|f| f.index()).collect();
    assert_eq!(indices, [0, 2, 4]);
}

#[test]
fn invalid_options_are_refused_before_decoding() {
    let err = read_clip(
        &fixture("anim.gif"),
        &options(Sampling::TargetFps(-1.0), None, None),
    )
    .unwrap_err();
    assert!(
        matches!(err, framebreak_media::Error::InvalidOptions { .. }),
        "{err:?}"
    );
}

#[test]
fn hevc_vp9_and_high10_decode_through_ffmpeg_when_available() {
    for (name, codec) in [
        ("hevc.mp4", "hevc"),
        ("vp9.webm", "vp9"),
        ("h264_high10.mp4", "h264"),
    ] {
        let result = read_clip(&fixture(name), &ReadOptions::default());
        if !ffmpeg_available() {
            let err = result.unwrap_err();
            assert!(
                matches!(err, framebreak_media::Error::UnsupportedCodec { .. }),
                "{err:?}"
            );
            continue;
        }
        let clip = result.unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(clip.len(), 12, "{name}");
        assert_eq!((clip.info.width, clip.info.height), (64, 48));
        assert!((clip.info.fps - 12.0).abs() < 1e-9);
        assert_eq!(clip.info.codec, codec);
        for f in &clip.frames {
            let grey = f.pixel(32, 36).unwrap()[0];
            assert!(
                grey.abs_diff((5 * f.index()) as u8) <= 10,
                "{name} frame {}: {grey}",
                f.index()
            );
            assert!((f.timestamp() - f.index() as f64 / 12.0).abs() < 1e-9);
        }
    }
}
