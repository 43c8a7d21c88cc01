//! The pipeline: clip → metrics → evidence → detectors → scorecard → report.

use std::fmt;
use std::path::Path;
use std::sync::{Arc, LazyLock};

use framebreak_media::{Clip, ReadOptions, Windows};

use crate::learned::{DECIDED, DecisionModel, FeatureMatrix, findings};
use crate::window::Joined;
use crate::{
    ClipMetrics, Compute, DefectDetector, Error, Evidence, Finding, MetricsSummary, Scores,
    VideoReport, Window, default_detectors,
};

/// The shipped weights, read once per process.
static EMBEDDED: LazyLock<Result<Arc<DecisionModel>, String>> = LazyLock::new(|| {
    DecisionModel::embedded()
        .map(Arc::new)
        .map_err(|e| e.to_string())
});

/// Who turns the detectors' proposals into findings.
#[derive(Clone)]
enum Decisions {
    /// The weights in the crate.
    Embedded,
    /// Weights the caller gave.
    Model(Arc<DecisionModel>),
    /// The detectors' own thresholds.
    Detectors,
}

/// Analyses clips and files: every metric, every detector, the scores.
///
/// ```
/// use framebreak_defects::Analyzer;
/// use framebreak_media::{Clip, ClipInfo, Frame};
///
/// // A still grey card: nothing moves, nothing is wrong.
/// let frames = (0..4)
///     .map(|i| Frame::from_rgb8(i, i as f64 / 24.0, 64, 48, vec![128; 64 * 48 * 3]))
///     .collect::<Result<Vec<_>, _>>()?;
/// let info = ClipInfo { width: 64, height: 48, fps: 24.0, frame_count: Some(4), codec: "raw".into() };
/// let report = Analyzer::new().analyze_clip("card", &Clip { info, frames })?;
/// assert!(report.defects.is_empty());
/// assert_eq!((report.scores.physics, report.frames), (100.0, 4));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct Analyzer {
    compute: Compute,
    detectors: Vec<Box<dyn DefectDetector>>,
    /// Detectors added beside the proposers: their findings are reported
    /// as found, never re-decided by the model.
    extra: Vec<Box<dyn DefectDetector>>,
    decisions: Decisions,
    read: ReadOptions,
    window: Window,
}

impl fmt::Debug for Analyzer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Analyzer")
            .field("device", &self.compute.name())
            .field(
                "detectors",
                &self
                    .detectors
                    .iter()
                    .map(|d| d.name().to_owned())
                    .collect::<Vec<_>>(),
            )
            .field(
                "extra",
                &self
                    .extra
                    .iter()
                    .map(|d| d.name().to_owned())
                    .collect::<Vec<_>>(),
            )
            .field(
                "decisions",
                &match &self.decisions {
                    Decisions::Embedded => "embedded model",
                    Decisions::Model(_) => "given model",
                    Decisions::Detectors => "detectors' own thresholds",
                },
            )
            .field("read", &self.read)
            .field("window", &self.window)
            .finish()
    }
}

impl Default for Analyzer {
    fn default() -> Self {
        Self::new()
    }
}

impl Analyzer {
    /// Every default detector proposing, the shipped decision model
    /// deciding, metrics on the CPU, every frame at full size.
    pub fn new() -> Self {
        Analyzer {
            compute: Compute::cpu(),
            detectors: default_detectors(),
            extra: Vec::new(),
            decisions: Decisions::Embedded,
            read: ReadOptions::default(),
            window: Window::default(),
        }
    }

    /// Decides with `model` instead of the shipped weights.
    #[must_use]
    pub fn decisions(mut self, model: DecisionModel) -> Self {
        self.decisions = Decisions::Model(Arc::new(model));
        self
    }

    /// Reports the detectors' findings as they are, without a learned
    /// decision (their hand-set thresholds; for comparison).
    #[must_use]
    pub fn without_decisions(mut self) -> Self {
        self.decisions = Decisions::Detectors;
        self
    }

    /// Where the metrics run.
    #[must_use]
    pub fn compute(mut self, compute: Compute) -> Self {
        self.compute = compute;
        self
    }

    /// Replaces the detectors. With a decision model, the findings of the
    /// kinds it decides ([`DECIDED`](crate::learned::DECIDED)) are its
    /// features, not the answer; other kinds are reported as found.
    #[must_use]
    pub fn detectors(mut self, detectors: Vec<Box<dyn DefectDetector>>) -> Self {
        self.detectors = detectors;
        self
    }

    /// Adds `detector` beside the proposers. Its findings are reported as
    /// it finds them, whatever their kind: the decision model was trained
    /// on the proposers' findings and does not re-decide anyone else's.
    /// This is how a custom detector runs inside a campaign.
    #[must_use]
    pub fn extra_detector(mut self, detector: impl DefectDetector + 'static) -> Self {
        self.extra.push(Box::new(detector));
        self
    }

    /// How files are read: sampling, analysis size, frame limit.
    #[must_use]
    pub fn read_options(mut self, read: ReadOptions) -> Self {
        self.read = read;
        self
    }

    /// How many frames of a file are analysed together (see [`Window`]):
    /// memory grows with the window, not with the length of the video.
    #[must_use]
    pub fn window(mut self, window: Window) -> Self {
        self.window = window;
        self
    }

