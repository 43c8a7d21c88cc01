//! Sub-pixel sampling of planes: bilinear and bicubic, clamped to the edge.

use crate::Plane;

/// Bilinear value at `(x, y)`, coordinates clamped into the plane.
#[inline]
pub(crate) fn bilinear(p: &Plane, x: f32, y: f32) -> f32 {
    let (w, h) = (p.width(), p.height());
    let x = x.clamp(0.0, (w - 1) as f32);
    let y = y.clamp(0.0, (h - 1) as f32);
    let (x0, y0) = (x as usize, y as usize);
    let (x1, y1) = ((x0 + 1).min(w - 1), (y0 + 1).min(h - 1));
    let (fx, fy) = (x - x0 as f32, y - y0 as f32);
    let d = p.data();
    let top = d[y0 * w + x0] + fx * (d[y0 * w + x1] - d[y0 * w + x0]);
    let bottom = d[y1 * w + x0] + fx * (d[y1 * w + x1] - d[y1 * w + x0]);
    top + fy * (bottom - top)
}

/// Keys' cubic convolution weights (a = -0.5, Catmull-Rom) for a fraction.
#[inline]
fn cubic_weights(t: f32) -> [f32; 4] {
    let a = -0.5f32;
    let w0 = ((a * (t + 1.0) - 5.0 * a) * (t + 1.0) + 8.0 * a) * (t + 1.0) - 4.0 * a;
    let w1 = ((a + 2.0) * t - (a + 3.0)) * t * t + 1.0;
    let u = 1.0 - t;
    let w2 = ((a + 2.0) * u - (a + 3.0)) * u * u + 1.0;
    [w0, w1, w2, 1.0 - w0 - w1 - w2]
}

/// Bicubic (Catmull-Rom) value at `(x, y)`, taps clamped into the plane.
#[inline]
pub(crate) fn bicubic(p: &Plane, x: f32, y: f32) -> f32 {
    let (w, h) = (p.width() as isize, p.height() as isize);
    let (xf, yf) = (x.floor(), y.floor());
    let (wx, wy) = (cubic_weights(x - xf), cubic_weights(y - yf));
    let (xi, yi) = (xf as isize, yf as isize);
    let d = p.data();
    let mut cols = [0usize; 4];
    for (k, c) in cols.iter_mut().enumerate() {
        *c = (xi - 1 + k as isize).clamp(0, w - 1) as usize;
    }
    let mut acc = 0.0;
    for (j, &wyj) in wy.iter().enumerate() {
        let row = (yi - 1 + j as isize).clamp(0, h - 1) as usize * w as usize;
        let r = wx[0] * d[row + cols[0]]
            + wx[1] * d[row + cols[1]]
            + wx[2] * d[row + cols[2]]
            + wx[3] * d[row + cols[3]];
        acc += wyj * r;
    }
    acc
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn samplers_reproduce_linear_ramps() {
        let p = Plane::new(8, 6, (0..48).map(|i| ((i % 8) * 2 + (i / 8) * 3) as f32).collect())
            .unwrap();
        for &(x, y) in &[(2.25f32, 1.5f32), (4.75, 3.1), (3.0, 2.0)] {
            let want = 2.0 * x + 3.0 * y;
            assert!((bilinear(&p, x, y) - want).abs() < 1e-4);
            assert!((bicubic(&p, x, y) - want).abs() < 1e-3);
        }
    }
}
