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
#[inline(always)]
pub(crate) fn bilinear_at(d: &[f32], w: usize, h: usize, x: f32, y: f32) -> f32 {
    Taps::new(w, h, x, y).at(d)
}

/// The four taps and weights of a bilinear sample, computed once and applied
/// to several planes of the same grid (an image and both flow components).
/// [`Taps::at`] gives exactly [`bilinear_at`]'s value.
#[derive(Clone, Copy)]
pub(crate) struct Taps {
    i00: usize,
    i01: usize,
    i10: usize,
    i11: usize,
    fx: f32,
    fy: f32,
}

impl Taps {
    /// The taps at `(x, y)`, coordinates clamped into the `w × h` grid.
    #[inline(always)]
    pub(crate) fn new(w: usize, h: usize, x: f32, y: f32) -> Self {
        let x = x.clamp(0.0, (w - 1) as f32);
        let y = y.clamp(0.0, (h - 1) as f32);
        let (x0, y0) = (x as usize, y as usize);
        let (x1, y1) = ((x0 + 1).min(w - 1), (y0 + 1).min(h - 1));
        Self {
            i00: y0 * w + x0,
            i01: y0 * w + x1,
            i10: y1 * w + x0,
            i11: y1 * w + x1,
            fx: x - x0 as f32,
            fy: y - y0 as f32,
        }
    }

    /// The sample of `d` (a plane of the grid the taps were made for).
    #[inline(always)]
    pub(crate) fn at(&self, d: &[f32]) -> f32 {
        let top = d[self.i00] + self.fx * (d[self.i01] - d[self.i00]);
        let bottom = d[self.i10] + self.fx * (d[self.i11] - d[self.i10]);
        top + self.fy * (bottom - top)
    }
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
            let taps = Taps::new(8, 6, x, y);
            assert_eq!(taps.at(p.data()), bilinear(&p, x, y));
        }
    }
}
