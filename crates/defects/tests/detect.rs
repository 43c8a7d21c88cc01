//! Each detector against a small generated scene filmed by a moving camera:
//! it fires on its own injected defect, at the right time, and stays quiet
//! on the clean clip (pan + zoom), which every detector must leave alone.
//!
//! The scene is a continuous function of world coordinates (smooth value
//! noise in colour), so every frame is sampled exactly, with no
//! interpolation blur to hide behind.

use framebreak_defects::{
    ChromaticAberration, ColorSparks, DefectDetector, Evidence, Finding, Flicker, Frozen,
    GravityViolation, Melt, Teleport, TextureBleed, Warp, default_detectors,
};
use framebreak_media::{Clip, ClipInfo, Frame};
use framebreak_vocab::DefectKind;

const W: u32 = 160;
const H: u32 = 120;
const FRAMES: usize = 24;

fn hash(x: i64, y: i64, c: u64) -> f64 {
    let mut v = (x as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15)
        ^ (y as u64).wrapping_mul(0xc2b2_ae3d_27d4_eb4f)
        ^ c.wrapping_mul(0x1656_67b1_9e37_79f9);
    v ^= v >> 29;
    v = v.wrapping_mul(0xbf58_476d_1ce4_e5b9);
    v ^= v >> 32;
    (v >> 40) as f64 / f64::from(1u32 << 24)
}

/// Smooth colour noise at world point `(x, y)`, lattice `scale` pixels.
fn world(x: f64, y: f64, seed: u64, scale: f64) -> [f64; 3] {
    let (x, y) = (x / scale, y / scale);
    let (x0, y0) = (x.floor(), y.floor());
    let (fx, fy) = (x - x0, y - y0);
    let (fx, fy) = (fx * fx * (3.0 - 2.0 * fx), fy * fy * (3.0 - 2.0 * fy));
    let (x0, y0) = (x0 as i64, y0 as i64);
    let mut out = [0.0; 3];
    for (c, o) in out.iter_mut().enumerate() {
        let s = seed * 3 + c as u64;
        let top = hash(x0, y0, s) * (1.0 - fx) + hash(x0 + 1, y0, s) * fx;
        let bottom = hash(x0, y0 + 1, s) * (1.0 - fx) + hash(x0 + 1, y0 + 1, s) * fx;
        // Mostly shared luminance, a little colour, as in photographs.
        let lum = {
            let top = hash(x0, y0, seed) * (1.0 - fx) + hash(x0 + 1, y0, seed) * fx;
            let bottom = hash(x0, y0 + 1, seed) * (1.0 - fx) + hash(x0 + 1, y0 + 1, seed) * fx;
            top * (1.0 - fy) + bottom * fy
        };
        *o = 30.0 + 170.0 * lum + 40.0 * (top * (1.0 - fy) + bottom * fy);
    }
    out
}

/// Where screen pixel `(x, y)` of frame `t` looks in the world: a pan of
/// (2, 1) px/frame and a slow zoom.
fn camera(t: usize, x: f64, y: f64) -> (f64, f64) {
    let s = 1.0 / (1.0 + 0.006 * t as f64);
    let (cx, cy) = (f64::from(W) / 2.0, f64::from(H) / 2.0);
    (
        200.0 + 2.0 * t as f64 + (x - cx) * s,
        150.0 + t as f64 + (y - cy) * s,
    )
}

/// Renders a clip; `shade(t, world_x, world_y, channel)` returns the colour
/// of the (possibly altered) world, `post` edits finished frames.
fn film(shade: impl Fn(usize, f64, f64, usize) -> f64, post: impl Fn(usize, &mut Vec<u8>)) -> Clip {
    let frames = (0..FRAMES)
        .map(|t| {
            let mut data = Vec::with_capacity((W * H * 3) as usize);
            for y in 0..H {
                for x in 0..W {
                    let (wx, wy) = camera(t, f64::from(x), f64::from(y));
                    for c in 0..3 {
                        data.push(shade(t, wx, wy, c).round().clamp(0.0, 255.0) as u8);
                    }
                }
            }
            post(t, &mut data);
            Frame::from_rgb8(t as u64, t as f64 / 24.0, W, H, data).unwrap()
        })
        .collect();
    clip_of(frames)
}

