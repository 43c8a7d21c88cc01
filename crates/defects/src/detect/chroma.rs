//! Chromatic aberration: colour channels that no longer line up at edges.

use framebreak_vocab::DefectKind;

use crate::detect::util::{Hit, confidence, runs};
use crate::detect::{DefectDetector, Evidence};
use crate::{BBox, Finding};

const COLS: usize = 4;
const ROWS: usize = 3;
const MAX_SHIFT: i32 = 3;

/// Flags frames where the red or blue channel sits shifted against green.
///
/// In each cell of a 4×3 grid, the strongest green edges (horizontal
/// gradient for the x shift, vertical for y; at least 40 such pixels) are
/// correlated with the red and blue gradients shifted by −3…3 pixels; the
/// correlation peak, refined with a parabola, is the channel's shift there.
/// A cell is fringed when, along one axis, the red or the blue channel
/// peaks at a correlation of at least `min_correlation` and a shift of at
/// least `min_shift` pixels, and the other channel has moved too (at least
/// half as far, at a correlation of at least 0.5: through a codec's
/// half-resolution colour one channel often shows less of its fringe).
/// Lenses and codecs leave well under half a pixel; a model that smears
/// colour leaves more.
///
/// Both channels, because a fringe moves both: a lens focuses red and blue on
/// either side of green (lateral aberration pulls them apart), and a
/// smeared or misplaced colour plane moves every channel that carries
/// colour. One channel alone "shifting" is a saturated object: an orange
/// box on a blue sky, through H.264's half-resolution colour, has red
/// edges that rise where green falls, and its red gradient lines up with
/// green's best 2–3 px away, while blue stays aligned. (A camera whose red
/// sensor alone is misregistered is missed.)
#[derive(Debug, Clone)]
pub struct ChromaticAberration {
    /// Least shift between channels, in pixels.
    pub min_shift: f64,
    /// Least normalised correlation at the peak.
    pub min_correlation: f64,
}

impl Default for ChromaticAberration {
    fn default() -> Self {
        ChromaticAberration {
            min_shift: 1.0,
            min_correlation: 0.75,
        }
    }
}

/// One colour channel of a frame's RGB pixels, as a plane of its own, so
/// that gradients along either axis read contiguous bytes.
fn channel(px: &[u8], c: usize) -> Vec<u8> {
    px.chunks_exact(3).map(|p| p[c]).collect()
}

/// The shift of `plane`'s gradient against green's along one axis (`step`
/// 1 for x, the row length for y), over the edge pixels `at` (each with its
/// green gradient, and at least `MAX_SHIFT + 1` steps from either end of
/// the plane); and the peak correlation.
///
/// Gradients are whole numbers, so the correlation's sums are kept as
/// integers: exact, whatever the order they are added in. Each edge pixel's
/// nine samples along the axis give its gradient at all seven shifts.
fn shift(plane: &[u8], at: &[(usize, i32)], step: usize) -> Option<(f64, f64)> {
    peak(&correlations(plane, at, step))
}

/// How many shifts are tried: −`MAX_SHIFT`…`MAX_SHIFT`.
const K: usize = (2 * MAX_SHIFT + 1) as usize;

/// The normalised correlation of `plane`'s gradient with green's at each
/// shift (see [`shift`]).
fn correlations(plane: &[u8], at: &[(usize, i32)], step: usize) -> [f64; K] {
    let reach = MAX_SHIFT as usize + 1;
    let (mut dot, mut energy) = ([0i64; K], [0i64; K]);
    let mut ref_energy = 0i64;
    for &(p, g) in at {
        ref_energy += i64::from(g * g);
        let v: [i32; K + 2] =
            std::array::from_fn(|j| i32::from(plane[p + j * step - reach * step]));
        for k in 0..K {
            let o = v[k + 2] - v[k];
            dot[k] += i64::from(o * g);
            energy[k] += i64::from(o * o);
        }
    }
    let mut corr = [0.0f64; K];
    for (c_k, (&d, &e)) in corr.iter_mut().zip(dot.iter().zip(&energy)) {
        *c_k = if e > 0 && ref_energy > 0 {
            d as f64 / (e as f64 * ref_energy as f64).sqrt()
        } else {
            0.0
        };
    }
    corr
}

/// The shift (in steps, refined with a parabola through the peak and its
/// neighbours) and the height of the highest correlation.
fn peak(corr: &[f64; K]) -> Option<(f64, f64)> {
    let (best, &peak) = corr.iter().enumerate().max_by(|a, b| a.1.total_cmp(b.1))?;
    let mut s = best as f64 - f64::from(MAX_SHIFT);
    if best > 0 && best + 1 < corr.len() {
        let (l, h) = (corr[best - 1], corr[best + 1]);
        let den = l + h - 2.0 * peak;
        if den < -1e-9 {
            s += (0.5 * (l - h) / den).clamp(-0.5, 0.5);
        }
    }
    Some((s, peak))
}

