//! Encode then decode: the MP4 writer's output decodes to the same number
//! of frames, at the same rate, with a high PSNR; likewise for GIF.

use std::path::PathBuf;

use framebreak_media::{Frame, Mp4Writer, ReadOptions, read_clip, write_gif, write_mp4};

fn fixture(name: &str) -> PathBuf {
    framebreak_testkit::fixture!(name)
}

fn psnr(a: &Frame, b: &Frame) -> f64 {
    let mse = a
        .data()
        .iter()
        .zip(b.data())
        .map(|(&x, &y)| (f64::from(x) - f64::from(y)).powi(2))
        .sum::<f64>()
        / a.data().len() as f64;
    10.0 * (255.0f64 * 255.0 / mse.max(1e-12)).log10()
}

/// A moving, smoothly shaded scene: a gradient with a soft bright blob
/// crossing it (hard colour edges would measure 4:2:0 chroma loss, not the
/// codec).
fn scene(w: u32, h: u32, n: u64) -> Vec<Frame> {
    (0..n)
        .map(|i| {
            let mut data = Vec::with_capacity((w * h * 3) as usize);
            let (cx, cy) = (10.0 + 3.0 * i as f64, f64::from(h) / 2.0);
            for y in 0..h {
                for x in 0..w {
                    let d = ((f64::from(x) - cx).powi(2) + (f64::from(y) - cy).powi(2)).sqrt();
                    let disc = 180.0 * (-d * d / 128.0).exp();
                    let r = (f64::from(x) * 255.0 / f64::from(w) * 0.6 + disc).min(255.0);
                    let g = f64::from(y) * 255.0 / f64::from(h) * 0.6 + disc * 0.3;
                    let b = 128.0 - disc * 0.5;
                    data.extend_from_slice(&[r as u8, g as u8, b as u8]);
                }
            }
            Frame::from_rgb8(i, i as f64 / 24.0, w, h, data).unwrap()
        })
        .collect()
}

#[test]
fn mp4_round_trip_keeps_frames_rate_and_pixels() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("scene.mp4");
    let frames = scene(160, 96, 30);
    write_mp4(&path, &frames, 24.0).unwrap();
    let clip = read_clip(&path, &ReadOptions::default()).unwrap();
    assert_eq!(clip.len(), 30);
    assert_eq!(
        (clip.info.width, clip.info.height, clip.info.codec.as_str()),
        (160, 96, "h264")
    );
    assert!((clip.info.fps - 24.0).abs() < 1e-9, "{}", clip.info.fps);
    let mut worst = f64::INFINITY;
    for (i, (a, b)) in frames.iter().zip(&clip.frames).enumerate() {
        assert!((b.timestamp() - i as f64 / 24.0).abs() < 1e-4);
        worst = worst.min(psnr(a, b));
    }
    assert!(worst > 40.0, "worst frame PSNR {worst:.1} dB");
}

#[test]
fn mp4_round_trip_of_a_libx264_clip() {
    // Decode a B-frame stream, re-encode it with openh264, decode again.
    let original = read_clip(&fixture("h264_high_bframes.mp4"), &ReadOptions::default()).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("again.mp4");
    write_mp4(&path, &original.frames, original.info.fps).unwrap();
    let again = read_clip(&path, &ReadOptions::default()).unwrap();
    assert_eq!(again.len(), original.len());
    for (a, b) in original.frames.iter().zip(&again.frames) {
        assert!(
            psnr(a, b) > 35.0,
            "frame {}: {:.1} dB",
            a.index(),
            psnr(a, b)
        );
    }
}

#[test]
fn mp4_writer_refuses_bad_input() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bad.mp4");
    assert!(Mp4Writer::create(&path, 0.0).is_err());
    assert!(Mp4Writer::create(&path, f64::NAN).is_err());
    let odd = Frame::from_rgb8(0, 0.0, 15, 8, vec![0; 15 * 8 * 3]).unwrap();
    assert!(Mp4Writer::create(&path, 24.0).unwrap().write(&odd).is_err());
    let mut writer = Mp4Writer::create(&path, 24.0).unwrap();
    let tiny = Frame::from_rgb8(0, 0.0, 8, 8, vec![0; 8 * 8 * 3]).unwrap();
    assert!(
        Mp4Writer::create(&path, 24.0)
            .unwrap()
            .write(&tiny)
            .is_err(),
        "under 16x16"
    );
    writer
        .write(&Frame::from_rgb8(0, 0.0, 32, 16, vec![0; 32 * 16 * 3]).unwrap())
        .unwrap();
    let err = writer
        .write(&Frame::from_rgb8(1, 0.0, 16, 16, vec![0; 16 * 16 * 3]).unwrap())
        .unwrap_err();
    assert!(err.to_string().contains("bad.mp4"), "{err}");
    assert!(
        Mp4Writer::create(&path, 24.0).unwrap().finish().is_err(),
        "no frames"
    );
    let missing_dir = dir.path().join("no/such/dir/x.mp4");
    assert!(matches!(
        Mp4Writer::create(&missing_dir, 24.0),
        Err(framebreak_media::Error::Io { .. })
    ));
}

#[test]
fn gif_round_trip_keeps_frames_and_timing() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("scene.gif");
    let frames = scene(64, 48, 10);
    write_gif(&path, &frames, 10.0).unwrap();
    let clip = read_clip(&path, &ReadOptions::default()).unwrap();
    assert_eq!(clip.len(), 10);
    assert_eq!(clip.info.codec, "gif");
    assert!((clip.info.fps - 10.0).abs() < 1e-9);
    for (i, (a, b)) in frames.iter().zip(&clip.frames).enumerate() {
        assert!((b.timestamp() - i as f64 / 10.0).abs() < 1e-9);
        // 256-colour palettes: close, not exact.
        assert!(psnr(a, b) > 25.0, "frame {i}: {:.1} dB", psnr(a, b));
    }
    assert!(write_gif(&path, &[], 10.0).is_err());
    assert!(write_gif(&path, &frames, 0.0).is_err());
}
