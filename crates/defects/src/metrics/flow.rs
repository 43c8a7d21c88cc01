//! Dense optical flow: pyramidal, inverse-compositional Lucas–Kanade with a
//! window per pixel (every pixel solves its own 2×2 system over a box window,
//! so the flow comes out dense with no separate interpolation step).
//!
//! Per pyramid level the gradients of `prev` and their windowed structure
//! tensor are computed once (the inverse-compositional trick); each iteration
//! then costs one warp of `next`, two products and two box means, whatever
//! the window size (running sums). Flat regions, where the tensor is nearly
//! singular, are held to the coarser level's estimate by a Tikhonov term.

use std::fmt;

use crate::metrics::filter::{box_means, rows_per_task};
use crate::metrics::flow_pyramid::{FlowPyramid, Tensor};
use crate::metrics::sample::{SPAN, Span, Taps};
use crate::metrics::scratch::{self, Scratch};
use crate::{Error, Plane};

/// A dense flow field: pixel `(x, y)` of `prev` moved to `(x + u, y + v)` in
/// `next`, i.e. `prev(x, y) ≈ next(x + u, y + v)` (the convention of OpenCV's
/// `calcOpticalFlowFarneback` and DIS).
#[derive(Clone, PartialEq)]
pub struct Flow {
    /// Width in pixels.
    pub width: usize,
    /// Height in pixels.
    pub height: usize,
    /// Horizontal displacement per pixel, row-major, in pixels.
    pub u: Vec<f32>,
    /// Vertical displacement per pixel, row-major, in pixels.
    pub v: Vec<f32>,
}

impl Flow {
    /// A flow of zeros.
    pub fn zeros(width: usize, height: usize) -> Self {
        Self {
            width,
            height,
            u: vec![0.0; width * height],
            v: vec![0.0; width * height],
        }
    }

    /// The displacement `(u, v)` at `(x, y)`; panics outside the field.
    #[inline]
    pub fn at(&self, x: usize, y: usize) -> (f32, f32) {
        let i = y * self.width + x;
        (self.u[i], self.v[i])
    }

    /// The displacement at a sub-pixel position, bilinear, clamped to the
    /// field.
    pub fn sample(&self, x: f32, y: f32) -> (f32, f32) {
        let taps = Taps::new(self.width, self.height, x, y);
        (taps.at(&self.u), taps.at(&self.v))
    }

    /// Length of the displacement at every pixel, row-major.
    pub fn magnitude(&self) -> Vec<f32> {
        self.u
            .iter()
            .zip(&self.v)
            .map(|(u, v)| (u * u + v * v).sqrt())
            .collect()
    }

    /// Mean displacement length.
    pub fn mean_magnitude(&self) -> f64 {
        let n = self.u.len().max(1) as f64;
        self.magnitude().iter().map(|&m| f64::from(m)).sum::<f64>() / n
    }
}

impl fmt::Debug for Flow {
    // Millions of vectors would flood any log: show the size and mean length.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Flow")
            .field("width", &self.width)
            .field("height", &self.height)
            .field("mean_magnitude", &self.mean_magnitude())
            .finish()
    }
}

/// How [`dense_flow`] searches. The defaults are tuned on frame pairs with
/// known flow (sub-pixel shifts up to ~6 px, small affine motions, smooth
/// warps) at 320×240 to 1280×720.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct FlowParams {
    /// Most pyramid levels below full resolution (each halves the size).
    /// More levels reach larger motions: about `2^levels` pixels.
    pub max_levels: usize,
    /// A level is only built while its smaller side stays at least this big.
    pub min_level_size: usize,
    /// Radius of the square window each pixel's system sums over (the window
    /// is `2r + 1` pixels wide) at every level.
    pub window_radius: usize,
    /// Gauss–Newton iterations per level.
    pub iterations: usize,
    /// Tikhonov weight (in squared grey levels per pixel²) that keeps flat
    /// regions at the coarser estimate instead of amplifying noise.
    pub regularization: f32,
    /// Radius of the confidence-weighted smoothing after each level: pixels
    /// whose window has little texture take the average flow of the
    /// textured pixels around them. 0 turns it off.
    pub fill_radius: usize,
    /// Texture (smaller eigenvalue of the windowed structure tensor, squared
    /// grey levels per pixel²) at which a pixel trusts its own estimate and
    /// its neighbours' average equally.
    pub fill_confidence: f32,
    /// The finest pyramid level refined: 0 is full resolution; 1 stops at
    /// half resolution and upsamples the result (about 4× faster, coarser
    /// motion boundaries), as DIS's `finest_scale`.
    pub finest_level: usize,
}

