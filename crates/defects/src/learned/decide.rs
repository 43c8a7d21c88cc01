//! From per-frame probabilities to findings.

use crate::{BBox, Finding};

use super::model::{DECIDED, FrameProbabilities};

/// Frames below the threshold that may split one finding: a defect that
/// dips for a frame or two is still one defect.
const MAX_GAP: usize = 2;

/// One finding per run of frames whose probability reaches the kind's
/// threshold (runs closer than [`MAX_GAP`] frames merge); its score is the
/// run's highest probability, its box the union of the boxes `proposals`
/// of the same kind give inside the run.
pub fn findings(
    probabilities: &FrameProbabilities,
    thresholds: &[f32],
    proposals: &[Finding],
) -> Vec<Finding> {
    let mut out = Vec::new();
    for ((kind, probs), &threshold) in DECIDED.iter().zip(&probabilities.by_kind).zip(thresholds) {
        let mut run: Option<(usize, usize, f32)> = None;
        let close = |(a, b, best): (usize, usize, f32), out: &mut Vec<Finding>| {
            let mut f = Finding::new(*kind, a as u64, b as u64, f64::from(best));
            let boxes = proposals
                .iter()
                .filter(|p| {
                    p.kind == *kind && p.start_frame as usize <= b && p.end_frame as usize >= a
                })
                .filter_map(|p| p.bbox);
            if let Some(bbox) = boxes.reduce(BBox::union) {
                f = f.with_bbox(bbox);
            }
            out.push(f);
        };
        for (t, &p) in probs.iter().enumerate() {
            if p < threshold {
                continue;
            }
            run = match run {
                Some((a, b, best)) if t <= b + MAX_GAP + 1 => Some((a, t, best.max(p))),
                Some(done) => {
                    close(done, &mut out);
                    Some((t, t, p))
                }
                None => Some((t, t, p)),
            };
        }
        if let Some(done) = run {
            close(done, &mut out);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use framebreak_vocab::DefectKind;

    #[test]
    fn runs_merge_across_short_gaps_and_take_their_best_probability() {
        let mut by_kind = vec![vec![0.0; 12]; DECIDED.len()];
        by_kind[2] = vec![0.1, 0.7, 0.9, 0.2, 0.2, 0.6, 0.1, 0.1, 0.1, 0.1, 0.8, 0.1];
        let th = [0.5; 8];
        let proposal = Finding::new(DefectKind::Flicker, 4, 6, 0.3).with_bbox(BBox {
            x: 1,
            y: 2,
            w: 3,
            h: 4,
        });
        let got = findings(&FrameProbabilities { by_kind }, &th, &[proposal]);
        assert_eq!(got.len(), 2);
        assert_eq!(
            (got[0].kind, got[0].start_frame, got[0].end_frame),
            (DefectKind::Flicker, 1, 5)
        );
        assert!((got[0].score - 0.9).abs() < 1e-6);
        assert_eq!(
            got[0].bbox,
            Some(BBox {
                x: 1,
                y: 2,
                w: 3,
                h: 4
            })
        );
        assert_eq!(
            (got[1].start_frame, got[1].end_frame, got[1].bbox),
            (10, 10, None)
        );
    }
}
