//! Sub-pixel sampling of planes: bilinear, clamped to the edge.

#[cfg(test)]
use crate::Plane;

/// Bilinear value at `(x, y)`, coordinates clamped into the plane.
#[cfg(test)]
pub(crate) fn bilinear(p: &Plane, x: f32, y: f32) -> f32 {
    bilinear_at(p.data(), p.width(), p.height(), x, y)
}

/// Bilinear value at `(x, y)` of row-major `d` (`w × h`), coordinates
/// clamped into the grid.
#[inline]
pub(crate) fn bilinear_at(d: &[f32], w: usize, h: usize, x: f32, y: f32) -> f32 {
    let x = x.clamp(0.0, (w - 1) as f32);
    let y = y.clamp(0.0, (h - 1) as f32);
    let (x0, y0) = (x as usize, y as usize);
    let (x1, y1) = ((x0 + 1).min(w - 1), (y0 + 1).min(h - 1));
    let (fx, fy) = (x - x0 as f32, y - y0 as f32);
    let top = d[y0 * w + x0] + fx * (d[y0 * w + x1] - d[y0 * w + x0]);
    let bottom = d[y1 * w + x0] + fx * (d[y1 * w + x1] - d[y1 * w + x0]);
    top + fy * (bottom - top)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bilinear_reproduces_linear_ramps() {
        let p = Plane::new(
            8,
            6,
            (0..48)
                .map(|i| ((i % 8) * 2 + (i / 8) * 3) as f32)
                .collect(),
        )
        .unwrap();
        for &(x, y) in &[(2.25f32, 1.5f32), (4.75, 3.1), (3.0, 2.0)] {
            let want = 2.0 * x + 3.0 * y;
            assert!((bilinear(&p, x, y) - want).abs() < 1e-4);
        }
    }
}
