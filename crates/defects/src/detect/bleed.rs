//! Texture bleed: texture from one surface creeps across its boundary into
//! the next.

use framebreak_variants::DefectKind;

use crate::Finding;
use crate::detect::persist::persistent_hits;
use crate::detect::util::{confidence, median, runs};
use crate::detect::{DefectDetector, Evidence};

/// Flags regions whose appearance keeps changing although nothing moves
/// there.
///
/// A block changes in a pair when, after the camera's motion is taken out,
/// it stays put (residual motion under 1 pixel) yet even its best match
/// leaves an error above `max(min_change, median + 4 × MAD)` of that pair's
/// blocks and under 30 grey levels (bigger is an object arriving, not a
/// texture creeping). Bleed is a group of changing blocks that keeps
/// changing for at least `min_pairs` consecutive pairs: a slow, steady
/// takeover rather than a cut, a spark or a flash.
#[derive(Debug, Clone)]
pub struct TextureBleed {
    /// Least per-pixel change of a block, in grey levels.
    pub min_change: f64,
    /// Fewest consecutive changing pairs.
    pub min_pairs: usize,
}

impl Default for TextureBleed {
    fn default() -> Self {
        TextureBleed {
            min_change: 3.0,
            min_pairs: 3,
        }
    }
}

impl DefectDetector for TextureBleed {
    fn detect(&self, ev: &Evidence<'_>) -> Vec<Finding> {
        let cuts: Vec<f64> = ev
            .fields()
            .iter()
            .map(|f| {
                let costs: Vec<f64> = f.blocks.iter().map(|b| f64::from(b.cost)).collect();
                let med = median(costs.iter().copied());
                let mad = median(costs.iter().map(|c| (c - med).abs()));
                (med + 4.0 * 1.4826 * mad).max(self.min_change)
            })
            .collect();
        let hits = persistent_hits(
            ev,
            |f, i, b| {
                let m = &f.blocks[b];
                let cost = f64::from(m.cost);
                (m.reliable() && cost > cuts[i] && cost < 30.0 && m.rx.hypot(m.ry) < 1.0)
                    .then_some(cost / cuts[i])
            },
            self.min_pairs,
            1,
            confidence,
        );
        runs(DefectKind::TextureBleed, &hits, 1)
    }

    fn name(&self) -> &str {
        "texture_bleed"
    }

    fn kinds(&self) -> Vec<DefectKind> {
        vec![DefectKind::TextureBleed]
    }
}
