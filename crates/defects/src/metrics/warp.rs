//! Temporal warping error (Lai et al., "Learning Blind Video Temporal
//! Consistency", ECCV 2018), with the occlusion mask of Ruder et al. 2016
//! that their evaluation code uses.

use std::fmt;

use crate::metrics::filter::rows_per_task;
use crate::metrics::sample::{SPAN, Span, Taps, bilinear_at};
use crate::{Error, Flow, Plane};

/// The warping error of one frame pair.
#[derive(Clone, PartialEq)]
pub struct WarpError {
    /// Mean over valid pixels of `(Oₜ − warp(Oₜ₊₁))²`, intensities scaled to
    /// `[0, 1]` as in Lai et al. (multiply by 255² for grey levels²). 0 when
    /// no pixel is valid.
    pub value: f64,
    /// Per-pixel squared error on the same `[0, 1]` scale, 0 where masked.
    pub error_map: Plane,
    /// Per-pixel signed difference `(warp(Oₜ₊₁) − Oₜ) / 255`, 0 where masked.
    pub difference: Plane,
    /// Per-pixel validity: true where the pixel is neither occluded, nor on
    /// a motion boundary, nor warped from outside the next frame.
    pub mask: Vec<bool>,
    /// Fraction of pixels in `mask`.
    pub valid_fraction: f64,
    /// Mean over valid pixels of `(warp(Oₜ₊₁) − Oₜ) / 255`: the brightness
    /// change with the motion taken out (the raw material of flicker).
    pub brightness_shift: f64,
}

impl fmt::Debug for WarpError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WarpError")
            .field("value", &self.value)
            .field("valid_fraction", &self.valid_fraction)
            .field("brightness_shift", &self.brightness_shift)
            .finish_non_exhaustive()
    }
}

fn check_flow(flow: &Flow, plane: &Plane, name: &str) -> Result<(), Error> {
    if flow.width != plane.width() || flow.height != plane.height() {
        return Err(Error::SizeMismatch {
            left_width: plane.width() as u32,
            left_height: plane.height() as u32,
            right_width: flow.width as u32,
            right_height: flow.height as u32,
        });
    }
    let n = flow.width * flow.height;
    if flow.u.len() != n || flow.v.len() != n {
        return Err(Error::InvalidInput {
            what: name.into(),
            reason: format!(
                "a {}x{} flow needs {n} vectors, got {} u and {} v",
                flow.width,
                flow.height,
                flow.u.len(),
                flow.v.len()
            ),
        });
    }
    Ok(())
}

/// Valid (non-occluded) pixels of `prev`'s grid given the flow `forward`
/// (prev → next) and `backward` (next → prev), as Ruder et al. 2016:
/// occluded where `|F + B(x + F)|² > 0.01 (|F|² + |B(x + F)|²) + 0.5`, on a
/// motion boundary where `|∇u|² + |∇v|² > 0.01 |F|² + 0.002`, and invalid
/// where `x + F` leaves the frame.
///
/// # Errors
/// [`Error::SizeMismatch`] / [`Error::InvalidInput`] for flows that do not
/// fit each other.
pub fn occlusion_mask(forward: &Flow, backward: &Flow) -> Result<Vec<bool>, Error> {
    if forward.width != backward.width || forward.height != backward.height {
        return Err(Error::SizeMismatch {
            left_width: forward.width as u32,
            left_height: forward.height as u32,
            right_width: backward.width as u32,
            right_height: backward.height as u32,
        });
    }
    use rayon::prelude::*;
    let (w, h) = (forward.width, forward.height);
    let (bu, bv) = (&backward.u[..], &backward.v[..]);
    let (wmax, hmax) = ((w - 1) as f32, (h - 1) as f32);
    let mut mask = vec![false; w * h];
    mask.par_chunks_mut(w).enumerate().for_each(|(y, row)| {
        for (x, m) in row.iter_mut().enumerate() {
            let i = y * w + x;
            let (fu, fv) = (forward.u[i], forward.v[i]);
            let (sx, sy) = (x as f32 + fu, y as f32 + fv);
            if sx < 0.0 || sy < 0.0 || sx > wmax || sy > hmax {
                continue;
            }
            let taps = Taps::new(w, h, sx, sy);
            let (xp, yp) = ((x + 1).min(w - 1), (y + 1).min(h - 1));
            let flow = Neighbourhood {
                f: (fu, fv),
                right: forward.at(xp, y),
                below: forward.at(x, yp),
            };
            *m = flow.consistent(taps.at(bu), taps.at(bv));
        }
    });
    Ok(mask)
}