/// A 24 fps clip of these frames.
fn clip_of(frames: Vec<Frame>) -> Clip {
    Clip {
        info: ClipInfo {
            width: W,
            height: H,
            fps: 24.0,
            frame_count: Some(frames.len() as u64),
            codec: "raw".into(),
        },
        frames,
    }
}

fn plain(_: usize, x: f64, y: f64, c: usize) -> f64 {
    world(x, y, 1, 9.0)[c]
}

fn clean() -> Clip {
    film(plain, |_, _| {})
}

/// A disc of its own texture at world `(bx, by)`, radius `r`, over the scene.
fn with_ball(x: f64, y: f64, c: usize, bx: f64, by: f64, r: f64) -> f64 {
    if (x - bx).hypot(y - by) < r {
        [230.0, 40.0, 40.0][c] * (0.8 + 0.2 * world(x - bx, y - by, 7, 4.0)[0] / 240.0)
    } else {
        plain(0, x, y, c)
    }
}

fn findings(detector: &dyn DefectDetector, clip: &Clip) -> Vec<Finding> {
    detector.detect(&Evidence::new(clip).unwrap())
}

/// The detector reports `kind` over frames overlapping `from..=to`.
fn fires(detector: &dyn DefectDetector, clip: &Clip, kind: DefectKind, from: u64, to: u64) {
    let found = findings(detector, clip);
    assert!(
        found
            .iter()
            .any(|f| f.kind == kind && f.start_frame <= to + 1 && from <= f.end_frame + 1),
        "{} missed {kind} in {from}..={to}: {found:?}",
        detector.name()
    );
    assert!(found.iter().all(|f| (0.0..=1.0).contains(&f.score)));
}

#[test]
fn no_detector_fires_on_a_clean_pan_and_zoom() {
    let clip = clean();
    let ev = Evidence::new(&clip).unwrap();
    for d in default_detectors() {
        let found = d.detect(&ev);
        assert!(found.is_empty(), "{} on a clean clip: {found:?}", d.name());
    }
}

#[test]
fn frozen_frames_are_found() {
    let clip = film(
        |t, x, y, c| plain(if (8..=12).contains(&t) { 8 } else { t }, x, y, c),
        |_, _| {},
    );
    // Render the freeze by repeating frame 8's pixels.
    let mut clip = clip;
    let still = clip.frames[8].data().to_vec();
    for t in 9..=12 {
        clip.frames[t] = Frame::from_rgb8(t as u64, t as f64 / 24.0, W, H, still.clone()).unwrap();
    }
    fires(&Frozen::default(), &clip, DefectKind::Frozen, 8, 12);
}

/// A still camera on the scene, with a small disc sliding across at 3
/// px/frame; `at(t)` says which moment of its slide frame `t` shows.
fn still_shot_of_a_sliding_disc(at: impl Fn(usize) -> usize) -> Clip {
    let frames = (0..FRAMES)
        .map(|t| {
            let bx = 30.0 + 3.0 * at(t) as f64;
            let mut data = Vec::with_capacity((W * H * 3) as usize);
            for y in 0..H {
                for x in 0..W {
                    let (x, y) = (f64::from(x), f64::from(y));
                    for c in 0..3 {
                        let v = if (x - bx).hypot(y - 60.0) < 6.0 {
                            [230.0, 40.0, 40.0][c]
                        } else {
                            plain(0, 200.0 + x, 150.0 + y, c)
                        };
                        data.push(v.round().clamp(0.0, 255.0) as u8);
                    }
                }
            }
            Frame::from_rgb8(t as u64, t as f64 / 24.0, W, H, data).unwrap()
        })
        .collect();
    clip_of(frames)
}

