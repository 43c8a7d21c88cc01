//! The per-video JSON object of ARCHITECTURE.md.

use serde::{Deserialize, Serialize};

use crate::{Finding, MetricsSummary, Scores};

/// One analysed video, as `framebreak analyze` prints it (one object per
/// line):
///
/// ```json
/// {"file":"a.mp4","frames":48,"fps":24.0,"width":320,"height":240,
///  "defects":[{"kind":"melt","start_frame":20,"end_frame":47,"score":0.91,"bbox":[40,60,120,90]}],
///  "metrics":{"psnr_mean":31.2,"ssim_mean":0.93,"warp_error":0.0042,"flicker_index":0.01},
///  "scores":{"physics":41.0,"realism":72.5}}
/// ```
///
/// `frames`, `width`, `height` and frame numbers describe the analysed
/// frames (after sampling and resizing); `fps` is their rate.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VideoReport {
    /// The file as the user named it.
    pub file: String,
    /// Frames analysed.
    pub frames: u64,
    /// Frames per second of the analysed frames.
    pub fps: f64,
    /// Width of the analysed frames, in pixels.
    pub width: u32,
    /// Height of the analysed frames, in pixels.
    pub height: u32,
    /// Every defect found, ordered by start frame, then kind.
    pub defects: Vec<Finding>,
    /// The clip's metrics summary.
    pub metrics: MetricsSummary,
    /// Physics and realism scores, 0–100.
    pub scores: Scores,
}

impl VideoReport {
    /// The report as one line of JSON.
    pub fn to_json_line(&self) -> String {
        // Only maps with string keys and finite-checked floats go in: this
        // cannot fail, and NaN never reaches the metrics (they are capped).
        serde_json::to_string(self).unwrap_or_else(|e| {
            format!("{{\"file\":{:?},\"error\":{:?}}}", self.file, e.to_string())
        })
    }
}

#[cfg(test)]
mod tests {
    use framebreak_vocab::DefectKind;

    use super::*;

    #[test]
    fn json_has_exactly_the_architecture_fields_and_round_trips() {
        let r = VideoReport {
            file: "a.mp4".into(),
            frames: 48,
            fps: 24.0,
            width: 320,
            height: 240,
            defects: vec![
                Finding::new(DefectKind::Melt, 20, 47, 0.91).with_bbox([40, 60, 120, 90].into()),
            ],
            metrics: MetricsSummary {
                psnr_mean: 31.2,
                ssim_mean: 0.93,
                warp_error: 0.0042,
                flicker_index: 0.01,
            },
            scores: Scores {
                physics: 41.0,
                realism: 72.5,
            },
        };
        let line = r.to_json_line();
        assert_eq!(
            line,
            r#"{"file":"a.mp4","frames":48,"fps":24.0,"width":320,"height":240,"defects":[{"kind":"melt","start_frame":20,"end_frame":47,"score":0.91,"bbox":[40,60,120,90]}],"metrics":{"psnr_mean":31.2,"ssim_mean":0.93,"warp_error":0.0042,"flicker_index":0.01},"scores":{"physics":41.0,"realism":72.5}}"#
        );
        assert_eq!(serde_json::from_str::<VideoReport>(&line).unwrap(), r);
    }
}
