//! Frozen: the picture stops while the clip around it moves.

use framebreak_variants::DefectKind;

use crate::Finding;
use crate::detect::util::{Hit, confidence, median, runs};
use crate::detect::{DefectDetector, Evidence};

/// Flags runs of (nearly) identical consecutive frames inside a clip that
/// otherwise moves.
///
/// A pair is still when its mean absolute luma difference is under
/// `max(0.5, 5 % of the clip's typical difference)` grey levels. A run of at
/// least `min_still_pairs` still pairs is frozen when the pairs around it
/// (up to 6 on each side) moved: the camera carried the frame's corners by at
/// least `min_camera` pixels a frame, or the picture changed by at least
/// `min_motion` grey levels in a clip that is not still for most of its
/// pairs. A locked-off shot whose only motion is local
/// (a swirl, a small object) is not enough: its unchanging frames are a still
/// camera, not a freeze. A clip that is still throughout (a photograph, an
/// empty shot) is not frozen, and single repeated frames (24→30 fps
/// pulldown) are not either.
#[derive(Debug, Clone)]
pub struct Frozen {
    /// Shortest run of still pairs that counts (2 = three identical frames).
    pub min_still_pairs: usize,
    /// Mean absolute luma difference the surrounding pairs must show when
    /// the camera is still.
    pub min_motion: f64,
    /// Camera motion of the frame's corners (pixels per frame) that makes
    /// the surrounding pairs count as moving whatever their difference.
    pub min_camera: f64,
}

impl Default for Frozen {
    fn default() -> Self {
        Frozen {
            min_still_pairs: 2,
            min_motion: 8.0,
            min_camera: 0.3,
        }
    }
}

impl DefectDetector for Frozen {
    fn detect(&self, ev: &Evidence<'_>) -> Vec<Finding> {
        let n = ev.len();
        if n < 3 {
            return Vec::new();
        }
        let diffs: Vec<f64> = (0..n - 1)
            .map(|i| {
                let (a, b) = (ev.luma(i).data(), ev.luma(i + 1).data());
                a.iter()
                    .zip(b)
                    .map(|(p, q)| f64::from((p - q).abs()))
                    .sum::<f64>()
                    / a.len() as f64
            })
            .collect();
        let (w, h) = (ev.width() as f64, ev.height() as f64);
        let camera: Vec<f64> = ev
            .fields()
            .iter()
            .map(|f| {
                [(0.0, 0.0), (w, 0.0), (0.0, h), (w, h)]
                    .iter()
                    .map(|&(x, y)| {
                        let (dx, dy) = f.camera.displacement(x, y);
                        dx.hypot(dy)
                    })
                    .fold(0.0, f64::max)
            })
            .collect();
        let still_cut = (0.05 * median(diffs.iter().copied())).max(0.5);
        let still: Vec<bool> = diffs.iter().map(|&d| d < still_cut).collect();
        let mut hits: Vec<Option<Hit>> = vec![None; n];
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
            if len < self.min_still_pairs {
                continue;
            }
            let around: Vec<usize> = (start.saturating_sub(6)..start)
                .chain(i..(i + 6).min(still.len()))
                .filter(|&j| !still[j])
                .collect();
            let motion = median(around.iter().map(|&j| diffs[j]));
            let panning = median(around.iter().map(|&j| camera[j]));
            // Without a moving camera, a picture change around the run only
            // says the clip moves when it moves most of the time: a locked-off
            // shot that is still but for a brief local event (a pulse, a
            // swirl) has still stretches that are simply the still camera.
            let mostly_moving = 2 * still.iter().filter(|&&s| s).count() <= still.len();
            let changed = if mostly_moving {
                motion / self.min_motion
            } else {
                0.0
            };
            let strength = changed.max(panning / self.min_camera);
            if around.is_empty() || strength < 1.0 {
                continue;
            }
            let score = confidence(strength) * (0.6 + 0.1 * len as f64).min(1.0);
            for h in &mut hits[start..=i] {
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
