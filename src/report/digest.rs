//! A report's figures gathered one row at a time: counts, per-group tallies,
//! the worst few rows and one message per failure category, so that the
//! reports of a million-job run hold aggregates, not a million rows.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use framebreak_defects::VideoReport;
use framebreak_defects::eval::Evaluation;
use framebreak_variants::{DefectKind, Family};

use super::stats::newcombe;
use super::summary::{
    CostLine, GroupRate, Histogram, Rate, Summary, TrapEffect, truth_in_analysed_frames,
};
use crate::cost::Estimate;
use crate::{ResultRow, RowStatus};

/// The analysed videos of one group, tallied.
#[derive(Debug, Clone, Default)]
struct GroupTally {
    videos: u64,
    broken: u64,
    physics: f64,
    realism: f64,
    kinds: BTreeMap<DefectKind, u64>,
}

impl GroupTally {
    fn add(&mut self, a: &VideoReport) {
        self.videos += 1;
        self.broken += u64::from(!a.defects.is_empty());
        self.physics += a.scores.physics;
        self.realism += a.scores.realism;
        let present: BTreeSet<DefectKind> = a.defects.iter().map(|f| f.kind).collect();
        for k in present {
            *self.kinds.entry(k).or_default() += 1;
        }
    }

    fn rate(&self, name: impl Into<String>) -> GroupRate {
        let videos = self.videos;
        let mean = |sum: f64| (videos > 0).then(|| sum / videos as f64);
        GroupRate {
            name: name.into(),
            broken: Rate::new(self.broken, videos),
            by_kind: DefectKind::ALL
                .into_iter()
                .map(|k| {
                    (
                        k,
                        Rate::new(self.kinds.get(&k).copied().unwrap_or(0), videos),
                    )
                })
                .collect(),
            physics_mean: mean(self.physics),
            realism_mean: mean(self.realism),
        }
    }
}

/// The figures of a report, fed one [`ResultRow`] at a time with
/// [`Digest::add`]: everything [`Summary`] shows, the `top_n` worst
/// analysed rows (lowest physics first, then lowest realism, then job id)
/// and the first message of each failure category.
///
/// Its memory is bounded by the campaign's shape (traps, families, base
/// prompts, failure categories) and `top_n`, never by the number of rows:
/// this is how a run's reports are made from its store, page by page.
///
/// ```
/// use framebreak::report::Digest;
///
/// let digest = Digest::new(5);
/// assert_eq!(digest.rows(), 0);
/// assert!(digest.worst().is_empty() && digest.summary().traps.is_empty());
/// ```
#[derive(Debug, Clone)]
pub struct Digest {
    top_n: usize,
    rows: usize,
    any_video: bool,
    by_status: BTreeMap<RowStatus, u64>,
    by_backend: BTreeMap<String, u64>,
    by_model: BTreeMap<String, u64>,
    failures: BTreeMap<String, u64>,
    examples: BTreeMap<String, String>,
    physics: Histogram,
    realism: Histogram,
    all: GroupTally,
    controls: GroupTally,
    traps: BTreeMap<String, GroupTally>,
    families: BTreeMap<Family, GroupTally>,
    /// Per trap, the base prompts of its analysed videos.
    trap_bases: BTreeMap<String, BTreeSet<String>>,
    /// Per base prompt, its analysed controls: (videos, broken).
    control_bases: HashMap<String, (u64, u64)>,
    detection: Option<Evaluation>,
    /// The estimated spend over all rows, and per trap (`control` for the
    /// controls): (submitted jobs, spend).
    spend: Option<(u64, Estimate)>,
    trap_spend: BTreeMap<String, (u64, Estimate)>,
    /// The worst rows so far, worst first, at most `top_n`.
    worst: Vec<ResultRow>,
}

/// Adds one submitted job's cost to a tally.
fn add_cost(tally: &mut (u64, Estimate), cost: Estimate) {
    tally.0 += 1;
    tally.1 = Estimate {
        low: tally.1.low.plus(cost.low),
        high: tally.1.high.plus(cost.high),
    };
}

impl Digest {
    /// An empty digest that keeps the `top_n` worst rows.
    #[must_use]
    pub fn new(top_n: usize) -> Self {
        Self {
            top_n,
            rows: 0,
            any_video: false,
            by_status: BTreeMap::new(),
            by_backend: BTreeMap::new(),
            by_model: BTreeMap::new(),
            failures: BTreeMap::new(),
            examples: BTreeMap::new(),
            physics: Histogram::default(),
            realism: Histogram::default(),
            all: GroupTally::default(),
            controls: GroupTally::default(),
            traps: BTreeMap::new(),
            families: BTreeMap::new(),
            trap_bases: BTreeMap::new(),
            control_bases: HashMap::new(),
            detection: None,
            spend: None,
            trap_spend: BTreeMap::new(),
            worst: Vec::new(),
        }
    }

