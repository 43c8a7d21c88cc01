//! A campaign job's stages as one type: the scheduler's step number and
//! the JSON state stored with it, read and written here and nowhere else,
//! like the job's payload ([`payload`]) and its result ([`done`]).
//! The handler works on [`Stage`] values; report rows read the provider's
//! job from a [`Stage`] too.
//!
//! | step | stage | state |
//! |---|---|---|
//! | 0 | [`Stage::Submit`] | `null` |
//! | 1 | [`Stage::Poll`] | `{"remote", "poll"?}` |
//! | 2 | [`Stage::Download`] | `{"remote", "assets"}` |
//! | 3 | [`Stage::Analyze`] | `{"remote", "asset"?, "video", "bytes", "sha256", "truth"}` |
//!
//! The shapes stay readable across versions: new fields have defaults.

use std::time::Duration;

use framebreak_client::{Asset, RemoteJob};
use framebreak_scheduler::Step;
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// Step numbers, as the scheduler stores them.
pub(crate) const SUBMIT: u32 = 0;
pub(crate) const POLL: u32 = 1;
pub(crate) const DOWNLOAD: u32 = 2;
pub(crate) const ANALYZE: u32 = 3;

/// Where a job is, with what its step needs.
#[derive(Debug)]
pub(crate) enum Stage {
    /// Nothing sent yet: the payload says what to ask for.
    Submit,
    /// The provider has the job; it is polled until it is done.
    Poll(PollState),
    /// The generation is done; its video is to be fetched.
    Download(Generated),
    /// The video is here; it is to be analysed.
    Analyze(Fetched),
}

/// What the poll step reads: the provider's job, and how long it has been
/// polled (absent before the first poll).
#[derive(Debug, Serialize, Deserialize)]
pub(crate) struct PollState {
    pub(crate) remote: RemoteJob,
    #[serde(default, rename = "poll", skip_serializing_if = "Option::is_none")]
    pub(crate) polled: Option<Polled>,
}

/// How long a job has been polled, kept between polls.
#[derive(Debug, Serialize, Deserialize)]
pub(crate) struct Polled {
    /// When polling began, ms since the epoch.
    pub(crate) since_ms: u64,
    /// The backoff while the job waits in the provider's queue, ms.
    pub(crate) wait_ms: u64,
}

/// What the poll step hands the download step.
#[derive(Debug, Serialize, Deserialize)]
pub(crate) struct Generated {
    pub(crate) remote: RemoteJob,
    pub(crate) assets: Vec<Asset>,
}

/// What the download step hands the analysis step.
#[derive(Debug, Serialize, Deserialize)]
pub(crate) struct Fetched {
    pub(crate) remote: RemoteJob,
    /// Where the video came from: another worker (on another machine) that
    /// takes the job over at the analysis step fetches it again.
    #[serde(default)]
    pub(crate) asset: Option<Asset>,
    pub(crate) video: String,
    pub(crate) bytes: u64,
    pub(crate) sha256: String,
    pub(crate) truth: Option<framebreak_sim::GroundTruth>,
}

/// A stored step and state that are not a campaign's.
#[derive(Debug, thiserror::Error)]
#[error("the stored state of step {step} is not a campaign's: {reason}")]
pub(crate) struct NotAStage {
    pub(crate) step: u32,
    pub(crate) reason: String,
}

impl Stage {
    /// The stage stored as step `step` with `state`.
    pub(crate) fn read(step: u32, state: &Value) -> Result<Self, NotAStage> {
        fn decode<T: serde::de::DeserializeOwned>(
            step: u32,
            state: &Value,
        ) -> Result<T, NotAStage> {
            T::deserialize(state).map_err(|e| NotAStage {
                step,
                reason: e.to_string(),
            })
        }
        Ok(match step {
            SUBMIT => Self::Submit,
            POLL => Self::Poll(decode(step, state)?),
            DOWNLOAD => Self::Download(decode(step, state)?),
            ANALYZE => Self::Analyze(decode(step, state)?),
            n => {
                return Err(NotAStage {
                    step: n,
                    reason: "a campaign job has steps 0 to 3".into(),
                });
            }
        })
    }

    /// The provider's job, once submitted.
    pub(crate) fn remote(&self) -> Option<&RemoteJob> {
        match self {
            Self::Submit => None,
            Self::Poll(p) => Some(&p.remote),
            Self::Download(g) => Some(&g.remote),
            Self::Analyze(f) => Some(&f.remote),
        }
    }

    /// The step that moves the job on to this stage (the next step).
    pub(crate) fn enter(self) -> Step {
        Step::Next(self.state())
    }

    /// The step that keeps the job at this stage and runs it again after
    /// `after`, holding no slot meanwhile.
    pub(crate) fn wait(self, after: Duration) -> Step {
        Step::Wait {
            state: self.state(),
            after,
        }
    }

    fn state(self) -> Value {
        let state = match self {
            Self::Submit => Ok(Value::Null),
            Self::Poll(p) => serde_json::to_value(p),
            Self::Download(g) => serde_json::to_value(g),
            Self::Analyze(f) => serde_json::to_value(f),
        };
        // Plain data (ids, strings, numbers): serialising cannot fail.
        state.unwrap_or(Value::Null)
    }
}

/// The payload of a campaign job.
pub(crate) fn payload(value: &Value) -> Result<crate::job::JobPayload, serde_json::Error> {
    crate::job::JobPayload::deserialize(value)
}

/// The step that ends a job with `result`.
pub(crate) fn done(result: &crate::job::JobResult) -> Result<Step, serde_json::Error> {
    serde_json::to_value(result).map(Step::Done)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn every_stage_reads_back_what_it_wrote_and_the_shapes_stay_put() {
        let remote = RemoteJob::new("sim", "gen-1");
        let Step::Next(state) = Stage::Poll(PollState {
            remote: remote.clone(),
            polled: None,
        })
        .enter() else {
            panic!("entering a stage is a next step");
        };
        // The shape older runs stored.
        assert_eq!(state, json!({"remote": {"backend": "sim", "id": "gen-1"}}));
        let Stage::Poll(p) = Stage::read(POLL, &state).unwrap() else {
            panic!("step 1 is polling");
        };
        assert!(p.polled.is_none());
        let Step::Wait { state, after } = Stage::Poll(PollState {
            remote: remote.clone(),
            polled: Some(Polled {
                since_ms: 5,
                wait_ms: 7,
            }),
        })
        .wait(Duration::from_secs(2)) else {
            panic!("waiting is a wait");
        };
        assert_eq!(after, Duration::from_secs(2));
        assert_eq!(state["poll"], json!({"since_ms": 5, "wait_ms": 7}));
        let generated = json!({"remote": remote, "assets": []});
        let stage = Stage::read(DOWNLOAD, &generated).unwrap();
        assert_eq!(stage.remote().map(|r| r.id.as_str()), Some("gen-1"));
        assert!(
            Stage::read(SUBMIT, &Value::Null)
                .unwrap()
                .remote()
                .is_none()
        );
    }

    #[test]
    fn a_state_that_is_not_a_campaigns_is_named_by_its_step() {
        for (step, state) in [
            (POLL, json!({"remote": 5})),
            (DOWNLOAD, json!({"remote": {"backend": "sim", "id": "x"}})),
            (ANALYZE, json!(null)),
            (9, json!(null)),
        ] {
            let e = Stage::read(step, &state).unwrap_err();
            assert_eq!(e.step, step);
            assert!(e.to_string().contains(&format!("step {step}")), "{e}");
        }
    }
}
