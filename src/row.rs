//! One finished job of a campaign as every report sees it: the variant, what
//! became of it, and, for a generated video, its analysis.
//!
//! Rows are built from the scheduler's finished [`JobRecord`]s, so any report
//! can be regenerated from the store at any time, also while a run goes on.

use framebreak_defects::VideoReport;
use framebreak_scheduler::{FailureCategory, JobRecord, JobState};
use framebreak_sim::GroundTruth;
use framebreak_variants::{Family, Variant};
use serde::{Deserialize, Serialize};

use crate::job::{JobPayload, JobResult};

/// What became of a job.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RowStatus {
    /// A video was generated, downloaded and analysed.
    Done,
    /// The job failed for good (see [`ResultRow::failure`]).
    Failed,
    /// The job was cancelled.
    Cancelled,
}

impl RowStatus {
    /// The snake_case name, as in JSON.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Done => "done",
            Self::Failed => "failed",
            Self::Cancelled => "cancelled",
        }
    }
}

/// Why a job failed for good.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RowFailure {
    /// The category of ARCHITECTURE.md (`rate_limited`, `decode`, …).
    pub category: FailureCategory,
    /// What happened, in words (never a secret).
    pub message: String,
}

/// One finished job: the per-video row of JSONL, CSV, JUnit and HTML reports.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ResultRow {
    /// The job id (the variant id, hex).
    pub job: String,
    /// The id of the base prompt.
    pub base_id: String,
    /// The unmutated prompt.
    pub base_prompt: String,
    /// The prompt sent to the model.
    pub prompt: String,
    /// Whether this is the unmutated base prompt, kept as a control.
    pub control: bool,
    /// The traps the variant carries (`physics.zero_gravity`, …), in order.
    pub traps: Vec<String>,
    /// The families of those traps, without repeats.
    pub families: Vec<Family>,
    /// The backend that generated (or failed to generate) the video.
    pub backend: String,
    /// The model asked for, if one was named.
    pub model: Option<String>,
    /// What became of the job.
    pub status: RowStatus,
    /// Why it failed, when it did.
    pub failure: Option<RowFailure>,
    /// Failed attempts before the outcome.
    pub attempts: u32,
    /// The provider's id of the generation, once submitted.
    pub remote_id: Option<String>,
    /// The downloaded video, relative to the run folder.
    pub video: Option<String>,
    /// The analysis of the video (defects, metrics, scores).
    pub analysis: Option<VideoReport>,
    /// What the simulator says it put in the video (simulated runs only).
    pub truth: Option<GroundTruth>,
    /// What the job is estimated to have cost, once submitted (from the
    /// model's price; framebreak does not read the provider's bill).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cost: Option<crate::cost::Estimate>,
}

impl ResultRow {
    /// The row of a finished job record; `None` while the job is unfinished
    /// or when its payload is not a campaign's.
    #[must_use]
    pub fn from_record(record: &JobRecord) -> Option<Self> {
        let status = match record.state {
            JobState::Done => RowStatus::Done,
            JobState::Failed => RowStatus::Failed,
            JobState::Cancelled => RowStatus::Cancelled,
            JobState::Pending | JobState::Leased => return None,
        };
        let payload: JobPayload = serde_json::from_value(record.job.payload.clone()).ok()?;
        let result: Option<JobResult> = record
            .result
            .as_ref()
            .and_then(|r| serde_json::from_value(r.clone()).ok());
        // A failed job keeps what it got before failing (its remote id).
        let remote_id = result.as_ref().map(|r| r.remote_id.clone()).or_else(|| {
            record.step_state["remote"]["id"]
                .as_str()
                .map(str::to_owned)
        });
        let (video, analysis, truth) = match result {
            Some(r) => (r.video, r.analysis, r.truth),
            None => (None, None, None),
        };
        let mut row = Self::of_variant(&payload.variant, &record.job.backend, status);
        row.job = record.job.id.as_str().to_owned();
        row.model = payload.request.model.clone();
        // The store keeps the last failure of a job that then succeeded on
        // a retry: that is history, not what became of it.
        row.failure = record
            .failure
            .as_ref()
            .filter(|_| status != RowStatus::Done)
            .map(|f| RowFailure {
                category: f.category,
                message: f.message.clone(),
            });
        row.attempts = record.attempts;
        row.remote_id = remote_id;
        row.video = video;
        row.analysis = analysis;
        row.truth = truth;
        // Only a submitted job can have been billed.
        row.cost = payload.cost.filter(|_| row.remote_id.is_some());
        Some(row)
    }

    /// A row for `variant` generated by `backend`, with what became of it;
    /// everything else (failure, analysis, truth…) empty, for the caller to
    /// fill in. The job id is the variant id.
    #[must_use]
    pub fn of_variant(variant: &Variant, backend: &str, status: RowStatus) -> Self {
        let mut families = Vec::new();
        for f in variant.mutations.iter().filter_map(|m| m.family) {
            if !families.contains(&f) {
                families.push(f);
            }
        }
        Self {
            job: variant.id.to_string(),
            base_id: variant.base_id.clone(),
            base_prompt: variant.base_prompt.clone(),
            prompt: variant.prompt.clone(),
            control: variant.is_control(),
            traps: variant.traps().map(ToString::to_string).collect(),
            families,
            backend: backend.to_owned(),
            model: None,
            status,
            failure: None,
            attempts: 0,
            remote_id: None,
            video: None,
            analysis: None,
            truth: None,
            cost: None,
        }
    }

    /// The row of a video analysed on its own (`framebreak analyze`): no
    /// variant, no job; `video` is the path as given.
    #[must_use]
    pub fn from_analysis(video: &str, analysis: VideoReport) -> Self {
        Self {
            job: video.to_owned(),
            base_id: video.to_owned(),
            base_prompt: String::new(),
            prompt: String::new(),
            control: false,
            traps: Vec::new(),
            families: Vec::new(),
            backend: "file".into(),
            model: None,
            status: RowStatus::Done,
            failure: None,
            attempts: 0,
            remote_id: None,
            video: Some(video.to_owned()),
            analysis: Some(analysis),
            truth: None,
            cost: None,
        }
    }

    /// The physics score, for a done job.
    #[must_use]
    pub fn physics(&self) -> Option<f64> {
        self.analysis.as_ref().map(|a| a.scores.physics)
    }

    /// The realism score, for a done job.
    #[must_use]
    pub fn realism(&self) -> Option<f64> {
        self.analysis.as_ref().map(|a| a.scores.realism)
    }
}
