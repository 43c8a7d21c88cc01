//! Frame metrics (PSNR, SSIM, optical flow, warping error, flicker) on candle
//! devices, physics and coherence defect detectors, and video scorecards.
//!
//! Metrics come first and are computed once per clip by
//! [`ClipMetrics::compute`]: per consecutive pair the RGB [`psnr`], the luma
//! [`ssim`] (scikit-image's Gaussian SSIM to 1e-5), [`dense_flow`] both ways,
//! the temporal [`warp_error`] of Lai et al. 2018 with its occlusion mask, the
//! camera's [`GlobalMotion`] and per-region statistics; per clip the flicker
//! index, the motion smoothness and the [`MetricsSummary`] of the JSON
//! report. A [`Compute`] says where they run: hand-written kernels on the
//! CPU, batched candle tensor ops on CUDA. Detectors ([`DefectDetector`])
//! read the clip's [`Evidence`] and propose findings; a learned
//! [`DecisionModel`] (module [`learned`]) reads per-frame features of the
//! evidence, the metrics and those proposals and decides which findings
//! the [`Analyzer`] reports.
//!
//! ```
//! use framebreak_defects::{FlowParams, Plane, dense_flow, ssim};
//!
//! // A textured plane and the same texture moved 1.5 px to the left.
//! let texture = |dx: f32| {
//!     let data = (0..64 * 48)
//!         .map(|i| {
//!             let (x, y) = ((i % 64) as f32 + dx, (i / 64) as f32);
//!             128.0 + 60.0 * (x * 0.3).sin() * (y * 0.25).cos() + 30.0 * (x * 0.11 + y * 0.07).sin()
//!         })
//!         .collect();
//!     Plane::new(64, 48, data)
//! };
//! let (prev, next) = (texture(1.5)?, texture(0.0)?);
//! assert!(ssim(&prev, &next)? < 0.9);
//! let flow = dense_flow(&prev, &next, &FlowParams::default())?;
//! let (u, v) = flow.at(32, 24);
//! assert!((u - 1.5).abs() < 0.1 && v.abs() < 0.1);
//! # Ok::<(), framebreak_defects::Error>(())
//! ```
#![warn(missing_docs)]

mod analyze;
pub mod conformance;
mod detect;
mod device;
mod error;
pub mod eval;
mod finding;
pub mod learned;
mod metrics;
mod plane;
mod report;
mod scorecard;
mod window;

pub use analyze::Analyzer;
pub use detect::{
    Affine, BlockMotion, ChromaticAberration, ColorSparks, DefectDetector, Evidence, Flicker,
    Frozen, GravityViolation, Melt, MotionField, Teleport, TextureBleed, Warp, default_detectors,
};
pub use device::Compute;
pub use error::Error;
pub use finding::{BBox, Finding};
pub use learned::DecisionModel;
pub use metrics::{
    ClipMetrics, Flow, FlowParams, GlobalMotion, MetricsSummary, PSNR_CAP, PairMetrics,
    REGION_GRID, RegionStats, WarpError, dense_flow, occlusion_mask, psnr, psnr_plane, ssim,
    ssim_map, warp_back, warp_error,
};
pub use plane::Plane;
pub use report::VideoReport;
pub use scorecard::{Scores, is_physics, severity, weight};
pub use window::Window;
