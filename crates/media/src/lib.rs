//! Video frames and clips: MP4/H.264, GIF, APNG/WebP and PNG-folder
//! decoding, streaming frame access, MP4 and GIF encoding.
//!
//! Everything decodes in-process with nothing to install: H.264 in MP4
//! through openh264 (built from its bundled source) and re_mp4, including
//! the B-frame streams libx264 makes by default; GIF, APNG, WebP, PNG and
//! JPEG through the `image` crate. HEVC, AV1, VP9 and other containers go
//! through an `ffmpeg` binary when one is on `PATH`, and fail with a clear
//! [`Error::UnsupportedCodec`] otherwise.
//!
//! [`open`] streams frames one at a time ([`FrameSource`]); [`read_clip`]
//! samples, resizes and collects them into a [`Clip`] for analysis.
//!
//! ```
//! use framebreak_media::{ReadOptions, Resize, Sampling, read_clip};
//! # fn main() -> Result<(), framebreak_media::Error> {
//! let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/h264_main_bframes.mp4");
//! let options = ReadOptions { sampling: Sampling::TargetFps(12.0), resize: Some(Resize::MaxSide(80)), ..Default::default() };
//! let clip = read_clip(&path, &options)?;
//! assert_eq!(clip.len(), 12); // 24 frames at 24 fps, sampled at 12 fps
//! assert_eq!((clip.info.width, clip.info.height), (80, 60));
//! # Ok(()) }
//! ```
#![warn(missing_docs)]

mod anim;
mod boxes;
mod clip;
mod error;
mod ffmpeg;
mod folder;
mod frame;
mod gate;
mod gif_writer;
mod h264;
mod mp4_source;
mod mp4_writer;
mod options;
mod read;
mod source;
mod windows;
mod yuv;

pub use clip::{Clip, ClipInfo};
pub use error::Error;
pub use ffmpeg::ffmpeg_available;
pub use folder::FOLDER_FPS;
pub use frame::Frame;
pub use gate::{cpu_gate, cpu_slots};
pub use gif_writer::write_gif;
pub use mp4_writer::{Mp4Writer, write_mp4};
pub use options::{MAX_PIXELS, MAX_SIDE, ReadOptions, Resize, Sampling};
pub use read::{collect, read_clip, resize};
pub use source::{FrameSource, open, open_bytes};
pub use windows::Windows;
