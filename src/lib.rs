//! framebreak stress-tests text-to-video models.
//!
//! It turns base prompts into thousands of adversarial variants aimed at
//! known failure modes, fires them at video APIs or at a simulated model,
//! finds physics and coherence defects in the frames, and reports which
//! traps break which model.
//!
//! This package assembles the pipeline and re-exports each library crate
//! under a short name:
//!
//! - [`campaign`]: a campaign from configuration (or with parts given in
//!   code, [`campaign::CampaignBuilder`]), its run folder and store, its
//!   lifecycle from enqueue to [`campaign::Campaign::finish`], and the
//!   catalogue of runs.
//! - [`report`]: the figures, the HTML page, JSONL, CSV and JUnit reports.
//! - [`cost`]: prices, estimates and budgets. [`roast`]: short posts about
//!   the worst videos.
//! - [`variants`]: the trap catalogue, mutators, sampling and variant ids.
//! - [`client`]: the protocols of video APIs, error classification, downloads, secrets and the X publisher.
//! - [`scheduler`]: the durable, resumable, rate-limited job engine.
//! - [`gpu`]: compute device discovery, metrics, selection and capacity splits.
//! - [`telemetry`]: Prometheus metrics, bounded histories, alerts and tracing setup.
//! - [`media`]: decoding and encoding of video frames and clips.
//! - [`defects`]: frame metrics, defect detectors, scorecards and per-video reports.
//! - [`sim`]: the simulated video model with ground truth, in-process and over HTTP.
//! - [`vocab`]: the shared vocabularies (defect kinds, failure categories,
//!   metric names, secrets).
//!
//! ```
//! use framebreak::variants::{Catalogue, Generator, Strategy, builtin_scenes};
//!
//! let generator = Generator::builder(Catalogue::builtin())
//!     .strategy(Strategy::Random { per_prompt: 2 })
//!     .build()?;
//! let first = generator.generate(builtin_scenes().into_iter().map(Ok)).next().unwrap()?;
//! assert_ne!(first.prompt, first.base_prompt);
//! # Ok::<(), framebreak::variants::Error>(())
//! ```
#![warn(missing_docs)]

pub use framebreak_client as client;
pub use framebreak_defects as defects;
pub use framebreak_gpu as gpu;
pub use framebreak_media as media;
pub use framebreak_scheduler as scheduler;
pub use framebreak_sim as sim;
pub use framebreak_telemetry as telemetry;
pub use framebreak_variants as variants;
pub use framebreak_vocab as vocab;

pub mod campaign;
pub mod cost;
mod job;
pub mod report;
pub mod roast;
mod row;

pub use job::{JobPayload, JobResult};
pub use row::{ResultRow, RowFailure, RowStatus, UnreadableRow};
