//! A long video analysed as overlapping windows of frames, and the windows'
//! reports joined into one.
//!
//! Analysis holds a few megabytes per frame (planes, pyramids, flows); a
//! video is therefore read as windows of [`Window::frames`] kept frames that
//! overlap by [`Window::overlap`] (see [`framebreak_media::Windows`]), each
//! analysed on its own, so memory is bounded by the window and not by the
//! length of the video. A video no longer than one window is analysed
//! whole, exactly as [`Analyzer::analyze_clip`](crate::Analyzer::analyze_clip)
//! would.
//!
//! Joining: frame numbers are shifted to the whole video's; the middle of
//! each overlap is the border between two windows, and a finding that lies
//! wholly on the other window's side of it is left to that window (which
//! saw it with more context); findings of one kind that overlap or nearly
//! touch across a border become one. Metrics are means over the windows
//! weighted by the frames each adds.

use crate::{BBox, Error, Finding, Scores, VideoReport};

/// Findings of one kind this close (in frames) across a border are one.
const JOIN_GAP: u64 = 2;

/// How many frames are analysed together.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Window {
    /// Frames per window.
    pub frames: usize,
    /// Frames each window shares with the one before.
    pub overlap: usize,
}

impl Default for Window {
    /// 96 frames (the campaign's default frame cap: a campaign's videos are
    /// analysed whole), overlapping by 24 (the decision model reads ±14
    /// frames around each frame, the features look up to 20 frames back).
    fn default() -> Self {
        Window {
            frames: 96,
            overlap: 24,
        }
    }
}

impl Window {
    /// Checks the window can be analysed: at least 8 frames, an overlap of
    /// at least 2 frames and at most half the window.
    ///
    /// # Errors
    /// [`Error::InvalidInput`] naming the window.
    pub fn validate(&self) -> Result<(), Error> {
        if self.frames < 8 || self.overlap < 2 || 2 * self.overlap > self.frames {
            return Err(Error::InvalidInput {
                what: "analysis window".into(),
                reason: format!(
                    "{} frames overlapping by {}: needs at least 8 frames and an overlap from 2 to half the window",
                    self.frames, self.overlap
                ),
            });
        }
        Ok(())
    }
}

/// Reports of consecutive windows, joined as they come: one report whose
/// `frames` is where the last window ended (and the weight of its metrics).
#[derive(Debug)]
pub(crate) struct Joined {
    report: Option<VideoReport>,
}

impl Joined {
    pub(crate) fn new() -> Self {
        Joined { report: None }
    }

    /// Adds the report of the window whose first frame is frame `start` of
    /// the whole video.
    pub(crate) fn add(&mut self, start: u64, mut window: VideoReport) {
        for f in &mut window.defects {
            f.start_frame += start;
            f.end_frame += start;
        }
        let end = start + window.frames;
        let Some(whole) = self.report.as_mut() else {
            self.report = Some(window);
            return;
        };
        // The border: the middle of the overlap.
        let border = start + whole.frames.saturating_sub(start) / 2;
        whole.defects.retain(|f| f.start_frame < border);
        window.defects.retain(|f| f.end_frame >= border);
        let (before, added) = (whole.frames as f64, end.saturating_sub(whole.frames) as f64);
        let mix = |a: &mut f64, b: f64| {
            if before + added > 0.0 {
                *a = (*a * before + b * added) / (before + added);
            }
        };
        let m = &mut whole.metrics;
        let w = &window.metrics;
        mix(&mut m.psnr_mean, w.psnr_mean);
        mix(&mut m.ssim_mean, w.ssim_mean);
        mix(&mut m.warp_error, w.warp_error);
        mix(&mut m.flicker_index, w.flicker_index);
        whole.frames = end;
        for f in window.defects {
            join(&mut whole.defects, f);
        }
    }

    /// The whole video's report; `None` when no window was added.
    pub(crate) fn finish(self) -> Option<VideoReport> {
        let mut report = self.report?;
        report.defects.sort_by(|a, b| {
            (a.start_frame, a.kind, a.end_frame).cmp(&(b.start_frame, b.kind, b.end_frame))
        });
        report.scores = Scores::from_findings(&report.defects, Some(&report.metrics));
        Some(report)
    }
}

