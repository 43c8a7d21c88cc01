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

/// Pixels a [`Span`] covers at most: its arrays live on the stack.
pub(crate) const SPAN: usize = 64;

/// The bilinear taps of a run of up to [`SPAN`] consecutive pixels of one
/// row, each displaced by its own flow vector: what a warp along a flow
/// samples. The positions, corners and weights of the whole run are computed
/// first, in loops the compiler vectorises; [`Span::at`] then only gathers.
/// For a pixel whose displaced position lies inside the grid ([`Span::inside`])
/// the sample is exactly [`Taps`]'s; outside, it is Taps' clamped one.
pub(crate) struct Span {
    len: usize,
    /// Index of the top-left tap.
    corner: [u32; SPAN],
    /// 1 where a right neighbour exists, else 0 (the edge repeats).
    right: [u32; SPAN],
    /// `w` where a lower neighbour exists, else 0.
    down: [u32; SPAN],
    fx: [f32; SPAN],
    fy: [f32; SPAN],
    inside: [bool; SPAN],
}

impl Span {
    /// The taps of pixels `x0..x0 + u.len()` of row `y` of a `w × h` grid
    /// displaced by `(u[k], v[k])`; `u` and `v` have the same length, at most
    /// [`SPAN`].
    #[inline(always)]
    pub(crate) fn new(w: usize, h: usize, x0: usize, y: usize, u: &[f32], v: &[f32]) -> Self {
        let mut s = Self::empty();
        s.set(w, h, x0, y, u, v);
        s
    }

    /// A span of no pixels, to [`Span::set`]: a loop over a row's runs sets
    /// one span again and again instead of zeroing a fresh one per run.
    #[inline(always)]
    pub(crate) fn empty() -> Self {
        Span {
            len: 0,
            corner: [0; SPAN],
            right: [0; SPAN],
            down: [0; SPAN],
            fx: [0.0; SPAN],
            fy: [0.0; SPAN],
            inside: [false; SPAN],
        }
    }

    /// Makes this the span of [`Span::new`] with the same arguments.
    #[inline(always)]
    pub(crate) fn set(&mut self, w: usize, h: usize, x0: usize, y: usize, u: &[f32], v: &[f32]) {
        debug_assert!(u.len() <= SPAN && v.len() == u.len());
        let len = u.len().min(SPAN);
        let (wmax, hmax) = ((w - 1) as f32, (h - 1) as f32);
        let s = self;
        s.len = len;
        let (u, v) = (&u[..len], &v[..len]);
        for k in 0..len {
            let sx = (x0 + k) as f32 + u[k];
            let sy = y as f32 + v[k];
            s.inside[k] = sx >= 0.0 && sy >= 0.0 && sx <= wmax && sy <= hmax;
            let (cx, cy) = (sx.clamp(0.0, wmax), sy.clamp(0.0, hmax));
            // Non-negative and below the grid's size once clamped: the
            // truncation is the floor, and fits in u32 (planes are far
            // smaller than 4 G pixels).
            let (ix, iy) = (cx as u32, cy as u32);
            s.fx[k] = cx - ix as f32;
            s.fy[k] = cy - iy as f32;
            s.corner[k] = iy * w as u32 + ix;
            s.right[k] = u32::from(ix + 1 < w as u32);
            s.down[k] = if iy + 1 < h as u32 { w as u32 } else { 0 };
        }
    }

    /// How many pixels the span covers.
    #[inline(always)]
    pub(crate) fn len(&self) -> usize {
        self.len
    }

    /// Whether pixel `k`'s displaced position lies inside the grid.
    #[inline(always)]
    pub(crate) fn inside(&self, k: usize) -> bool {
        self.inside[k]
    }

    /// Pixel `k`'s bilinear sample of `d` (a plane of the grid).
    #[inline(always)]
    pub(crate) fn at(&self, k: usize, d: &[f32]) -> f32 {
        let i00 = self.corner[k] as usize;
        let (r, dn) = (self.right[k] as usize, self.down[k] as usize);
        let (fx, fy) = (self.fx[k], self.fy[k]);
        let top = d[i00] + fx * (d[i00 + r] - d[i00]);
        let bottom = d[i00 + dn] + fx * (d[i00 + dn + r] - d[i00 + dn]);
        top + fy * (bottom - top)
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

    proptest::proptest! {
        /// A span samples exactly as Taps does, inside the grid and out
        /// (clamped), at every width of run up to SPAN.
        #[test]
        fn a_span_samples_as_taps_do(
            (w, h) in (2usize..40, 2usize..30),
            y in 0usize..30,
            x0 in 0usize..40,
            moves in proptest::collection::vec((-50.0f32..50.0, -40.0f32..40.0), 1..=SPAN),
        ) {
            let (y, x0) = (y % h, x0 % w);
            let moves = &moves[..moves.len().min(w - x0)];
            let d: Vec<f32> = (0..w * h).map(|i| ((i * 37) % 101) as f32 * 1.7).collect();
            let (u, v): (Vec<f32>, Vec<f32>) = moves.iter().copied().unzip();
            let span = Span::new(w, h, x0, y, &u, &v);
            proptest::prop_assert_eq!(span.len(), moves.len());
            for (k, &(du, dv)) in moves.iter().enumerate() {
                let (sx, sy) = ((x0 + k) as f32 + du, y as f32 + dv);
                let inside = sx >= 0.0 && sy >= 0.0 && sx <= (w - 1) as f32 && sy <= (h - 1) as f32;
                proptest::prop_assert_eq!(span.inside(k), inside);
                proptest::prop_assert_eq!(span.at(k, &d), Taps::new(w, h, sx, sy).at(&d));
            }
        }
    }
}
