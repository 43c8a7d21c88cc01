//! What a campaign stores per job: the payload it enqueues and the result
//! its last step records. Both are JSON in the scheduler's store, so their
//! shapes are stable: old runs must stay readable.

use framebreak_client::{Adjustment, VideoRequest};
use framebreak_defects::VideoReport;
use framebreak_sim::GroundTruth;
use framebreak_variants::Variant;
use serde::{Deserialize, Serialize};

/// A campaign job's payload: the variant and the request made of it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct JobPayload {
    /// The variant the job generates a video for.
    pub variant: Variant,
    /// The request sent to the backend (the prompt is the variant's),
    /// already fitted to what the model accepts.
    pub request: VideoRequest,
    /// How the campaign's request was changed to fit the model (a
    /// duration or size it does not offer, a seed it does not take).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub adjustments: Vec<Adjustment>,
    /// What the request is expected to cost, when the model has a price.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cost: Option<crate::cost::Estimate>,
}

/// A done job's result.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct JobResult {
    /// The provider's id of the generation.
    pub remote_id: String,
    /// The downloaded video, relative to the run folder.
    pub video: Option<String>,
    /// Its size in bytes.
    #[serde(default)]
    pub bytes: u64,
    /// Its SHA-256, hex.
    #[serde(default)]
    pub sha256: Option<String>,
    /// The analysis of the video.
    pub analysis: Option<VideoReport>,
    /// What the simulator put in it (simulated backends only).
    #[serde(default)]
    pub truth: Option<GroundTruth>,
}