impl Default for FlowParams {
    fn default() -> Self {
        Self {
            max_levels: 5,
            min_level_size: 16,
            window_radius: 4,
            iterations: 3,
            regularization: 0.1,
            fill_radius: 16,
            fill_confidence: 20.0,
            finest_level: 0,
        }
    }
}

impl FlowParams {
    /// The defaults with [`FlowParams::finest_level`] 1: the flow is refined
    /// down to half resolution only, about 3–4× faster. What
    /// [`crate::ClipMetrics::compute`] uses on analysis-size clips.
    pub fn fast() -> Self {
        Self {
            finest_level: 1,
            ..Self::default()
        }
    }

    /// Sets [`FlowParams::window_radius`].
    #[must_use]
    pub fn with_window_radius(mut self, r: usize) -> Self {
        self.window_radius = r;
        self
    }

    /// Sets [`FlowParams::iterations`].
    #[must_use]
    pub fn with_iterations(mut self, n: usize) -> Self {
        self.iterations = n;
        self
    }

    /// Sets [`FlowParams::max_levels`].
    #[must_use]
    pub fn with_max_levels(mut self, n: usize) -> Self {
        self.max_levels = n;
        self
    }

    /// Sets [`FlowParams::fill_radius`] and [`FlowParams::fill_confidence`].
    #[must_use]
    pub fn with_fill(mut self, radius: usize, confidence: f32) -> Self {
        self.fill_radius = radius;
        self.fill_confidence = confidence;
        self
    }

    /// Sets [`FlowParams::finest_level`].
    #[must_use]
    pub fn with_finest_level(mut self, level: usize) -> Self {
        self.finest_level = level;
        self
    }

    /// Sets [`FlowParams::regularization`].
    #[must_use]
    pub fn with_regularization(mut self, lambda: f32) -> Self {
        self.regularization = lambda;
        self
    }
}

/// Dense optical flow from `prev` to `next` (planes in `[0, 255]`).
///
/// # Errors
/// [`Error::SizeMismatch`] for planes of different sizes,
/// [`Error::InvalidInput`] for parameters that cannot work (no iterations).
pub fn dense_flow(prev: &Plane, next: &Plane, params: &FlowParams) -> Result<Flow, Error> {
    prev.check_same_size(next)?;
    if params.iterations == 0 {
        return Err(Error::InvalidInput {
            what: "flow parameters".into(),
            reason: "iterations must be at least 1".into(),
        });
    }
    let (prev_pyr, next_pyr) = rayon::join(
        || FlowPyramid::new(prev, params, true),
        || FlowPyramid::new(next, params, false),
    );
    Ok(flow_between(&prev_pyr, &next_pyr, params))
}

/// The flow from the frame of `prev` to that of `next`; `prev` must have
/// been built with tensors and both with `params`.
pub(crate) fn flow_between(prev: &FlowPyramid, next: &FlowPyramid, params: &FlowParams) -> Flow {
    let finest = prev.finest(params);
    let mut flow: Option<Flow> = None;
    for (level, (p, n)) in prev.levels.iter().zip(&next.levels).enumerate().rev() {
        let (w, h) = (p.plane.width(), p.plane.height());
        let init = match flow {
            None => Flow::zeros(w, h),
            Some(coarse) => {
                let fine = upsample(&coarse, w, h);
                scratch::recycle(coarse.u);
                scratch::recycle(coarse.v);
                fine
            }
        };
        flow = Some(match (&p.tensor, level >= finest) {
            (Some(tensor), true) => refine(&p.plane, tensor, &n.plane, init, params),
            _ => init,
        });
    }
    flow.expect("a pyramid has at least one level")
}

