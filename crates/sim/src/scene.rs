//! The scene kinds and their physics: where every object is at every frame,
//! computed from the laws the prompt implies (constant g, energy lost on
//! bounces, pendulum period from length, momentum kept in collisions).

use rand_core::RngCore;
use serde::{Deserialize, Serialize};

use crate::plan::{range, unit};
use crate::raster::{Backdrop, Rgb, Shape};

/// The kinds of scene the simulator films.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum SceneKind {
    /// A ball thrown in an arc or dropped, landing with a small bounce.
    ThrownBall,
    /// A ball dropped on a floor, losing energy at every bounce.
    BouncingBall,
    /// A pendulum swinging with the period its length gives.
    Pendulum,
    /// Liquid poured from a jug into a glass, as particles.
    LiquidPour,
    /// Two blocks sliding with friction and colliding.
    SlidingBlocks,
    /// A camera flying over a textured landscape.
    Landscape,
    /// A figure of simple shapes walking across the frame.
    WalkingFigure,
    /// A ball rolling down a ramp.
    RollingRamp,
}

impl SceneKind {
    /// Every scene kind.
    pub const ALL: [Self; 8] = [
        Self::ThrownBall,
        Self::BouncingBall,
        Self::Pendulum,
        Self::LiquidPour,
        Self::SlidingBlocks,
        Self::Landscape,
        Self::WalkingFigure,
        Self::RollingRamp,
    ];

    /// The snake_case name.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::ThrownBall => "thrown_ball",
            Self::BouncingBall => "bouncing_ball",
            Self::Pendulum => "pendulum",
            Self::LiquidPour => "liquid_pour",
            Self::SlidingBlocks => "sliding_blocks",
            Self::Landscape => "landscape",
            Self::WalkingFigure => "walking_figure",
            Self::RollingRamp => "rolling_ramp",
        }
    }

    /// The scene a prompt (lowercase, traps removed) asks for: the first
    /// kind whose words it uses, else one drawn from `draw`.
    pub(crate) fn choose(prompt: &str, draw: u64) -> Self {
        const WORDS: [(SceneKind, &[&str]); 8] = [
            (SceneKind::Pendulum, &["pendulum", "swing", "clock"]),
            (
                SceneKind::LiquidPour,
                &[
                    "pour", "water", "liquid", "glass", "wine", "milk", "juice", "coffee",
                ],
            ),
            (
                SceneKind::BouncingBall,
                &["bounc", "trampoline", "basketball"],
            ),
            (
                SceneKind::RollingRamp,
                &["ramp", "roll", "slope", "incline", "marble"],
            ),
            (
                SceneKind::ThrownBall,
                &["throw", "thrown", "toss", "drop", "ball", "falls", "apple"],
            ),
            (
                SceneKind::SlidingBlocks,
                &[
                    "slid", "collid", "crash", "block", "puck", "billiard", "push",
                ],
            ),
            (
                SceneKind::WalkingFigure,
                &[
                    "walk", "person", "man ", "woman", "runner", "dancer", "figure", "child",
                ],
            ),
            (
                SceneKind::Landscape,
                &[
                    "landscape",
                    "drone",
                    "aerial",
                    "mountain",
                    "forest",
                    "field",
                    "valley",
                    "city",
                ],
            ),
        ];
        WORDS
            .iter()
            .find(|(_, words)| words.iter().any(|w| prompt.contains(w)))
            .map_or(Self::ALL[(draw % 8) as usize], |(k, _)| *k)
    }

    pub(crate) fn backdrop(self, rng: &mut impl RngCore) -> Backdrop {
        match self {
            Self::Landscape => Backdrop::Terrain,
            _ => [Backdrop::Noise, Backdrop::Gradient, Backdrop::Tiles]
                [(unit(rng) * 3.0) as usize % 3],
        }
    }

    /// How far the camera pans, as a share of what the margin allows.
    pub(crate) fn travel(self) -> f64 {
        if self == Self::Landscape { 1.0 } else { 0.5 }
    }
}

impl std::fmt::Display for SceneKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

const COLORS: [Rgb; 5] = [
    [220.0, 40.0, 40.0],
    [40.0, 90.0, 220.0],
    [240.0, 200.0, 30.0],
    [240.0, 240.0, 240.0],
    [30.0, 30.0, 30.0],
];

