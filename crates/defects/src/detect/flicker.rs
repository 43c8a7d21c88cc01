//! Flicker: brightness that pulses from frame to frame, over the whole
//! picture or a region of it.

use framebreak_vocab::DefectKind;

use crate::detect::util::{Hit, confidence, mark, median, runs};
use crate::detect::{DefectDetector, Evidence};
use crate::{BBox, Finding};

const COLS: usize = 4;
const ROWS: usize = 3;

/// Flags frames whose brightness jumps and comes back.
///
/// For each pair of frames and each cell of a 4×3 grid, the brightness
/// change is the median over the cell of `ln((next + 10) / (prev + 10))`,
/// with `prev` moved by the camera so the same scene point is compared; the
/// median ignores objects moving through the cell. Each cell's series has
/// its running median (7 pairs) taken out, so fades and exposure drift are
/// not flicker. A cell flickers at a pair when the change exceeds
/// `threshold` (a fraction of brightness, in log units) and, within two
/// pairs, swings back the other way past half of it: a light switched on
/// once is not flicker.
#[derive(Debug, Clone)]
pub struct Flicker {
    /// Smallest brightness jump that counts, in log units (0.04 ≈ 4 %).
    pub threshold: f64,
}

impl Default for Flicker {
    fn default() -> Self {
        Flicker { threshold: 0.04 }
    }
}

fn cell_changes(ev: &Evidence<'_>, i: usize) -> [f64; COLS * ROWS] {
    let (w, h) = (ev.width(), ev.height());
    let (next, res) = (ev.luma(i + 1), ev.residual(i));
    let mut cells: Vec<Vec<f64>> = vec![Vec::new(); COLS * ROWS];
    for y in (0..h).step_by(2) {
        let (nr, rr) = (next.row(y), res.row(y));
        let cr = (y * ROWS / h).min(ROWS - 1);
        for x in (0..w).step_by(2) {
            let d = rr[x];
            if d.is_nan() {
                continue;
            }
            let cc = (x * COLS / w).min(COLS - 1);
            let n = f64::from(nr[x]);
            cells[cr * COLS + cc].push(((n + 10.0) / (n - f64::from(d) + 10.0)).ln());
        }
    }
    let mut out = [f64::NAN; COLS * ROWS];
    for (o, c) in out.iter_mut().zip(cells) {
        if c.len() >= 16 {
            *o = median(c);
        }
    }
    out
}

impl DefectDetector for Flicker {
    fn detect(&self, ev: &Evidence<'_>) -> Vec<Finding> {
        let n = ev.len();
        if n < 3 {
            return Vec::new();
        }
        let series: Vec<[f64; COLS * ROWS]> = (0..n - 1).map(|i| cell_changes(ev, i)).collect();
        let pairs = series.len();
        let mut hits: Vec<Option<Hit>> = vec![None; n];
        let cell = (ev.width().div_ceil(COLS), ev.height().div_ceil(ROWS));
        for c in 0..COLS * ROWS {
            let raw: Vec<f64> = series.iter().map(|s| s[c]).collect();
            let detrended: Vec<f64> = (0..pairs)
                .map(|i| {
                    raw[i] - median(raw[i.saturating_sub(3)..(i + 4).min(pairs)].iter().copied())
                })
                .collect();
            for i in 0..pairs {
                let d = detrended[i];
                if d.is_nan() || d.abs() <= self.threshold {
                    continue;
                }
                let back = (i.saturating_sub(2)..(i + 3).min(pairs))
                    .any(|j| j != i && detrended[j] * d.signum() < -0.5 * self.threshold);
                if !back {
                    continue;
                }
                let bbox = BBox {
                    x: ((c % COLS) * cell.0) as u32,
                    y: ((c / COLS) * cell.1) as u32,
                    w: cell.0.min(ev.width() - (c % COLS) * cell.0) as u32,
                    h: cell.1.min(ev.height() - (c / COLS) * cell.1) as u32,
                };
                let score = confidence(d.abs() / self.threshold);
                for f in [i, i + 1] {
                    mark(&mut hits[f], score, Some(bbox));
                }
            }
        }
        let mut found = runs(DefectKind::Flicker, &hits, 1);
        let area = (ev.width() * ev.height()) as u64;
        for f in &mut found {
            // A box over (nearly) the whole picture says nothing: leave it out.
            if f.bbox
                .is_some_and(|b| u64::from(b.w) * u64::from(b.h) * 10 >= area * 9)
            {
                f.bbox = None;
            }
        }
        found
    }

    fn name(&self) -> &str {
        "flicker"
    }

    fn kinds(&self) -> Vec<DefectKind> {
        vec![DefectKind::Flicker]
    }
}
