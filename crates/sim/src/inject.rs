//! The defects, painted the way the detectors' evaluation set paints them
//! (crates/defects/scripts/eval_make.py): a swirl, a sag, a creeping
//! texture in the world; a pulse, split channels, green specks, a held
//! frame on screen; a jump, an anti-gravity ball among the objects.

use framebreak_variants::DefectKind;
use rand_chacha::ChaCha8Rng;
use rand_core::RngCore;

use crate::camera::Camera;
use crate::plan::{PlannedDefect, int, range, stream, unit};
use crate::raster::{Backdrop, Image, Rgb, Shape, backdrop};
use crate::scene::{Actor, bounds, color};

/// A defect's details, drawn once per clip.
#[derive(Debug)]
pub(crate) enum Painter {
    Warp {
        at: (f64, f64),
        rad: f64,
    },
    Melt {
        at: (f64, f64),
        rad: f64,
    },
    Bleed {
        at: (f64, f64),
        rad: f64,
        texture: Image,
    },
    Flicker {
        pulses: Vec<u32>,
        amp: f32,
        region: Option<[usize; 4]>,
    },
    Chroma {
        shift: f64,
        angle: f64,
        radial: bool,
        region: Option<[usize; 4]>,
    },
    Sparks {
        rng: Box<ChaCha8Rng>,
        size: usize,
    },
    Frozen {
        until: u32,
    },
    /// Actor `actor` (or an added disc when `None`) jumps by `by` from the window's start.
    Teleport {
        actor: Option<usize>,
        disc: Option<Actor>,
        by: (f64, f64),
    },
    /// An added ball whose world positions break gravity.
    Gravity {
        track: Vec<(f64, f64)>,
        r: f64,
        color: Rgb,
        mode: &'static str,
    },
}

/// One planned defect and its painter.
#[derive(Debug)]
pub(crate) struct Injection {
    pub(crate) plan: PlannedDefect,
    pub(crate) painter: Painter,
}

/// What a scene offers a defect: the geometry and the object that may jump.
pub(crate) struct Stage<'a> {
    pub(crate) w: f64,
    pub(crate) h: f64,
    pub(crate) frames: u32,
    pub(crate) off: (f64, f64),
    pub(crate) floor: f64,
    pub(crate) cam: &'a Camera,
    /// The scene's moving object, if it has one that may jump.
    pub(crate) mover: Option<usize>,
    pub(crate) scene_backdrop: Backdrop,
}

fn region(rng: &mut impl RngCore, w: f64, h: f64) -> Option<[usize; 4]> {
    if unit(rng) < 0.5 {
        return None;
    }
    let rw = int(rng, (w / 3.0) as u32, (w / 2.0) as u32) as usize;
    let rh = int(rng, (h / 3.0) as u32, (h / 2.0) as u32) as usize;
    let x = int(rng, 0, w as u32 - rw as u32) as usize;
    let y = int(rng, 0, h as u32 - rh as u32) as usize;
    Some([x, y, rw, rh])
}

