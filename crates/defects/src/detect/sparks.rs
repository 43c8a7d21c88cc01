//! Colour sparks: small specks of saturated colour that appear from nowhere.

use framebreak_variants::DefectKind;

use crate::detect::util::{Hit, confidence, runs};
use crate::detect::{DefectDetector, Evidence};
use crate::{BBox, Finding};

/// Margin, in pixels, where new content is scenery coming into view.
const EDGE: usize = 3;

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
/// them was. A frame sparks when it has at least `min_specks` new specks.
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

/// Channel spread of each pixel; with `gated`, zero where the brightest
/// channel is under 100 (dark pixels are never sparks, but what was there
/// before a spark is compared at its true spread, so a region merely
/// brightened past the gate is not new).
fn saturation(data: &[u8], gated: bool) -> Vec<u8> {
    data.chunks_exact(3)
        .map(|p| {
            let (hi, lo) = (p[0].max(p[1]).max(p[2]), p[0].min(p[1]).min(p[2]));
            if hi >= 100 || !gated { hi - lo } else { 0 }
        })
        .collect()
}

/// The 4-connected component of the `w`-wide grid around `start` (which
/// is `inside`, and not yet `seen`), by span filling: a row's run is
/// taken whole and only the first pixel of each run touching it above or
/// below is stacked, so the fill costs little more than a pass over its
/// pixels, however large. Its pixels (in no particular order) end up in
/// `pixels`, each marked `seen`.
fn component(
    start: usize,
    inside: impl Fn(usize) -> bool,
    seen: &mut [bool],
    w: usize,
    stack: &mut Vec<usize>,
    pixels: &mut Vec<usize>,
) {
    stack.clear();
    pixels.clear();
    seen[start] = true;
    stack.push(start);
    let open = |seen: &[bool], j: usize| !seen[j] && inside(j);
    while let Some(i) = stack.pop() {
        let row = i - i % w;
        let (mut l, mut r) = (i, i);
        while l > row && open(seen, l - 1) {
            l -= 1;
            seen[l] = true;
        }
        while r + 1 < row + w && open(seen, r + 1) {
            r += 1;
            seen[r] = true;
        }
        pixels.extend(l..=r);
        let above = row.checked_sub(w);
        let below = Some(row + w).filter(|&b| b < seen.len());
        for other in [above, below].into_iter().flatten() {
            let mut in_run = false;
            for j in other + (l - row)..=other + (r - row) {
                let now = open(seen, j);
                if now && !in_run {
                    seen[j] = true;
                    stack.push(j);
                }
                in_run = now || (in_run && seen[j] && inside(j));
            }
        }
    }
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

/// Whether `prev` (RGB, `w` wide, with channel spreads `spread`) has a
/// pixel within `radius` of `(x, y)` of about the hue `h` and a spread at
/// least `min_spread`: something like the speck was already near.
fn kin_near(
    prev: &[u8],
    spread: &[u8],
    w: usize,
    (x, y): (isize, isize),
    radius: isize,
    h: f64,
    min_spread: u8,
) -> bool {
    let rows = (spread.len() / w) as isize;
    for py in (y - radius).max(0)..=(y + radius).min(rows - 1) {
        for px in (x - radius).max(0)..=(x + radius).min(w as isize - 1) {
            let i = py as usize * w + px as usize;
            if spread[i] < min_spread {
                continue;
            }
            let d = (hue(&prev[3 * i..3 * i + 3]) - h).abs();
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
        let sats: Vec<Vec<u8>> = ev
            .clip()
            .frames
            .iter()
            .map(|f| saturation(f.data(), true))
            .collect();
        let spreads: Vec<Vec<u8>> = ev
            .clip()
            .frames
            .iter()
            .map(|f| saturation(f.data(), false))
            .collect();
        let max_area = (w * h / 1500).max(40);
        let radius = (w / 27).max(12) as isize;
        let mut hits: Vec<Option<Hit>> = vec![None; n];
        for t in 1..n {
            let (cur, prev) = (&sats[t], &spreads[t - 1]);
            let (rgb, before_rgb) = (ev.clip().frames[t].data(), ev.clip().frames[t - 1].data());
            let back = ev
                .field(t - 1)
                .camera
                .inverse()
                .unwrap_or(crate::detect::Affine::IDENTITY);
            let mut seen = vec![false; w * h];
            let mut specks: Vec<BBox> = Vec::new();
            let (mut stack, mut pixels) = (Vec::new(), Vec::new());
            for start in 0..w * h {
                if seen[start] || cur[start] < self.min_saturation {
                    continue;
                }
                component(
                    start,
                    |i| cur[i] >= self.min_saturation,
                    &mut seen,
                    w,
                    &mut stack,
                    &mut pixels,
                );
                if pixels.len() > max_area {
                    continue;
                }
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
                        let (sx, sy) = (sx.round() as isize, sy.round() as isize);
                        let mut before = 0u8;
                        for dy in -2..=2 {
                            for dx in -2..=2 {
                                let (px, py) = (sx + dx, sy + dy);
                                if px >= 0 && py >= 0 && (px as usize) < w && (py as usize) < h {
                                    before = before.max(prev[py as usize * w + px as usize]);
                                }
                            }
                        }
                        i32::from(cur[i]) - i32::from(before) >= 60
                    })
                    .count();
                if new * 2 > pixels.len() {
                    // The most saturated pixel; of equals, the first in
                    // reading order.
                    let Some(&top) = pixels
                        .iter()
                        .max_by_key(|&&i| (cur[i], std::cmp::Reverse(i)))
                    else {
                        continue;
                    };
                    let (cx, cy) = back.apply((top % w) as f64, (top / w) as f64);
                    if kin_near(
                        before_rgb,
                        prev,
                        w,
                        (cx.round() as isize, cy.round() as isize),
                        radius,
                        hue(&rgb[3 * top..3 * top + 3]),
                        cur[top].saturating_sub(60).max(self.min_saturation / 2),
                    ) {
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
                hits[t] = Some(Hit {
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

    /// The plain pixel-by-pixel flood fill the span fill replaces.
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
        fn span_filling_finds_the_same_components_as_flood_filling(
            w in 1usize..24,
            rows in 1usize..16,
            density in 0.2f64..0.9,
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
            let mut seen = vec![false; grid.len()];
            let (mut stack, mut pixels) = (Vec::new(), Vec::new());
            let mut covered = 0;
            for start in 0..grid.len() {
                if seen[start] || !grid[start] {
                    continue;
                }
                component(start, |i| grid[i], &mut seen, w, &mut stack, &mut pixels);
                let mut got = pixels.clone();
                got.sort_unstable();
                prop_assert_eq!(&got, &flood(start, &grid, w));
                covered += got.len();
            }
            prop_assert_eq!(covered, grid.iter().filter(|&&g| g).count());
            prop_assert!(seen.iter().zip(&grid).all(|(s, g)| s == g));
        }
    }
}
