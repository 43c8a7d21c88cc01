//! A video's physics and realism scores, 0–100, from its findings and
//! metrics.

use framebreak_vocab::DefectKind;
use serde::{Deserialize, Serialize};

use crate::{Finding, MetricsSummary};

/// How much one finding of a kind can take off its score, as a fraction.
///
/// Physics: gravity violation 0.6, teleport 0.6, melt 0.5, frozen 0.4.
/// Realism: warp 0.5, flicker 0.4, colour sparks 0.4, texture bleed 0.4,
/// chromatic aberration 0.3.
pub fn weight(kind: DefectKind) -> f64 {
    match kind {
        DefectKind::GravityViolation | DefectKind::Teleport => 0.6,
        DefectKind::Melt | DefectKind::Warp => 0.5,
        DefectKind::Frozen
        | DefectKind::Flicker
        | DefectKind::ColorSparks
        | DefectKind::TextureBleed => 0.4,
        DefectKind::ChromaticAberration => 0.3,
    }
}

/// Whether a kind breaks physics (gravity, teleport, melt, frozen) rather
/// than looks (warp, flicker, chromatic aberration, colour sparks, texture
/// bleed).
pub fn is_physics(kind: DefectKind) -> bool {
    matches!(
        kind,
        DefectKind::GravityViolation | DefectKind::Teleport | DefectKind::Melt | DefectKind::Frozen
    )
}

/// A video's two scores, 0 (broken) to 100 (no defect found).
///
/// Each finding `f` has a severity `s = score × (0.5 + 0.5 × min(1,
/// frames / 8))`: a confident defect lasting 8 frames or more counts fully,
/// a one-frame one half. Each score multiplies the penalties of its kinds'
/// findings (see [`weight`] and [`is_physics`]):
///
/// ```text
/// physics = 100 × Π (1 − weight(kind) × s)          over physics findings
/// realism = 100 × Π (1 − weight(kind) × s) × (1 − m) over realism findings
/// m = min(0.25, 2 × flicker_index) + min(0.25, 10 × warp_error)
/// ```
///
/// `flicker_index` and `warp_error` are the metrics summary's (each on a
/// `[0, 1]` scale; non-finite values count as 0). Every factor lies in
/// `[0, 1]`, so scores stay in `[0, 100]`, and another finding, or a
/// stronger or longer one, never raises a score.
///
/// ```
/// use framebreak_defects::{Finding, Scores};
/// use framebreak_vocab::DefectKind;
///
/// let clean = Scores::from_findings(&[], None);
/// assert_eq!((clean.physics, clean.realism), (100.0, 100.0));
/// let fall_up = Finding::new(DefectKind::GravityViolation, 0, 11, 1.0);
/// let s = Scores::from_findings(&[fall_up], None);
/// assert_eq!((s.physics, s.realism), (40.0, 100.0));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Scores {
    /// How well the video obeys physics.
    pub physics: f64,
    /// How real the video looks.
    pub realism: f64,
}

/// A finding's severity in `[0, 1]`.
pub fn severity(f: &Finding) -> f64 {
    let score = if f.score.is_finite() {
        f.score.clamp(0.0, 1.0)
    } else {
        0.0
    };
    let frames = f.end_frame.saturating_sub(f.start_frame) + 1;
    score * (0.5 + 0.5 * (frames as f64 / 8.0).min(1.0))
}

impl Scores {
    /// Scores from findings and (when measured) the metrics summary.
    pub fn from_findings(findings: &[Finding], metrics: Option<&MetricsSummary>) -> Scores {
        let mut physics = 1.0;
        let mut realism = 1.0;
        for f in findings {
            let keep = 1.0 - weight(f.kind) * severity(f);
            if is_physics(f.kind) {
                physics *= keep;
            } else {
                realism *= keep;
            }
        }
        if let Some(m) = metrics {
            let finite = |v: f64| if v.is_finite() { v.max(0.0) } else { 0.0 };
            let penalty =
                (2.0 * finite(m.flicker_index)).min(0.25) + (10.0 * finite(m.warp_error)).min(0.25);
            realism *= 1.0 - penalty;
        }
        // Round to 0.1 so reports stay readable; rounding keeps the order.
        let round = |v: f64| ((v * 1000.0).round() / 10.0).clamp(0.0, 100.0);
        Scores {
            physics: round(physics),
            realism: round(realism),
        }
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    fn finding() -> impl Strategy<Value = Finding> {
        (0usize..9, 0u64..60, 0u64..30, -0.5f64..1.5).prop_map(|(k, start, len, score)| {
            Finding::new(DefectKind::ALL[k], start, start + len, score)
        })
    }

    fn summary() -> impl Strategy<Value = Option<MetricsSummary>> {
        proptest::option::of(
            (0.0f64..1.0, 0.0f64..1.0).prop_map(|(flicker_index, warp_error)| MetricsSummary {
                psnr_mean: 30.0,
                ssim_mean: 0.9,
                warp_error,
                flicker_index,
            }),
        )
    }

    proptest! {
        #[test]
        fn scores_stay_in_range(findings in proptest::collection::vec(finding(), 0..20), m in summary()) {
            let s = Scores::from_findings(&findings, m.as_ref());
            prop_assert!((0.0..=100.0).contains(&s.physics));
            prop_assert!((0.0..=100.0).contains(&s.realism));
        }

        #[test]
        fn more_or_stronger_findings_never_raise_a_score(
            findings in proptest::collection::vec(finding(), 0..10),
            extra in finding(),
            boost in 0.0f64..1.0,
            m in summary(),
        ) {
            let before = Scores::from_findings(&findings, m.as_ref());
            let mut more = findings.clone();
            more.push(extra.clone());
            let after = Scores::from_findings(&more, m.as_ref());
            prop_assert!(after.physics <= before.physics && after.realism <= before.realism);
            let mut stronger = more.clone();
            let last = stronger.len() - 1;
            stronger[last].score = (stronger[last].score + boost).min(1.0);
            stronger[last].end_frame += 3;
            let strongest = Scores::from_findings(&stronger, m.as_ref());
            prop_assert!(strongest.physics <= after.physics && strongest.realism <= after.realism);
        }
    }

    #[test]
    fn metrics_lower_realism_only() {
        let m = MetricsSummary {
            psnr_mean: 30.0,
            ssim_mean: 0.9,
            warp_error: 0.01,
            flicker_index: 0.05,
        };
        let s = Scores::from_findings(&[], Some(&m));
        assert_eq!(s.physics, 100.0);
        assert!((s.realism - 80.0).abs() < 1e-9, "{s:?}");
    }
}
