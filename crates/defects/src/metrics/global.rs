//! Global (camera) motion: a robust affine fit to a dense flow field, so
//! detectors can judge objects in the camera's frame of reference.

use crate::Flow;

/// Grid step, in pixels, of the flow samples the fit uses.
const STEP: usize = 4;
/// Reweighting rounds after the first least-squares fit.
const ROUNDS: usize = 3;

/// An affine motion of the whole picture, in coordinates centred on the
/// frame's middle `(cx, cy)`:
/// `u = u[0] + u[1] (x − cx) + u[2] (y − cy)`,
/// `v = v[0] + v[1] (x − cx) + v[2] (y − cy)`.
///
/// Pans are `(u[0], v[0])`, zooms show in [`GlobalMotion::scale`], rolls in
/// [`GlobalMotion::rotation`]. Fitted by least squares, then refitted three
/// times on the samples within `max(3 × 1.4826 × MAD, 0.25 px)` of the fit,
/// so moving objects covering less than about half the frame do not drag it.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct GlobalMotion {
    /// Horizontal part: offset, x and y coefficients.
    pub u: [f64; 3],
    /// Vertical part: offset, x and y coefficients.
    pub v: [f64; 3],
    /// Centre of the coordinates, in pixels.
    pub centre: (f64, f64),
    /// Fraction of the samples the final fit kept as inliers.
    pub inlier_fraction: f64,
    /// Mean endpoint distance between the flow and the fit over the inliers.
    pub residual: f64,
}

impl GlobalMotion {
    /// No motion, centred on a `width × height` frame.
    pub fn still(width: usize, height: usize) -> Self {
        Self {
            u: [0.0; 3],
            v: [0.0; 3],
            centre: ((width as f64 - 1.0) / 2.0, (height as f64 - 1.0) / 2.0),
            inlier_fraction: 1.0,
            residual: 0.0,
        }
    }

    /// Fits the affine motion that explains most of `flow`.
    pub fn estimate(flow: &Flow) -> Self {
        let mut gm = Self::still(flow.width, flow.height);
        let (cx, cy) = gm.centre;
        let mut samples = Vec::new();
        for y in (STEP / 2..flow.height).step_by(STEP) {
            for x in (STEP / 2..flow.width).step_by(STEP) {
                let (u, v) = flow.at(x, y);
                samples.push((x as f64 - cx, y as f64 - cy, f64::from(u), f64::from(v)));
            }
        }
        if samples.len() < 3 {
            // Too small to fit an affine map: take the mean translation.
            let n = flow.u.len().max(1) as f64;
            gm.u[0] = flow.u.iter().map(|&u| f64::from(u)).sum::<f64>() / n;
            gm.v[0] = flow.v.iter().map(|&v| f64::from(v)).sum::<f64>() / n;
            return gm;
        }
        let mut inliers = vec![true; samples.len()];
        for round in 0..=ROUNDS {
            if let Some((u, v)) = fit(&samples, &inliers) {
                gm.u = u;
                gm.v = v;
            }
            let residuals: Vec<f64> = samples.iter().map(|s| gm.residual_of(s)).collect();
            let threshold = robust_threshold(&residuals);
            if round < ROUNDS {
                for (keep, r) in inliers.iter_mut().zip(&residuals) {
                    *keep = *r <= threshold;
                }
            }
            let kept: Vec<f64> = residuals
                .iter()
                .zip(&inliers)
                .filter(|(_, k)| **k)
                .map(|(r, _)| *r)
                .collect();
            gm.inlier_fraction = kept.len() as f64 / samples.len() as f64;
            gm.residual = kept.iter().sum::<f64>() / kept.len().max(1) as f64;
        }
        gm
    }

    fn residual_of(&self, &(x, y, u, v): &(f64, f64, f64, f64)) -> f64 {
        let pu = self.u[0] + self.u[1] * x + self.u[2] * y;
        let pv = self.v[0] + self.v[1] * x + self.v[2] * y;
        ((u - pu) * (u - pu) + (v - pv) * (v - pv)).sqrt()
    }

    /// The camera's displacement at pixel `(x, y)`.
    pub fn at(&self, x: f64, y: f64) -> (f64, f64) {
        let (dx, dy) = (x - self.centre.0, y - self.centre.1);
        (
            self.u[0] + self.u[1] * dx + self.u[2] * dy,
            self.v[0] + self.v[1] * dx + self.v[2] * dy,
        )
    }

