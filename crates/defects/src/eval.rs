//! Scoring detectors against ground truth: which findings match a true
//! defect, and precision, recall and F1 per defect kind.
//!
//! This crate knows nothing of where the truth comes from (the simulator,
//! the evaluation set's `truth.json`), so truth is a list of
//! [`TrueDefect`]s: a kind and an inclusive frame range.

use std::collections::BTreeMap;

use framebreak_vocab::DefectKind;
use serde::{Deserialize, Serialize};

use crate::Finding;

/// A defect known to be in a clip: its kind and the frames it spans (from
/// 0, `end_frame` inclusive).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct TrueDefect {
    /// What is wrong.
    pub kind: DefectKind,
    /// First frame showing it.
    pub start_frame: u64,
    /// Last frame showing it (inclusive).
    pub end_frame: u64,
}

impl TrueDefect {
    /// A true defect over `start_frame..=end_frame`.
    pub fn new(kind: DefectKind, start_frame: u64, end_frame: u64) -> Self {
        Self {
            kind,
            start_frame: start_frame.min(end_frame),
            end_frame: start_frame.max(end_frame),
        }
    }
}

/// Whether `finding` matches `truth`: the same kind, and frame ranges that
/// overlap or lie at most `slack` frames apart.
///
/// ```
/// use framebreak_defects::Finding;
/// use framebreak_defects::eval::{TrueDefect, matches};
/// use framebreak_vocab::DefectKind;
///
/// let truth = TrueDefect::new(DefectKind::Melt, 10, 20);
/// assert!(matches(&Finding::new(DefectKind::Melt, 20, 30, 0.9), &truth, 0));
/// assert!(!matches(&Finding::new(DefectKind::Melt, 21, 30, 0.9), &truth, 0));
/// assert!(matches(&Finding::new(DefectKind::Melt, 21, 30, 0.9), &truth, 1));
/// assert!(!matches(&Finding::new(DefectKind::Warp, 10, 20, 0.9), &truth, 0));
/// ```
pub fn matches(finding: &Finding, truth: &TrueDefect, slack: u64) -> bool {
    finding.kind == truth.kind
        && finding.start_frame <= truth.end_frame.saturating_add(slack)
        && truth.start_frame <= finding.end_frame.saturating_add(slack)
}

/// Counts for one defect kind (or all of them together).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Tally {
    /// Findings of the kind.
    pub findings: usize,
    /// Findings that match a true defect.
    pub matching: usize,
    /// True defects of the kind.
    pub truths: usize,
    /// True defects some finding matches.
    pub found: usize,
    /// Findings in clips with no true defect at all.
    pub on_clean: usize,
}

impl Tally {
    /// Matching findings over findings; `None` without findings.
    pub fn precision(&self) -> Option<f64> {
        ratio(self.matching, self.findings)
    }

    /// Found true defects over true defects; `None` without true defects.
    pub fn recall(&self) -> Option<f64> {
        ratio(self.found, self.truths)
    }

    /// The harmonic mean of precision and recall; 0 when both are 0, `None`
    /// when either is undefined.
    pub fn f1(&self) -> Option<f64> {
        let (p, r) = (self.precision()?, self.recall()?);
        Some(if p + r > 0.0 {
            2.0 * p * r / (p + r)
        } else {
            0.0
        })
    }

    fn add(&mut self, other: &Tally) {
        self.findings += other.findings;
        self.matching += other.matching;
        self.truths += other.truths;
        self.found += other.found;
        self.on_clean += other.on_clean;
    }
}

fn ratio(a: usize, b: usize) -> Option<f64> {
    (b > 0).then(|| a as f64 / b as f64)
}

/// Findings scored against truth, clip after clip.
///
/// ```
/// use framebreak_defects::Finding;
/// use framebreak_defects::eval::{Evaluation, TrueDefect};
/// use framebreak_vocab::DefectKind;
///
/// let mut eval = Evaluation::new(0);
/// eval.add_clip(
///     &[Finding::new(DefectKind::Melt, 12, 18, 0.8), Finding::new(DefectKind::Flicker, 0, 3, 0.5)],
///     &[TrueDefect::new(DefectKind::Melt, 10, 20), TrueDefect::new(DefectKind::Warp, 5, 9)],
/// );
/// eval.add_clip(&[], &[]);
/// assert_eq!(eval.tally(DefectKind::Melt).f1(), Some(1.0));
/// assert_eq!(eval.tally(DefectKind::Flicker).precision(), Some(0.0));
/// assert_eq!(eval.tally(DefectKind::Warp).recall(), Some(0.0));
/// let all = eval.total();
/// assert_eq!((all.findings, all.matching, all.truths, all.found), (2, 1, 2, 1));
/// assert_eq!((eval.clips(), eval.clean_clips(), eval.clean_flagged()), (2, 1, 0));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Evaluation {
    slack: u64,
    per_kind: BTreeMap<DefectKind, Tally>,
    clips: usize,
    clean: usize,
    clean_flagged: usize,
}