impl Injection {
    pub(crate) fn new(
        plan: &PlannedDefect,
        stage: &Stage<'_>,
        actors_at: &dyn Fn(usize) -> Vec<Actor>,
    ) -> Self {
        let mut rng = stream(&[b"defect", &plan.seed.to_le_bytes()]);
        let (w, h) = (stage.w, stage.h);
        let k = h / 240.0;
        let t0 = f64::from(plan.start);
        let spot = |rng: &mut ChaCha8Rng| {
            let (vx, vy) = (range(rng, 0.3, 0.7) * w, range(rng, 0.3, 0.7) * h);
            stage.cam.to_world(t0, vx, vy)
        };
        let painter = match plan.kind {
            DefectKind::Warp => Painter::Warp {
                at: spot(&mut rng),
                rad: range(&mut rng, 30.0, 55.0) * k,
            },
            DefectKind::Melt => Painter::Melt {
                at: spot(&mut rng),
                rad: range(&mut rng, 30.0, 55.0) * k,
            },
            DefectKind::TextureBleed => {
                let at = spot(&mut rng);
                let rad = range(&mut rng, 30.0, 55.0) * k;
                let kind = if stage.scene_backdrop == Backdrop::Tiles {
                    Backdrop::Terrain
                } else {
                    Backdrop::Tiles
                };
                let texture = backdrop(
                    kind,
                    (rad * 2.2) as usize + 1,
                    (rad * 2.0) as usize + 1,
                    0.0,
                    &mut rng,
                );
                Painter::Bleed { at, rad, texture }
            }
            DefectKind::Flicker => {
                let mut frames: Vec<u32> = (plan.start..plan.end).collect();
                let mut pulses = Vec::new();
                for _ in 0..3.min(frames.len()) {
                    let i = int(&mut rng, 0, frames.len() as u32) as usize;
                    pulses.push(frames.remove(i));
                }
                pulses.sort_unstable();
                let amp = range(&mut rng, 0.08, 0.2) as f32;
                Painter::Flicker {
                    pulses,
                    amp,
                    region: region(&mut rng, w, h),
                }
            }
            DefectKind::ChromaticAberration => Painter::Chroma {
                shift: range(&mut rng, 1.5, 3.0) * k,
                angle: range(&mut rng, 0.0, std::f64::consts::TAU),
                radial: unit(&mut rng) < 0.5,
                region: region(&mut rng, w, h),
            },
            DefectKind::ColorSparks => Painter::Sparks {
                size: k.round().max(1.0) as usize,
                rng: Box::new(stream(&[b"sparks", &plan.seed.to_le_bytes()])),
            },
            DefectKind::Frozen => Painter::Frozen {
                until: (plan.start + int(&mut rng, 3, 7)).min(stage.frames - 1),
            },
            DefectKind::Teleport => teleport(&mut rng, plan, stage, actors_at),
            DefectKind::GravityViolation => gravity(&mut rng, plan, stage),
        };
        Self {
            plan: plan.clone(),
            painter,
        }
    }

    /// Paints into the world before the objects are drawn.
    pub(crate) fn world(&self, world: &mut Image, t: u32) {
        let (t0, t1) = (self.plan.start, self.plan.end);
        match &self.painter {
            Painter::Warp { at, rad } if (t0..=t1).contains(&t) => {
                let th =
                    1.4 * (std::f64::consts::PI * f64::from(t - t0) / f64::from(t1 - t0)).sin();
                remap(world, *at, *rad * 3.0, |dx, dy| {
                    let d = (dx * dx + dy * dy).sqrt();
                    let a = th * (-(d / rad).powi(2)).exp();
                    let (c, s) = (a.cos(), a.sin());
                    (c * dx - s * dy, s * dx + c * dy)
                });
            }
            Painter::Melt { at, rad } if t >= t0 => {
                let amount = 2.2 * (world.h as f64 / 360.0) * f64::from(t.min(t1) - t0 + 1);
                remap(world, *at, *rad * 3.0, |dx, dy| {
                    let wgt = (-(dx / rad).powi(2) - (dy / (rad * 0.8)).powi(2)).exp();
                    (dx, dy - amount * wgt)
                });
            }
            Painter::Bleed { at, rad, texture } if t >= t0 => {
                let frac = (f64::from(t - t0 + 1) / f64::from(t1 - t0 + 1)).min(1.0);
                let (bw, bh) = (texture.w, texture.h);
                let (x0, y0) = ((at.0 - rad * 1.1) as isize, (at.1 - rad) as isize);
                for yy in 0..bh {
                    for xx in 0..bw {
                        let (x, y) = (x0 + xx as isize, y0 + yy as isize);
                        if x < 0 || y < 0 || x as usize >= world.w || y as usize >= world.h {
                            continue;
                        }
                        // The texture creeps in from the box's left edge.
                        let a =
                            ((frac * bw as f64 - xx as f64) / 8.0).clamp(0.0, 1.0) as f32 * 0.75;
                        let (p, q) = (world.get(x as usize, y as usize), texture.get(xx, yy));
                        world.set(
                            x as usize,
                            y as usize,
                            [0, 1, 2].map(|c| p[c] * (1.0 - a) + q[c] * a),
                        );
                    }
                }
            }
            _ => {}
        }
    }