    /// Translation of the frame's centre, in pixels.
    pub fn translation(&self) -> (f64, f64) {
        (self.u[0], self.v[0])
    }

    /// Zoom factor (1 = none, above 1 = zooming in).
    pub fn scale(&self) -> f64 {
        1.0 + 0.5 * (self.u[1] + self.v[2])
    }

    /// Roll in radians, counter-clockwise in image coordinates (y down).
    pub fn rotation(&self) -> f64 {
        0.5 * (self.v[1] - self.u[2])
    }

    /// `flow` minus the camera's motion: what moved in the scene itself.
    pub fn residual_flow(&self, flow: &Flow) -> Flow {
        let mut out = flow.clone();
        for y in 0..flow.height {
            for x in 0..flow.width {
                let (gu, gv) = self.at(x as f64, y as f64);
                let i = y * flow.width + x;
                out.u[i] -= gu as f32;
                out.v[i] -= gv as f32;
            }
        }
        out
    }
}

/// Least squares for both components over the kept samples (same normal
/// matrix for u and v); `None` when degenerate.
fn fit(samples: &[(f64, f64, f64, f64)], keep: &[bool]) -> Option<([f64; 3], [f64; 3])> {
    let mut m = [[0.0f64; 3]; 3];
    let mut bu = [0.0f64; 3];
    let mut bv = [0.0f64; 3];
    for (&(x, y, u, v), _) in samples.iter().zip(keep).filter(|(_, k)| **k) {
        let row = [1.0, x, y];
        for i in 0..3 {
            for j in 0..3 {
                m[i][j] += row[i] * row[j];
            }
            bu[i] += row[i] * u;
            bv[i] += row[i] * v;
        }
    }
    Some((solve3(m, bu)?, solve3(m, bv)?))
}

/// Cramer's rule for a 3×3 system (the camera fits of metrics and detectors).
pub(crate) fn solve3(m: [[f64; 3]; 3], b: [f64; 3]) -> Option<[f64; 3]> {
    let det = |m: &[[f64; 3]; 3]| {
        m[0][0] * (m[1][1] * m[2][2] - m[1][2] * m[2][1])
            - m[0][1] * (m[1][0] * m[2][2] - m[1][2] * m[2][0])
            + m[0][2] * (m[1][0] * m[2][1] - m[1][1] * m[2][0])
    };
    let d = det(&m);
    if d.abs() < 1e-9 {
        return None;
    }
    let mut out = [0.0; 3];
    for (k, o) in out.iter_mut().enumerate() {
        let mut mk = m;
        for i in 0..3 {
            mk[i][k] = b[i];
        }
        *o = det(&mk) / d;
    }
    Some(out)
}

fn robust_threshold(residuals: &[f64]) -> f64 {
    // Selecting the middle element, not sorting: same value, linear time.
    let mut values = residuals.to_vec();
    let mid = values.len() / 2;
    let median = *values.select_nth_unstable_by(mid, f64::total_cmp).1;
    for r in &mut values {
        *r = (*r - median).abs();
    }
    let mad = *values.select_nth_unstable_by(mid, f64::total_cmp).1;
    (median + 3.0 * 1.4826 * mad).max(0.25)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recovers_a_zoom_and_pan_despite_a_moving_object() {
        let (w, h) = (80, 60);
        let truth = GlobalMotion {
            u: [1.5, 0.02, -0.01],
            v: [-0.5, 0.01, 0.02],
            ..GlobalMotion::still(w, h)
        };
        let mut flow = Flow::zeros(w, h);
        for y in 0..h {
            for x in 0..w {
                let (u, v) = truth.at(x as f64, y as f64);
                let object = (10..30).contains(&x) && (10..30).contains(&y);
                flow.u[y * w + x] = if object { u as f32 + 6.0 } else { u as f32 };
                flow.v[y * w + x] = v as f32;
            }
        }
        let gm = GlobalMotion::estimate(&flow);
        for k in 0..3 {
            assert!((gm.u[k] - truth.u[k]).abs() < 1e-4, "{gm:?}");
            assert!((gm.v[k] - truth.v[k]).abs() < 1e-4, "{gm:?}");
        }
        assert!(gm.inlier_fraction > 0.85 && gm.inlier_fraction < 0.95);
        assert!((gm.scale() - 1.02).abs() < 1e-6);
        let residual = gm.residual_flow(&flow);
        assert!(residual.at(50, 50).0.abs() < 1e-3);
        assert!((residual.at(20, 20).0 - 6.0).abs() < 1e-3);
    }
}
