//! Frozen: the picture stops while the clip around it moves.

use framebreak_vocab::DefectKind;

use crate::detect::util::{Hit, confidence, median, runs};
use crate::detect::{DefectDetector, Evidence};
use crate::{Finding, Plane};

/// Flags runs of (nearly) identical consecutive frames inside a clip that
/// otherwise moves.
///
/// Each pair of frames is measured twice: its mean absolute luma
/// difference over the whole frame, and the largest such mean over the
/// cells of an 8×6 grid (a still camera on a small moving subject changes
/// the whole frame's mean by a fraction of a grey level, its own cell by
/// several). The rules below run on each measure in turn; a freeze either
/// finds is reported.
///
/// A pair is still when its difference is under `max(0.5, 5 % of the
/// clip's median difference)` grey levels. A run of at least
/// `min_still_pairs` still pairs is a freeze when:
///
/// - it has a moving pair on **both** sides: a clip that starts or ends
///   still (a camera easing in or out, a shot that settles) is not frozen,
///   whatever stopped it;
/// - it stops **abruptly**: both pairs around it differ at least `min_drop`
///   times more than the stillest-looking pair in it (at least 0.01 grey
///   levels). A camera slowing to a halt, or a slow stretch of a scene,
///   passes through ever smaller differences; a held frame drops from
///   motion to an exact repeat in one frame (and usually jumps to catch up
///   when it ends);
/// - the clip moves most of the time (at most half its pairs still): a
///   locked-off shot that is still but for brief local events has still
///   stretches that are simply the still camera, and footage at a low
///   frame rate shown by repeating frames is still half the time or more.
///
/// Single repeated frames (24→30 fps pulldown) are never a freeze.
#[derive(Debug, Clone)]
pub struct Frozen {
    /// Shortest run of still pairs that counts (2 = three identical frames).
    pub min_still_pairs: usize,
    /// How many times more the pairs on each side of a run must differ than
    /// the run's largest difference.
    pub min_drop: f64,
}

impl Default for Frozen {
    fn default() -> Self {
        Frozen {
            min_still_pairs: 2,
            min_drop: 5.0,
        }
    }
}

/// A freeze found in a clip's pair differences: pairs `start..end` are
/// still (frames `start..=end` show one picture).
#[derive(Debug, Clone, Copy, PartialEq)]
struct Freeze {
    start: usize,
    end: usize,
    score: f64,
}

impl Frozen {
    /// The freezes among `diffs`, the mean absolute luma difference of each
    /// pair of consecutive frames.
    fn freezes(&self, diffs: &[f64]) -> Vec<Freeze> {
        let still_cut = (0.05 * median(diffs.iter().copied())).max(0.5);
        let still: Vec<bool> = diffs.iter().map(|&d| d < still_cut).collect();
        if 2 * still.iter().filter(|&&s| s).count() > still.len() {
            return Vec::new();
        }
        let mut out = Vec::new();
        let mut i = 0;
        while i < still.len() {
            if !still[i] {
                i += 1;
                continue;
            }
            let start = i;
            while i < still.len() && still[i] {
                i += 1;
            }
            let len = i - start;
            if len < self.min_still_pairs || start == 0 || i == still.len() {
                continue;
            }
            let level = diffs[start..i].iter().copied().fold(0.01, f64::max);
            let drop = diffs[start - 1].min(diffs[i]) / level;
            if drop < self.min_drop {
                continue;
            }
            let score = confidence(drop / self.min_drop) * (0.6 + 0.1 * len as f64).min(1.0);
            out.push(Freeze {
                start,
                end: i,
                score,
            });
        }
        out
    }
}

/// Cells across the frame (and `CELLS - 2` down) of the local difference.
const CELLS: usize = 8;

/// The mean absolute difference of two planes of one size: over the whole
/// plane, and the largest over a grid of cells.
fn differences(a: &Plane, b: &Plane) -> (f64, f64) {
    let (w, h) = (a.width(), a.height());
    let (cols, rows) = (CELLS.min(w), (CELLS - 2).min(h));
    let span = |i: usize, n: usize, of: usize| i * of / n..(i + 1) * of / n;
    let (mut total, mut local) = (0.0f64, 0.0f64);
    for r in 0..rows {
        for c in 0..cols {
            let (xs, ys) = (span(c, cols, w), span(r, rows, h));
            let area = (xs.len() * ys.len()).max(1) as f64;
            let sum: f64 = ys
                .map(|y| {
                    let (ra, rb) = (&a.row(y)[xs.clone()], &b.row(y)[xs.clone()]);
                    let s: f32 = ra.iter().zip(rb).map(|(p, q)| (p - q).abs()).sum();
                    f64::from(s)
                })
                .sum();
            total += sum;
            local = local.max(sum / area);
        }
    }
    (total / (w * h).max(1) as f64, local)
}