    /// Reads `path` with the read options and analyses it, one
    /// [`Window`] of frames at a time; the report names the file as given.
    ///
    /// # Errors
    /// [`Error::Media`] when the file cannot be read or decoded, and the
    /// errors of [`Analyzer::analyze_clip`].
    pub fn analyze_file(&self, path: &Path) -> Result<VideoReport, Error> {
        self.window.validate()?;
        let name = path.display().to_string();
        let windows = Windows::new(
            framebreak_media::open(path)?,
            &self.read,
            self.window.frames,
            self.window.overlap,
        )?;
        let mut joined = Joined::new();
        for window in windows {
            let (start, clip) = window?;
            joined.add(start as u64, self.analyze_clip(&name, &clip)?);
        }
        joined.finish().ok_or_else(|| Error::InvalidInput {
            what: "clip".into(),
            reason: format!("{name} has no frames"),
        })
    }

    /// Analyses a clip already in memory.
    ///
    /// # Errors
    /// [`Error::InvalidInput`] for clips of fewer than 2 frames, frames
    /// smaller than 32×32 or of different sizes; [`Error::Tensor`] when the
    /// device fails.
    pub fn analyze_clip(&self, file: &str, clip: &Clip) -> Result<VideoReport, Error> {
        let Some(model) = self.model()? else {
            // The detectors' own thresholds need only the metrics' summary.
            let (metrics, evidence) = rayon::join(
                || MetricsSummary::compute(clip, &self.compute),
                || Evidence::new(clip),
            );
            let (metrics, evidence) = (metrics?, evidence?);
            let mut found = self.proposals(&evidence);
            found.extend(self.extras(&evidence));
            return Ok(self.report(file, clip, found, metrics));
        };
        let (clip_metrics, evidence) = self.measure(clip)?;
        // The scene's features need no proposal: measured beside the detectors.
        let (proposals, mut features) = rayon::join(
            || self.proposals(&evidence),
            || FeatureMatrix::measure_scene(&evidence, &clip_metrics),
        );
        features.add_proposals(&proposals);
        let probabilities = model.probabilities(&features)?;
        let mut decided = findings(&probabilities, &model.thresholds(), &proposals);
        decided.extend(proposals.into_iter().filter(|p| !DECIDED.contains(&p.kind)));
        decided.extend(self.extras(&evidence));
        Ok(self.report(file, clip, decided, clip_metrics.summary))
    }

    /// The report of `clip`: findings in a stable order, scores.
    fn report(
        &self,
        file: &str,
        clip: &Clip,
        mut defects: Vec<Finding>,
        metrics: MetricsSummary,
    ) -> VideoReport {
        defects.sort_by(|a, b| {
            (a.start_frame, a.kind, a.end_frame).cmp(&(b.start_frame, b.kind, b.end_frame))
        });
        let scores = Scores::from_findings(&defects, Some(&metrics));
        let first = &clip.frames[0];
        VideoReport {
            file: file.to_owned(),
            frames: clip.frames.len() as u64,
            fps: clip.info.fps,
            width: first.width(),
            height: first.height(),
            defects,
            metrics,
            scores,
        }
    }

    /// The metrics and the detectors' evidence: they read the clip and
    /// nothing of each other, so they run side by side.
    fn measure<'c>(&self, clip: &'c Clip) -> Result<(ClipMetrics, Evidence<'c>), Error> {
        let (metrics, evidence) = rayon::join(
            || ClipMetrics::compute(clip, &self.compute),
            || Evidence::new(clip),
        );
        Ok((metrics?, evidence?))
    }

    /// The features the decision model reads for `clip`: what training
    /// measures on each labelled clip.
    ///
    /// # Errors
    /// As [`Analyzer::analyze_clip`].
    pub fn features(&self, clip: &Clip) -> Result<FeatureMatrix, Error> {
        let (metrics, evidence) = self.measure(clip)?;
        Ok(FeatureMatrix::measure(
            &evidence,
            &metrics,
            &self.proposals(&evidence),
        ))
    }

    /// Every detector's findings, in detector order (so the report does not
    /// depend on which thread finished first).
    fn proposals(&self, evidence: &Evidence<'_>) -> Vec<Finding> {
        use rayon::prelude::*;
        let per_detector: Vec<Vec<_>> = self
            .detectors
            .par_iter()
            .map(|d| d.detect(evidence))
            .collect();
        per_detector.into_iter().flatten().collect()
    }

    /// The extra detectors' findings, in the order they were added.
    fn extras(&self, evidence: &Evidence<'_>) -> Vec<Finding> {
        self.extra.iter().flat_map(|d| d.detect(evidence)).collect()
    }

    fn model(&self) -> Result<Option<Arc<DecisionModel>>, Error> {
        match &self.decisions {
            Decisions::Detectors => Ok(None),
            Decisions::Model(m) => Ok(Some(Arc::clone(m))),
            Decisions::Embedded => match &*EMBEDDED {
                Ok(m) => Ok(Some(Arc::clone(m))),
                Err(reason) => Err(Error::Weights {
                    source_name: "embedded".into(),
                    reason: reason.clone(),
                }),
            },
        }
    }
}