/// The coarse flow on the next finer grid: positions and lengths doubled.
fn upsample(coarse: &Flow, w: usize, h: usize) -> Flow {
    use rayon::prelude::*;
    let (cw, ch) = (coarse.width, coarse.height);
    // Fine pixel x sits at coarse x / 2: even pixels take a coarse sample,
    // odd ones the mean of two (bilinear at exactly half a pixel).
    let taps = |x: usize, n: usize| -> (usize, usize) {
        let a = (x / 2).min(n - 1);
        let b = if x % 2 == 1 { (a + 1).min(n - 1) } else { a };
        (a, b)
    };
    let xs: Vec<(usize, usize)> = (0..w).map(|x| taps(x, cw)).collect();
    // Every sample is written below.
    let mut out = Flow {
        width: w,
        height: h,
        u: scratch::dirty(w * h),
        v: scratch::dirty(w * h),
    };
    for (src, dst) in [(&coarse.u, &mut out.u), (&coarse.v, &mut out.v)] {
        dst.par_chunks_mut(w)
            .enumerate()
            .with_min_len(rows_per_task(w))
            .for_each(|(y, row)| {
                let (y0, y1) = taps(y, ch);
                let (r0, r1) = (&src[y0 * cw..(y0 + 1) * cw], &src[y1 * cw..(y1 + 1) * cw]);
                for (d, &(x0, x1)) in row.iter_mut().zip(&xs) {
                    // 2 × (mean of up to four samples): lengths double too.
                    *d = 0.5 * (r0[x0] + r0[x1] + r1[x0] + r1[x1]);
                }
            });
    }
    out
}

/// Gauss–Newton iterations of the windowed inverse-compositional LK at one
/// level, starting from `flow`.
fn refine(prev: &Plane, t: &Tensor, next: &Plane, flow: Flow, params: &FlowParams) -> Flow {
    let (w, h) = (prev.width(), prev.height());
    let n = w * h;
    let r = t.radius;
    let (gx, gy) = (&t.gx, &t.gy);
    let (a, b, c) = (&t.inv_a, &t.inv_b, &t.inv_c);
    let lambda = params.regularization;
    // Each is written whole before it is read.
    let mut sums = [Scratch::dirty(n), Scratch::dirty(n)];
    let (pd, nd) = (prev.data(), next.data());
    // Tikhonov towards the level's starting flow: (H + λI) u = Σ… + λ u₀, so
    // flat regions keep the coarser level's estimate. The starting flow is
    // kept as it is; the iterations write into two other buffers in turn.
    let start = flow;
    let (u0, v0) = (&start.u, &start.v);
    let mut flow = Flow {
        width: w,
        height: h,
        u: scratch::dirty(n),
        v: scratch::dirty(n),
    };
    let mut updated = Flow {
        width: w,
        height: h,
        u: scratch::dirty(n),
        v: scratch::dirty(n),
    };
    for iteration in 0..params.iterations {
        let current = if iteration == 0 { &start } else { &flow };
        let (fu, fv) = (&current.u, &current.v);
        let [s0, s1] = &mut sums;
        box_means(
            w,
            h,
            r,
            [&mut **s0, &mut **s1],
            |y, [tx, ty]| {
                let row = y * w..(y + 1) * w;
                let (fu, fv) = (&fu[row.clone()], &fv[row.clone()]);
                let (gx, gy, pd) = (&gx[row.clone()], &gy[row.clone()], &pd[row]);
                let mut span = Span::empty();
                for x0 in (0..w).step_by(SPAN) {
                    let x1 = (x0 + SPAN).min(w);
                    span.set(w, h, x0, y, &fu[x0..x1], &fv[x0..x1]);
                    for k in 0..span.len() {
                        let x = x0 + k;
                        // A pixel that maps outside `next` says nothing
                        // about the motion; a clamped sample would be
                        // garbage that the windows spread to the
                        // neighbours, iteration after iteration.
                        let it = if span.inside(k) {
                            span.at(k, nd) - pd[x]
                        } else {
                            0.0
                        };
                        // Each pixel's window is warped with that pixel's
                        // own flow, to first order: next(x' + u(x)) ≈
                        // next(x' + u(x')) + ∇I(x')·(u(x) − u(x')). The
                        // window then solves H u(x) = Σ ∇I (∇I·u(x') −
                        // It(x')), one box mean a side.
                        let r = gx[x] * fu[x] + gy[x] * fv[x] - it;
                        tx[x] = gx[x] * r;
                        ty[x] = gy[x] * r;
                    }
                }
            },
            [&mut updated.u, &mut updated.v],
            |y, [p, q], [nu_row, nv_row]| {
                let row = y * w..(y + 1) * w;
                let (fu, fv) = (&fu[row.clone()], &fv[row.clone()]);
                let (u0, v0) = (&u0[row.clone()], &v0[row.clone()]);
                let (a, b, c) = (&a[row.clone()], &b[row.clone()], &c[row]);
                for x in 0..w {
                    let gu = p[x] + lambda * u0[x];
                    let gv = q[x] + lambda * v0[x];
                    let (nu, nv) = (a[x] * gu + b[x] * gv, b[x] * gu + c[x] * gv);
                    nu_row[x] = fu[x] + (nu - fu[x]).clamp(-1.0, 1.0);
                    nv_row[x] = fv[x] + (nv - fv[x]).clamp(-1.0, 1.0);
                }
            },
        );
        std::mem::swap(&mut flow, &mut updated);
    }
    let mut flow = if params.iterations == 0 {
        start
    } else {
        for v in [start.u, start.v] {
            scratch::recycle(v);
        }
        flow
    };
    if params.fill_radius > 0 {
        fill(&flow, t, params, &mut sums, &mut updated);
        std::mem::swap(&mut flow, &mut updated);
    }
    scratch::recycle(updated.u);
    scratch::recycle(updated.v);
    flow
}

