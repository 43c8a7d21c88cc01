//! Frame metrics (PSNR, SSIM, optical flow, warping error, flicker) on candle
//! devices, physics and coherence defect detectors, and video scorecards.
#![warn(missing_docs)]

mod device;
mod error;
mod metrics;
mod plane;

pub use device::Compute;
pub use error::Error;
pub use metrics::{
    ClipMetrics, Flow, FlowParams, GlobalMotion, MetricsSummary, PSNR_CAP, PairMetrics,
    REGION_GRID, RegionStats, WarpError, dense_flow, occlusion_mask, psnr, psnr_plane, ssim,
    ssim_map, warp_back, warp_error,
};
pub use plane::Plane;
