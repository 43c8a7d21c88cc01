//! Temporal warping error (Lai et al., "Learning Blind Video Temporal
//! Consistency", ECCV 2018), with the occlusion mask of Ruder et al. 2016
//! that their evaluation code uses.

use std::fmt;

use crate::metrics::filter::rows_per_task;
use crate::metrics::sample::{Taps, bilinear_at};
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
            *m = consistent(forward, x, y, taps.at(bu), taps.at(bv));
        }
    });
    Ok(mask)
}

/// Whether pixel `(x, y)` is neither occluded (the backward flow `(wu, wv)`
/// at `x + F` does not undo `F`) nor on a motion boundary.
#[inline(always)]
fn consistent(forward: &Flow, x: usize, y: usize, wu: f32, wv: f32) -> bool {
    let (w, h) = (forward.width, forward.height);
    let i = y * w + x;
    let (fu, fv) = (forward.u[i], forward.v[i]);
    let (su, sv) = (fu + wu, fv + wv);
    let f2 = fu * fu + fv * fv;
    let occluded = su * su + sv * sv > 0.01 * (f2 + wu * wu + wv * wv) + 0.5;
    // Forward differences as Lai et al.'s compute_flow_gradients.
    let (xp, yp) = ((x + 1).min(w - 1), (y + 1).min(h - 1));
    let (ux, vx) = (forward.u[y * w + xp] - fu, forward.v[y * w + xp] - fv);
    let (uy, vy) = (forward.u[yp * w + x] - fu, forward.v[yp * w + x] - fv);
    let boundary = ux * ux + vx * vx + uy * uy + vy * vy > 0.01 * f2 + 0.002;
    !occluded && !boundary
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
    prev.check_same_size(next)?;
    check_flow(forward, prev, "forward flow")?;
    check_flow(backward, prev, "backward flow")?;
    // occlusion_mask and warp_back in one pass: the three bilinear samples
    // at `x + F(x)` share their taps (same values as the two calls).
    use rayon::prelude::*;
    let (w, h) = (prev.width(), prev.height());
    let (bu, bv, nd) = (&backward.u[..], &backward.v[..], next.data());
    let (wmax, hmax) = ((w - 1) as f32, (h - 1) as f32);
    let mut mask = vec![false; w * h];
    let mut warped = vec![0.0f32; w * h];
    mask.par_chunks_mut(w)
        .zip(warped.par_chunks_mut(w))
        .enumerate()
        .with_min_len(rows_per_task(w))
        .for_each(|(y, (mrow, wrow))| {
            for (x, (m, d)) in mrow.iter_mut().zip(wrow.iter_mut()).enumerate() {
                let i = y * w + x;
                let (fu, fv) = (forward.u[i], forward.v[i]);
                let (sx, sy) = (x as f32 + fu, y as f32 + fv);
                let taps = Taps::new(w, h, sx, sy);
                *d = taps.at(nd);
                if sx < 0.0 || sy < 0.0 || sx > wmax || sy > hmax {
                    continue;
                }
                *m = consistent(forward, x, y, taps.at(bu), taps.at(bv));
            }
        });
    let warped = Plane::new(w, h, warped)?;
    Ok(masked_error(prev, &warped, mask))
}

/// The masked mean squared error on the `[0, 1]` scale.
pub(crate) fn masked_error(prev: &Plane, warped: &Plane, mask: Vec<bool>) -> WarpError {
    const SCALE: f32 = 1.0 / (255.0 * 255.0);
    let mut sum = 0.0f64;
    let mut shift = 0.0f64;
    let mut count = 0usize;
    let n = mask.len();
    let mut errors = Vec::with_capacity(n);
    let mut diffs = Vec::with_capacity(n);
    for ((&a, &b), &valid) in prev.data().iter().zip(warped.data()).zip(&mask) {
        if valid {
            let e = (a - b) * (a - b) * SCALE;
            sum += f64::from(e);
            shift += f64::from(b - a);
            count += 1;
            errors.push(e);
            diffs.push((b - a) / 255.0);
        } else {
            errors.push(0.0);
            diffs.push(0.0);
        }
    }
    let error_map = Plane::new(prev.width(), prev.height(), errors).expect("same size as prev");
    let difference = Plane::new(prev.width(), prev.height(), diffs).expect("same size as prev");
    WarpError {
        value: if count == 0 { 0.0 } else { sum / count as f64 },
        error_map,
        difference,
        valid_fraction: count as f64 / mask.len().max(1) as f64,
        brightness_shift: if count == 0 {
            0.0
        } else {
            shift / count as f64 / 255.0
        },
        mask,
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
