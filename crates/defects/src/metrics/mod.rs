//! Frame metrics: PSNR, SSIM, dense optical flow, global motion, warping
//! error, flicker, and the clip-level bundle of them all.

mod clip;
pub(crate) mod filter;
mod flow;
mod flow_pyramid;
pub(crate) mod global;
mod psnr;
pub(crate) mod sample;
mod scratch;
mod ssim;
pub(crate) mod tensor;
mod warp;

pub use clip::{ClipMetrics, MetricsSummary, PSNR_CAP, PairMetrics, REGION_GRID, RegionStats};
pub(crate) use flow::flow_between;
pub use flow::{Flow, FlowParams, dense_flow};
pub(crate) use flow_pyramid::FlowPyramid;
pub use global::GlobalMotion;
pub use psnr::{psnr, psnr_plane};
pub use ssim::{ssim, ssim_map};
pub(crate) use warp::check_pair;
pub use warp::{WarpError, occlusion_mask, warp_back, warp_error};
