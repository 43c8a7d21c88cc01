//! Colour sparks: small specks of saturated colour that appear from nowhere.

use std::ops::RangeInclusive;

use framebreak_vocab::DefectKind;

use crate::detect::util::{Hit, confidence, runs};
use crate::detect::{Affine, DefectDetector, Evidence};
use crate::{BBox, Finding};

/// Margin, in pixels, where new content is scenery coming into view.
const EDGE: usize = 3;
/// How far (pixels) and how closely (grey levels) each colour channel of a
/// speck's pixel is looked for in the previous frame to call the speck
/// slipped channels (see [`ColorSparks`]).
const SLIP_REACH: usize = 3;
const SLIP_TOLERANCE: i16 = 20;

/// Flags frames with several new, small, saturated specks.
///
/// A pixel is saturated when `max(R,G,B) − min(R,G,B) ≥ min_saturation` and
/// its brightest channel is at least 100. A speck is a 4-connected group of
/// saturated pixels no larger than `max(40, frame area / 1500)` pixels, so a
/// red ball or a blue sky is never one. A speck is new when most of its
/// pixels were at least 60 saturation lower in the previous frame, at the
/// place the camera moved them from (the most saturated of the 5×5 pixels
/// there, at its spread whatever its brightness, to forgive two pixels of
/// misregistration and a brightness change). Pixels within 3 pixels of
/// the frame's edge, or whose place in the previous frame lay outside it,
/// are never new: a pan brings saturated scenery into view there. Nor is a
/// speck that a speck of its hue (within 40°, nearly as saturated) within
/// `max(12, width / 27)` pixels of its camera-mapped place in the previous
/// frame explains: droplets of poured liquid, a swarm, confetti in motion
/// move on from frame to frame, while sparks flash up where nothing like
/// them was. Nor is a speck most of whose pixels have each of their three
/// channels within 20 grey levels of that channel of some pixel within 3
/// pixels of their camera-mapped place in the previous frame: that is
/// colour slipping off an edge (red and blue shifted against green, as
/// when chromatic aberration sets in), made of colours that were already
/// there, not something new. A frame sparks when it has at least
/// `min_specks` new specks.
#[derive(Debug, Clone)]
pub struct ColorSparks {
    /// Least channel spread of a spark pixel (0–255).
    pub min_saturation: u8,
    /// Fewest new specks in one frame that count.
    pub min_specks: usize,
}

impl Default for ColorSparks {
    fn default() -> Self {
        ColorSparks {
            min_saturation: 100,
            min_specks: 3,
        }
    }
}

/// Channel spread of an RGB pixel: `max(R,G,B) − min(R,G,B)`.
#[inline(always)]
fn spread(p: &[u8]) -> u8 {
    p[0].max(p[1]).max(p[2]) - p[0].min(p[1]).min(p[2])
}

/// [`spread`], but zero where the brightest channel is under 100: dark
/// pixels are never sparks (what was there before a spark is compared at
/// its true spread, so a region merely brightened past the gate is not
/// new).
#[inline(always)]
fn gated(p: &[u8]) -> u8 {
    if p[0].max(p[1]).max(p[2]) >= 100 {
        spread(p)
    } else {
        0
    }
}

/// The 4-connected components of the pixels of a `w`-wide grid where
/// `inside` holds, found from each row's runs of such pixels: runs of
/// neighbouring rows that share a column join (union-find over runs), so
/// every pixel is read once, in order, and only runs are linked.
#[derive(Debug, Default)]
struct Components {
    /// Each run as `(first pixel, one past its last)`, in reading order.
    runs: Vec<(usize, usize)>,
    /// Union-find parent of each run; a root is its component's label.
    parent: Vec<usize>,
}

