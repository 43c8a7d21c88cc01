//! A simulated text-to-video model with exact ground truth, in-process and
//! over an OpenAI-compatible HTTP API.
//!
//! framebreak must run offline, and its detectors must be measured against
//! videos whose defects are known. This crate is that model:
//!
//! - it reads only what a real model reads (prompt, size, duration, seed),
//!   finds the traps in the prompt's words with the trap catalogue, and
//!   picks one of eight [`SceneKind`]s (thrown and bouncing balls, a
//!   pendulum, liquid poured into a glass, sliding blocks, a landscape
//!   flyover, a walking figure, a ball rolling down a ramp) over textured
//!   procedural backdrops with a smooth camera;
//! - physics is right by default; a model [`Profile`] (TOML; `weak` and
//!   `strong` embedded) says how often each trap provokes each defect kind,
//!   plus spontaneous defects; the defects are painted as the defects
//!   crate's evaluation set paints them, and reported as [`GroundTruth`];
//! - the same (prompt, seed, profile) gives the same MP4 bytes; distinct
//!   plans are rendered once and cached ([`Simulator`]);
//! - two faces: [`SimBackend`] (a `VideoBackend`, no sockets) and
//!   [`SimServer`] (the OpenAI-compatible Videos API plus
//!   `GET /v1/videos/{id}/truth`), both with [`Faults`] and [`Latency`];
//! - both honour idempotency keys (a repeated key gets the same job back),
//!   count what they are asked ([`Stats`], `GET /v1/stats`), and can keep
//!   their jobs in a journal file that outlives the process.
//!
//! # Example
//!
//! ```
//! use framebreak_client::VideoRequest;
//! use framebreak_sim::{Profile, Simulator};
//! use framebreak_variants::DefectKind;
//!
//! let sim = Simulator::new(Profile::weak())?;
//! let request = VideoRequest::new("a glass of water, with a shower of tiny emerald green sparks drifting through the frame")
//!     .size(96, 64)
//!     .duration_secs(1);
//! let plan = sim.plan(&request)?;
//! let video = sim.render(&request)?;
//! assert_eq!(video.truth.defects.len(), plan.defects.len());
//! for d in &video.truth.defects {
//!     assert!(d.start_frame <= d.end_frame && d.end_frame < 24, "{d:?}");
//! }
//! # Ok::<(), framebreak_sim::Error>(())
//! ```
#![warn(missing_docs)]

mod backend;
mod camera;
mod error;
mod faults;
mod inject;
mod jobs;
mod journal;
mod plan;
mod profile;
mod raster;
mod render;
mod scene;
mod server;
mod simulator;
mod stats;

pub use backend::{SIM_BACKEND, SimBackend};
pub use error::{Error, Result};
pub use faults::{Faults, Latency, parse_duration};
pub use jobs::{RETAINED_SETTLED_JOBS, render_peak, render_slots};
pub use plan::{
    Cause, DEFAULT_DURATION_SECS, DEFAULT_FPS, DEFAULT_SIZE, MAX_DURATION_SECS, MAX_SIDE, Plan,
    PlannedDefect,
};
pub use profile::Profile;
pub use render::{GroundTruth, TruthDefect, Video};
pub use scene::SceneKind;
pub use server::{ServerConfig, ServerHandle, SimServer};
pub use simulator::{DEFAULT_CACHE_CLIPS, Simulator};
pub use stats::{Stats, SubmitTimes};