    /// Adds or moves shapes at frame `t`; returns the index of the actor
    /// it touched.
    pub(crate) fn actors(&self, actors: &mut Vec<Actor>, t: u32) -> Option<usize> {
        match &self.painter {
            Painter::Teleport { actor, disc, by } => {
                let idx = match (actor, disc) {
                    (Some(i), _) => *i,
                    (None, Some(d)) => {
                        let drift = f64::from(t);
                        actors.push(
                            d.iter()
                                .map(|s| s.moved(drift * 0.6, drift * 0.3))
                                .collect(),
                        );
                        actors.len() - 1
                    }
                    (None, None) => return None,
                };
                if t >= self.plan.start
                    && let Some(a) = actors.get_mut(idx)
                {
                    for s in a.iter_mut() {
                        *s = s.moved(by.0, by.1);
                    }
                }
                Some(idx)
            }
            Painter::Gravity {
                track, r, color, ..
            } => {
                let (x, y) = track[t as usize];
                actors.push(vec![Shape::Disc {
                    x,
                    y,
                    r: *r,
                    color: *color,
                }]);
                Some(actors.len() - 1)
            }
            _ => None,
        }
    }

    /// Paints on the filmed frame.
    pub(crate) fn screen(&mut self, frame: &mut Image, t: u32) {
        let (t0, t1) = (self.plan.start, self.plan.end);
        match &mut self.painter {
            Painter::Flicker {
                pulses,
                amp,
                region,
            } if pulses.contains(&t) => {
                let gain = 1.0 + *amp * if t % 2 == 1 { 1.0 } else { -1.0 };
                let [x, y, w, h] = region.unwrap_or([0, 0, frame.w, frame.h]);
                for yy in y..y + h {
                    for xx in x..x + w {
                        let p = frame.get(xx, yy);
                        frame.set(xx, yy, p.map(|v| v * gain));
                    }
                }
            }
            Painter::Chroma {
                shift,
                angle,
                radial,
                region,
            } if (t0..=t1).contains(&t) => {
                let src = frame.clone();
                let (cx, cy) = (frame.w as f64 / 2.0, frame.h as f64 / 2.0);
                let [rx, ry, rw, rh] = region.unwrap_or([0, 0, frame.w, frame.h]);
                for y in ry..ry + rh {
                    for x in rx..rx + rw {
                        let (px, py) = (x as f64 + 0.5, y as f64 + 0.5);
                        let mut p = src.get(x, y);
                        for (ch, sign) in [(0usize, 1.0), (2, -1.0)] {
                            let (sx, sy) = if *radial {
                                let scale = 1.0 + sign * *shift / cx;
                                (cx + (px - cx) / scale, cy + (py - cy) / scale)
                            } else {
                                (
                                    px - sign * *shift * angle.cos(),
                                    py - sign * *shift * angle.sin(),
                                )
                            };
                            p[ch] = src.sample(sx, sy)[ch];
                        }
                        frame.set(x, y, p);
                    }
                }
            }
            Painter::Sparks { rng, size } if (t0..=t1).contains(&t) => {
                let (w, h) = (frame.w as u32, frame.h as u32);
                for _ in 0..int(rng, 3, 9) {
                    let (x, y) = (int(rng, 2, w - 3) as usize, int(rng, 2, h - 3) as usize);
                    let s = int(rng, 1, 3) as usize * *size;
                    let c = if unit(rng) < 0.7 {
                        [20.0, 255.0, 90.0]
                    } else if unit(rng) < 0.5 {
                        [255.0, 30.0, 200.0]
                    } else {
                        [30.0, 220.0, 255.0]
                    };
                    for yy in y..(y + s).min(frame.h) {
                        for xx in x..(x + s).min(frame.w) {
                            frame.set(xx, yy, c);
                        }
                    }
                }
            }
            _ => {}
        }
    }

    /// Whether frame `t` repeats the one before.
    pub(crate) fn holds(&self, t: u32) -> bool {
        matches!(self.painter, Painter::Frozen { until } if self.plan.start < t && t <= until)
    }
}

/// Moves pixels within `reach` of `at`: the pixel at offset `(dx, dy)`
/// takes the colour found at `at + f(dx, dy)`.
fn remap(world: &mut Image, at: (f64, f64), reach: f64, f: impl Fn(f64, f64) -> (f64, f64)) {
    let src = world.clone();
    let x0 = (at.0 - reach).max(0.0) as usize;
    let y0 = (at.1 - reach).max(0.0) as usize;
    let x1 = ((at.0 + reach).max(0.0) as usize).min(world.w);
    let y1 = ((at.1 + reach).max(0.0) as usize).min(world.h);
    for y in y0..y1 {
        for x in x0..x1 {
            let (dx, dy) = (x as f64 + 0.5 - at.0, y as f64 + 0.5 - at.1);
            let (sx, sy) = f(dx, dy);
            world.set(x, y, src.sample(at.0 + sx, at.1 + sy));
        }
    }
}

