//! Frame metrics (PSNR, SSIM, optical flow, warping error, flicker) on candle
//! devices, physics and coherence defect detectors, and video scorecards.
#![warn(missing_docs)]

mod error;

pub use error::Error;