impl Components {
    /// Labels the components of the pixels `0..len` of a `w`-wide grid
    /// (pixel `i` at column `i % w`, row `i / w`) for which `inside` holds.
    fn label(len: usize, w: usize, inside: impl Fn(usize) -> bool) -> Self {
        let mut c = Components::default();
        let mut above = 0..0;
        for row in (0..len).step_by(w) {
            let first = c.runs.len();
            let end = (row + w).min(len);
            let mut i = row;
            while i < end {
                if !inside(i) {
                    i += 1;
                    continue;
                }
                let start = i;
                while i < end && inside(i) {
                    i += 1;
                }
                c.runs.push((start, i));
                c.parent.push(c.runs.len() - 1);
            }
            // Runs of this row and the row above, both sorted by column,
            // are walked together; overlapping ones join.
            let (mut i, mut j) = (above.start, first);
            while i < above.end && j < c.runs.len() {
                let (a0, a1) = (c.runs[i].0 + w, c.runs[i].1 + w);
                let (b0, b1) = c.runs[j];
                if a0 < b1 && b0 < a1 {
                    c.join(i, j);
                }
                if a1 <= b1 {
                    i += 1;
                } else {
                    j += 1;
                }
            }
            above = first..c.runs.len();
        }
        c
    }

    fn root(&mut self, mut r: usize) -> usize {
        while self.parent[r] != r {
            self.parent[r] = self.parent[self.parent[r]];
            r = self.parent[r];
        }
        r
    }

    fn join(&mut self, a: usize, b: usize) {
        let (a, b) = (self.root(a), self.root(b));
        // The earlier run stays the root: labels follow reading order.
        self.parent[a.max(b)] = a.min(b);
    }

    /// Every component's pixels, in no particular order, skipping those
    /// of more than `max_len` pixels without listing them.
    fn small(mut self, max_len: usize) -> Vec<Vec<usize>> {
        let mut len = vec![0usize; self.runs.len()];
        for r in 0..self.runs.len() {
            let root = self.root(r);
            len[root] += self.runs[r].1 - self.runs[r].0;
        }
        let mut slot = vec![usize::MAX; self.runs.len()];
        let mut out: Vec<Vec<usize>> = Vec::new();
        for r in 0..self.runs.len() {
            let root = self.root(r);
            if len[root] > max_len {
                continue;
            }
            if slot[root] == usize::MAX {
                slot[root] = out.len();
                out.push(Vec::with_capacity(len[root]));
            }
            out[slot[root]].extend(self.runs[r].0..self.runs[r].1);
        }
        out
    }
}

/// The columns and rows within `reach` of `(x, y)` (rounded, and held
/// inside the `w`×`h` frame).
fn around(
    (x, y): (f64, f64),
    reach: usize,
    (w, h): (usize, usize),
) -> (RangeInclusive<usize>, RangeInclusive<usize>) {
    let near = |v: f64, n: usize| {
        let v = v.round().clamp(0.0, (n - 1) as f64) as usize;
        v.saturating_sub(reach)..=(v + reach).min(n - 1)
    };
    (near(x, w), near(y, h))
}

/// Whether most of a speck's `pixels` (indices into the frame `t`) are
/// colour channels slipped off what was there: each of the pixel's red,
/// green and blue within `SLIP_TOLERANCE` of the same channel of some pixel
/// within `SLIP_REACH` of the place the camera's motion `back` maps it to
/// in frame `t − 1`. That is how an edge's colour fringe looks when the
/// channels shift against each other (chromatic aberration setting in):
/// new saturated specks, made of nothing but colours that were next to
/// them. A spark brings a colour that was not there.
fn slipped_channels(ev: &Evidence<'_>, t: usize, pixels: &[usize], back: &Affine) -> bool {
    let (w, h) = (ev.width(), ev.height());
    let (rgb, before) = (ev.clip().frames[t].data(), ev.clip().frames[t - 1].data());
    let slipped = pixels
        .iter()
        .filter(|&&i| {
            let (xs, ys) = around(
                back.apply((i % w) as f64, (i / w) as f64),
                SLIP_REACH,
                (w, h),
            );
            (0..3).all(|c| {
                let v = i16::from(rgb[3 * i + c]);
                ys.clone().any(|qy| {
                    xs.clone().any(|qx| {
                        (i16::from(before[3 * (qy * w + qx) + c]) - v).abs() <= SLIP_TOLERANCE
                    })
                })
            })
        })
        .count();
    slipped * 2 > pixels.len()
}