pub(crate) fn color(rng: &mut impl RngCore) -> Rgb {
    COLORS[(unit(rng) * 5.0) as usize % 5]
}

/// One object, drawn in order (later ones in front: that is occlusion).
pub(crate) type Actor = Vec<Shape>;

/// A scene's objects at every frame, in view coordinates of frame 0 plus
/// an offset into the world.
#[derive(Clone, Debug)]
pub(crate) struct Scene {
    frames: Vec<Vec<Actor>>,
    /// Ground line in world coordinates, where the backdrop changes.
    pub(crate) horizon: f64,
}

impl Scene {
    pub(crate) fn actors(&self, t: usize) -> &[Actor] {
        &self.frames[t]
    }

    /// Films the scene kind with view `w`×`h` placed at `(ox, oy)` in the world.
    pub(crate) fn new(
        kind: SceneKind,
        w: f64,
        h: f64,
        frames: usize,
        off: (f64, f64),
        rng: &mut impl RngCore,
    ) -> Self {
        let k = h / 240.0;
        // Pixels per frame squared: about 0.6 at 240 lines, a few metres
        // seen from a distance at 24 fps.
        let g = range(rng, 0.45, 0.75) * k;
        let floor = h * 0.85;
        let ground = Shape::Rect {
            x: -w,
            y: floor,
            w: 3.0 * w,
            h: 3.0 * k,
            color: [50.0, 45.0, 40.0],
        };
        let stage = Stage {
            w,
            h,
            k,
            g,
            floor,
            ground,
            frames,
        };
        let out = match kind {
            SceneKind::ThrownBall | SceneKind::BouncingBall => ball(&stage, kind, rng),
            SceneKind::Pendulum => pendulum(&stage, rng),
            SceneKind::LiquidPour => liquid_pour(&stage, rng),
            SceneKind::SlidingBlocks => sliding_blocks(&stage, rng),
            SceneKind::Landscape => landscape(&stage, rng),
            SceneKind::WalkingFigure => walking_figure(&stage, rng),
            SceneKind::RollingRamp => rolling_ramp(&stage, rng),
        };
        let frames = out
            .into_iter()
            .map(|actors| {
                actors
                    .into_iter()
                    .map(|a| a.into_iter().map(|s| s.moved(off.0, off.1)).collect())
                    .collect()
            })
            .collect();
        Self {
            frames,
            horizon: floor + off.1,
        }
    }
}

/// What every scene is filmed with: the view, its scale, gravity and the
/// floor.
#[derive(Clone, Copy)]
struct Stage {
    /// View width and height, pixels.
    w: f64,
    h: f64,
    /// Pixels per pixel of a 240-line view.
    k: f64,
    /// Gravity, pixels per frame squared.
    g: f64,
    /// Where the floor is.
    floor: f64,
    /// The floor, drawn.
    ground: Shape,
    /// How many frames.
    frames: usize,
}

/// The actors of a ThrownBall or BouncingBall scene, frame by frame.
fn ball(s: &Stage, kind: SceneKind, rng: &mut impl RngCore) -> Vec<Vec<Actor>> {
    let Stage {
        w,
        h,
        k,
        g,
        floor,
        ground,
        frames,
        ..
    } = *s;
    let mut out: Vec<Vec<Actor>> = Vec::with_capacity(s.frames);
    let r = range(rng, 9.0, 14.0) * k;
    let c = color(rng);
    let (mut x, mut y, mut vx, mut vy, e) = if kind == SceneKind::ThrownBall {
        let dropped = unit(rng) < 0.3;
        let vy0 = if dropped {
            0.0
        } else {
            -(2.0 * g * range(rng, 0.35, 0.6) * h).sqrt()
        };
        let vx0 = if dropped {
            0.0
        } else {
            range(rng, 1.0, 2.5) * k
        };
        let y0 = if dropped { h * 0.12 } else { h * 0.7 };
        (range(rng, 0.12, 0.3) * w, y0, vx0, vy0, 0.35)
    } else {
        (
            range(rng, 0.3, 0.6) * w,
            h * 0.12,
            range(rng, -0.6, 0.6) * k,
            0.0,
            range(rng, 0.65, 0.8),
        )
    };
    for _ in 0..frames {
        out.push(vec![vec![ground], vec![Shape::Disc { x, y, r, color: c }]]);
        // Ten substeps per frame: the bounce lands between frames.
        for _ in 0..10 {
            vy += g / 10.0;
            x += vx / 10.0;
            y += vy / 10.0;
            if y + r > floor && vy > 0.0 {
                y = floor - r;
                vy = -vy * e;
                vx *= 0.9;
                if vy.abs() < g {
                    vy = 0.0;
                    vx *= 0.8;
                }
            }
        }
    }
    out
}

