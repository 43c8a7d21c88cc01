//! What [`crate::dense_flow`] needs of one frame, computed once: its image
//! pyramid and, per refined level, the gradients, the inverse of the
//! windowed structure tensor, the texture confidence and its box mean.
//!
//! None of it depends on the other frame, so a clip of N frames needs N of
//! these, not one per flow and side (4(N − 1) with forward and backward
//! flows): the inverse-compositional trick, carried across pairs.

use crate::metrics::filter::{blur_decimate, box_mean_with, box_means, rows_per_task};
use crate::metrics::scratch::{self, Scratch};
use crate::{FlowParams, Plane};

/// One frame's pyramid for [`crate::dense_flow`]: level 0 is the frame.
pub(crate) struct FlowPyramid {
    pub(crate) levels: Vec<Level>,
}

/// One pyramid level.
pub(crate) struct Level {
    pub(crate) plane: Plane,
    /// Present on the levels the flow refines when this frame is `prev`.
    pub(crate) tensor: Option<Tensor>,
}

/// Per-pixel data of a level as the `prev` side of a flow.
pub(crate) struct Tensor {
    /// Window radius actually used (clamped to the level's size).
    pub(crate) radius: usize,
    pub(crate) gx: Vec<f32>,
    pub(crate) gy: Vec<f32>,
    /// `[[a, b], [b, c]]⁻¹` of the regularised windowed structure tensor.
    pub(crate) inv_a: Vec<f32>,
    pub(crate) inv_b: Vec<f32>,
    pub(crate) inv_c: Vec<f32>,
    /// The tensor's smaller eigenvalue: how well the window pins both
    /// components of the motion.
    pub(crate) confidence: Vec<f32>,
    /// Box mean of `confidence` over the fill window (empty without fill).
    pub(crate) confidence_mean: Vec<f32>,
}

impl FlowPyramid {
    /// The pyramid of `plane`; with `tensors`, also what the levels from
    /// `params.finest_level` up need when `plane` is the flow's `prev`.
    pub(crate) fn new(plane: &Plane, params: &FlowParams, tensors: bool) -> Self {
        const BINOMIAL: [f32; 5] = [1.0 / 16.0, 4.0 / 16.0, 6.0 / 16.0, 4.0 / 16.0, 1.0 / 16.0];
        let mut first = scratch::dirty(plane.data().len());
        first.copy_from_slice(plane.data());
        let first = Plane::new(plane.width(), plane.height(), first).expect("a copy of a plane");
        let mut planes = vec![first];
        while planes.len() <= params.max_levels {
            let last = planes.last().expect("non-empty");
            let (w, h) = (last.width().div_ceil(2), last.height().div_ceil(2));
            if w.min(h) < params.min_level_size.max(2) {
                break;
            }
            planes.push(blur_decimate(last, &BINOMIAL));
        }
        let finest = params.finest_level.min(planes.len() - 1);
        let levels = planes
            .into_iter()
            .enumerate()
            .map(|(i, plane)| {
                let tensor = (tensors && i >= finest).then(|| Tensor::new(&plane, params));
                Level { plane, tensor }
            })
            .collect();
        Self { levels }
    }

    /// The finest level a flow refines (levels below it are upsampled to).
    pub(crate) fn finest(&self, params: &FlowParams) -> usize {
        params.finest_level.min(self.levels.len() - 1)
    }
}

impl Drop for FlowPyramid {
    // Its planes are the flow's largest buffers: the next frame's pyramid
    // takes them over (see `scratch`).
    fn drop(&mut self) {
        for level in self.levels.drain(..) {
            scratch::recycle(level.plane.into_data());
            if let Some(t) = level.tensor {
                for v in [
                    t.gx,
                    t.gy,
                    t.inv_a,
                    t.inv_b,
                    t.inv_c,
                    t.confidence,
                    t.confidence_mean,
                ] {
                    scratch::recycle(v);
                }
            }
        }
    }
}

