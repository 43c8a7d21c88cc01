//! The end of a run: its rows read once into the reports and the figures,
//! the thresholds weighed, and what became of the run said as one typed
//! [`Outcome`] (which the CLI maps to an exit code).

use std::path::PathBuf;

use framebreak_scheduler::{Counts, FailureCategory, RunOutcome};

use crate::campaign::{Campaign, CampaignSummary, Error, MissingVideos, RunView, Threshold};
use crate::cost::Usd;
use crate::report::{Digest, Summary};

/// What became of a run.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum Outcome {
    /// Every job ended, at least one was done (or none failed), and no
    /// threshold holds.
    Finished,
    /// Every job ended and none was done: all of them failed.
    AllFailed,
    /// Every job ended, and these thresholds hold, each with the value the
    /// run measured.
    Crossed(Vec<(Threshold, f64)>),
    /// The run stopped at its budget; why, and how to go on (`RUN` stands
    /// for the run).
    StoppedAtBudget(String),
    /// The run stopped itself (submissions refused, as with a wrong key);
    /// why, and what to do (`RUN` stands for the run).
    Stopped(String),
    /// The run was shut down before every job ended; resuming it goes on.
    Interrupted,
}

/// What a run spent, for a priced run or one with a budget.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SpendLine {
    /// Committed in the run's ledger (each submission at its highest price).
    pub committed: Usd,
    /// The run's budget, if it has one.
    pub budget: Option<Usd>,
    /// The price it was committed at (`$0.05/s`), if it has one.
    pub rate: Option<String>,
}

/// What to do at the end of a run.
#[derive(Debug, Clone, Copy, Default)]
pub struct FinishOptions<'a> {
    /// Write every report into the run folder (not for `--no-report`).
    pub reports: bool,
    /// The thresholds weighed once every job has ended (`--fail-on`).
    pub thresholds: &'a [Threshold],
}

/// A finished run: its figures, its reports and its outcome.
#[derive(Debug, Clone)]
pub struct Finished {
    /// Jobs by state.
    pub counts: Counts,
    /// The figures of every row, and the worst rows.
    pub digest: Digest,
    /// The figures thresholds are weighed on.
    pub figures: Summary,
    /// The reports written.
    pub reports: Vec<PathBuf>,
    /// The worst videos the HTML report could not show.
    pub missing_videos: Option<MissingVideos>,
    /// Generations cancelled at the provider after their jobs failed.
    pub cancelled_at_provider: u64,
    /// Jobs ended `unknown_submission`: the provider may have made (and
    /// may bill) each.
    pub unknown_submissions: u64,
    /// What the run committed, when it is priced or has a budget.
    pub spend: Option<SpendLine>,
    /// What became of the run.
    pub outcome: Outcome,
}

impl Finished {
    /// The most frequent failure categories, most frequent first, each
    /// with its count and one message (at most `n`).
    #[must_use]
    pub fn failure_reasons(&self, n: usize) -> Vec<(String, u64, String)> {
        let mut reasons: Vec<(String, u64, String)> = self
            .figures
            .failures
            .iter()
            .filter_map(|(category, count)| {
                let example = self.digest.example(category)?;
                Some((category.clone(), *count, example.to_owned()))
            })
            .collect();
        reasons.sort_by_key(|r| std::cmp::Reverse(r.1));
        reasons.truncate(n);
        reasons
    }
}

impl Campaign {
    /// Ends a run that [`Campaign::run_with`] returned from: reads its
    /// rows once (into the reports, with `options.reports`), weighs the
    /// thresholds, and says what became of it.
    ///
    /// # Errors
    ///
    /// [`Error::StoreLost`] when the store holds fewer finished jobs than
    /// the reports already in the run folder (they are kept); as
    /// [`RunView::write_all`].
    pub async fn finish(
        &self,
        summary: &CampaignSummary,
        options: FinishOptions<'_>,
    ) -> Result<Finished, Error> {
        let view = RunView::of(self);
        let (digest, reports, missing_videos) = if options.reports {
            let written = view.write_all().await?;
            (written.digest, written.files, written.missing_videos)
        } else {
            (view.digest().await?, Vec::new(), None)
        };
        let figures = digest.summary();
        let c = summary.counts;
        let unknown_submissions = figures
            .failures
            .get(FailureCategory::UnknownSubmission.as_str())
            .copied()
            .unwrap_or(0);
        let spend = if self.config().cost.budget.is_some() || self.price().is_some() {
            Some(SpendLine {
                committed: self.committed().await?,
                budget: self.config().cost.budget,
                rate: self.price().map(crate::cost::Price::rate),
            })
        } else {
            None
        };
        let outcome = if let Some(stop) = self.stop() {
            stop
        } else if !self.ran_to_the_end(summary) {
            Outcome::Interrupted
        } else {
            let crossed: Vec<(Threshold, f64)> = options
                .thresholds
                .iter()
                .filter_map(|t| t.crossed(&figures).map(|v| (*t, v)))
                .collect();
            if !crossed.is_empty() {
                Outcome::Crossed(crossed)
            } else if c.failed > 0 && c.done == 0 {
                Outcome::AllFailed
            } else {
                Outcome::Finished
            }
        };
        Ok(Finished {
            counts: c,
            digest,
            figures,
            reports,
            missing_videos,
            cancelled_at_provider: self.cancelled_at_provider(),
            unknown_submissions,
            spend,
            outcome,
        })
    }

    /// What became of this process's share of a run worked on by several
    /// (a worker): it writes no report and weighs no threshold.
    #[must_use]
    pub fn worker_outcome(&self, summary: &CampaignSummary) -> Outcome {
        match self.stop() {
            Some(Outcome::StoppedAtBudget(why)) => Outcome::StoppedAtBudget(why),
            _ if self.ran_to_the_end(summary) => Outcome::Finished,
            _ => Outcome::Interrupted,
        }
    }

    /// The run's own stop, if it stopped itself.
    fn stop(&self) -> Option<Outcome> {
        let why = self.stopped_because()?;
        Some(if self.stopped_at_budget() {
            Outcome::StoppedAtBudget(why)
        } else {
            Outcome::Stopped(why)
        })
    }

    /// Whether every job ended with nobody asking the run to stop.
    fn ran_to_the_end(&self, summary: &CampaignSummary) -> bool {
        summary.outcome == RunOutcome::Drained && !self.shutdown().draining().is_cancelled()
    }
}
