//! Warp: a region that swirls in a way neither the camera nor any object's
//! motion explains.

use framebreak_vocab::DefectKind;

use crate::detect::util::{Hit, confidence, mark, median, runs};
use crate::detect::{DefectDetector, Evidence};
use crate::{BBox, Finding};

const RADIUS: isize = 2;

/// Flags rotation of the scene around a point, after the camera's motion
/// is taken out.
///
/// Around each block, the residual motion of the reliable blocks of a 5×5
/// window (their median motion removed, so an object sliding through does
/// not count, nor drag the ring's common motion along) is split into its component around the centre. A swirl turns the
/// whole ring one way: the median tangential motion is at least `min_swirl`
/// pixels per frame and at least 60 % of the ring agrees in sign. A camera
/// that rotates turns everything the same way and is taken out with the
/// rest of its motion before this test.
#[derive(Debug, Clone)]
pub struct Warp {
    /// Least mean tangential motion, in pixels per frame.
    pub min_swirl: f64,
}

impl Default for Warp {
    fn default() -> Self {
        Warp { min_swirl: 2.0 }
    }
}

impl DefectDetector for Warp {
    fn detect(&self, ev: &Evidence<'_>) -> Vec<Finding> {
        let mut hits: Vec<Option<Hit>> = vec![None; ev.len()];
        for (i, f) in ev.fields().iter().enumerate() {
            let (cols, rows) = (f.cols as isize, f.rows as isize);
            for r in RADIUS..rows - RADIUS {
                for c in RADIUS..cols - RADIUS {
                    let mut ring = Vec::with_capacity(24);
                    for dr in -RADIUS..=RADIUS {
                        for dc in -RADIUS..=RADIUS {
                            let b = f.at((c + dc) as usize, (r + dr) as usize);
                            if (dr, dc) != (0, 0) && b.reliable() && b.cost.is_finite() {
                                ring.push((dc as f64, dr as f64, b.rx, b.ry));
                            }
                        }
                    }
                    if ring.len() < 14 {
                        continue;
                    }
                    let k = ring.len() as f64;
                    // The ring's common motion is its median, not its mean:
                    // one fast object in a block or two of the ring drags a
                    // mean along, and the leftover offset on a ring missing
                    // some blocks reads as a turn.
                    let (mx, my) = (
                        median(ring.iter().map(|v| v.2)),
                        median(ring.iter().map(|v| v.3)),
                    );
                    let tangential: Vec<f64> = ring
                        .iter()
                        .map(|&(ox, oy, vx, vy)| (ox * (vy - my) - oy * (vx - mx)) / ox.hypot(oy))
                        .collect();
                    // The median, not the mean: a fast object in one or two
                    // blocks of the ring gives wild vectors that would
                    // otherwise pass for a turn of the whole ring.
                    let mean = median(tangential.iter().copied());
                    let agree = tangential
                        .iter()
                        .filter(|t| t.signum() == mean.signum() && t.abs() > 0.25)
                        .count() as f64
                        / k;
                    if mean.abs() < self.min_swirl || agree < 0.6 {
                        continue;
                    }
                    let side = f.block as u32;
                    let bbox = BBox {
                        x: (c - RADIUS) as u32 * side,
                        y: (r - RADIUS) as u32 * side,
                        w: (2 * RADIUS + 1) as u32 * side,
                        h: (2 * RADIUS + 1) as u32 * side,
                    };
                    let score = confidence(mean.abs() / self.min_swirl) * agree;
                    for t in [i, i + 1] {
                        mark(&mut hits[t], score, Some(bbox));
                    }
                }
            }
        }
        runs(DefectKind::Warp, &hits, 1)
    }

    fn name(&self) -> &str {
        "warp"
    }

    fn kinds(&self) -> Vec<DefectKind> {
        vec![DefectKind::Warp]
    }
}
