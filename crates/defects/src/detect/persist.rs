//! Block flags that persist: the shared core of the melt and texture-bleed
//! detectors, which both look for something that keeps happening in the
//! same part of the scene for several pairs of frames.

use crate::detect::util::{Hit, cells_bbox, components};
use crate::detect::{Evidence, MotionField};

/// For each pair, which blocks have been flagged for at least `min_pairs`
/// consecutive pairs; then one hit per frame for the
/// groups of such blocks, scored by `score` of the group's mean strength.
pub(crate) fn persistent_hits(
    ev: &Evidence<'_>,
    strength: impl Fn(&MotionField, usize, usize) -> Option<f64>,
    min_pairs: usize,
    min_blocks: usize,
    score: impl Fn(f64) -> f64,
) -> Vec<Option<Hit>> {
    persistent_groups(ev, strength, min_pairs, min_blocks, score)
        .into_iter()
        .map(|h| h.map(|(hit, _)| hit))
        .collect()
}

/// [`persistent_hits`], with each frame's hit also telling the first and
/// last pair at which the blocks of its groups started being flagged: the
/// same pair when a whole group changed at once, pairs apart when the
/// change spread block by block.
pub(crate) fn persistent_groups(
    ev: &Evidence<'_>,
    strength: impl Fn(&MotionField, usize, usize) -> Option<f64>,
    min_pairs: usize,
    min_blocks: usize,
    score: impl Fn(f64) -> f64,
) -> Vec<Option<(Hit, (usize, usize))>> {
    let mut hits: Vec<Option<(Hit, (usize, usize))>> = vec![None; ev.len()];
    let Some(first) = ev.fields().first() else {
        return hits;
    };
    let (cols, rows) = (first.cols, first.rows);
    let mut streak = vec![0usize; cols * rows];
    for (i, f) in ev.fields().iter().enumerate() {
        let s: Vec<Option<f64>> = (0..cols * rows).map(|b| strength(f, i, b)).collect();
        // A block's streak counts the consecutive pairs it was flagged in.
        // Neighbours do not extend it: with many blocks, scattered noise
        // flags would chain into long streaks.
        for (b, st) in streak.iter_mut().enumerate() {
            *st = if s[b].is_some() { *st + 1 } else { 0 };
        }
        let persistent: Vec<bool> = (0..cols * rows)
            .map(|b| s[b].is_some() && streak[b] >= min_pairs)
            .collect();
        for comp in components(&persistent, cols, rows) {
            if comp.len() < min_blocks {
                continue;
            }
            let mean = comp.iter().filter_map(|&b| s[b]).sum::<f64>() / comp.len() as f64;
            let bbox = cells_bbox(&comp, cols, f.block, ev.width(), ev.height());
            let sc = score(mean);
            let onset = |b: usize| (i + 1).saturating_sub(streak[b]);
            let onsets = (
                comp.iter().map(|&b| onset(b)).min().unwrap_or(0),
                comp.iter().map(|&b| onset(b)).max().unwrap_or(0),
            );
            // The defect spans the whole streak, not just the pair that proved it.
            let from = (i + 1).saturating_sub(min_pairs);
            for slot in &mut hits[from..=i + 1] {
                let (hit, on) = slot.get_or_insert((Hit { score: sc, bbox }, onsets));
                *on = (on.0.min(onsets.0), on.1.max(onsets.1));
                hit.score = hit.score.max(sc);
                hit.bbox = match (hit.bbox, bbox) {
                    (Some(a), Some(b)) => Some(a.union(b)),
                    (a, b) => a.or(b),
                };
            }
        }
    }
    hits
}
