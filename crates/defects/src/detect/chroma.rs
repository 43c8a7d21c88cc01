//! Chromatic aberration: colour channels that no longer line up at edges.

use framebreak_variants::DefectKind;

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
/// A cell is fringed when a channel's peak correlation is at least
/// `min_correlation` and its shift at least `min_shift` pixels. Lenses and
/// codecs leave well under half a pixel; a model that smears colour leaves
/// more.
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

/// The shift of `other` against `reference` along one axis (`step` 1 for x,
/// the row length for y), over the edge pixels `at`; and the peak
/// correlation.
fn shift(reference: &[f32], other: &[f32], at: &[usize], step: isize) -> Option<(f64, f64)> {
    let len = reference.len() as isize;
    let mut corr = [0.0f64; (2 * MAX_SHIFT + 1) as usize];
    let ref_energy: f64 = at.iter().map(|&p| f64::from(reference[p]).powi(2)).sum();
    for (k, c) in corr.iter_mut().enumerate() {
        let s = (k as isize - MAX_SHIFT as isize) * step;
        let (mut dot, mut energy) = (0.0f64, 0.0f64);
        for &p in at {
            let q = p as isize + s;
            if q < 0 || q >= len {
                continue;
            }
            let o = f64::from(other[q as usize]);
            dot += o * f64::from(reference[p]);
            energy += o * o;
        }
        *c = if energy > 0.0 && ref_energy > 0.0 {
            dot / (energy * ref_energy).sqrt()
        } else {
            0.0
        };
    }
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
            let chan =
                |c: usize| -> Vec<f32> { px.chunks_exact(3).map(|p| f32::from(p[c])).collect() };
            let (r, g, b) = (chan(0), chan(1), chan(2));
            let grad = |p: &[f32], step: usize| -> Vec<f32> {
                (0..p.len())
                    .map(|i| {
                        if i >= step && i + step < p.len() {
                            p[i + step] - p[i - step]
                        } else {
                            0.0
                        }
                    })
                    .collect()
            };
            let axes = [(1usize, w), (w, h)]
                .map(|(step, len)| (step, len, grad(&g, step), [grad(&r, step), grad(&b, step)]));
            for (cell, flag) in flags[t].iter_mut().enumerate() {
                let (x0, y0) = ((cell % COLS) * cw, (cell / COLS) * ch);
                for (step, axis_len, gg, others) in &axes {
                    let (step, axis_len) = (*step, *axis_len);
                    let mut at: Vec<usize> = Vec::new();
                    for y in y0.max(m)..(y0 + ch).min(h - m) {
                        for x in x0.max(m)..(x0 + cw).min(w - m) {
                            if gg[y * w + x].abs() >= 24.0 {
                                at.push(y * w + x);
                            }
                        }
                    }
                    if at.len() < 40 || axis_len < 2 * m {
                        continue;
                    }
                    for go in others {
                        if let Some((s, peak)) = shift(gg, go, &at, step as isize)
                            && peak >= self.min_correlation
                            && s.abs() >= self.min_shift
                        {
                            *flag = Some(flag.unwrap_or(0.0).max(s.abs()));
                        }
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