impl DefectDetector for ChromaticAberration {
    fn detect(&self, ev: &Evidence<'_>) -> Vec<Finding> {
        let (w, h) = (ev.width(), ev.height());
        let m = MAX_SHIFT as usize + 1;
        let (cw, ch) = (w / COLS, h / ROWS);
        // flags[t][cell]: the largest fringe shift found in that cell.
        let mut flags: Vec<[Option<f64>; COLS * ROWS]> = vec![[None; COLS * ROWS]; ev.len()];
        for (t, frame) in ev.clip().frames.iter().enumerate() {
            let px = frame.data();
            let planes = [channel(px, 0), channel(px, 1), channel(px, 2)];
            let green = &planes[1];
            let mut at: Vec<(usize, i32)> = Vec::new();
            for (cell, flag) in flags[t].iter_mut().enumerate() {
                let (x0, y0) = ((cell % COLS) * cw, (cell / COLS) * ch);
                for (step, axis_len) in [(1usize, w), (w, h)] {
                    at.clear();
                    let xs = x0.max(m)..(x0 + cw).min(w - m);
                    if xs.is_empty() {
                        continue;
                    }
                    for y in y0.max(m)..(y0 + ch).min(h - m) {
                        let (lo, hi) = (y * w + xs.start, y * w + xs.end);
                        let ahead = &green[lo + step..hi + step];
                        let behind = &green[lo - step..hi - step];
                        for (k, (&a, &b)) in ahead.iter().zip(behind).enumerate() {
                            let g = i32::from(a) - i32::from(b);
                            if g.abs() >= 24 {
                                at.push((lo + k, g));
                            }
                        }
                    }
                    if at.len() < 40 || axis_len < 2 * m {
                        continue;
                    }
                    // Both channels: a lone red (or blue) "shift" is a
                    // saturated object's edge through half-resolution
                    // colour. The second channel need show only half the
                    // shift: the codec blurs one of them more.
                    let [red, blue] = [0, 2].map(|c| shift(&planes[c], &at, step));
                    let fringe = |m: Option<(f64, f64)>| {
                        m.filter(|&(s, peak)| {
                            peak >= self.min_correlation && s.abs() >= self.min_shift
                        })
                        .map(|(s, _)| s.abs())
                    };
                    let moved = |m: Option<(f64, f64)>| {
                        m.is_some_and(|(s, peak)| peak >= 0.5 && s.abs() >= 0.5 * self.min_shift)
                    };
                    let r = fringe(red).filter(|_| moved(blue));
                    let b = fringe(blue).filter(|_| moved(red));
                    if let Some(s) = r.into_iter().chain(b).reduce(f64::max) {
                        *flag = Some(flag.unwrap_or(0.0).max(s));
                    }
                }
            }
        }
        // A lens fringes every frame alike: a cell counts only when it also
        // fringes in a neighbouring frame, so that one frame's coloured
        // specks or a fast object's edge do not.
        let mut hits: Vec<Option<Hit>> = vec![None; ev.len()];
        for (t, hit) in hits.iter_mut().enumerate() {
            let mut worst = 0.0f64;
            let mut bbox: Option<BBox> = None;
            for cell in 0..COLS * ROWS {
                let Some(s) = flags[t][cell] else { continue };
                let before = t > 0 && flags[t - 1][cell].is_some();
                let after = flags.get(t + 1).is_some_and(|f| f[cell].is_some());
                if !(before || after) {
                    continue;
                }
                worst = worst.max(s);
                let cb = BBox {
                    x: ((cell % COLS) * cw) as u32,
                    y: ((cell / COLS) * ch) as u32,
                    w: cw as u32,
                    h: ch as u32,
                };
                bbox = Some(bbox.map_or(cb, |b| b.union(cb)));
            }
            if worst > 0.0 {
                *hit = Some(Hit {
                    score: confidence(worst / self.min_shift),
                    bbox,
                });
            }
        }
        runs(DefectKind::ChromaticAberration, &hits, 1)
    }

    fn name(&self) -> &str {
        "chromatic_aberration"
    }

    fn kinds(&self) -> Vec<DefectKind> {
        vec![DefectKind::ChromaticAberration]
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    /// The plain form `correlations` replaces: for each shift, the
    /// gradients of the channel read from the interleaved RGB bytes,
    /// summed as floats.
    fn plain_correlations(px: &[u8], c: usize, at: &[(usize, i32)], step: usize) -> [f64; K] {
        let grad = |i: usize| f64::from(px[3 * (i + step) + c]) - f64::from(px[3 * (i - step) + c]);
        let mut corr = [0.0f64; K];
        let ref_energy: f64 = at.iter().map(|&(_, g)| f64::from(g).powi(2)).sum();
        for (k, c_k) in corr.iter_mut().enumerate() {
            let s = (k as isize - MAX_SHIFT as isize) * step as isize;
            let (mut dot, mut energy) = (0.0f64, 0.0f64);
            for &(p, g) in at {
                let o = grad(p.checked_add_signed(s).unwrap());
                dot += o * f64::from(g);
                energy += o * o;
            }
            *c_k = if energy > 0.0 && ref_energy > 0.0 {
                dot / (energy * ref_energy).sqrt()
            } else {
                0.0
            };
        }
        corr
    }

    proptest! {
        #[test]
        fn integer_sums_give_the_plain_float_correlation_exactly(
            (w, h, px) in (12usize..24, 12usize..20)
                .prop_flat_map(|(w, h)| (Just(w), Just(h), prop::collection::vec(any::<u8>(), w * h * 3))),
            vertical in any::<bool>(),
            c in prop::sample::select(vec![0usize, 2]),
        ) {
            let step = if vertical { w } else { 1 };
            let m = MAX_SHIFT as usize + 1;
            let green = channel(&px, 1);
            let at: Vec<(usize, i32)> = (m..h - m)
                .flat_map(|y| (m..w - m).map(move |x| y * w + x))
                .map(|i| (i, i32::from(green[i + step]) - i32::from(green[i - step])))
                .filter(|&(_, g)| g != 0)
                .collect();
            prop_assert_eq!(
                correlations(&channel(&px, c), &at, step),
                plain_correlations(&px, c, &at, step)
            );
        }
    }
}
