//! The conformance suite every [`DefectDetector`] must pass: its findings
//! are well formed, it says the same thing twice about the same clip, and
//! it stays quiet on clean footage of the kind real video is full of (a
//! textured scene under a smooth camera pan).
//!
//! Each check panics with a message naming the detector and the broken
//! rule:
//!
//! ```
//! use framebreak_defects::{Melt, conformance};
//!
//! conformance::run_all(&Melt::default());
//! ```
#![allow(clippy::missing_panics_doc)]

use framebreak_media::{Clip, ClipInfo, Frame};

use crate::{DefectDetector, Evidence, Finding};

/// A clean clip: a smooth, textured scene (gradients, soft blobs, fine
/// grain) seen by a camera panning `(dx, dy)` pixels a frame, `frames`
/// frames of `width × height`, the same for the same `seed`.
#[must_use]
pub fn clean_pan(width: u32, height: u32, frames: u32, (dx, dy): (i32, i32), seed: u64) -> Clip {
    let mut rng = fastrand::Rng::with_seed(seed);
    // The scene, large enough for the whole pan.
    let margin = (frames as i32) * dx.abs().max(dy.abs()) + 2;
    let (sw, sh) = (width as i32 + margin, height as i32 + margin);
    let blobs: Vec<(f32, f32, f32, [f32; 3])> = (0..12)
        .map(|_| {
            (
                rng.f32() * sw as f32,
                rng.f32() * sh as f32,
                6.0 + rng.f32() * 18.0,
                [rng.f32(), rng.f32(), rng.f32()],
            )
        })
        .collect();
    let grain: Vec<f32> = (0..(sw * sh)).map(|_| rng.f32() * 10.0 - 5.0).collect();
    let scene = |x: i32, y: i32| -> [u8; 3] {
        let (fx, fy) = (x as f32 / sw as f32, y as f32 / sh as f32);
        let mut c = [
            60.0 + 120.0 * fx,
            70.0 + 100.0 * fy,
            90.0 + 60.0 * (fx * fy),
        ];
        for (bx, by, r, colour) in &blobs {
            let d2 = ((x as f32 - bx).powi(2) + (y as f32 - by).powi(2)) / (r * r);
            let w = (-d2).exp();
            for (channel, tint) in c.iter_mut().zip(colour) {
                *channel += w * (tint * 140.0 - 60.0);
            }
        }
        let g = grain[(y * sw + x) as usize];
        c.map(|v| (v + g).clamp(0.0, 255.0) as u8)
    };
    let (ox, oy) = (
        if dx < 0 { margin - 1 } else { 0 },
        if dy < 0 { margin - 1 } else { 0 },
    );
    let frames: Vec<Frame> = (0..frames)
        .map(|t| {
            let (px, py) = (ox + dx * t as i32, oy + dy * t as i32);
            let mut rgb = Vec::with_capacity((width * height * 3) as usize);
            for y in 0..height as i32 {
                for x in 0..width as i32 {
                    rgb.extend_from_slice(&scene(x + px, y + py));
                }
            }
            Frame::from_rgb8(u64::from(t), f64::from(t) / 24.0, width, height, rgb)
                .expect("a frame of the right size")
        })
        .collect();
    let info = ClipInfo {
        width,
        height,
        fps: 24.0,
        frame_count: Some(frames.len() as u64),
        codec: "raw".into(),
    };
    Clip { info, frames }
}

fn evidence(clip: &Clip) -> Evidence<'_> {
    Evidence::new(clip).expect("the suite's clips are valid")
}

/// Every finding names a kind the detector says it reports, frames inside
/// the clip in order, a score in [0, 1] and a box inside the frame.
pub fn findings_are_well_formed(detector: &dyn DefectDetector, clip: &Clip) {
    let name = detector.name();
    let kinds = detector.kinds();
    let n = clip.frames.len() as u64;
    for f in detector.detect(&evidence(clip)) {
        assert!(
            kinds.contains(&f.kind),
            "{name}: reports {} but says it reports {kinds:?}",
            f.kind
        );
        assert!(
            f.start_frame <= f.end_frame && f.end_frame < n,
            "{name}: frames {}–{} of {n}: {f:?}",
            f.start_frame,
            f.end_frame
        );
        assert!(
            (0.0..=1.0).contains(&f.score),
            "{name}: score {} outside [0, 1]",
            f.score
        );
        if let Some(b) = f.bbox {
            assert!(
                b.w > 0 && b.h > 0 && b.x + b.w <= clip.info.width && b.y + b.h <= clip.info.height,
                "{name}: box {b:?} outside the {}x{} frame",
                clip.info.width,
                clip.info.height
            );
        }
    }
}

/// The same clip twice gives the same findings.
pub fn is_deterministic(detector: &dyn DefectDetector, clip: &Clip) {
    let first: Vec<Finding> = detector.detect(&evidence(clip));
    let again: Vec<Finding> = detector.detect(&evidence(clip));
    assert_eq!(
        first,
        again,
        "{}: two runs on one clip differ",
        detector.name()
    );
}

/// A clean, textured scene under a smooth pan draws no finding.
pub fn is_quiet_on_a_clean_pan(detector: &dyn DefectDetector) {
    for (i, pan) in [(0, 0), (2, 0), (0, 1), (-3, 2)].into_iter().enumerate() {
        let clip = clean_pan(96, 64, 24, pan, 7 + i as u64);
        let found = detector.detect(&evidence(&clip));
        assert!(
            found.is_empty(),
            "{}: {} finding(s) on a clean pan of {pan:?} px a frame, first {:?}",
            detector.name(),
            found.len(),
            found.first()
        );
    }
}

/// Runs every check on `detector`.
pub fn run_all(detector: &dyn DefectDetector) {
    let clip = clean_pan(96, 64, 24, (1, 1), 3);
    findings_are_well_formed(detector, &clip);
    is_deterministic(detector, &clip);
    is_quiet_on_a_clean_pan(detector);
}