#[test]
fn a_freeze_of_a_small_subject_before_a_still_camera_is_found() {
    // The disc changes well under half a grey level of the frame's mean
    // per frame, so only the part of the picture it is in shows the stop.
    let frozen = still_shot_of_a_sliding_disc(|t| if (9..=13).contains(&t) { 9 } else { t });
    fires(&Frozen::default(), &frozen, DefectKind::Frozen, 9, 13);
    let sliding = still_shot_of_a_sliding_disc(|t| t);
    let found = findings(&Frozen::default(), &sliding);
    assert!(found.is_empty(), "a steady slide is not frozen: {found:?}");
}

#[test]
fn flicker_is_found() {
    let clip = film(plain, |t, d| {
        if t == 9 || t == 11 {
            d.iter_mut()
                .for_each(|p| *p = (f64::from(*p) * 1.25).min(255.0) as u8);
        }
    });
    fires(&Flicker::default(), &clip, DefectKind::Flicker, 9, 11);
}

#[test]
fn color_sparks_are_found() {
    let clip = film(plain, |t, d| {
        if (8..=10).contains(&t) {
            for k in 0..6u32 {
                let (x, y) = (10 + 23 * k + t as u32, 15 + 17 * k);
                for (dx, dy) in [(0, 0), (1, 0), (0, 1), (1, 1)] {
                    let i = (((y + dy) * W + x + dx) * 3) as usize;
                    d[i..i + 3].copy_from_slice(&[20, 255, 90]);
                }
            }
        }
    });
    fires(
        &ColorSparks::default(),
        &clip,
        DefectKind::ColorSparks,
        8,
        10,
    );
}

#[test]
fn moving_droplets_are_not_color_sparks() {
    // A stream of small saturated blue droplets, four new ones a frame,
    // each moving 6 px a frame down and right (liquid leaving a spout):
    // every droplet is new where it is, but one of its hue was just there.
    let clip = film(plain, |t, d| {
        for born in t.saturating_sub(8)..=t {
            for k in 0..4usize {
                let age = (t - born) as u32;
                let (x, y) = (20 + 11 * k as u32 + 6 * age, 10 + 6 * age + 2 * k as u32);
                for (dx, dy) in [(0, 0), (1, 0), (0, 1), (1, 1)] {
                    let i = (((y + dy) * W + x + dx) * 3) as usize;
                    d[i..i + 3].copy_from_slice(&[60, 135, 230]);
                }
            }
        }
    });
    let found = findings(&ColorSparks::default(), &clip);
    assert!(found.is_empty(), "{found:?}");
}

#[test]
fn colour_fringes_setting_in_are_not_color_sparks() {
    // Light grey squares on dark grey whose red and blue channels slip
    // 2.5 px apart from frame 8 on: each square gains a thin red band on
    // one side and a yellow one on the other, small saturated specks that
    // were not there before. Their green and their brightness stay what
    // they were: a fringe, which the chromatic-aberration detector
    // reports, not sparks.
    let tiles = |t: usize, x: f64, y: f64, c: usize| {
        let shift = if t >= 8 { [2.5, 0.0, -2.5][c] } else { 0.0 };
        let (u, v) = ((x - shift).rem_euclid(14.0), y.rem_euclid(13.0));
        if u < 6.0 && v < 6.0 { 215.0 } else { 35.0 }
    };
    let clip = film(tiles, |_, _| {});
    let found = findings(&ColorSparks::default(), &clip);
    assert!(found.is_empty(), "{found:?}");
    fires(
        &ChromaticAberration::default(),
        &clip,
        DefectKind::ChromaticAberration,
        8,
        FRAMES as u64 - 1,
    );
}

#[test]
fn chromatic_aberration_is_found() {
    let clip = film(
        |t, x, y, c| {
            let shift = if (8..=12).contains(&t) {
                [2.5, 0.0, -2.5][c]
            } else {
                0.0
            };
            plain(t, x - shift, y, c)
        },
        |_, _| {},
    );
    fires(
        &ChromaticAberration::default(),
        &clip,
        DefectKind::ChromaticAberration,
        8,
        12,
    );
}

