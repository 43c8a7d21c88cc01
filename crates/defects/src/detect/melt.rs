//! Melt: part of the scene sags downwards, like wax, where it stands.

use framebreak_variants::DefectKind;

use crate::Finding;
use crate::detect::persist::persistent_hits;
use crate::detect::util::{confidence, runs};
use crate::detect::{DefectDetector, Evidence};

/// Flags scene regions that keep sliding downwards in place.
///
/// A block sags in a pair when, after the camera's motion is taken out, it
/// moves down by `min_sag`…6 pixels and at least 1.5× more down than
/// sideways. A melt is a group of at least 3 neighbouring sagging blocks
/// (a sagging surface is wider than a small object passing in front of it)
/// that keeps sagging for at least `min_pairs` consecutive pairs in the same
/// place. A falling object crosses a block in a few pairs and moves on; a
/// melting one stays put while its texture flows down.
#[derive(Debug, Clone)]
pub struct Melt {
    /// Least downward motion per pair, in pixels.
    pub min_sag: f64,
    /// Fewest consecutive sagging pairs.
    pub min_pairs: usize,
}

impl Default for Melt {
    fn default() -> Self {
        Melt {
            min_sag: 1.2,
            min_pairs: 5,
        }
    }
}

impl DefectDetector for Melt {
    fn detect(&self, ev: &Evidence<'_>) -> Vec<Finding> {
        let min_sag = self.min_sag;
        let hits = persistent_hits(
            ev,
            |f, _, b| {
                let m = &f.blocks[b];
                (m.reliable()
                    && m.cost.is_finite()
                    && m.ry >= min_sag
                    && m.ry <= 6.0
                    && m.ry >= 1.5 * m.rx.abs())
                .then_some(m.ry)
            },
            self.min_pairs,
            3,
            |sag| confidence(sag / min_sag),
        );
        runs(DefectKind::Melt, &hits, 1)
    }

    fn name(&self) -> &str {
        "melt"
    }

    fn kinds(&self) -> Vec<DefectKind> {
        vec![DefectKind::Melt]
    }
}