/// Confidence-weighted smoothing into `out`: `u ← (c u + k ū) / (c + k)`
/// where `ū` is the `c`-weighted box mean of `u` and `k` is
/// `fill_confidence`, so flat regions borrow the motion of the textured
/// pixels around them (the role of DIS's densification) while textured
/// pixels keep their own.
fn fill(flow: &Flow, t: &Tensor, params: &FlowParams, sums: &mut [Scratch; 2], out: &mut Flow) {
    let (w, h) = (flow.width, flow.height);
    let r = params.fill_radius.min(w.min(h) / 2);
    let k = params.fill_confidence.max(1e-6);
    let (confidence, weight) = (&t.confidence, &t.confidence_mean);
    let [s0, s1] = sums;
    box_means(
        w,
        h,
        r,
        [&mut **s0, &mut **s1],
        |y, [cu, cv]| {
            let row = y * w..(y + 1) * w;
            let (u, v, c) = (&flow.u[row.clone()], &flow.v[row.clone()], &confidence[row]);
            for (((cu, cv), (&u, &v)), &c) in cu.iter_mut().zip(cv).zip(u.iter().zip(v)).zip(c) {
                *cu = c * u;
                *cv = c * v;
            }
        },
        [&mut out.u, &mut out.v],
        |y, means, outs| {
            let row = y * w..(y + 1) * w;
            let (c, den) = (&confidence[row.clone()], &weight[row.clone()]);
            for ((num, out), comp) in means.into_iter().zip(outs).zip([&flow.u, &flow.v]) {
                let comp = &comp[row.clone()];
                for ((((o, &u), &c), &num), &den) in
                    out.iter_mut().zip(comp).zip(c).zip(num).zip(den)
                {
                    *o = if den > 1e-6 {
                        let mean = num / den;
                        (c * u + k * mean) / (c + k)
                    } else {
                        u
                    };
                }
            }
        },
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    fn texture(w: usize, h: usize) -> Plane {
        let data = (0..w * h)
            .map(|i| {
                let (x, y) = ((i % w) as f32, (i / w) as f32);
                128.0
                    + 50.0 * (x * 0.21 + y * 0.07).sin()
                    + 40.0 * (y * 0.17 - x * 0.05).cos()
                    + 20.0 * (x * 0.6).sin() * (y * 0.45).sin()
            })
            .collect();
        Plane::new(w, h, data).unwrap()
    }

    #[test]
    fn recovers_a_subpixel_translation() {
        let next = texture(96, 80);
        let (du, dv) = (1.3f32, -0.6f32);
        let prev = Plane::new(
            96,
            80,
            (0..96 * 80)
                .map(|i| {
                    crate::metrics::sample::bilinear(
                        &next,
                        (i % 96) as f32 + du,
                        (i / 96) as f32 + dv,
                    )
                })
                .collect(),
        )
        .unwrap();
        let flow = dense_flow(&prev, &next, &FlowParams::default()).unwrap();
        let mut err = 0.0;
        let mut count = 0;
        for y in 10..70 {
            for x in 10..86 {
                let (u, v) = flow.at(x, y);
                err += (u - du).hypot(v - dv);
                count += 1;
            }
        }
        let epe = err / count as f32;
        assert!(epe < 0.05, "mean endpoint error {epe}");
    }
}