/// `next` warped back onto `prev`'s grid along `forward`: `next(x + F(x))`,
/// bilinear.
///
/// # Errors
/// [`Error::SizeMismatch`] when the flow does not fit the plane.
pub fn warp_back(next: &Plane, forward: &Flow) -> Result<Plane, Error> {
    check_flow(forward, next, "forward flow")?;
    use rayon::prelude::*;
    let (w, h) = (next.width(), next.height());
    let mut data = vec![0.0f32; w * h];
    data.par_chunks_mut(w).enumerate().for_each(|(y, row)| {
        for (x, d) in row.iter_mut().enumerate() {
            let i = y * w + x;
            *d = bilinear_at(
                next.data(),
                w,
                h,
                x as f32 + forward.u[i],
                y as f32 + forward.v[i],
            );
        }
    });
    Plane::new(w, h, data)
}

/// Temporal warping error between `prev` and `next` (planes in `[0, 255]`)
/// given the flow both ways: the mean over [`occlusion_mask`]'s valid pixels
/// of `((prev − next(x + F)) / 255)²`.
///
/// # Errors
/// [`Error::SizeMismatch`] when planes or flows differ in size.
pub fn warp_error(
    prev: &Plane,
    next: &Plane,
    forward: &Flow,
    backward: &Flow,
) -> Result<WarpError, Error> {
    check_pair(prev, next, forward, backward)?;
    // occlusion_mask, warp_back and the masked error in one pass over the
    // rows: the three bilinear samples at `x + F(x)` share their taps, and
    // no warped plane is stored (same mask and same per-pixel values as the
    // separate functions; each row's sums are added in row order, so the
    // totals do not depend on the number of threads).
    use rayon::prelude::*;
    let (w, h) = (prev.width(), prev.height());
    let mut mask = vec![false; w * h];
    let mut errors = vec![0.0f32; w * h];
    let mut diffs = vec![0.0f32; w * h];
    let rows: Vec<RowSums> = mask
        .par_chunks_mut(w)
        .zip(errors.par_chunks_mut(w))
        .zip(diffs.par_chunks_mut(w))
        .enumerate()
        .with_min_len(rows_per_task(w))
        .map(|(y, ((m, e), d))| warp_row(y, prev, next, forward, backward, m, e, d))
        .collect();
    let (mut sum, mut shift, mut count) = (0.0f64, 0.0f64, 0usize);
    for r in &rows {
        sum += r.error;
        shift += r.shift;
        count += r.count;
    }
    Ok(WarpError {
        value: if count == 0 { 0.0 } else { sum / count as f64 },
        error_map: Plane::new(w, h, errors)?,
        difference: Plane::new(w, h, diffs)?,
        valid_fraction: count as f64 / mask.len().max(1) as f64,
        brightness_shift: if count == 0 {
            0.0
        } else {
            shift / count as f64 / 255.0
        },
        mask,
    })
}

/// Checks that `prev`, `next` and both flows are of one size.
pub(crate) fn check_pair(
    prev: &Plane,
    next: &Plane,
    forward: &Flow,
    backward: &Flow,
) -> Result<(), Error> {
    prev.check_same_size(next)?;
    check_flow(forward, prev, "forward flow")?;
    check_flow(backward, prev, "backward flow")
}