#[test]
fn teleport_is_found() {
    let clip = film(
        |t, x, y, c| {
            let bx = 230.0 + 0.5 * t as f64 + if t >= 12 { 45.0 } else { 0.0 };
            with_ball(x, y, c, bx, 160.0, 11.0)
        },
        |_, _| {},
    );
    fires(&Teleport::default(), &clip, DefectKind::Teleport, 11, 12);
}

/// A ball on a nearly flat sky: where it arrives, the sky it covers is
/// matched a few pixels away by the block field, so only the place it left
/// breaks; the detector must search for what left, too, not only for what
/// arrived (the simulator's teleports were mostly missed that way).
#[test]
fn a_teleport_over_a_flat_sky_is_found_from_the_place_it_left() {
    let sky = |x: f64, y: f64, c: usize| [150.0, 180.0, 225.0][c] - 0.08 * y + 0.01 * x;
    let clip = film(
        |t, x, y, c| {
            let bx = 225.0 + 0.5 * t as f64 + if t >= 12 { 50.0 } else { 0.0 };
            let by = 140.0 + if t >= 12 { 25.0 } else { 0.0 };
            if (x - bx).hypot(y - by) < 9.0 {
                [40.0, 70.0, 190.0][c]
            } else {
                sky(x, y, c)
            }
        },
        |_, _| {},
    );
    fires(&Teleport::default(), &clip, DefectKind::Teleport, 11, 12);
}

#[test]
fn falling_upwards_is_a_gravity_violation_and_falling_down_is_not() {
    let up = film(
        |t, x, y, c| with_ball(x, y, c, 215.0 + t as f64, 200.0 - 0.4 * (t * t) as f64, 9.0),
        |_, _| {},
    );
    fires(
        &GravityViolation::default(),
        &up,
        DefectKind::GravityViolation,
        2,
        20,
    );
    let down = film(
        |t, x, y, c| with_ball(x, y, c, 215.0 + t as f64, 110.0 + 0.4 * (t * t) as f64, 9.0),
        |_, _| {},
    );
    assert!(findings(&GravityViolation::default(), &down).is_empty());
}

/// World height of a ball dropped from y = 110 with g = 0.8 px/frame² that
/// turns at frame 14 (at y ≈ 188): bouncing off a floor with 70 % of its
/// speed and falling back under the same g, or reversing in mid-air at full
/// speed and rising ever faster (no contact slows it).
fn turning_ball(t: f64, bounce: bool) -> f64 {
    let (g, tb) = (0.8, 14.0);
    if t <= tb {
        return 110.0 + 0.5 * g * t * t;
    }
    let (yb, vb, dt) = (110.0 + 0.5 * g * tb * tb, g * tb, t - tb);
    if bounce {
        yb - 0.7 * vb * dt + 0.5 * g * dt * dt
    } else {
        yb - vb * dt - 0.5 * 0.2 * g * dt * dt
    }
}

#[test]
fn a_bounce_is_not_a_gravity_violation_and_a_mid_air_reversal_is() {
    let filmed = |bounce: bool| {
        film(
            |t, x, y, c| {
                with_ball(
                    x,
                    y,
                    c,
                    215.0 + t as f64,
                    turning_ball(t as f64, bounce),
                    9.0,
                )
            },
            |_, _| {},
        )
    };
    let found = findings(&GravityViolation::default(), &filmed(true));
    assert!(found.is_empty(), "a bounce: {found:?}");
    fires(
        &GravityViolation::default(),
        &filmed(false),
        DefectKind::GravityViolation,
        12,
        17,
    );
}

/// World height of a ball dropped from y = 100 with g = 0.8 px/frame² that
/// brakes at frame 12 (its speed × 0.3 a frame, as the generators' float)
/// and hovers from there on.
fn hovering_ball(t: usize) -> f64 {
    let (mut y, mut v) = (100.0, 0.0f64);
    for s in 0..t {
        v = if s < 12 {
            v + 0.8
        } else if v > 0.1 {
            v * 0.3
        } else {
            0.0
        };
        y += v;
    }
    y
}

