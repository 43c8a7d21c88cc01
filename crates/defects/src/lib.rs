//! Frame metrics (PSNR, SSIM, optical flow, warping error, flicker) on candle
//! devices, physics and coherence defect detectors, and video scorecards.
#![warn(missing_docs)]

mod analyze;
mod detect;
mod device;
mod error;
mod finding;
mod metrics;
mod plane;
mod report;
mod scorecard;

pub use analyze::Analyzer;
pub use detect::{
    Affine, BlockMotion, ChromaticAberration, ColorSparks, DefectDetector, Evidence, Flicker, Frozen,
    GravityViolation, Melt, MotionField, Teleport, TextureBleed, Warp, default_detectors,
};
pub use error::Error;
pub use finding::{BBox, Finding};
pub use device::Compute;
pub use metrics::{
    ClipMetrics, Flow, FlowParams, GlobalMotion, MetricsSummary, PSNR_CAP, PairMetrics,
    REGION_GRID, RegionStats, WarpError, dense_flow, occlusion_mask, psnr, psnr_plane, ssim,
    ssim_map, warp_back, warp_error,
};
pub use plane::Plane;
pub use report::VideoReport;
pub use scorecard::{Scores, is_physics, severity, weight};
