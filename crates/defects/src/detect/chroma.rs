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

/// Central difference of channel `c` of the RGB pixels `px` at pixel `i`
/// along one axis (`step` 1 for x, the row length for y); 0 where a tap
/// leaves the pixels.
#[inline(always)]
fn gradient(px: &[u8], c: usize, i: usize, step: usize) -> f32 {
    if i < step || (i + step) * 3 >= px.len() {
        return 0.0;
    }
    f32::from(px[3 * (i + step) + c]) - f32::from(px[3 * (i - step) + c])
}

/// The shift of channel `c`'s gradient against green's along one axis
/// (`step` 1 for x, the row length for y), over the edge pixels `at` (each
/// with its green gradient); and the peak correlation.
fn shift(px: &[u8], c: usize, at: &[(usize, f32)], step: usize) -> Option<(f64, f64)> {
    let mut corr = [0.0f64; (2 * MAX_SHIFT + 1) as usize];
    let ref_energy: f64 = at.iter().map(|&(_, g)| f64::from(g).powi(2)).sum();
    for (k, c_k) in corr.iter_mut().enumerate() {
        let s = (k as isize - MAX_SHIFT as isize) * step as isize;
        let (mut dot, mut energy) = (0.0f64, 0.0f64);
        for &(p, g) in at {
            let Some(q) = p.checked_add_signed(s) else {
                continue;
            };
            let o = f64::from(gradient(px, c, q, step));
            dot += o * f64::from(g);
            energy += o * o;
        }
        *c_k = if energy > 0.0 && ref_energy > 0.0 {
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
            // Gradients are taken where they are needed, straight from the
            // RGB bytes: no per-frame planes to fill.
            let px = frame.data();
            let mut at: Vec<(usize, f32)> = Vec::new();
            for (cell, flag) in flags[t].iter_mut().enumerate() {
                let (x0, y0) = ((cell % COLS) * cw, (cell / COLS) * ch);
                for (step, axis_len) in [(1usize, w), (w, h)] {
                    at.clear();
                    for y in y0.max(m)..(y0 + ch).min(h - m) {
                        for x in x0.max(m)..(x0 + cw).min(w - m) {
                            let g = gradient(px, 1, y * w + x, step);
                            if g.abs() >= 24.0 {
                                at.push((y * w + x, g));
                            }
                        }
                    }
                    if at.len() < 40 || axis_len < 2 * m {
                        continue;
                    }
                    for c in [0, 2] {
                        if let Some((s, peak)) = shift(px, c, &at, step)
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
