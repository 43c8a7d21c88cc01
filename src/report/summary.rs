//! The numbers of a report, computed once from the rows: counts, defect
//! rates per trap and family, the effect of each trap over its controls,
//! score histograms, failure categories and, for simulated runs, the
//! detectors' precision and recall.

use std::collections::{BTreeMap, BTreeSet};

use framebreak_defects::eval::{Evaluation, TrueDefect};
use framebreak_sim::GroundTruth;
use framebreak_variants::DefectKind;
use serde::Serialize;

use super::stats::{Interval, newcombe, wilson};
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

impl GroupRate {
    fn of<'a>(name: impl Into<String>, rows: impl IntoIterator<Item = &'a ResultRow>) -> Self {
        let (mut videos, mut broken, mut physics, mut realism) = (0u64, 0u64, 0.0, 0.0);
        let mut kinds: BTreeMap<DefectKind, u64> = BTreeMap::new();
        for row in rows {
            let Some(a) = &row.analysis else { continue };
            videos += 1;
            broken += u64::from(!a.defects.is_empty());
            physics += a.scores.physics;
            realism += a.scores.realism;
            let present: BTreeSet<DefectKind> = a.defects.iter().map(|f| f.kind).collect();
            for k in present {
                *kinds.entry(k).or_default() += 1;
            }
        }
        let mean = |sum: f64| (videos > 0).then(|| sum / videos as f64);
        Self {
            name: name.into(),
            broken: Rate::new(broken, videos),
            by_kind: DefectKind::ALL
                .into_iter()
                .map(|k| (k, Rate::new(kinds.get(&k).copied().unwrap_or(0), videos)))
                .collect(),
            physics_mean: mean(physics),
            realism_mean: mean(realism),
        }
    }
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
    fn add(&mut self, score: f64) {
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
}

impl Summary {
    /// Computes every figure from `rows`.
    #[must_use]
    pub fn new(rows: &[ResultRow]) -> Self {
        let mut by_status = BTreeMap::new();
        let mut by_backend = BTreeMap::new();
        let mut by_model = BTreeMap::new();
        let mut failures = BTreeMap::new();
        let (mut physics, mut realism) = (Histogram::default(), Histogram::default());
        for row in rows {
            *by_status.entry(row.status).or_insert(0) += 1;
            *by_backend.entry(row.backend.clone()).or_insert(0) += 1;
            *by_model
                .entry(row.model.clone().unwrap_or_else(|| "-".into()))
                .or_insert(0) += 1;
            match (&row.failure, row.status) {
                (Some(f), _) => *failures.entry(f.category.as_str().to_owned()).or_insert(0) += 1,
                (None, RowStatus::Cancelled) => {
                    *failures.entry("cancelled".into()).or_insert(0) += 1
                }
                (None, _) => {}
            }
            if let Some(a) = &row.analysis {
                physics.add(a.scores.physics);
                realism.add(a.scores.realism);
            }
        }
        let analysed: Vec<&ResultRow> = rows.iter().filter(|r| r.analysis.is_some()).collect();
        let trap_ids: BTreeSet<&str> = analysed
            .iter()
            .flat_map(|r| r.traps.iter().map(String::as_str))
            .collect();
        let traps: Vec<GroupRate> = trap_ids
            .iter()
            .map(|t| {
                GroupRate::of(
                    *t,
                    analysed
                        .iter()
                        .copied()
                        .filter(|r| r.traps.iter().any(|x| x == t)),
                )
            })
            .collect();
        let family_names: BTreeSet<_> = analysed.iter().flat_map(|r| r.families.iter()).collect();
        let families = family_names
            .into_iter()
            .map(|f| {
                GroupRate::of(
                    f.as_str(),
                    analysed.iter().copied().filter(|r| r.families.contains(f)),
                )
            })
            .collect();
        let controls: Vec<&ResultRow> = analysed.iter().copied().filter(|r| r.control).collect();
        let effects = trap_ids
            .iter()
            .zip(&traps)
            .map(|(t, rate)| effect(t, rate.broken, &analysed, &controls))
            .collect();
        let mut detection: Option<Evaluation> = None;
        for row in &analysed {
            if let (Some(truth), Some(a)) = (&row.truth, &row.analysis) {
                detection
                    .get_or_insert_with(|| Evaluation::new(0))
                    .add_clip(&a.defects, &truth_in_analysed_frames(truth, a.fps));
            }
        }
        Self {
            rows: rows.len(),
            by_status,
            by_backend,
            by_model,
            analysed: analysed.len() as u64,
            all: GroupRate::of("all", analysed.iter().copied()),
            controls: GroupRate::of("control", controls.iter().copied()),
            traps,
            families,
            effects,
            physics,
            realism,
            failures,
            detection,
        }
    }
}

fn effect(
    trap: &str,
    trap_rate: Rate,
    analysed: &[&ResultRow],
    controls: &[&ResultRow],
) -> TrapEffect {
    let bases: BTreeSet<&str> = analysed
        .iter()
        .filter(|r| r.traps.iter().any(|x| x == trap))
        .map(|r| r.base_id.as_str())
        .collect();
    let matched: Vec<&&ResultRow> = controls
        .iter()
        .filter(|r| bases.contains(r.base_id.as_str()))
        .collect();
    let broken = matched
        .iter()
        .filter(|r| r.analysis.as_ref().is_some_and(|a| !a.defects.is_empty()))
        .count() as u64;
    let control_rate = Rate::new(broken, matched.len() as u64);
    TrapEffect {
        trap: trap.to_owned(),
        trap_rate,
        control_rate,
        base_prompts: bases.len(),
        difference: newcombe(
            (trap_rate.hits, trap_rate.videos),
            (control_rate.hits, control_rate.videos),
        ),
    }
}

/// The truth's frames in the numbering of the analysed frames: the analysis
/// may have sampled the video at a lower rate than the simulator rendered.
fn truth_in_analysed_frames(truth: &GroundTruth, analysed_fps: f64) -> Vec<TrueDefect> {
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