/// One row's share of the warping error's sums.
struct RowSums {
    /// Sum of the valid pixels' squared errors (`[0, 1]` scale).
    error: f64,
    /// Sum of the valid pixels' `warp(Oₜ₊₁) − Oₜ` (grey levels).
    shift: f64,
    count: usize,
}

/// Row `y` of [`warp_error`]: fills the row's mask, squared errors and
/// differences, and returns its sums.
#[allow(clippy::too_many_arguments)] // One row's inputs and outputs, named.
fn warp_row(
    y: usize,
    prev: &Plane,
    next: &Plane,
    forward: &Flow,
    backward: &Flow,
    mask: &mut [bool],
    errors: &mut [f32],
    diffs: &mut [f32],
) -> RowSums {
    const SCALE: f32 = 1.0 / (255.0 * 255.0);
    let (w, h) = (prev.width(), prev.height());
    let row = y * w..(y + 1) * w;
    let (fu, fv) = (&forward.u[row.clone()], &forward.v[row.clone()]);
    // Lai et al.'s forward differences: the row below (itself on the last).
    let below = (y + 1).min(h - 1) * w..((y + 1).min(h - 1) + 1) * w;
    let (du, dv) = (&forward.u[below.clone()], &forward.v[below]);
    let (bu, bv, nd, pd) = (&backward.u[..], &backward.v[..], next.data(), prev.row(y));
    let mut sums = RowSums {
        error: 0.0,
        shift: 0.0,
        count: 0,
    };
    for x0 in (0..w).step_by(SPAN) {
        let x1 = (x0 + SPAN).min(w);
        let span = Span::new(w, h, x0, y, &fu[x0..x1], &fv[x0..x1]);
        for k in 0..span.len() {
            let x = x0 + k;
            if !span.inside(k) {
                continue;
            }
            let (u, v) = (fu[x], fv[x]);
            let (xp, bu, bv) = ((x + 1).min(w - 1), span.at(k, bu), span.at(k, bv));
            let flow = Neighbourhood {
                f: (u, v),
                right: (fu[xp], fv[xp]),
                below: (du[x], dv[x]),
            };
            if !flow.consistent(bu, bv) {
                continue;
            }
            let (a, b) = (pd[x], span.at(k, nd));
            let e = (a - b) * (a - b) * SCALE;
            mask[x] = true;
            errors[x] = e;
            diffs[x] = (b - a) / 255.0;
            sums.error += f64::from(e);
            sums.shift += f64::from(b - a);
            sums.count += 1;
        }
    }
    sums
}

/// A pixel's forward flow and that of its right and lower neighbours.
struct Neighbourhood {
    f: (f32, f32),
    right: (f32, f32),
    below: (f32, f32),
}

