//! The numbers of a report, computed once from the rows: counts, defect
//! rates per trap and family, the effect of each trap over its controls,
//! score histograms, failure categories and, for simulated runs, the
//! detectors' precision and recall.

use std::collections::BTreeMap;

use framebreak_defects::eval::{Evaluation, TrueDefect};
use framebreak_sim::GroundTruth;
use framebreak_variants::DefectKind;
use serde::Serialize;

use super::Digest;
use super::stats::{Interval, wilson};
use crate::cost::{Estimate, Usd};
use crate::{ResultRow, RowStatus};

/// Videos showing something, out of videos analysed, with Wilson's 95 %
/// interval.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Rate {
    /// Videos that show it.
    pub hits: u64,
    /// Videos analysed.
    pub videos: u64,
    /// The rate and its interval; `None` without videos.
    pub interval: Option<Interval>,
}

impl Rate {
    /// `hits` out of `videos`.
    #[must_use]
    pub fn new(hits: u64, videos: u64) -> Self {
        Self {
            hits,
            videos,
            interval: wilson(hits, videos),
        }
    }
}

/// The defect rates of a group of analysed videos (a trap, a family, the
/// controls, everything).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct GroupRate {
    /// The group: a trap id, a family name, `control` or `all`.
    pub name: String,
    /// Videos with at least one defect ("broken").
    pub broken: Rate,
    /// Per defect kind, videos with at least one defect of that kind.
    pub by_kind: BTreeMap<DefectKind, Rate>,
    /// Mean physics score.
    pub physics_mean: Option<f64>,
    /// Mean realism score.
    pub realism_mean: Option<f64>,
}

/// What a trap does over its unmutated base prompts: its defect rate minus
/// the rate of the controls of the same base prompts.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TrapEffect {
    /// The trap id.
    pub trap: String,
    /// Broken videos among the trap's.
    pub trap_rate: Rate,
    /// Broken videos among the controls of the base prompts the trap was
    /// applied to.
    pub control_rate: Rate,
    /// Those base prompts.
    pub base_prompts: usize,
    /// The difference and Newcombe's 95 % interval; `None` when either side
    /// has no analysed video.
    pub difference: Option<Interval>,
}

/// Scores in ten bins of ten points: `[0, 10)`, …, `[90, 100]`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Histogram {
    /// Videos per bin.
    pub bins: [u64; 10],
}

impl Histogram {
    pub(super) fn add(&mut self, score: f64) {
        if score.is_finite() {
            let bin = (score / 10.0).floor().clamp(0.0, 9.0) as usize;
            self.bins[bin] += 1;
        }
    }

    /// Videos counted.
    #[must_use]
    pub fn total(&self) -> u64 {
        self.bins.iter().sum()
    }
}

/// Everything a report shows, computed from the rows.
///
/// ```
/// use framebreak::report::Summary;
///
/// let summary = Summary::new(&[]);
/// assert_eq!((summary.rows, summary.analysed), (0, 0));
/// assert!(summary.traps.is_empty() && summary.detection.is_none());
/// ```
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct Summary {
    /// Rows (finished jobs).
    pub rows: usize,
    /// Rows per status.
    pub by_status: BTreeMap<RowStatus, u64>,
    /// Rows per backend.
    pub by_backend: BTreeMap<String, u64>,
    /// Rows per model (`-` when none was named).
    pub by_model: BTreeMap<String, u64>,
    /// Done rows with an analysis.
    pub analysed: u64,
    /// Every analysed video.
    pub all: GroupRate,
    /// The analysed controls (unmutated base prompts).
    pub controls: GroupRate,
    /// Per trap, by trap id.
    pub traps: Vec<GroupRate>,
    /// Per trap family.
    pub families: Vec<GroupRate>,
    /// Per trap, its effect over the controls of its base prompts.
    pub effects: Vec<TrapEffect>,
    /// Physics scores of the analysed videos.
    pub physics: Histogram,
    /// Realism scores of the analysed videos.
    pub realism: Histogram,
    /// Failed and cancelled jobs per failure category.
    pub failures: BTreeMap<String, u64>,
    /// The detectors against the simulator's ground truth, over analysed
    /// rows that carry it; `None` when no row does.
    pub detection: Option<Evaluation>,
    /// Submitted jobs with a price and their estimated spend; `None` when
    /// no row carries a cost.
    pub spend: Option<(u64, Estimate)>,
    /// The spend per trap (and `control`), with the videos it broke.
    pub costs: Vec<CostLine>,
}

/// What one trap cost, and what it found.
#[derive(Debug, Clone, PartialEq)]
pub struct CostLine {
    /// The trap id, or `control`.
    pub name: String,
    /// Its submitted jobs.
    pub submitted: u64,
    /// Their estimated spend.
    pub spend: Estimate,
    /// Its analysed videos with at least one defect.
    pub broken: u64,
}

impl CostLine {
    /// The estimated spend per video with a defect found (the highest
    /// estimate), when it found any.
    #[must_use]
    pub fn per_defect(&self) -> Option<Usd> {
        (self.broken > 0).then(|| Usd::from_micros(self.spend.high.micros() / self.broken))
    }
}

impl Summary {
    /// Computes every figure from `rows` (through a [`Digest`], which
    /// takes them one at a time).
    #[must_use]
    pub fn new(rows: &[ResultRow]) -> Self {
        Digest::of(rows, 0).summary()
    }
}

/// The truth's frames in the numbering of the analysed frames: the analysis
/// may have sampled the video at a lower rate than the simulator rendered.
pub(super) fn truth_in_analysed_frames(truth: &GroundTruth, analysed_fps: f64) -> Vec<TrueDefect> {
    let scale = if truth.fps > 0.0 && analysed_fps > 0.0 && analysed_fps < truth.fps {
        analysed_fps / truth.fps
    } else {
        1.0
    };
    let at = |f: u64| (f as f64 * scale).round() as u64;
    truth
        .defects
        .iter()
        .map(|d| TrueDefect::new(d.kind, at(d.start_frame), at(d.end_frame)))
        .collect()
}