/// Adds `f` to `findings`, made one with a finding of its kind it overlaps
/// or nearly touches.
fn join(findings: &mut Vec<Finding>, f: Finding) {
    let near = findings.iter_mut().find(|g| {
        g.kind == f.kind
            && f.start_frame <= g.end_frame + JOIN_GAP
            && g.start_frame <= f.end_frame + JOIN_GAP
    });
    let Some(g) = near else {
        findings.push(f);
        return;
    };
    g.start_frame = g.start_frame.min(f.start_frame);
    g.end_frame = g.end_frame.max(f.end_frame);
    g.score = g.score.max(f.score);
    g.bbox = match (g.bbox, f.bbox) {
        (Some(a), Some(b)) => Some(union(a, b)),
        _ => None,
    };
}

fn union(a: BBox, b: BBox) -> BBox {
    let x = a.x.min(b.x);
    let y = a.y.min(b.y);
    BBox {
        x,
        y,
        w: (a.x + a.w).max(b.x + b.w) - x,
        h: (a.y + a.h).max(b.y + b.h) - y,
    }
}

#[cfg(test)]
mod tests {
    use framebreak_vocab::DefectKind;

    use super::*;
    use crate::MetricsSummary;

    fn metrics(psnr: f64) -> MetricsSummary {
        MetricsSummary {
            psnr_mean: psnr,
            ssim_mean: 0.9,
            warp_error: 0.01,
            flicker_index: 0.0,
        }
    }

    fn report(frames: u64, defects: Vec<Finding>, psnr: f64) -> VideoReport {
        let metrics = metrics(psnr);
        VideoReport {
            file: "v".into(),
            frames,
            fps: 24.0,
            width: 64,
            height: 48,
            scores: Scores::from_findings(&defects, Some(&metrics)),
            defects,
            metrics,
        }
    }

    #[test]
    fn findings_move_to_the_whole_videos_frames_and_join_across_a_border() {
        let mut j = Joined::new();
        // Window 0: frames 0–95; window 1: 72–167 (border at 84).
        j.add(
            0,
            report(
                96,
                vec![
                    Finding::new(DefectKind::Melt, 80, 95, 0.6),
                    // Wholly past the border: window 1 saw it too.
                    Finding::new(DefectKind::Flicker, 90, 91, 0.9),
                ],
                30.0,
            ),
        );
        j.add(
            72,
            report(
                96,
                vec![
                    Finding::new(DefectKind::Melt, 0, 30, 0.8),
                    Finding::new(DefectKind::Flicker, 18, 19, 0.7),
                    // Wholly before the border: window 0's to report.
                    Finding::new(DefectKind::Teleport, 2, 3, 0.9),
                    Finding::new(DefectKind::ColorSparks, 60, 61, 0.5),
                ],
                40.0,
            ),
        );
        let r = j.finish().unwrap();
        assert_eq!(r.frames, 168);
        let spans: Vec<_> = r
            .defects
            .iter()
            .map(|f| (f.kind, f.start_frame, f.end_frame))
            .collect();
        assert_eq!(
            spans,
            vec![
                (DefectKind::Melt, 72, 102),
                (DefectKind::Flicker, 90, 91),
                (DefectKind::ColorSparks, 132, 133),
            ]
        );
        assert_eq!(r.defects[0].score, 0.8);
        // 96 frames at 30 dB, 72 more at 40 dB.
        assert!((r.metrics.psnr_mean - (96.0 * 30.0 + 72.0 * 40.0) / 168.0).abs() < 1e-9);
        assert_eq!(
            r.scores,
            Scores::from_findings(&r.defects, Some(&r.metrics))
        );
    }

    #[test]
    fn one_window_is_its_own_report() {
        let one = report(40, vec![Finding::new(DefectKind::Warp, 3, 5, 0.7)], 33.0);
        let mut j = Joined::new();
        j.add(0, one.clone());
        assert_eq!(j.finish().unwrap(), one);
    }

    #[test]
    fn unusable_windows_are_refused_by_name() {
        for (frames, overlap) in [(4, 2), (96, 1), (96, 60)] {
            let err = Window { frames, overlap }.validate().unwrap_err();
            assert!(
                err.to_string()
                    .contains(&format!("{frames} frames overlapping by {overlap}"))
            );
        }
        assert!(Window::default().validate().is_ok());
    }
}