impl Tensor {
    fn new(p: &Plane, params: &FlowParams) -> Self {
        let (w, h) = (p.width(), p.height());
        let n = w * h;
        let radius = params.window_radius.min(w.min(h) / 2);
        let (gx, gy) = gradients(p);
        // Each is written whole before it is read.
        let mut a = scratch::dirty(n);
        let mut b = scratch::dirty(n);
        let mut c = scratch::dirty(n);
        let mut confidence = scratch::dirty(n);
        let mut sums = [Scratch::dirty(n), Scratch::dirty(n), Scratch::dirty(n)];
        let lambda = params.regularization;
        let [s0, s1, s2] = &mut sums;
        box_means(
            w,
            h,
            radius,
            [&mut **s0, &mut **s1, &mut **s2],
            |y, [xx, xy, yy]| {
                let row = y * w..(y + 1) * w;
                for ((((xx, xy), yy), &x), &y) in xx
                    .iter_mut()
                    .zip(xy.iter_mut())
                    .zip(yy.iter_mut())
                    .zip(&gx[row.clone()])
                    .zip(&gy[row])
                {
                    (*xx, *xy, *yy) = (x * x, x * y, y * y);
                }
            },
            [&mut a, &mut b, &mut c, &mut confidence],
            |_, [ma, mb, mc], [a, b, c, confidence]| {
                for ((((a, b), c), conf), ((&ma, &mb), &mc)) in a
                    .iter_mut()
                    .zip(b.iter_mut())
                    .zip(c.iter_mut())
                    .zip(confidence.iter_mut())
                    .zip(ma.iter().zip(mb).zip(mc))
                {
                    let (h2, d) = (0.5 * (ma + mc), 0.5 * (ma - mc));
                    *conf = (h2 - (d * d + mb * mb).sqrt()).max(0.0);
                    let (aa, bb, cc) = (ma + lambda, mb, mc + lambda);
                    let inv_det = 1.0 / (aa * cc - bb * bb).max(1e-9);
                    *a = cc * inv_det;
                    *b = -bb * inv_det;
                    *c = aa * inv_det;
                }
            },
        );
        let confidence_mean = if params.fill_radius > 0 {
            let mut mean = scratch::dirty(n);
            let r = params.fill_radius.min(w.min(h) / 2);
            box_mean_with(&confidence, w, h, r, &mut mean, s0);
            mean
        } else {
            Vec::new()
        };
        Self {
            radius,
            gx,
            gy,
            inv_a: a,
            inv_b: b,
            inv_c: c,
            confidence,
            confidence_mean,
        }
    }
}

/// Central differences, one-sided at the borders.
fn gradients(p: &Plane) -> (Vec<f32>, Vec<f32>) {
    use rayon::prelude::*;
    let (w, h) = (p.width(), p.height());
    let d = p.data();
    // Both are written whole.
    let mut gx = scratch::dirty(w * h);
    let mut gy = scratch::dirty(w * h);
    gx.par_chunks_mut(w)
        .zip(gy.par_chunks_mut(w))
        .enumerate()
        .with_min_len(rows_per_task(w))
        .for_each(|(y, (gx, gy))| {
            let row = &d[y * w..(y + 1) * w];
            let (ym, yp) = (y.saturating_sub(1), (y + 1).min(h - 1));
            let sy = 1.0 / (yp - ym).max(1) as f32;
            let (above, below) = (&d[ym * w..(ym + 1) * w], &d[yp * w..(yp + 1) * w]);
            for ((g, &a), &b) in gy.iter_mut().zip(above).zip(below) {
                *g = (b - a) * sy;
            }
            if w > 1 {
                for x in 1..w - 1 {
                    gx[x] = (row[x + 1] - row[x - 1]) * 0.5;
                }
                gx[0] = row[1] - row[0];
                gx[w - 1] = row[w - 1] - row[w - 2];
            } else {
                gx[0] = 0.0;
            }
        });
    (gx, gy)
}
