//! `ClipMetrics` on clips with known content: a smooth pan over a photograph,
//! the same pan with a flickering frame, a frozen clip, and bad clips.

use std::path::Path;

use framebreak_defects::{ClipMetrics, Compute, Error, MetricsSummary, PSNR_CAP, Plane};
use framebreak_media::{Clip, ClipInfo, Frame};

fn photo() -> Plane {
    let img = image::open(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/metrics/flow_photo.png"),
    )
    .expect("fixture decodes")
    .to_luma8();
    let (w, h) = img.dimensions();
    Plane::new(
        w as usize,
        h as usize,
        img.into_raw().into_iter().map(f32::from).collect(),
    )
    .unwrap()
}

/// `n` grey frames of 160×120 panning right and down by (1.5, 0.5) px per
/// frame; `gain[t]` scales frame t's brightness.
fn pan(n: usize, gain: &dyn Fn(usize) -> f32) -> Clip {
    let p = photo();
    let frames = (0..n)
        .map(|t| {
            let (ox, oy) = (20.0 + 1.5 * t as f32, 20.0 + 0.5 * t as f32);
            let mut data = Vec::with_capacity(160 * 120 * 3);
            for y in 0..120 {
                for x in 0..160 {
                    let (sx, sy) = (ox + x as f32, oy + y as f32);
                    let (x0, y0) = (sx.floor(), sy.floor());
                    let (fx, fy) = (sx - x0, sy - y0);
                    let (x0, y0) = (x0 as usize, y0 as usize);
                    let v = p.at(x0, y0) * (1.0 - fx) * (1.0 - fy)
                        + p.at(x0 + 1, y0) * fx * (1.0 - fy)
                        + p.at(x0, y0 + 1) * (1.0 - fx) * fy
                        + p.at(x0 + 1, y0 + 1) * fx * fy;
                    let v = (v * gain(t)).round().clamp(0.0, 255.0) as u8;
                    data.extend([v, v, v]);
                }
            }
            Frame::from_rgb8(t as u64, t as f64 / 24.0, 160, 120, data).unwrap()
        })
        .collect();
    Clip {
        info: ClipInfo {
            width: 160,
            height: 120,
            fps: 24.0,
            frame_count: Some(n as u64),
            codec: "raw".into(),
        },
        frames,
    }
}

/// `clip` cut to its first frame: too short for any metric.
fn first_frame_only(clip: &Clip) -> Clip {
    Clip {
        info: clip.info.clone(),
        frames: vec![clip.frames[0].clone()],
    }
}

#[test]
fn a_smooth_pan_is_coherent_and_its_camera_motion_is_found() {
    let m = ClipMetrics::compute(&pan(6, &|_| 1.0), &Compute::cpu()).unwrap();
    assert_eq!(
        (m.pairs.len(), m.brightness.len(), m.accelerations.len()),
        (5, 6, 4)
    );
    for p in &m.pairs {
        // Content moves left/up by the pan: flow ≈ (−1.5, −0.5).
        let (tu, tv) = p.global_motion.translation();
        assert!(
            (tu + 1.5).abs() < 0.15 && (tv + 0.5).abs() < 0.15,
            "{:?}",
            p.global_motion
        );
        assert!(p.warp.valid_fraction > 0.8, "{:?}", p.warp);
        assert!(p.psnr.is_finite() && p.ssim < 1.0);
        assert_eq!(p.regions.len(), 16);
    }
    assert!(m.summary.warp_error < 2e-3, "{:?}", m.summary);
    assert!(m.motion_acceleration < 0.2, "{}", m.motion_acceleration);
    assert!(m.flicker_index < 0.01, "{}", m.flicker_index);
    let json = serde_json::to_value(m.summary).unwrap();
    for key in ["psnr_mean", "ssim_mean", "warp_error", "flicker_index"] {
        assert!(json[key].is_f64(), "{key} in {json}");
    }
}