/// The actors of a Pendulum scene, frame by frame.
fn pendulum(s: &Stage, rng: &mut impl RngCore) -> Vec<Vec<Actor>> {
    let Stage {
        w, h, k, g, frames, ..
    } = *s;
    let mut out: Vec<Vec<Actor>> = Vec::with_capacity(s.frames);
    let len = range(rng, 0.4, 0.6) * h;
    let omega = (g / len).sqrt();
    let theta0 = range(rng, 0.3, 0.6) * if unit(rng) < 0.5 { -1.0 } else { 1.0 };
    let (px, py) = (w * 0.5, h * 0.12);
    let r = range(rng, 10.0, 15.0) * k;
    let c = color(rng);
    for t in 0..frames {
        let th = theta0 * (omega * t as f64).cos();
        let (bx, by) = (px + len * th.sin(), py + len * th.cos());
        out.push(vec![
            vec![Shape::Rect {
                x: px - 30.0 * k,
                y: py - 6.0 * k,
                w: 60.0 * k,
                h: 6.0 * k,
                color: [90.0, 70.0, 50.0],
            }],
            vec![
                Shape::Line {
                    x0: px,
                    y0: py,
                    x1: bx,
                    y1: by,
                    width: 2.0 * k,
                    color: [40.0, 40.0, 40.0],
                },
                Shape::Disc {
                    x: bx,
                    y: by,
                    r,
                    color: c,
                },
            ],
        ]);
    }
    out
}

/// The actors of a LiquidPour scene, frame by frame.
fn liquid_pour(s: &Stage, rng: &mut impl RngCore) -> Vec<Vec<Actor>> {
    let Stage {
        w,
        h,
        k,
        g,
        floor,
        ground,
        frames,
        ..
    } = *s;
    let mut out: Vec<Vec<Actor>> = Vec::with_capacity(s.frames);
    let c = [
        range(rng, 40.0, 90.0) as f32,
        range(rng, 110.0, 160.0) as f32,
        230.0,
    ];
    let (gx, gw, gh) = (w * 0.55, w * 0.16, h * 0.32);
    let gy = floor - gh;
    let spout = (w * 0.3, h * 0.25);
    let pr = 2.2 * k;
    let per_frame = 3usize;
    let mut parts: Vec<(f64, f64, f64, f64)> = Vec::new();
    let mut level = 0.0;
    let vol = pr * pr * 1.2 / gw;
    // Aimed so that a free fall from the spout lands mid-glass.
    let fall = (2.0 * (floor - spout.1) / g).sqrt();
    let aim = (gx + gw / 2.0 - spout.0) / fall;
    for t in 0..frames {
        for i in 0..per_frame {
            if t < frames * 4 / 5 {
                let j = (t * per_frame + i) as f64;
                parts.push((spout.0, spout.1, aim * (1.0 + 0.12 * (j * 1.7).sin()), 0.0));
            }
        }
        for p in &mut parts {
            p.3 += g;
            p.0 += p.2;
            p.1 += p.3;
        }
        parts.retain(|p| p.1 < floor + h);
        let surface = floor - level;
        let before = parts.len();
        parts.retain(|p| !(p.0 > gx && p.0 < gx + gw && p.1 >= surface));
        level = (level + (before - parts.len()) as f64 * vol).min(gh * 0.95);
        let mut liquid: Actor = parts
            .iter()
            .map(|p| Shape::Disc {
                x: p.0,
                y: p.1,
                r: pr,
                color: c,
            })
            .collect();
        liquid.push(Shape::Rect {
            x: gx,
            y: floor - level,
            w: gw,
            h: level,
            color: c,
        });
        out.push(vec![
            vec![ground],
            vec![Shape::Rect {
                x: spout.0 - 40.0 * k,
                y: spout.1 - 14.0 * k,
                w: 42.0 * k,
                h: 26.0 * k,
                color: [180.0, 120.0, 80.0],
            }],
            liquid,
            // The glass's walls in front of the liquid.
            vec![
                Shape::Rect {
                    x: gx - 2.0 * k,
                    y: gy,
                    w: 2.0 * k,
                    h: gh,
                    color: [220.0, 230.0, 235.0],
                },
                Shape::Rect {
                    x: gx + gw,
                    y: gy,
                    w: 2.0 * k,
                    h: gh,
                    color: [220.0, 230.0, 235.0],
                },
                Shape::Rect {
                    x: gx - 2.0 * k,
                    y: floor - 2.0 * k,
                    w: gw + 4.0 * k,
                    h: 2.0 * k,
                    color: [220.0, 230.0, 235.0],
                },
            ],
        ]);
    }
    out
}