#[test]
fn a_fall_braking_to_hover_in_mid_air_is_a_gravity_violation() {
    // Drifting sideways at 3 px/frame, as a thrown ball does: the hover
    // keeps a blob to follow.
    let clip = film(
        |t, x, y, c| with_ball(x, y, c, 195.0 + 3.0 * t as f64, hovering_ball(t), 9.0),
        |_, _| {},
    );
    fires(
        &GravityViolation::default(),
        &clip,
        DefectKind::GravityViolation,
        10,
        18,
    );
}

/// A swirl of the world around (250, 165) growing then fading over frames 8..=16.
#[test]
fn a_swirl_is_a_warp() {
    let clip = film(
        |t, x, y, c| {
            let theta = if (8..=16).contains(&t) {
                1.5 * (std::f64::consts::PI * (t - 8) as f64 / 8.0).sin()
            } else {
                0.0
            };
            let (dx, dy) = (x - 250.0, y - 165.0);
            let a = theta * (-(dx.hypot(dy) / 28.0).powi(2)).exp();
            let (s, co) = a.sin_cos();
            plain(t, 250.0 + co * dx - s * dy, 165.0 + s * dx + co * dy, c)
        },
        |_, _| {},
    );
    fires(&Warp::default(), &clip, DefectKind::Warp, 8, 16);
}

#[test]
fn sagging_is_a_melt() {
    let clip = film(
        |t, x, y, c| {
            let sag = 2.5
                * t.saturating_sub(6) as f64
                * (-((x - 250.0) / 30.0).powi(2) - ((y - 165.0) / 24.0).powi(2)).exp();
            plain(t, x, y - sag, c)
        },
        |_, _| {},
    );
    fires(&Melt::default(), &clip, DefectKind::Melt, 6, 23);
}

// Known miss, kept to measure progress: the block matcher explains the
// creeping front as small local motion, so the change never counts as
// "still" (README, Detectors: what is not done).
#[test]
#[ignore = "texture_bleed does not yet find a front creeping 3 px a frame"]
fn creeping_texture_is_texture_bleed() {
    let clip = film(
        |t, x, y, c| {
            let front = 225.0 + 3.0 * t.saturating_sub(6) as f64;
            let inside = (225.0..front).contains(&x) && (140.0..185.0).contains(&y);
            if inside {
                0.25 * plain(t, x, y, c) + 0.75 * world(x, y, 3, 2.5)[c]
            } else {
                plain(t, x, y, c)
            }
        },
        |_, _| {},
    );
    fires(
        &TextureBleed::default(),
        &clip,
        DefectKind::TextureBleed,
        7,
        23,
    );
}

/// Says "flicker" at frame 3 of every clip: a kind the decision model
/// decides, to show whose findings it re-decides.
struct Says;

impl DefectDetector for Says {
    fn detect(&self, _: &Evidence<'_>) -> Vec<Finding> {
        vec![Finding::new(DefectKind::Flicker, 3, 3, 0.9)]
    }

    fn name(&self) -> &str {
        "says"
    }
}

#[test]
fn an_extra_detector_is_reported_as_found_and_a_replaced_proposer_is_decided() {
    let clip = clean();
    let says = |r: &framebreak_defects::VideoReport| {
        r.defects
            .iter()
            .any(|f| f.kind == DefectKind::Flicker && f.start_frame == 3)
    };
    let analyzer = framebreak_defects::Analyzer::new();
    let plain = analyzer.analyze_clip("clean", &clip).unwrap();
    assert!(!says(&plain), "{:?}", plain.defects);
    let extra = framebreak_defects::Analyzer::new()
        .extra_detector(Says)
        .analyze_clip("clean", &clip)
        .unwrap();
    assert!(says(&extra), "{:?}", extra.defects);
    // The same finding from a proposer is one feature among many for the
    // model, which a clean pan does not turn into a flicker.
    let mut proposers = default_detectors();
    proposers.push(Box::new(Says));
    let decided = framebreak_defects::Analyzer::new()
        .detectors(proposers)
        .analyze_clip("clean", &clip)
        .unwrap();
    assert!(!says(&decided), "{:?}", decided.defects);
}