fn teleport(
    rng: &mut ChaCha8Rng,
    plan: &PlannedDefect,
    stage: &Stage<'_>,
    actors_at: &dyn Fn(usize) -> Vec<Actor>,
) -> Painter {
    let k = stage.h / 240.0;
    let t0 = f64::from(plan.start);
    let disc = if stage.mover.is_none() {
        let r = range(rng, 14.0, 24.0) * k;
        let (x, y) = stage.cam.to_world(
            0.0,
            range(rng, 0.35, 0.65) * stage.w,
            range(rng, 0.35, 0.65) * stage.h,
        );
        Some(vec![Shape::Disc {
            x,
            y,
            r,
            color: color(rng),
        }])
    } else {
        None
    };
    // Where the object is when it jumps, on screen.
    let centre = match (&disc, stage.mover) {
        (Some(d), _) => bounds(d).map(|b| {
            [
                b[0] + t0 * 0.6,
                b[1] + t0 * 0.3,
                b[2] + t0 * 0.6,
                b[3] + t0 * 0.3,
            ]
        }),
        (None, Some(i)) => actors_at(plan.start as usize)
            .get(i)
            .and_then(|a| bounds(a)),
        _ => None,
    }
    .map_or((stage.w / 2.0, stage.h / 2.0), |b| {
        stage
            .cam
            .to_screen(t0, (b[0] + b[2]) / 2.0, (b[1] + b[3]) / 2.0)
    });
    let jump = range(rng, 60.0, 110.0) * k;
    let start = range(rng, 0.0, std::f64::consts::TAU);
    // The first direction, in eighths of a turn, that lands inside the view.
    let by = (0..8)
        .map(|i| start + f64::from(i) * std::f64::consts::FRAC_PI_4)
        .map(|a| (jump * a.cos(), jump * a.sin()))
        .find(|(dx, dy)| {
            let (x, y) = (centre.0 + dx, centre.1 + dy);
            x > 0.15 * stage.w && x < 0.85 * stage.w && y > 0.1 * stage.h && y < 0.9 * stage.h
        })
        .unwrap_or((stage.w / 2.0 - centre.0, stage.h / 2.0 - centre.1));
    Painter::Teleport {
        actor: stage.mover,
        disc,
        by,
    }
}

fn gravity(rng: &mut ChaCha8Rng, plan: &PlannedDefect, stage: &Stage<'_>) -> Painter {
    let k = stage.h / 240.0;
    let (h, frames) = (stage.h, stage.frames as usize);
    let r = range(rng, 9.0, 15.0) * k;
    let c = color(rng);
    let g = range(rng, 0.45, 1.0) * k;
    let x0 = range(rng, 0.25, 0.75) * stage.w + stage.off.0;
    let vx = range(rng, -1.0, 1.0) * k;
    let t0 = plan.start as usize;
    let modes = ["up", "float", "reverse"];
    let mode = modes[int(rng, 0, 3) as usize];
    let mut track = Vec::with_capacity(frames);
    if mode == "up" {
        // Rests on the floor, then falls upward.
        let ts = t0.saturating_sub(4);
        let y0 = stage.floor - r;
        let vy0 = range(rng, 0.0, 1.0) * k;
        for t in 0..frames {
            let tau = t.saturating_sub(ts) as f64;
            track.push((x0 + vx * t as f64, y0 - vy0 * tau - 0.5 * g * tau * tau));
        }
    } else {
        // Held near the top, let go so that it is a third of the way down
        // when it stops falling, then hovers or rises.
        let fall = (2.0 * 0.3 * h / g).sqrt() as usize;
        let ts = t0.saturating_sub(fall);
        let back = range(rng, 0.7, 1.0);
        let (mut y, mut v) = (h * 0.1 + stage.off.1, 0.0f64);
        for t in 0..frames {
            track.push((x0 + vx * t as f64, y));
            if t < ts {
                continue;
            }
            if t < t0 {
                v += g;
            } else if mode == "float" {
                v = if v.abs() > 0.2 * k { v * 0.3 } else { 0.0 };
            } else {
                if t == t0 {
                    v = -v.abs() * back;
                }
                v -= g * 0.2;
            }
            y += v;
        }
    }
    Painter::Gravity {
        track,
        r,
        color: c,
        mode,
    }
}
