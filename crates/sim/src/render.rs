//! The pipeline from a plan to frames, ground truth and MP4 bytes.

use bytes::Bytes;
use framebreak_media::{Frame, Mp4Writer};
use framebreak_variants::DefectKind;
use serde::{Deserialize, Serialize};

use crate::camera::Camera;
use crate::inject::{Injection, Painter, Stage};
use crate::plan::{Cause, Plan, stream};
use crate::raster::{Image, backdrop};
use crate::scene::{Scene, SceneKind, bounds};
use crate::{Error, Result};

/// One defect in a clip, where and when it is.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TruthDefect {
    /// Its kind.
    pub kind: DefectKind,
    /// First frame showing it (from 0).
    pub start_frame: u64,
    /// Last frame showing it (inclusive).
    pub end_frame: u64,
    /// `[x, y, w, h]` in pixels, or `None` when it covers the whole frame.
    pub bbox: Option<[u32; 4]>,
    /// Why the model made it.
    pub cause: Cause,
}

/// Everything the simulator knows about a clip it made.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct GroundTruth {
    /// The scene filmed.
    pub scene: SceneKind,
    /// Frame width.
    pub width: u32,
    /// Frame height.
    pub height: u32,
    /// Number of frames.
    pub frames: u64,
    /// Frames per second.
    pub fps: f64,
    /// The traps found in the prompt.
    pub traps: Vec<String>,
    /// The defects, one per planned defect.
    pub defects: Vec<TruthDefect>,
}

/// A finished clip: the MP4 and its ground truth.
#[derive(Clone, Debug)]
pub struct Video {
    /// The H.264 MP4 file.
    pub mp4: Bytes,
    /// What is in it.
    pub truth: GroundTruth,
}

/// Renders the frames (RGB8) and the ground truth of a plan.
pub(crate) fn frames(plan: &Plan) -> (Vec<Vec<u8>>, GroundTruth) {
    let (w, h, n) = (plan.width, plan.height, plan.frames);
    let (wf, hf) = (f64::from(w), f64::from(h));
    let world_size = ((w as usize * 3 / 2), (h as usize * 3 / 2));
    let off = (
        (world_size.0 as f64 - wf) / 2.0,
        (world_size.1 as f64 - hf) / 2.0,
    );
    let mut rng = stream(&[b"scene", &plan.scene_seed.to_le_bytes()]);
    let scene = Scene::new(plan.scene, wf, hf, n as usize, off, &mut rng);
    let kind = plan.scene.backdrop(&mut rng);
    let world0 = backdrop(kind, world_size.0, world_size.1, scene.horizon, &mut rng);
    let cam = Camera::new(w, h, world_size, n, plan.scene.travel(), &mut rng);
    let mover = match plan.scene {
        SceneKind::Landscape | SceneKind::LiquidPour => None,
        _ => Some(1),
    };
    let stage = Stage {
        w: wf,
        h: hf,
        frames: n,
        off,
        floor: hf * 0.85 + off.1,
        cam: &cam,
        mover,
        scene_backdrop: kind,
    };
    let actors_at = |t: usize| scene.actors(t).to_vec();
    let mut injections: Vec<Injection> = plan
        .defects
        .iter()
        .map(|d| Injection::new(d, &stage, &actors_at))
        .collect();

    // Screen bounds of the actor each injection touched, per frame.
    let mut touched: Vec<Vec<Option<[f64; 4]>>> =
        vec![Vec::with_capacity(n as usize); injections.len()];
    let mut out: Vec<Vec<u8>> = Vec::with_capacity(n as usize);
    for t in 0..n {
        let mut world = world0.clone();
        for inj in &injections {
            inj.world(&mut world, t);
        }
        let mut actors = scene.actors(t as usize).to_vec();
        for (i, inj) in injections.iter().enumerate() {
            let b = inj.actors(&mut actors, t).and_then(|a| bounds(&actors[a]));
            touched[i].push(b.map(|b| screen_box(&cam, f64::from(t), b)));
        }
        for actor in &actors {
            for shape in actor {
                world.draw(shape);
            }
        }
        let mut frame: Image = cam.film(&world, f64::from(t));
        for inj in &mut injections {
            inj.screen(&mut frame, t);
        }
        let rgb = if injections.iter().any(|i| i.holds(t)) {
            out.last().cloned().unwrap_or_else(|| frame.to_rgb8())
        } else {
            frame.to_rgb8()
        };
        out.push(rgb);
    }

    let defects = injections
        .iter()
        .zip(&touched)
        .map(|(inj, boxes)| truth(inj, boxes, &cam, wf, hf, n))
        .collect();
    let truth = GroundTruth {
        scene: plan.scene,
        width: w,
        height: h,
        frames: u64::from(n),
        fps: f64::from(plan.fps),
        traps: plan.traps.clone(),
        defects,
    };
    (out, truth)
}

fn screen_box(cam: &Camera, t: f64, b: [f64; 4]) -> [f64; 4] {
    let (x0, y0) = cam.to_screen(t, b[0], b[1]);
    let (x1, y1) = cam.to_screen(t, b[2], b[3]);
    [x0, y0, x1, y1]
}

