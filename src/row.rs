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

use crate::job::JobResult;

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

/// A finished job whose record a report cannot read: written by something
/// other than a campaign, or damaged.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("job {job}: its {part} cannot be read as a campaign's: {reason}")]
pub struct UnreadableRow {
    /// The job's id.
    pub job: String,
    /// Which part of its record: `payload`, `result` or `step state`.
    pub part: &'static str,
    /// What is wrong with it.
    pub reason: String,
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
    /// The row of a finished job record; `None` while the job is
    /// unfinished.
    ///
    /// # Errors
    ///
    /// [`UnreadableRow`] naming the job and the part of its record that is
    /// not a campaign's (its payload, its result, its step state), or a
    /// done job without a result: a report never leaves such a job out.
    pub fn from_record(record: &JobRecord) -> Result<Option<Self>, UnreadableRow> {
        let status = match record.state {
            JobState::Done => RowStatus::Done,
            JobState::Failed => RowStatus::Failed,
            JobState::Cancelled => RowStatus::Cancelled,
            JobState::Pending | JobState::Leased => return Ok(None),
        };
        let unreadable = |part: &'static str, reason: String| UnreadableRow {
            job: record.job.id.as_str().to_owned(),
            part,
            reason,
        };
        let payload = crate::campaign::stage::payload(&record.job.payload)
            .map_err(|e| unreadable("payload", e.to_string()))?;
        let result: Option<JobResult> = record
            .result
            .as_ref()
            .map(|r| serde_json::from_value(r.clone()))
            .transpose()
            .map_err(|e| unreadable("result", e.to_string()))?;
        if status == RowStatus::Done && result.is_none() {
            return Err(unreadable(
                "result",
                "the job is done but has no result".into(),
            ));
        }
        // A failed job keeps what it got before failing (its remote id).
        let remote_id = match &result {
            Some(r) => Some(r.remote_id.clone()),
            None => crate::campaign::stage::Stage::read(record.step, &record.step_state)
                .map_err(|e| unreadable("step state", e.to_string()))?
                .remote()
                .map(|remote| remote.id.clone()),
        };
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
        Ok(Some(row))
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

#[cfg(test)]
mod tests {
    use framebreak_scheduler::{Failure, NewJob};
    use serde_json::json;

    use super::*;
    use crate::job::JobPayload;

    fn payload() -> serde_json::Value {
        let generator =
            framebreak_variants::Generator::builder(framebreak_variants::Catalogue::builtin())
                .build()
                .unwrap();
        let scene = framebreak_variants::builtin_scenes().remove(0);
        let variant = generator.generate([Ok(scene)]).next().unwrap().unwrap();
        let request = framebreak_client::VideoRequest::new(variant.prompt.clone());
        serde_json::to_value(JobPayload {
            variant,
            request,
            adjustments: Vec::new(),
            cost: None,
        })
        .unwrap()
    }

    fn record(
        state: JobState,
        payload: serde_json::Value,
        step_state: serde_json::Value,
        result: Option<serde_json::Value>,
    ) -> JobRecord {
        JobRecord {
            seq: 1,
            job: NewJob::new("job-1", "sim", payload).unwrap(),
            state,
            step: 1,
            step_state,
            intent: false,
            attempts: 1,
            started_at_ms: None,
            result,
            failure: None,
        }
    }

    fn remote() -> serde_json::Value {
        json!({"remote": framebreak_client::RemoteJob::new("sim", "gen-7")})
    }

    #[test]
    fn a_finished_record_is_a_row_and_an_unfinished_one_is_none() {
        let done = json!({"remote_id": "gen-7", "video": "videos/a.mp4", "analysis": null});
        let row = ResultRow::from_record(&record(JobState::Done, payload(), remote(), Some(done)))
            .unwrap()
            .unwrap();
        assert_eq!(
            (row.status, row.remote_id.as_deref()),
            (RowStatus::Done, Some("gen-7"))
        );
        let pending = record(JobState::Pending, payload(), json!(null), None);
        assert_eq!(ResultRow::from_record(&pending).unwrap(), None);
        // A failed job's remote id comes from its step state; one that
        // failed before submitting has none.
        let mut failed = record(JobState::Failed, payload(), remote(), None);
        failed.failure = Some(Failure::new(FailureCategory::Timeout, "too slow"));
        let row = ResultRow::from_record(&failed).unwrap().unwrap();
        assert_eq!(row.remote_id.as_deref(), Some("gen-7"));
        let mut early = record(JobState::Failed, payload(), json!(null), None);
        early.step = 0;
        assert_eq!(
            ResultRow::from_record(&early).unwrap().unwrap().remote_id,
            None
        );
    }

    #[test]
    fn a_record_that_is_not_a_campaigns_is_reported_not_dropped() {
        let cases = [
            (
                record(JobState::Done, json!({"x": 1}), remote(), None),
                "payload",
            ),
            (
                record(
                    JobState::Done,
                    payload(),
                    remote(),
                    Some(json!({"analysis": 3})),
                ),
                "result",
            ),
            (record(JobState::Done, payload(), remote(), None), "result"),
            (
                record(JobState::Failed, payload(), json!({"remote": 5}), None),
                "step state",
            ),
        ];
        for (record, part) in cases {
            let e = ResultRow::from_record(&record).unwrap_err();
            assert_eq!((e.job.as_str(), e.part), ("job-1", part), "{e}");
            assert!(e.to_string().contains("job-1"), "{e}");
        }
    }
}
