//! Texture bleed: texture from one surface creeps across its boundary into
//! the next.

use framebreak_vocab::DefectKind;

use crate::Finding;
use crate::detect::blocks::{motion_field, refined_cost};
use crate::detect::persist::persistent_groups;
use crate::detect::util::{confidence, runs};
use crate::detect::{Affine, DefectDetector, Evidence};

/// How many frames back the slow change is measured over.
const LAG: usize = 4;

/// Flags regions whose appearance keeps changing although nothing moves
/// there.
///
/// A creeping change is small from one frame to the next but adds up; the
/// noise of resampling and compression does not. So for each block of
/// frame `t`, with the camera's motion taken out, the error of its best
/// match (±4 pixels) in frame `t − 4` is compared with that in frame `t − 1`,
/// each error taken at the match's sub-pixel position where that fits
/// better than the whole-pixel one (fine texture moved by a fraction of a
/// pixel otherwise reads as changed, and the camera's small errors add up
/// over the longer gap). The
/// block changes when the long difference exceeds `min_change` grey levels
/// and `ratio` times the short one (plus 1), the block was in view four
/// frames back (not brought in by the camera since), and the block stayed put
/// (residual motion under 1 pixel in every pair between: a moving object
/// changes a block too, by moving). Bleed is a change that goes on for at
/// least `min_pairs` consecutive frames in the same block: a slow, steady
/// takeover rather than a cut, a spark or a flash, over at least
/// `min_blocks` adjacent blocks. A block whose one-frame match is unknown
/// (the camera carries it out of view) is not judged. And a creep reaches
/// block after block: a finding whose blocks all started changing in the
/// same pair (an object jumping away, a freeze ending) is dropped.
#[derive(Debug, Clone)]
pub struct TextureBleed {
    /// Least mean change over 4 frames, in grey levels.
    pub min_change: f64,
    /// How many times the one-frame change the four-frame change must be.
    pub ratio: f64,
    /// Fewest consecutive changing frames.
    pub min_pairs: usize,
    /// Fewest adjacent blocks changing together: a surface taken over is
    /// wider than one block, while a lone block's change is mostly a
    /// small object passing or a misregistered edge.
    pub min_blocks: usize,
}

impl Default for TextureBleed {
    fn default() -> Self {
        TextureBleed {
            min_change: 10.0,
            ratio: 4.0,
            min_pairs: 3,
            min_blocks: 2,
        }
    }
}

impl DefectDetector for TextureBleed {
    fn detect(&self, ev: &Evidence<'_>) -> Vec<Finding> {
        let Some(first) = ev.fields().first() else {
            return Vec::new();
        };
        let (cols, rows) = (first.cols, first.rows);
        // strength[i][b]: block b of frame i + 1 (pair i's second frame).
        let strength: Vec<Vec<Option<f64>>> = (0..ev.fields().len())
            .map(|i| {
                let t = i + 1;
                if t < LAG {
                    return vec![None; cols * rows];
                }
                let back = ev
                    .to_first(t)
                    .inverse()
                    .unwrap_or(Affine::IDENTITY)
                    .after(ev.to_first(t - LAG));
                // Matching blocks again over the longer gap forgives the
                // camera's small errors, which add up over four pairs.
                let (before, now, last) = (ev.half(t - LAG), ev.half(t), ev.half(t - 1));
                let field = motion_field(before, now, &back, 2);
                let (w, h) = (ev.width() as f64, ev.height() as f64);
                let forth = back.inverse().unwrap_or(Affine::IDENTITY);
                (0..cols * rows)
                    .map(|b| {
                        let m0 = &ev.field(i).blocks[b];
                        // A block the camera brought into view over the gap
                        // has nothing four frames back to compare with.
                        let half = ev.field(i).block as f64 / 2.0;
                        let in_view = [(-half, -half), (half, -half), (-half, half), (half, half)]
                            .iter()
                            .all(|&(dx, dy)| {
                                let (x, y) = forth.apply(m0.x + dx, m0.y + dy);
                                x >= 0.0 && y >= 0.0 && x <= w && y <= h
                            });
                        // One pair may mismatch: the changing texture itself
                        // disturbs the block's match while it comes in.
                        let still = (t - LAG..t)
                            .filter(|&j| {
                                let m = &ev.field(j).blocks[b];
                                m.rx.hypot(m.ry) < 1.5
                            })
                            .count()
                            >= LAG - 1;
                        // Both changes at the blocks' sub-pixel matches
                        // (taken only where a block might count).
                        let long = &field.blocks[b];
                        if !(in_view && still && f64::from(long.cost) > self.min_change) {
                            return None;
                        }
                        let short = f64::from(refined_cost(last, now, m0, ev.field(i).gain));
                        let cut = self.min_change.max(self.ratio * short + 1.0);
                        let long = f64::from(refined_cost(before, now, long, field.gain));
                        (short.is_finite() && long > cut).then(|| long / cut)
                    })
                    .collect()
            })
            .collect();
        let groups = persistent_groups(
            ev,
            |_, i, b| strength[i][b],
            self.min_pairs,
            self.min_blocks,
            confidence,
        );
        let hits: Vec<_> = groups.iter().map(|g| g.map(|(h, _)| h)).collect();
        let mut found = runs(DefectKind::TextureBleed, &hits, 1);
        // A creep reaches block after block; a cut, a jump or the end of a
        // freeze changes every block of its region in one pair. So a
        // finding's blocks must have started changing in different pairs.
        found.retain(|f| {
            let onsets = groups[f.start_frame as usize..=f.end_frame as usize]
                .iter()
                .filter_map(|g| g.map(|(_, on)| on))
                .reduce(|a, b| (a.0.min(b.0), a.1.max(b.1)));
            onsets.is_some_and(|(first, last)| last > first)
        });
        found
    }

    fn name(&self) -> &str {
        "texture_bleed"
    }

    fn kinds(&self) -> Vec<DefectKind> {
        vec![DefectKind::TextureBleed]
    }
}
