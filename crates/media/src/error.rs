//! The media crate's error type.

use std::path::PathBuf;

/// Everything that can go wrong reading or writing video.
///
/// Errors about an input name it (`path`; in-memory inputs carry the name
/// their caller gave them) and say what is wrong, so a batch of thousands of
/// videos can report which ones failed and why.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// Pixels that do not form a valid frame.
    #[error("invalid frame: {reason}")]
    InvalidFrame {
        /// What is wrong with it.
        reason: String,
    },
    /// The file or folder could not be read (missing, unreadable…).
    #[error("cannot read {}: {source}", path.display())]
    Io {
        /// The input.
        path: PathBuf,
        /// The operating system's error.
        #[source]
        source: std::io::Error,
    },
    /// The input is in no format this crate recognises.
    #[error("{}: unrecognised format ({reason})", path.display())]
    UnknownFormat {
        /// The input.
        path: PathBuf,
        /// What was looked at.
        reason: String,
    },
    /// The container is recognised but its codec cannot be decoded here.
    #[error("{}: cannot decode {codec}: {hint}", path.display())]
    UnsupportedCodec {
        /// The input.
        path: PathBuf,
        /// The codec, e.g. `hevc`, `vp9`, `av1`.
        codec: String,
        /// How to get support for it.
        hint: String,
    },
    /// The input is damaged or truncated: the container or the bitstream
    /// does not parse.
    #[error("{}: corrupt or truncated {format}: {reason}", path.display())]
    Corrupt {
        /// The input.
        path: PathBuf,
        /// The format being parsed, e.g. `mp4`, `h264`, `gif`.
        format: &'static str,
        /// What failed.
        reason: String,
    },
    /// The input holds no video frame at all.
    #[error("{}: no video frames ({reason})", path.display())]
    NoFrames {
        /// The input.
        path: PathBuf,
        /// Why, e.g. `no video track`.
        reason: String,
    },
    /// Frame dimensions beyond the limits, refused before any allocation.
    #[error(
        "{}: frame size {width}x{height} exceeds the limit of {max_side} pixels a side and {max_pixels} pixels",
        path.display()
    )]
    TooLarge {
        /// The input.
        path: PathBuf,
        /// Width the input claims.
        width: u64,
        /// Height the input claims.
        height: u64,
        /// Longest side allowed.
        max_side: u32,
        /// Most pixels per frame allowed.
        max_pixels: u64,
    },
    /// A frame whose size differs from the clip's first frame.
    #[error("{}: frame {index} is {width}x{height}, the clip is {expected_width}x{expected_height}", path.display())]
    SizeChanged {
        /// The input.
        path: PathBuf,
        /// Index of the offending frame.
        index: u64,
        /// Its width.
        width: u32,
        /// Its height.
        height: u32,
        /// The clip's width.
        expected_width: u32,
        /// The clip's height.
        expected_height: u32,
    },
    /// The external `ffmpeg` process failed.
    #[error("{}: ffmpeg failed: {reason}", path.display())]
    Ffmpeg {
        /// The input.
        path: PathBuf,
        /// Its exit status and the end of its error output.
        reason: String,
    },
    /// Options that cannot be honoured (e.g. a zero target size).
    #[error("invalid options: {reason}")]
    InvalidOptions {
        /// What is wrong.
        reason: String,
    },
    /// Encoding or writing a video failed.
    #[error("cannot write {}: {reason}", path.display())]
    Encode {
        /// The output.
        path: PathBuf,
        /// What failed.
        reason: String,
    },
}

impl Error {
    pub(crate) fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Self::Io {
            path: path.into(),
            source,
        }
    }

    pub(crate) fn corrupt(
        path: impl Into<PathBuf>,
        format: &'static str,
        reason: impl Into<String>,
    ) -> Self {
        Self::Corrupt {
            path: path.into(),
            format,
            reason: reason.into(),
        }
    }

    pub(crate) fn encode(path: impl Into<PathBuf>, reason: impl Into<String>) -> Self {
        Self::Encode {
            path: path.into(),
            reason: reason.into(),
        }
    }
}