/// `[x, y, w, h]` around the points, padded, clipped to the frame.
fn bbox_of(points: &[(f64, f64)], pad: f64, w: f64, h: f64) -> [u32; 4] {
    let min = |f: fn(&(f64, f64)) -> f64| points.iter().map(f).fold(f64::INFINITY, f64::min);
    let max = |f: fn(&(f64, f64)) -> f64| points.iter().map(f).fold(f64::NEG_INFINITY, f64::max);
    let (x0, y0) = (
        (min(|p| p.0) - pad).clamp(0.0, w - 1.0),
        (min(|p| p.1) - pad).clamp(0.0, h - 1.0),
    );
    let (x1, y1) = ((max(|p| p.0) + pad).min(w), (max(|p| p.1) + pad).min(h));
    [
        x0 as u32,
        y0 as u32,
        ((x1 - x0).max(1.0)) as u32,
        ((y1 - y0).max(1.0)) as u32,
    ]
}

fn region_box(r: Option<[usize; 4]>) -> Option<[u32; 4]> {
    r.map(|r| r.map(|v| v as u32))
}

fn truth(
    inj: &Injection,
    boxes: &[Option<[f64; 4]>],
    cam: &Camera,
    w: f64,
    h: f64,
    n: u32,
) -> TruthDefect {
    let p = &inj.plan;
    let (s, e) = (p.start, p.end);
    let square = |at: (f64, f64), rad: f64, ts: [u32; 2]| {
        let pts: Vec<(f64, f64)> = ts
            .iter()
            .flat_map(|&t| {
                [(-rad, -rad), (-rad, rad), (rad, -rad), (rad, rad)]
                    .map(|(dx, dy)| cam.to_screen(f64::from(t), at.0 + dx, at.1 + dy))
            })
            .collect();
        bbox_of(&pts, 0.0, w, h)
    };
    let corners = |t: usize| boxes[t].map(|b| [(b[0], b[1]), (b[2], b[3])]);
    let k = h / 240.0;
    let (start, end, bbox) = match &inj.painter {
        Painter::Warp { at, rad } => (s + 1, e, Some(square(*at, *rad, [s, e]))),
        Painter::Melt { at, rad } | Painter::Bleed { at, rad, .. } => {
            (s, n - 1, Some(square(*at, *rad, [s, n - 1])))
        }
        Painter::Flicker { pulses, region, .. } => {
            (pulses[0], pulses[pulses.len() - 1], region_box(*region))
        }
        Painter::Chroma { region, .. } => (s, e, region_box(*region)),
        Painter::Sparks { .. } => (s, e, None),
        Painter::Frozen { until } => (s, *until, None),
        Painter::Teleport { .. } => {
            let pts: Vec<(f64, f64)> = [s as usize - 1, s as usize]
                .iter()
                .filter_map(|&t| corners(t))
                .flatten()
                .collect();
            (
                s - 1,
                s,
                (!pts.is_empty()).then(|| bbox_of(&pts, 2.0 * k, w, h)),
            )
        }
        Painter::Gravity { mode, .. } => {
            let visible: Vec<usize> = (0..n as usize)
                .filter(|&t| {
                    corners(t)
                        .is_some_and(|c| c[1].0 > 0.0 && c[0].0 < w && c[1].1 > 0.0 && c[0].1 < h)
                })
                .collect();
            let (first, last) = (
                visible.first().copied().unwrap_or(s as usize),
                visible.last().copied().unwrap_or(e as usize),
            );
            let (a, b) = if *mode == "up" {
                (first.max(s.saturating_sub(4) as usize), last)
            } else {
                (
                    (s as usize).saturating_sub(2).max(first),
                    (s as usize + 5).min(last),
                )
            };
            let (a, b) = (a.min(b), b.max(a));
            let pts: Vec<(f64, f64)> = (a..=b).filter_map(corners).flatten().collect();
            (
                a as u32,
                b as u32,
                (!pts.is_empty()).then(|| bbox_of(&pts, 2.0 * k, w, h)),
            )
        }
    };
    TruthDefect {
        kind: p.kind,
        start_frame: u64::from(start),
        end_frame: u64::from(end),
        bbox,
        cause: p.cause.clone(),
    }
}

/// Renders a plan and encodes it as H.264 MP4.
pub(crate) fn render(plan: &Plan) -> Result<Video> {
    let (frames, truth) = frames(plan);
    let dir = tempfile::tempdir().map_err(|e| Error::Encode {
        reason: format!("temporary folder: {e}"),
    })?;
    let path = dir.path().join("clip.mp4");
    let enc = |e: framebreak_media::Error| Error::Encode {
        reason: e.to_string(),
    };
    let fps = f64::from(plan.fps);
    let mut writer = Mp4Writer::create(&path, fps).map_err(enc)?;
    for (i, rgb) in frames.into_iter().enumerate() {
        let frame = Frame::from_rgb8(i as u64, i as f64 / fps, plan.width, plan.height, rgb)
            .map_err(enc)?;
        writer.write(&frame).map_err(enc)?;
    }
    writer.finish().map_err(enc)?;
    let mp4 = std::fs::read(&path).map_err(|e| Error::Encode {
        reason: format!("{}: {e}", path.display()),
    })?;
    Ok(Video {
        mp4: Bytes::from(mp4),
        truth,
    })
}
