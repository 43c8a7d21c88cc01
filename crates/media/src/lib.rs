//! Video frames and clips: MP4/H.264, GIF, APNG/WebP and PNG-folder
//! decoding, streaming frame access, MP4 and GIF encoding.
#![warn(missing_docs)]

mod clip;
mod error;
mod frame;

pub use clip::{Clip, ClipInfo};
pub use error::Error;
pub use frame::Frame;
