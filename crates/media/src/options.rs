//! What to read from a video: which frames, at what size, how many; and the
//! size limits that protect against absurd inputs.

use std::path::Path;

use crate::Error;

/// Longest frame side accepted from any input (8K UHD is 7680).
pub const MAX_SIDE: u32 = 8192;
/// Most pixels per frame accepted from any input (8K UHD is 33.2 million);
/// one RGB8 frame at this size is 100 MiB.
pub const MAX_PIXELS: u64 = 35_389_440;

/// Which decoded frames to keep.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub enum Sampling {
    /// Every frame.
    #[default]
    Every,
    /// Frames 0, k, 2k… (`EveryNth(0)` and `EveryNth(1)` keep every frame).
    EveryNth(u32),
    /// The frame nearest each tick of a clock at this rate, starting at the
    /// first frame; a rate at or above the source's keeps every frame.
    TargetFps(f64),
}

/// The size frames are resized to after sampling.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Resize {
    /// Exactly this size (the aspect ratio may change).
    Exact {
        /// Target width in pixels.
        width: u32,
        /// Target height in pixels.
        height: u32,
    },
    /// Shrink, keeping the aspect ratio, so the longer side is at most this
    /// many pixels; smaller frames are left alone.
    MaxSide(u32),
}

impl Resize {
    /// The size a `width`×`height` frame becomes.
    pub fn target(self, width: u32, height: u32) -> (u32, u32) {
        match self {
            Self::Exact { width, height } => (width, height),
            Self::MaxSide(side) => {
                let long = width.max(height);
                if long <= side {
                    return (width, height);
                }
                let scale = f64::from(side) / f64::from(long);
                let w = (f64::from(width) * scale).round().max(1.0) as u32;
                let h = (f64::from(height) * scale).round().max(1.0) as u32;
                (w, h)
            }
        }
    }
}

/// How [`read_clip`](crate::read_clip) reads a video: sampling, then
/// resizing, then at most `max_frames` frames.
///
/// ```
/// use framebreak_media::{ReadOptions, Resize, Sampling};
/// let opts = ReadOptions {
///     sampling: Sampling::TargetFps(8.0),
///     resize: Some(Resize::MaxSide(320)),
///     max_frames: Some(48),
/// };
/// assert_eq!(opts.max_frames, Some(48));
/// ```
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ReadOptions {
    /// Which frames to keep.
    pub sampling: Sampling,
    /// The analysis size, if frames are to be resized.
    pub resize: Option<Resize>,
    /// Stop after this many kept frames.
    pub max_frames: Option<usize>,
}

impl ReadOptions {
    /// Checks the options make sense before any decoding starts.
    pub fn validate(&self) -> Result<(), Error> {
        let bad = |reason: String| Err(Error::InvalidOptions { reason });
        if let Sampling::TargetFps(fps) = self.sampling
            && !(fps.is_finite() && fps > 0.0)
        {
            return bad(format!("target fps {fps} is not a positive number"));
        }
        match self.resize {
            Some(Resize::Exact { width, height }) if width == 0 || height == 0 => {
                return bad(format!("resize to {width}x{height} has a zero side"));
            }
            Some(Resize::Exact { width, height }) => {
                check_size(Path::new("resize target"), width.into(), height.into())?
            }
            Some(Resize::MaxSide(0)) => return bad("resize to a longest side of 0".into()),
            _ => {}
        }
        if self.max_frames == Some(0) {
            return bad("max_frames is 0".into());
        }
        Ok(())
    }
}

/// Refuses frame sizes that are zero or beyond [`MAX_SIDE`] / [`MAX_PIXELS`],
/// before anything of that size is allocated.
pub(crate) fn check_size(path: &Path, width: u64, height: u64) -> Result<(), Error> {
    if width == 0 || height == 0 {
        return Err(Error::corrupt(
            path,
            "video",
            format!("frame size {width}x{height} has a zero side"),
        ));
    }
    if width > u64::from(MAX_SIDE) || height > u64::from(MAX_SIDE) || width * height > MAX_PIXELS {
        return Err(Error::TooLarge {
            path: path.to_path_buf(),
            width,
            height,
            max_side: MAX_SIDE,
            max_pixels: MAX_PIXELS,
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn max_side_keeps_aspect_and_never_enlarges() {
        assert_eq!(Resize::MaxSide(320).target(1920, 1080), (320, 180));
        assert_eq!(Resize::MaxSide(320).target(1080, 1920), (180, 320));
        assert_eq!(Resize::MaxSide(320).target(160, 120), (160, 120));
        assert_eq!(Resize::MaxSide(1).target(4000, 3), (1, 1));
    }

    #[test]
    fn rejects_nonsense_options() {
        let with = |sampling, resize, max_frames| ReadOptions {
            sampling,
            resize,
            max_frames,
        };
        assert!(
            with(Sampling::TargetFps(0.0), None, None)
                .validate()
                .is_err()
        );
        assert!(
            with(Sampling::TargetFps(f64::NAN), None, None)
                .validate()
                .is_err()
        );
        assert!(
            with(Sampling::Every, Some(Resize::MaxSide(0)), None)
                .validate()
                .is_err()
        );
        let huge = Resize::Exact {
            width: 100_000,
            height: 10,
        };
        assert!(matches!(
            with(Sampling::Every, Some(huge), None).validate(),
            Err(Error::TooLarge { .. })
        ));
        assert!(with(Sampling::Every, None, Some(0)).validate().is_err());
        assert!(ReadOptions::default().validate().is_ok());
    }

    #[test]
    fn size_check_refuses_absurd_and_zero_sizes() {
        let p = Path::new("x");
        assert!(check_size(p, 1920, 1080).is_ok());
        assert!(matches!(
            check_size(p, 65_535, 65_535),
            Err(Error::TooLarge { .. })
        ));
        assert!(matches!(
            check_size(p, 8192, 8192),
            Err(Error::TooLarge { .. })
        ));
        assert!(check_size(p, 0, 10).is_err());
    }
}