/// Hue of an RGB pixel in degrees, `[0, 360)`; 0 for a grey one.
fn hue(p: &[u8]) -> f64 {
    let (r, g, b) = (f64::from(p[0]), f64::from(p[1]), f64::from(p[2]));
    let (hi, lo) = (r.max(g).max(b), r.min(g).min(b));
    let d = hi - lo;
    if d <= 0.0 {
        return 0.0;
    }
    let h = if hi == r {
        (g - b) / d
    } else if hi == g {
        2.0 + (b - r) / d
    } else {
        4.0 + (r - g) / d
    };
    (h * 60.0).rem_euclid(360.0)
}

/// Whether `prev` (RGB, `w` wide) has a pixel within `radius` of `(x, y)`
/// of about the hue `h` and a spread at least `min_spread`: something like
/// the speck was already near.
fn kin_near(
    prev: &[u8],
    w: usize,
    (x, y): (isize, isize),
    radius: isize,
    h: f64,
    min_spread: u8,
) -> bool {
    let rows = (prev.len() / 3 / w) as isize;
    for py in (y - radius).max(0)..=(y + radius).min(rows - 1) {
        for px in (x - radius).max(0)..=(x + radius).min(w as isize - 1) {
            let i = py as usize * w + px as usize;
            let p = &prev[3 * i..3 * i + 3];
            if spread(p) < min_spread {
                continue;
            }
            let d = (hue(p) - h).abs();
            if d.min(360.0 - d) < 40.0 {
                return true;
            }
        }
    }
    false
}

impl DefectDetector for ColorSparks {
    fn detect(&self, ev: &Evidence<'_>) -> Vec<Finding> {
        let n = ev.len();
        if n < 2 {
            return Vec::new();
        }
        let (w, h) = (ev.width(), ev.height());
        let max_area = (w * h / 1500).max(40);
        let radius = (w / 27).max(12) as isize;
        let mut hits: Vec<Option<Hit>> = vec![None; n];
        for (t, hit) in hits.iter_mut().enumerate().skip(1) {
            // Saturation is read straight from the RGB bytes, and only
            // where it is looked at.
            let (rgb, before_rgb) = (ev.clip().frames[t].data(), ev.clip().frames[t - 1].data());
            let cur = |i: usize| gated(&rgb[3 * i..3 * i + 3]);
            let prev = |i: usize| spread(&before_rgb[3 * i..3 * i + 3]);
            let back = ev.field(t - 1).camera.inverse().unwrap_or(Affine::IDENTITY);
            let mut specks: Vec<BBox> = Vec::new();
            let comps = Components::label(w * h, w, |i| cur(i) >= self.min_saturation);
            for pixels in comps.small(max_area) {
                let new = pixels
                    .iter()
                    .filter(|&&i| {
                        let (x, y) = (i % w, i / w);
                        if x < EDGE || y < EDGE || x + EDGE >= w || y + EDGE >= h {
                            return false;
                        }
                        let (sx, sy) = back.apply(x as f64, y as f64);
                        let inside =
                            |v: f64, n: usize| v >= EDGE as f64 && v + (EDGE as f64) < n as f64;
                        if !inside(sx, w) || !inside(sy, h) {
                            return false;
                        }
                        let (xs, ys) = around((sx, sy), 2, (w, h));
                        let before = ys
                            .flat_map(|py| xs.clone().map(move |px| prev(py * w + px)))
                            .max()
                            .unwrap_or(0);
                        i32::from(cur(i)) - i32::from(before) >= 60
                    })
                    .count();
                if new * 2 > pixels.len() {
                    // The most saturated pixel; of equals, the first in
                    // reading order.
                    let Some(&top) = pixels
                        .iter()
                        .max_by_key(|&&i| (cur(i), std::cmp::Reverse(i)))
                    else {
                        continue;
                    };
                    let (cx, cy) = back.apply((top % w) as f64, (top / w) as f64);
                    if kin_near(
                        before_rgb,
                        w,
                        (cx.round() as isize, cy.round() as isize),
                        radius,
                        hue(&rgb[3 * top..3 * top + 3]),
                        cur(top).saturating_sub(60).max(self.min_saturation / 2),
                    ) {
                        continue;
                    }
                    if slipped_channels(ev, t, &pixels, &back) {
                        continue;
                    }
                    let (xs, ys) = (pixels.iter().map(|i| i % w), pixels.iter().map(|i| i / w));
                    let (x0, x1) = (xs.clone().min().unwrap_or(0), xs.max().unwrap_or(0));
                    let (y0, y1) = (ys.clone().min().unwrap_or(0), ys.max().unwrap_or(0));
                    specks.push(BBox {
                        x: x0 as u32,
                        y: y0 as u32,
                        w: (x1 - x0 + 1) as u32,
                        h: (y1 - y0 + 1) as u32,
                    });
                }
            }
            if specks.len() >= self.min_specks {
                let bbox = specks.iter().copied().reduce(BBox::union);
                *hit = Some(Hit {
                    score: confidence(specks.len() as f64 / self.min_specks as f64),
                    bbox,
                });
            }
        }
        runs(DefectKind::ColorSparks, &hits, 1)
    }