#[test]
fn a_flickering_frame_raises_the_flicker_index() {
    let steady = ClipMetrics::compute(&pan(5, &|_| 1.0), &Compute::cpu()).unwrap();
    let flicker = ClipMetrics::compute(
        &pan(5, &|t| if t == 2 { 1.3 } else { 1.0 }),
        &Compute::cpu(),
    )
    .unwrap();
    assert!(
        flicker.flicker_index > 5.0 * steady.flicker_index.max(1e-3),
        "{} vs {}",
        flicker.flicker_index,
        steady.flicker_index
    );
    assert!(flicker.pairs[1].warp.brightness_shift > 0.03);
    assert!(flicker.pairs[2].warp.brightness_shift < -0.03);
}

#[test]
fn a_frozen_clip_caps_psnr_and_is_perfectly_similar() {
    let clip = pan(1, &|_| 1.0);
    let frozen = Clip {
        info: clip.info.clone(),
        frames: vec![clip.frames[0].clone(); 3],
    };
    let m = ClipMetrics::compute(&frozen, &Compute::cpu()).unwrap();
    assert_eq!(m.pairs[0].psnr, f64::INFINITY);
    assert_eq!(m.summary.psnr_mean, PSNR_CAP);
    assert!((m.summary.ssim_mean - 1.0).abs() < 1e-6);
    assert!(m.summary.warp_error < 1e-9);
}

#[test]
fn bad_clips_get_typed_errors() {
    let clip = pan(2, &|_| 1.0);
    let one = first_frame_only(&clip);
    assert!(matches!(
        ClipMetrics::compute(&one, &Compute::cpu()),
        Err(Error::InvalidInput { .. })
    ));
    let other = Frame::from_rgb8(1, 0.1, 8, 8, vec![0; 8 * 8 * 3]).unwrap();
    let mixed = Clip {
        info: clip.info.clone(),
        frames: vec![clip.frames[0].clone(), other],
    };
    assert!(matches!(
        ClipMetrics::compute(&mixed, &Compute::cpu()),
        Err(Error::SizeMismatch { .. })
    ));
    let tiny = Frame::from_rgb8(0, 0.0, 8, 8, vec![0; 8 * 8 * 3]).unwrap();
    let small = Clip {
        info: clip.info,
        frames: vec![tiny.clone(), tiny],
    };
    assert!(matches!(
        ClipMetrics::compute(&small, &Compute::cpu()),
        Err(Error::InvalidInput { .. })
    ));
}

#[test]
fn the_tensor_path_gives_the_same_clip_metrics() {
    let clip = pan(3, &|_| 1.0);
    let k = ClipMetrics::compute(&clip, &Compute::cpu()).unwrap();
    let t = ClipMetrics::compute(&clip, &Compute::tensors(candle_core::Device::Cpu)).unwrap();
    assert!((k.summary.ssim_mean - t.summary.ssim_mean).abs() < 1e-5);
    assert!((k.summary.psnr_mean - t.summary.psnr_mean).abs() < 1e-9);
    assert!(
        (k.summary.warp_error - t.summary.warp_error).abs() < 1e-4 * k.summary.warp_error.max(1e-9)
    );
}

#[test]
fn the_summary_alone_equals_the_full_metrics_summary() {
    // A pan with a flickering frame (every summary field non-trivial), a
    // frozen clip (infinite PSNR), and the tensor path.
    let flicker = pan(6, &|t| if t == 3 { 1.25 } else { 1.0 });
    let still = pan(1, &|_| 1.0);
    let frozen = Clip {
        info: still.info.clone(),
        frames: vec![still.frames[0].clone(); 3],
    };
    for compute in [Compute::cpu(), Compute::tensors(candle_core::Device::Cpu)] {
        for clip in [&flicker, &frozen] {
            let full = ClipMetrics::compute(clip, &compute).unwrap().summary;
            assert_eq!(MetricsSummary::compute(clip, &compute).unwrap(), full);
        }
    }
    assert!(
        MetricsSummary::compute(&flicker, &Compute::cpu())
            .unwrap()
            .flicker_index
            > 0.01
    );
    // Bad clips: the same typed errors.
    let one = first_frame_only(&still);
    assert!(matches!(
        MetricsSummary::compute(&one, &Compute::cpu()),
        Err(Error::InvalidInput { .. })
    ));
}