/// The actors of a SlidingBlocks scene, frame by frame.
fn sliding_blocks(s: &Stage, rng: &mut impl RngCore) -> Vec<Vec<Actor>> {
    let Stage {
        w,
        k,
        g,
        floor,
        ground,
        frames,
        ..
    } = *s;
    let mut out: Vec<Vec<Actor>> = Vec::with_capacity(s.frames);
    let (s1, s2) = (range(rng, 22.0, 34.0) * k, range(rng, 22.0, 34.0) * k);
    let (m1, m2) = (s1 * s1, s2 * s2);
    let (mut x1, mut x2) = (w * 0.08, w * 0.6);
    let (mut v1, mut v2) = (range(rng, 2.5, 4.0) * k, range(rng, -0.5, 0.5) * k);
    let mu = g * 0.04;
    let (c1, c2) = (color(rng), [150.0, 60.0, 160.0]);
    for _ in 0..frames {
        out.push(vec![
            vec![ground],
            vec![Shape::Rect {
                x: x1,
                y: floor - s1,
                w: s1,
                h: s1,
                color: c1,
            }],
            vec![Shape::Rect {
                x: x2,
                y: floor - s2,
                w: s2,
                h: s2,
                color: c2,
            }],
        ]);
        for _ in 0..10 {
            let slow = |v: f64| {
                if v.abs() <= mu / 10.0 {
                    0.0
                } else {
                    v - mu / 10.0 * v.signum()
                }
            };
            v1 = slow(v1);
            v2 = slow(v2);
            x1 += v1 / 10.0;
            x2 += v2 / 10.0;
            if x1 + s1 > x2 && v1 > v2 {
                // Elastic collision: momentum and energy kept.
                let (a, b) = (v1, v2);
                v1 = ((m1 - m2) * a + 2.0 * m2 * b) / (m1 + m2);
                v2 = ((m2 - m1) * b + 2.0 * m1 * a) / (m1 + m2);
                x1 = x2 - s1;
            }
        }
    }
    out
}

/// The actors of a Landscape scene, frame by frame.
fn landscape(s: &Stage, rng: &mut impl RngCore) -> Vec<Vec<Actor>> {
    let Stage {
        w, h, k, frames, ..
    } = *s;
    let mut out: Vec<Vec<Actor>> = Vec::with_capacity(s.frames);
    let clouds: Vec<(f64, f64, f64)> = (0..3)
        .map(|_| {
            (
                range(rng, 0.0, w),
                range(rng, 0.05, 0.9) * h,
                range(rng, 14.0, 26.0) * k,
            )
        })
        .collect();
    let drift = range(rng, 0.3, 0.8) * k;
    for t in 0..frames {
        let cloud: Actor = clouds
            .iter()
            .map(|&(x, y, r)| Shape::Disc {
                x: x + drift * t as f64,
                y,
                r,
                color: [245.0, 245.0, 250.0],
            })
            .collect();
        out.push(vec![cloud]);
    }
    out
}

