//! A clip: what is known about a video, and its frames in memory.

use crate::Frame;

/// What is known about a video before (or without) decoding all of it.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct ClipInfo {
    /// Width of every frame, in pixels.
    pub width: u32,
    /// Height of every frame, in pixels.
    pub height: u32,
    /// Frames per second (the container's nominal rate).
    pub fps: f64,
    /// Number of frames, when the container says.
    pub frame_count: Option<u64>,
    /// The codec or format, e.g. `h264`, `gif`, `png-sequence`.
    pub codec: String,
}

/// A sequence of frames of the same size held in memory, with the clip's
/// information: what the defect detectors analyse (after sampling and
/// resizing to an analysis size, so it stays small).
#[derive(Debug, Clone, PartialEq)]
pub struct Clip {
    /// What the source said about the video; `width`/`height` are those of
    /// the frames held here.
    pub info: ClipInfo,
    /// Frames in presentation order.
    pub frames: Vec<Frame>,
}

impl Clip {
    /// Number of frames held.
    pub fn len(&self) -> usize {
        self.frames.len()
    }

    /// True when no frame is held.
    pub fn is_empty(&self) -> bool {
        self.frames.is_empty()
    }
}