    /// The digest of `rows`.
    #[must_use]
    pub fn of<'a>(rows: impl IntoIterator<Item = &'a ResultRow>, top_n: usize) -> Self {
        let mut digest = Self::new(top_n);
        for row in rows {
            digest.add(row);
        }
        digest
    }

    /// Adds one row.
    pub fn add(&mut self, row: &ResultRow) {
        self.rows += 1;
        self.any_video |= row.video.is_some();
        *self.by_status.entry(row.status).or_insert(0) += 1;
        *self.by_backend.entry(row.backend.clone()).or_insert(0) += 1;
        *self
            .by_model
            .entry(row.model.clone().unwrap_or_else(|| "-".into()))
            .or_insert(0) += 1;
        match (&row.failure, row.status) {
            (Some(f), _) => {
                let category = f.category.as_str();
                *self.failures.entry(category.to_owned()).or_insert(0) += 1;
                if !self.examples.contains_key(category) {
                    self.examples.insert(category.to_owned(), f.message.clone());
                }
            }
            (None, RowStatus::Cancelled) => {
                *self.failures.entry("cancelled".into()).or_insert(0) += 1
            }
            (None, _) => {}
        }
        if let Some(cost) = row.cost {
            add_cost(self.spend.get_or_insert_default(), cost);
            let groups = if row.control {
                vec!["control".to_owned()]
            } else {
                row.traps.clone()
            };
            for group in groups {
                add_cost(self.trap_spend.entry(group).or_default(), cost);
            }
        }
        let Some(a) = &row.analysis else { return };
        self.physics.add(a.scores.physics);
        self.realism.add(a.scores.realism);
        self.all.add(a);
        if row.control {
            self.controls.add(a);
            let entry = self.control_bases.entry(row.base_id.clone()).or_default();
            entry.0 += 1;
            entry.1 += u64::from(!a.defects.is_empty());
        }
        for trap in &row.traps {
            self.traps.entry(trap.clone()).or_default().add(a);
            let bases = self.trap_bases.entry(trap.clone()).or_default();
            if !bases.contains(&row.base_id) {
                bases.insert(row.base_id.clone());
            }
        }
        for family in &row.families {
            self.families.entry(*family).or_default().add(a);
        }
        if let Some(truth) = &row.truth {
            self.detection
                .get_or_insert_with(|| Evaluation::new(0))
                .add_clip(&a.defects, &truth_in_analysed_frames(truth, a.fps));
        }
        if row.status == RowStatus::Done && self.top_n > 0 {
            self.keep_if_worst(row);
        }
    }

    fn keep_if_worst(&mut self, row: &ResultRow) {
        let at = self
            .worst
            .partition_point(|kept| worse(kept, row) != std::cmp::Ordering::Greater);
        if at < self.top_n {
            self.worst.insert(at, row.clone());
            self.worst.truncate(self.top_n);
        }
    }

    /// Rows added.
    #[must_use]
    pub fn rows(&self) -> usize {
        self.rows
    }

    /// Rows with an analysis.
    #[must_use]
    pub fn analysed(&self) -> u64 {
        self.all.videos
    }

    /// Whether some row names a video file.
    #[must_use]
    pub fn any_video(&self) -> bool {
        self.any_video
    }

    /// The `top_n` worst analysed done rows, worst first.
    #[must_use]
    pub fn worst(&self) -> &[ResultRow] {
        &self.worst
    }

    /// The message of the first row that failed with `category`
    /// (`rate_limited`, …).
    #[must_use]
    pub fn example(&self, category: &str) -> Option<&str> {
        self.examples.get(category).map(String::as_str)
    }

    /// Every figure of the rows added so far.
    #[must_use]
    pub fn summary(&self) -> Summary {
        let traps: Vec<GroupRate> = self.traps.iter().map(|(t, g)| g.rate(t.as_str())).collect();
        let effects = traps
            .iter()
            .map(|rate| self.effect(&rate.name, rate.broken))
            .collect();
        Summary {
            rows: self.rows,
            by_status: self.by_status.clone(),
            by_backend: self.by_backend.clone(),
            by_model: self.by_model.clone(),
            analysed: self.all.videos,
            all: self.all.rate("all"),
            controls: self.controls.rate("control"),
            traps,
            families: self
                .families
                .iter()
                .map(|(f, g)| g.rate(f.as_str()))
                .collect(),
            effects,
            physics: self.physics,
            realism: self.realism,
            failures: self.failures.clone(),
            detection: self.detection.clone(),
            spend: self.spend,
            costs: self
                .trap_spend
                .iter()
                .map(|(name, &(submitted, spend))| {
                    let broken = if name == "control" {
                        self.controls.broken
                    } else {
                        self.traps.get(name).map_or(0, |t| t.broken)
                    };
                    CostLine {
                        name: name.clone(),
                        submitted,
                        spend,
                        broken,
                    }
                })
                .collect(),
        }
    }

    /// What `trap` does over the controls of the base prompts it was
    /// applied to.
    fn effect(&self, trap: &str, trap_rate: Rate) -> TrapEffect {
        let bases = self.trap_bases.get(trap);
        let (mut videos, mut broken) = (0, 0);
        for base in bases.into_iter().flatten() {
            if let Some((v, b)) = self.control_bases.get(base) {
                videos += v;
                broken += b;
            }
        }
        let control_rate = Rate::new(broken, videos);
        TrapEffect {
            trap: trap.to_owned(),
            trap_rate,
            control_rate,
            base_prompts: bases.map_or(0, BTreeSet::len),
            difference: newcombe(
                (trap_rate.hits, trap_rate.videos),
                (control_rate.hits, control_rate.videos),
            ),
        }
    }
}

/// The order of the worst rows: lowest physics first, then lowest realism,
/// then job id (rows without scores last).
pub(crate) fn worse(a: &ResultRow, b: &ResultRow) -> std::cmp::Ordering {
    let key = |r: &ResultRow| {
        (
            r.physics().unwrap_or(f64::MAX),
            r.realism().unwrap_or(f64::MAX),
        )
    };
    let (ka, kb) = (key(a), key(b));
    ka.0.total_cmp(&kb.0)
        .then(ka.1.total_cmp(&kb.1))
        .then(a.job.cmp(&b.job))
}

/// Done rows with an analysis, worst first (see [`worse`]).
pub(crate) fn worst_rows(rows: &[ResultRow]) -> Vec<&ResultRow> {
    let mut done: Vec<&ResultRow> = rows
        .iter()
        .filter(|r| r.status == RowStatus::Done && r.analysis.is_some())
        .collect();
    done.sort_by(|a, b| worse(a, b));
    done
}
