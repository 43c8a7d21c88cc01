//! Melt: part of the scene sags downwards, like wax, where it stands.

use framebreak_vocab::DefectKind;

use crate::Finding;
use crate::detect::persist::persistent_hits;
use crate::detect::util::{confidence, median, runs};
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
///
/// A large object falling slowly from rest can cover the same blocks for
/// five pairs; gravity gives it away. Where a block's downward motion over
/// the last `min_pairs` pairs grows by at least `max_accel` pixels per
/// frame² (the median slope between any two of those pairs, per 240 rows
/// of frame), something is accelerating
/// through it, and the block does not count; a sag flows at a steady pace.
#[derive(Debug, Clone)]
pub struct Melt {
    /// Least downward motion per pair, in pixels.
    pub min_sag: f64,
    /// Fewest consecutive sagging pairs.
    pub min_pairs: usize,
    /// Growth of a block's downward motion (px/frame², at 240 rows) from
    /// which it is an object falling, not a sag.
    pub max_accel: f64,
}

impl Default for Melt {
    fn default() -> Self {
        Melt {
            min_sag: 1.2,
            min_pairs: 5,
            max_accel: 0.4,
        }
    }
}

/// Median of the slopes between every two of `v`'s values against their
/// indices (Theil–Sen): one jumpy block match does not make an acceleration.
fn slope(v: &[f64]) -> f64 {
    let mut slopes: Vec<f64> = Vec::with_capacity(v.len() * v.len() / 2);
    for i in 0..v.len() {
        for j in i + 1..v.len() {
            slopes.push((v[j] - v[i]) / (j - i) as f64);
        }
    }
    median(slopes)
}

impl DefectDetector for Melt {
    fn detect(&self, ev: &Evidence<'_>) -> Vec<Finding> {
        let min_sag = self.min_sag;
        let sags: Vec<Vec<Option<f64>>> = ev
            .fields()
            .iter()
            .map(|f| {
                f.blocks
                    .iter()
                    .map(|m| {
                        (m.reliable()
                            && m.cost.is_finite()
                            && m.ry >= min_sag
                            && m.ry <= 6.0
                            && m.ry >= 1.5 * m.rx.abs())
                        .then_some(m.ry)
                    })
                    .collect()
            })
            .collect();
        let max_accel = self.max_accel * ev.height() as f64 / 240.0;
        let k = self.min_pairs.max(3);
        let hits = persistent_hits(
            ev,
            |_, i, b| {
                let sag = sags[i][b]?;
                if i + 1 >= k {
                    let recent: Option<Vec<f64>> = (i + 1 - k..=i).map(|j| sags[j][b]).collect();
                    if recent.is_some_and(|r| slope(&r) >= max_accel) {
                        return None;
                    }
                }
                Some(sag)
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_steady_sag_with_one_jumpy_match_is_not_an_acceleration() {
        // Measured on a generated melt clip: a block sagging at ~2 px/frame
        // whose last match jumped. A least-squares slope reads 0.41.
        let s = slope(&[1.8, 2.0, 2.1, 2.3, 3.7]);
        assert!(s < Melt::default().max_accel, "{s}");
    }

    #[test]
    fn a_fall_under_gravity_is_an_acceleration() {
        // g = 0.5 px/frame², with a little matching noise.
        let s = slope(&[1.5, 2.1, 2.4, 3.1, 3.5]);
        assert!(s >= Melt::default().max_accel, "{s}");
        assert!((slope(&[1.0, 1.5, 2.0, 2.5, 3.0]) - 0.5).abs() < 1e-12);
    }
}
