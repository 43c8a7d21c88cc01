//! The camera's motion between two frames, as an affine map, fitted robustly
//! to block motion vectors so that moving objects do not drag it along.

use crate::metrics::global::solve3;

/// An affine map of pixel coordinates: `x' = a[0] + a[1]·x + a[2]·y`,
/// `y' = a[3] + a[4]·x + a[5]·y`. It carries a point of one frame to where
/// the camera moved it in the next; pans, zooms and rotations are all affine.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Affine(pub [f64; 6]);

impl Affine {
    /// The map that moves nothing.
    pub const IDENTITY: Affine = Affine([0.0, 1.0, 0.0, 0.0, 0.0, 1.0]);

    /// Where `(x, y)` goes.
    #[inline]
    pub fn apply(&self, x: f64, y: f64) -> (f64, f64) {
        let a = &self.0;
        (a[0] + a[1] * x + a[2] * y, a[3] + a[4] * x + a[5] * y)
    }

    /// `self` after `first`: a point goes through `first`, then `self`.
    #[must_use]
    pub fn after(&self, first: &Affine) -> Affine {
        let (a, b) = (&self.0, &first.0);
        Affine([
            a[0] + a[1] * b[0] + a[2] * b[3],
            a[1] * b[1] + a[2] * b[4],
            a[1] * b[2] + a[2] * b[5],
            a[3] + a[4] * b[0] + a[5] * b[3],
            a[4] * b[1] + a[5] * b[4],
            a[4] * b[2] + a[5] * b[5],
        ])
    }

    /// The inverse map, or `None` when the map squashes the plane flat.
    pub fn inverse(&self) -> Option<Affine> {
        let a = &self.0;
        let det = a[1] * a[5] - a[2] * a[4];
        if det.abs() < 1e-9 {
            return None;
        }
        let (i1, i2, i4, i5) = (a[5] / det, -a[2] / det, -a[4] / det, a[1] / det);
        Some(Affine([
            -(i1 * a[0] + i2 * a[3]),
            i1,
            i2,
            -(i4 * a[0] + i5 * a[3]),
            i4,
            i5,
        ]))
    }

    /// How far the camera moved the point `(x, y)`, in pixels.
    pub fn displacement(&self, x: f64, y: f64) -> (f64, f64) {
        let (u, v) = self.apply(x, y);
        (u - x, v - y)
    }
}

/// One motion sample: a point and where it went.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Correspondence {
    pub(crate) x: f64,
    pub(crate) y: f64,
    pub(crate) dx: f64,
    pub(crate) dy: f64,
}

/// Least-squares affine fit that drops outliers (moving objects, bad
/// matches) over a few rounds: samples further than `max(1 px, 3 × median)`
/// from the current fit are left out of the next. Falls back to a pure
/// translation (the median vector) when too few samples remain.
pub(crate) fn fit_affine(samples: &[Correspondence]) -> Affine {
    if samples.is_empty() {
        return Affine::IDENTITY;
    }
    let mut fit = translation(samples);
    let mut keep = inliers(&fit, samples);
    for _ in 0..4 {
        let kept: Vec<&Correspondence> = samples
            .iter()
            .zip(&keep)
            .filter(|(_, k)| **k)
            .map(|(s, _)| s)
            .collect();
        if kept.len() >= 6
            && let Some(f) = least_squares(&kept)
        {
            fit = f;
        }
        keep = inliers(&fit, samples);
    }
    fit
}

/// Samples within `max(1 px, 3 × median error)` of the fit.
fn inliers(fit: &Affine, samples: &[Correspondence]) -> Vec<bool> {
    let errs: Vec<f64> = samples.iter().map(|s| error(fit, s)).collect();
    let mut sorted = errs.clone();
    sorted.sort_by(f64::total_cmp);
    let cut = (3.0 * sorted[sorted.len() / 2]).max(1.0);
    errs.iter().map(|&e| e <= cut).collect()
}

fn error(fit: &Affine, s: &Correspondence) -> f64 {
    let (dx, dy) = fit.displacement(s.x, s.y);
    (dx - s.dx).hypot(dy - s.dy)
}

fn translation(samples: &[Correspondence]) -> Affine {
    let median = |mut v: Vec<f64>| {
        v.sort_by(f64::total_cmp);
        v[v.len() / 2]
    };
    let dx = median(samples.iter().map(|s| s.dx).collect());
    let dy = median(samples.iter().map(|s| s.dy).collect());
    Affine([dx, 1.0, 0.0, dy, 0.0, 1.0])
}

/// Solves the two 3×3 normal equations (x and y rows share one matrix);
/// coordinates are centred first so the system stays well conditioned.
fn least_squares(samples: &[&Correspondence]) -> Option<Affine> {
    let n = samples.len() as f64;
    let cx = samples.iter().map(|s| s.x).sum::<f64>() / n;
    let cy = samples.iter().map(|s| s.y).sum::<f64>() / n;
    let mut m = [[0.0f64; 3]; 3];
    let mut bx = [0.0f64; 3];
    let mut by = [0.0f64; 3];
    for s in samples {
        let row = [1.0, s.x - cx, s.y - cy];
        for i in 0..3 {
            for j in 0..3 {
                m[i][j] += row[i] * row[j];
            }
            bx[i] += row[i] * (s.x + s.dx);
            by[i] += row[i] * (s.y + s.dy);
        }
    }
    let px = solve3(m, bx)?;
    let py = solve3(m, by)?;
    // Undo the centring: x' = p0 + p1 (x - cx) + p2 (y - cy).
    Some(Affine([
        px[0] - px[1] * cx - px[2] * cy,
        px[1],
        px[2],
        py[0] - py[1] * cx - py[2] * cy,
        py[1],
        py[2],
    ]))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fit_recovers_a_zoom_and_rotation_despite_outliers() {
        let truth = Affine([3.0, 1.02, -0.03, -2.0, 0.03, 1.02]);
        let mut samples = Vec::new();
        for y in 0..10 {
            for x in 0..12 {
                let (x, y) = (f64::from(x) * 20.0, f64::from(y) * 20.0);
                let (dx, dy) = truth.displacement(x, y);
                samples.push(Correspondence { x, y, dx, dy });
            }
        }
        for s in samples.iter_mut().take(15) {
            s.dy += 9.0;
        }
        let fit = fit_affine(&samples);
        for (a, b) in fit.0.iter().zip(truth.0) {
            assert!((a - b).abs() < 1e-6, "{fit:?}");
        }
        let back = fit.inverse().unwrap().after(&fit);
        for (a, b) in back.0.iter().zip(Affine::IDENTITY.0) {
            assert!((a - b).abs() < 1e-9);
        }
    }
}