impl Neighbourhood {
    /// Whether the pixel is neither occluded (the backward flow `(wu, wv)`
    /// at `x + F` does not undo `F`) nor on a motion boundary.
    #[inline(always)]
    fn consistent(&self, wu: f32, wv: f32) -> bool {
        let (fu, fv) = self.f;
        let (su, sv) = (fu + wu, fv + wv);
        let f2 = fu * fu + fv * fv;
        let occluded = su * su + sv * sv > 0.01 * (f2 + wu * wu + wv * wv) + 0.5;
        // Forward differences as Lai et al.'s compute_flow_gradients.
        let (ux, vx) = (self.right.0 - fu, self.right.1 - fv);
        let (uy, vy) = (self.below.0 - fu, self.below.1 - fv);
        let boundary = ux * ux + vx * vx + uy * uy + vy * vy > 0.01 * f2 + 0.002;
        !occluded && !boundary
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn consistent_translation_is_valid_and_exact() {
        let (w, h) = (32, 24);
        let next = Plane::new(w, h, (0..w * h).map(|i| ((i % w) * 4) as f32).collect()).unwrap();
        // prev(x) = next(x + 2): a ramp shifted by 2 px.
        let prev = Plane::new(
            w,
            h,
            (0..w * h)
                .map(|i| ((i % w + 2).min(w - 1) * 4) as f32)
                .collect(),
        )
        .unwrap();
        let mut fwd = Flow::zeros(w, h);
        fwd.u.fill(2.0);
        let mut bwd = Flow::zeros(w, h);
        bwd.u.fill(-2.0);
        let e = warp_error(&prev, &next, &fwd, &bwd).unwrap();
        assert!(e.value < 1e-10, "{e:?}");
        // The two right-most columns land outside the frame.
        assert!((e.valid_fraction - (w - 2) as f64 / w as f64).abs() < 1e-9);
    }

    proptest::proptest! {
        /// The one-pass warp_error agrees with the separate reference
        /// functions: the same mask as occlusion_mask, the same differences
        /// as warp_back, and the mean of the masked squared errors.
        #[test]
        fn the_fused_pass_matches_the_separate_functions(
            (w, h) in (2usize..90, 2usize..24),
            seed in 0u32..1000,
            scale in 0.0f32..6.0,
        ) {
            let wave = |i: usize, a: f32, b: f32| {
                let (x, y) = ((i % w) as f32, (i / w) as f32);
                (x * a + y * b + seed as f32).sin()
            };
            let n = w * h;
            let prev = Plane::new(w, h, (0..n).map(|i| 128.0 + 100.0 * wave(i, 0.3, 0.2)).collect()).unwrap();
            let next = Plane::new(w, h, (0..n).map(|i| 128.0 + 100.0 * wave(i, 0.31, 0.17)).collect()).unwrap();
            let mut fwd = Flow::zeros(w, h);
            let mut bwd = Flow::zeros(w, h);
            for i in 0..n {
                fwd.u[i] = scale * wave(i, 0.05, 0.02);
                fwd.v[i] = scale * wave(i, 0.01, 0.07);
                // Mostly the inverse, with a patch that disagrees.
                let off = if (i % w) > w / 2 && (i / w) < h / 3 { 3.0 } else { 0.0 };
                bwd.u[i] = -fwd.u[i] + off;
                bwd.v[i] = -fwd.v[i];
            }
            let e = warp_error(&prev, &next, &fwd, &bwd).unwrap();
            let mask = occlusion_mask(&fwd, &bwd).unwrap();
            let warped = warp_back(&next, &fwd).unwrap();
            proptest::prop_assert_eq!(&e.mask, &mask);
            let (mut sum, mut count) = (0.0f64, 0usize);
            for (i, &valid) in mask.iter().enumerate() {
                let (a, b) = (prev.data()[i], warped.data()[i]);
                let want_diff = if valid { (b - a) / 255.0 } else { 0.0 };
                proptest::prop_assert_eq!(e.difference.data()[i], want_diff);
                if valid {
                    let sq = (a - b) * (a - b) * (1.0 / (255.0 * 255.0));
                    proptest::prop_assert_eq!(e.error_map.data()[i], sq);
                    sum += f64::from(sq);
                    count += 1;
                } else {
                    proptest::prop_assert_eq!(e.error_map.data()[i], 0.0);
                }
            }
            let want = if count == 0 { 0.0 } else { sum / count as f64 };
            proptest::prop_assert!((e.value - want).abs() <= 1e-12 * want.max(1e-12), "{} vs {}", e.value, want);
            proptest::prop_assert!((e.valid_fraction - count as f64 / n as f64).abs() < 1e-12);
        }
    }

    #[test]
    fn inconsistent_flow_is_masked() {
        let (w, h) = (16, 16);
        let mut fwd = Flow::zeros(w, h);
        fwd.u.fill(3.0);
        let bwd = Flow::zeros(w, h);
        let mask = occlusion_mask(&fwd, &bwd).unwrap();
        assert!(mask.iter().all(|m| !m));
    }
}