impl Evaluation {
    /// An empty evaluation; a finding matches a true defect of its kind whose
    /// frames overlap its own or lie at most `slack` frames away.
    pub fn new(slack: u64) -> Self {
        Self {
            slack,
            per_kind: DefectKind::ALL.map(|k| (k, Tally::default())).into(),
            clips: 0,
            clean: 0,
            clean_flagged: 0,
        }
    }

    /// Adds one clip: what the detectors found and what is truly there. A
    /// clip with no true defect counts as clean.
    pub fn add_clip(&mut self, findings: &[Finding], truth: &[TrueDefect]) {
        self.add_clip_marked(findings, truth, truth.is_empty());
    }

    /// [`Evaluation::add_clip`] for truth sources that say on their own
    /// whether a clip is clean.
    pub fn add_clip_marked(&mut self, findings: &[Finding], truth: &[TrueDefect], clean: bool) {
        self.clips += 1;
        if clean {
            self.clean += 1;
            self.clean_flagged += usize::from(!findings.is_empty());
        }
        for f in findings {
            let t = self.per_kind.entry(f.kind).or_default();
            t.findings += 1;
            t.matching += usize::from(truth.iter().any(|d| matches(f, d, self.slack)));
            t.on_clean += usize::from(clean);
        }
        for d in truth {
            let t = self.per_kind.entry(d.kind).or_default();
            t.truths += 1;
            t.found += usize::from(findings.iter().any(|f| matches(f, d, self.slack)));
        }
    }

    /// The tally of one kind.
    pub fn tally(&self, kind: DefectKind) -> Tally {
        self.per_kind.get(&kind).copied().unwrap_or_default()
    }

    /// Every kind's tally, in the vocabulary's order.
    pub fn per_kind(&self) -> impl Iterator<Item = (DefectKind, Tally)> + '_ {
        self.per_kind.iter().map(|(k, t)| (*k, *t))
    }

    /// All kinds together (micro-averaged).
    pub fn total(&self) -> Tally {
        let mut all = Tally::default();
        for t in self.per_kind.values() {
            all.add(t);
        }
        all
    }

    /// Clips added.
    pub fn clips(&self) -> usize {
        self.clips
    }

    /// Clips with no true defect.
    pub fn clean_clips(&self) -> usize {
        self.clean
    }

    /// Clean clips with at least one finding.
    pub fn clean_flagged(&self) -> usize {
        self.clean_flagged
    }

    /// The slack, in frames, of a match.
    pub fn slack(&self) -> u64 {
        self.slack
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_finding_can_match_several_truths_and_counts_once() {
        let mut eval = Evaluation::new(0);
        let f = Finding::new(DefectKind::Teleport, 5, 30, 1.0);
        eval.add_clip(
            std::slice::from_ref(&f),
            &[
                TrueDefect::new(DefectKind::Teleport, 6, 7),
                TrueDefect::new(DefectKind::Teleport, 20, 21),
                TrueDefect::new(DefectKind::Teleport, 40, 41),
            ],
        );
        let t = eval.tally(DefectKind::Teleport);
        assert_eq!((t.findings, t.matching, t.truths, t.found), (1, 1, 3, 2));
        assert_eq!(t.precision(), Some(1.0));
        assert!((t.recall().unwrap() - 2.0 / 3.0).abs() < 1e-12);
        assert!((t.f1().unwrap() - 0.8).abs() < 1e-12);
    }

    #[test]
    fn undefined_ratios_are_none_and_clean_clips_are_counted() {
        let mut eval = Evaluation::new(1);
        assert_eq!(eval.tally(DefectKind::Frozen).precision(), None);
        eval.add_clip(&[Finding::new(DefectKind::Frozen, 0, 4, 0.3)], &[]);
        let t = eval.tally(DefectKind::Frozen);
        assert_eq!(
            (t.on_clean, t.precision(), t.recall(), t.f1()),
            (1, Some(0.0), None, None)
        );
        assert_eq!((eval.clean_clips(), eval.clean_flagged()), (1, 1));
        eval.add_clip_marked(&[], &[TrueDefect::new(DefectKind::Warp, 3, 1)], true);
        assert_eq!(eval.clean_clips(), 2);
        assert_eq!(eval.tally(DefectKind::Warp).truths, 1);
        assert_eq!(TrueDefect::new(DefectKind::Warp, 3, 1).start_frame, 1);
        assert_eq!(eval.per_kind().count(), DefectKind::ALL.len());
    }
}
