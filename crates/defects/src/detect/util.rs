//! Small helpers the detectors share: robust statistics, connected
//! components on a grid, and turning per-frame flags into findings.

use framebreak_vocab::DefectKind;

use crate::{BBox, Finding};

/// Median of the finite values (0 when there are none).
pub(crate) fn median(values: impl IntoIterator<Item = f64>) -> f64 {
    let mut v: Vec<f64> = values.into_iter().filter(|x| x.is_finite()).collect();
    if v.is_empty() {
        return 0.0;
    }
    let mid = v.len() / 2;
    *v.select_nth_unstable_by(mid, f64::total_cmp).1
}

/// Maps a strength in units of its threshold to a confidence in `[0, 1]`:
/// 0.5 at the threshold, approaching 1 far above it.
pub(crate) fn confidence(strength_over_threshold: f64) -> f64 {
    let r = strength_over_threshold.max(0.0);
    (r / (1.0 + r)).clamp(0.0, 1.0)
}

/// 8-connected components of the `true` cells of a `cols × rows` grid, each
/// as its list of cell indices.
pub(crate) fn components(mask: &[bool], cols: usize, rows: usize) -> Vec<Vec<usize>> {
    let mut seen = vec![false; mask.len()];
    let mut out = Vec::new();
    for start in 0..mask.len() {
        if !mask[start] || seen[start] {
            continue;
        }
        seen[start] = true;
        let mut stack = vec![start];
        let mut comp = Vec::new();
        while let Some(i) = stack.pop() {
            comp.push(i);
            let (c, r) = ((i % cols) as isize, (i / cols) as isize);
            for dr in -1..=1 {
                for dc in -1..=1 {
                    let (nc, nr) = (c + dc, r + dr);
                    if nc < 0 || nr < 0 || nc >= cols as isize || nr >= rows as isize {
                        continue;
                    }
                    let j = nr as usize * cols + nc as usize;
                    if mask[j] && !seen[j] {
                        seen[j] = true;
                        stack.push(j);
                    }
                }
            }
        }
        out.push(comp);
    }
    out
}

/// The box, in pixels, around grid cells of side `cell`, clipped to the frame.
pub(crate) fn cells_bbox(
    cells: &[usize],
    cols: usize,
    cell: usize,
    width: usize,
    height: usize,
) -> Option<BBox> {
    let mut b: Option<BBox> = None;
    for &i in cells {
        let (x, y) = ((i % cols) * cell, (i / cols) * cell);
        if x >= width || y >= height {
            continue;
        }
        let cb = BBox {
            x: x as u32,
            y: y as u32,
            w: cell.min(width - x) as u32,
            h: cell.min(height - y) as u32,
        };
        b = Some(b.map_or(cb, |b| b.union(cb)));
    }
    b
}

/// What a detector saw in one frame: how sure, and where.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Hit {
    pub(crate) score: f64,
    pub(crate) bbox: Option<BBox>,
}

/// Flags a frame: `slot` keeps the strongest score given to it and a box
/// around every box given to it.
pub(crate) fn mark(slot: &mut Option<Hit>, score: f64, bbox: Option<BBox>) {
    let hit = slot.get_or_insert(Hit { score, bbox });
    hit.score = hit.score.max(score);
    hit.bbox = match (hit.bbox, bbox) {
        (Some(a), Some(b)) => Some(a.union(b)),
        (a, b) => a.or(b),
    };
}

/// Joins flagged frames into findings: frames at most `max_gap` apart are
/// one finding, whose score is the strongest frame's and whose box holds
/// every frame's box.
pub(crate) fn runs(kind: DefectKind, hits: &[Option<Hit>], max_gap: usize) -> Vec<Finding> {
    let mut out: Vec<Finding> = Vec::new();
    let mut last: Option<usize> = None;
    for (i, hit) in hits.iter().enumerate() {
        let Some(hit) = hit else { continue };
        let extend = last.is_some_and(|l| i - l <= max_gap + 1);
        if extend && let Some(f) = out.last_mut() {
            f.end_frame = i as u64;
            f.score = f.score.max(hit.score);
            f.bbox = match (f.bbox, hit.bbox) {
                (Some(a), Some(b)) => Some(a.union(b)),
                (a, b) => a.or(b),
            };
        } else {
            let mut f = Finding::new(kind, i as u64, i as u64, hit.score);
            f.bbox = hit.bbox;
            out.push(f);
        }
        last = Some(i);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn runs_join_nearby_frames_and_keep_the_strongest() {
        let h = |s| {
            Some(Hit {
                score: s,
                bbox: Some(BBox::from([0, 0, 2, 2])),
            })
        };
        let hits = [None, h(0.3), None, h(0.8), None, None, None, h(0.5)];
        let f = runs(DefectKind::Flicker, &hits, 1);
        assert_eq!(f.len(), 2);
        assert_eq!((f[0].start_frame, f[0].end_frame, f[0].score), (1, 3, 0.8));
        assert_eq!((f[1].start_frame, f[1].end_frame), (7, 7));
    }

    #[test]
    fn components_are_eight_connected() {
        let mask = [
            true, false, false, false, false, true, false, false, false, false, false, true,
        ];
        let comps = components(&mask, 4, 3);
        assert_eq!(comps.len(), 2);
        assert_eq!(median([3.0, 1.0, f64::NAN, 2.0]), 2.0);
        assert!((confidence(1.0) - 0.5).abs() < 1e-12);
    }
}