    fn name(&self) -> &str {
        "color_sparks"
    }

    fn kinds(&self) -> Vec<DefectKind> {
        vec![DefectKind::ColorSparks]
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    /// The plain pixel-by-pixel flood fill from `start`.
    fn flood(start: usize, grid: &[bool], w: usize) -> Vec<usize> {
        let mut seen = vec![false; grid.len()];
        let (mut stack, mut out) = (vec![start], Vec::new());
        seen[start] = true;
        while let Some(i) = stack.pop() {
            out.push(i);
            let (x, y) = (i % w, i / w);
            let mut next = Vec::new();
            if x > 0 {
                next.push(i - 1);
            }
            if x + 1 < w {
                next.push(i + 1);
            }
            if y > 0 {
                next.push(i - w);
            }
            if i + w < grid.len() {
                next.push(i + w);
            }
            for j in next {
                if grid[j] && !seen[j] {
                    seen[j] = true;
                    stack.push(j);
                }
            }
        }
        out.sort_unstable();
        out
    }

    proptest! {
        #[test]
        fn run_labelling_finds_the_same_components_as_flood_filling(
            w in 1usize..24,
            rows in 1usize..16,
            density in 0.2f64..0.9,
            max_len in 1usize..40,
            seed in any::<u64>(),
        ) {
            // A reproducible random grid of the given density.
            let mut state = seed | 1;
            let grid: Vec<bool> = (0..w * rows)
                .map(|_| {
                    state ^= state << 13;
                    state ^= state >> 7;
                    state ^= state << 17;
                    (state % 1000) as f64 / 1000.0 < density
                })
                .collect();
            let mut all = Components::label(grid.len(), w, |i| grid[i]).small(usize::MAX);
            for comp in &mut all {
                comp.sort_unstable();
                prop_assert_eq!(&*comp, &flood(comp[0], &grid, w));
            }
            prop_assert_eq!(all.iter().map(Vec::len).sum::<usize>(), grid.iter().filter(|&&g| g).count());
            // Only the large components are left out.
            let mut small = Components::label(grid.len(), w, |i| grid[i]).small(max_len);
            for comp in &mut small {
                comp.sort_unstable();
            }
            small.sort();
            let mut expected: Vec<Vec<usize>> = all.into_iter().filter(|c| c.len() <= max_len).collect();
            expected.sort();
            prop_assert_eq!(small, expected);
        }
    }
}