impl DefectDetector for Frozen {
    fn detect(&self, ev: &Evidence<'_>) -> Vec<Finding> {
        let n = ev.len();
        if n < 3 {
            return Vec::new();
        }
        // Each pair's difference twice: over the whole frame, and in the
        // cell of a grid where it is largest. A still camera on a small
        // moving subject barely changes the frame's mean, so only the
        // subject's cell shows it moving, and stopping.
        let (mut whole, mut local) = (Vec::with_capacity(n - 1), Vec::with_capacity(n - 1));
        for i in 0..n - 1 {
            let (w, c) = differences(ev.luma(i), ev.luma(i + 1));
            whole.push(w);
            local.push(c);
        }
        let mut found = self.freezes(&whole);
        found.extend(self.freezes(&local));
        let mut hits: Vec<Option<Hit>> = vec![None; n];
        for f in found {
            for h in &mut hits[f.start..=f.end] {
                let score = h.map_or(f.score, |o| o.score.max(f.score));
                *h = Some(Hit { score, bbox: None });
            }
        }
        runs(DefectKind::Frozen, &hits, 0)
    }

    fn name(&self) -> &str {
        "frozen"
    }

    fn kinds(&self) -> Vec<DefectKind> {
        vec![DefectKind::Frozen]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn found(diffs: &[f64]) -> Vec<(usize, usize)> {
        Frozen::default()
            .freezes(diffs)
            .iter()
            .map(|f| (f.start, f.end))
            .collect()
    }

    // The sequences below are per-pair differences measured on simulator
    // clips (H.264 encoded and decoded back), shortened.

    #[test]
    fn a_held_frame_in_a_slow_clip_is_a_freeze() {
        // A pendulum, camera nearly still: frames 12..=16 are one picture,
        // then the clip jumps to catch up.
        let d = [
            0.125, 0.174, 0.264, 0.305, 0.368, 0.442, 0.528, 0.644, 0.739, 0.831, 0.909, 0.968,
            0.000, 0.000, 0.000, 0.000, 3.248, 1.449, 1.494, 1.008, 0.862, 0.845, 0.878, 0.881,
        ];
        assert_eq!(found(&d), vec![(12, 16)]);
    }

    #[test]
    fn a_camera_easing_in_and_out_is_not_a_freeze() {
        let d = [
            0.08, 0.09, 0.12, 0.15, 0.28, 0.76, 1.12, 0.91, 1.12, 1.17, 1.23, 1.44, 1.37, 1.84,
            1.42, 2.12, 1.27, 1.05, 0.86, 0.67, 0.81, 0.44, 0.34, 0.20, 0.10,
        ];
        assert!(found(&d).is_empty());
    }

    #[test]
    fn a_slow_stretch_mid_clip_is_not_a_freeze() {
        // A thrown ball slowing near its apex under a barely moving camera.
        let d = [
            0.72, 0.79, 0.47, 0.39, 0.39, 0.40, 0.41, 0.43, 0.42, 0.44, 0.47, 0.53, 0.51, 0.58,
            0.56, 0.36, 0.34, 0.35, 0.29, 0.29, 0.81, 0.92, 1.10, 1.30,
        ];
        assert!(found(&d).is_empty());
    }

    #[test]
    fn a_still_ending_is_not_a_freeze() {
        let d = [
            1.2, 1.3, 1.1, 1.4, 1.2, 1.3, 0.9, 0.8, 0.6, 0.0, 0.0, 0.0, 0.0, 0.0,
        ];
        assert!(found(&d).is_empty());
    }

    #[test]
    fn single_repeats_and_low_frame_rates_are_not_freezes() {
        // 24 → 30 fps pulldown: one repeat in five.
        let pulldown: Vec<f64> = (0..30)
            .map(|i| if i % 5 == 4 { 0.0 } else { 2.0 })
            .collect();
        assert!(found(&pulldown).is_empty());
        // 8 fps shown at 24 fps: every picture three times.
        let tripled: Vec<f64> = (0..30)
            .map(|i| if i % 3 == 2 { 6.0 } else { 0.0 })
            .collect();
        assert!(found(&tripled).is_empty());
    }

    #[test]
    fn a_small_change_shows_in_its_cell_not_in_the_whole() {
        let a = Plane::filled(160, 120, 100.0);
        let mut data = a.data().to_vec();
        // 8 x 8 pixels changed by 60 grey levels, inside one 20 x 20 cell.
        for y in 2..10 {
            for x in 2..10 {
                data[y * 160 + x] = 160.0;
            }
        }
        let b = Plane::new(160, 120, data).unwrap();
        let (whole, local) = differences(&a, &b);
        assert!((whole - 60.0 * 64.0 / 19200.0).abs() < 1e-9, "{whole}");
        assert!((local - 60.0 * 64.0 / 400.0).abs() < 1e-9, "{local}");
        assert_eq!(differences(&a, &a), (0.0, 0.0));
    }

    #[test]
    fn a_locked_off_shot_with_a_brief_event_is_not_a_freeze() {
        let mut d = vec![0.0; 30];
        d[10..14].copy_from_slice(&[3.0, 3.0, 3.0, 3.0]);
        d[18..20].copy_from_slice(&[2.0, 2.0]);
        assert!(found(&d).is_empty());
    }
}