/// The actors of a WalkingFigure scene, frame by frame.
fn walking_figure(s: &Stage, rng: &mut impl RngCore) -> Vec<Vec<Actor>> {
    let Stage {
        w,
        h,
        k,
        floor,
        ground,
        frames,
        ..
    } = *s;
    let mut out: Vec<Vec<Actor>> = Vec::with_capacity(s.frames);
    let speed = range(rng, 1.0, 1.8) * k;
    let x0 = range(rng, 0.1, 0.3) * w;
    let hgt = h * 0.4;
    let c = color(rng);
    let stride = 0.5;
    let step = speed / (hgt * 0.45 * stride);
    for t in 0..frames {
        let ph = step * t as f64;
        let x = x0 + speed * t as f64;
        let hip = floor - hgt * 0.45 - (ph * 2.0).sin().abs() * 2.0 * k;
        let neck = hip - hgt * 0.35;
        let leg = hgt * 0.45;
        let limb = |a: f64, from: f64, l: f64| (x + l * a.sin(), from + l * a.cos());
        let (l1, l2) = (
            limb(stride * ph.sin(), hip, leg),
            limb(-stride * ph.sin(), hip, leg),
        );
        let (a1, a2) = (
            limb(-stride * ph.sin(), neck, leg * 0.8),
            limb(stride * ph.sin(), neck, leg * 0.8),
        );
        let lw = 4.0 * k;
        let line = |p: (f64, f64), q: (f64, f64)| Shape::Line {
            x0: p.0,
            y0: p.1,
            x1: q.0,
            y1: q.1,
            width: lw,
            color: c,
        };
        out.push(vec![
            vec![ground],
            vec![
                line((x, hip), l2),
                line((x, neck), a2),
                line((x, hip), (x, neck)),
                line((x, hip), l1),
                line((x, neck), a1),
                Shape::Disc {
                    x,
                    y: neck - 9.0 * k,
                    r: 8.0 * k,
                    color: [230.0, 190.0, 160.0],
                },
            ],
        ]);
    }
    out
}

/// The actors of a RollingRamp scene, frame by frame.
fn rolling_ramp(s: &Stage, rng: &mut impl RngCore) -> Vec<Vec<Actor>> {
    let Stage {
        w,
        h,
        k,
        g,
        floor,
        ground,
        frames,
        ..
    } = *s;
    let mut out: Vec<Vec<Actor>> = Vec::with_capacity(s.frames);
    let (ax, ay, bx) = (w * 0.08, h * 0.3, w * 0.6);
    let slope = ((floor - ay) / (bx - ax)).atan();
    let r = range(rng, 8.0, 12.0) * k;
    let c = color(rng);
    // A rolling ball accelerates at 5/7 g sin(slope).
    let acc = g * 5.0 / 7.0 * slope.sin();
    let (mut s, mut v) = (0.0, 0.0);
    let ramp_len = (bx - ax) / slope.cos();
    for _ in 0..frames {
        let (x, y) = if s < ramp_len {
            (
                ax + s * slope.cos() + r * slope.sin(),
                ay + s * slope.sin() - r * slope.cos(),
            )
        } else {
            (bx + (s - ramp_len), floor - r)
        };
        out.push(vec![
            vec![
                ground,
                Shape::Line {
                    x0: ax,
                    y0: ay,
                    x1: bx,
                    y1: floor,
                    width: 3.0 * k,
                    color: [90.0, 70.0, 50.0],
                },
            ],
            vec![Shape::Disc { x, y, r, color: c }],
        ]);
        if s < ramp_len {
            v += acc;
        } else {
            v = (v - g * 0.02).max(0.0);
        }
        s += v;
    }
    out
}

/// The bounds `[x0, y0, x1, y1]` of an actor.
pub(crate) fn bounds(actor: &[Shape]) -> Option<[f64; 4]> {
    actor.iter().map(Shape::bounds).reduce(|a, b| {
        [
            a[0].min(b[0]),
            a[1].min(b[1]),
            a[2].max(b[2]),
            a[3].max(b[3]),
        ]
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::stream;

    fn disc(scene: &Scene, t: usize, actor: usize) -> (f64, f64) {
        match scene.actors(t)[actor]
            .iter()
            .rev()
            .find(|s| matches!(s, Shape::Disc { .. }))
        {
            Some(Shape::Disc { x, y, .. }) => (*x, *y),
            _ => panic!("no disc"),
        }
    }

    #[test]
    fn prompts_choose_their_scene() {
        assert_eq!(
            SceneKind::choose("a pendulum clock", 0),
            SceneKind::Pendulum
        );
        assert_eq!(
            SceneKind::choose("water poured into a glass", 0),
            SceneKind::LiquidPour
        );
        assert_eq!(
            SceneKind::choose("a drone shot over a mountain", 0),
            SceneKind::Landscape
        );
        assert_eq!(
            SceneKind::choose("a woman walks her dog", 0),
            SceneKind::WalkingFigure
        );
        assert_eq!(SceneKind::choose("zzz", 3), SceneKind::ALL[3]);
    }

    #[test]
    fn a_dropped_ball_falls_with_constant_g_and_bounces_lower() {
        let scene = Scene::new(
            SceneKind::BouncingBall,
            320.0,
            240.0,
            200,
            (0.0, 0.0),
            &mut stream(&[b"b"]),
        );
        let ys: Vec<f64> = (0..200).map(|t| disc(&scene, t, 1).1).collect();
        // Second differences while falling freely are the same g.
        let d2: Vec<f64> = (1..6)
            .map(|t| ys[t + 1] - 2.0 * ys[t] + ys[t - 1])
            .collect();
        assert!(
            d2.iter().all(|d| (d - d2[0]).abs() < 1e-6 && *d > 0.0),
            "{d2:?}"
        );
        // Apexes after each bounce get lower: energy is lost.
        let apexes: Vec<f64> = (1..199)
            .filter(|&t| ys[t] < ys[t - 1] && ys[t] <= ys[t + 1])
            .map(|t| ys[t])
            .collect();
        assert!(apexes.len() >= 2, "{apexes:?}");
        assert!(
            apexes.windows(2).all(|p| p[1] > p[0]),
            "apexes (y down) {apexes:?}"
        );
    }

    #[test]
    fn a_pendulum_swings_with_the_period_of_its_length() {
        let scene = Scene::new(
            SceneKind::Pendulum,
            320.0,
            240.0,
            400,
            (0.0, 0.0),
            &mut stream(&[b"p"]),
        );
        let xs: Vec<f64> = (0..400).map(|t| disc(&scene, t, 1).0 - 160.0).collect();
        let crossings: Vec<usize> = (1..400)
            .filter(|&t| xs[t - 1].signum() != xs[t].signum())
            .collect();
        let half =
            (crossings[crossings.len() - 1] - crossings[0]) as f64 / (crossings.len() - 1) as f64;
        // Period 2π√(L/g), L from the drawn rod, g the scene's first draw.
        let Shape::Line { x0, y0, x1, y1, .. } = scene.actors(0)[1][0] else {
            panic!("no rod")
        };
        let len = (x1 - x0).hypot(y1 - y0);
        let g = range(&mut stream(&[b"p"]), 0.45, 0.75);
        let period = std::f64::consts::TAU * (len / g).sqrt();
        assert!(
            (2.0 * half - period).abs() < 2.5,
            "half period {half}, period {period}"
        );
    }

    #[test]
    fn colliding_blocks_keep_their_momentum() {
        let scene = Scene::new(
            SceneKind::SlidingBlocks,
            320.0,
            240.0,
            120,
            (0.0, 0.0),
            &mut stream(&[b"s"]),
        );
        let x = |t: usize, a: usize| match scene.actors(t)[a][0] {
            Shape::Rect { x, w, .. } => (x, w * w),
            _ => unreachable!(),
        };
        let v = |t: usize, a: usize| x(t + 1, a).0 - x(t, a).0;
        let momentum = |t: usize| v(t, 1) * x(t, 1).1 + v(t, 2) * x(t, 2).1;
        let hit = (1..110)
            .find(|&t| (v(t, 2) - v(t - 1, 2)).abs() > 0.5)
            .expect("the blocks collide");
        let (before, after) = (momentum(hit - 2), momentum(hit + 1));
        // Friction over the three frames and the contact landing between
        // frames take a little; an inelastic or broken collision would
        // change it far more.
        assert!(
            (after - before).abs() < 0.1 * before.abs(),
            "{before} -> {after}"
        );
    }
}
