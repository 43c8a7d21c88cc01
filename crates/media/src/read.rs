//! [`read_clip`]: decode, sample, resize and collect, keeping only what is
//! kept in memory.

use std::path::Path;

use image::imageops::FilterType;
use image::{ImageBuffer, Rgb};

use crate::{Clip, ClipInfo, Error, Frame, FrameSource, ReadOptions, Sampling};

/// Decodes `path` (any format [`open`](crate::open) reads) into a [`Clip`]:
/// frames are sampled, then resized, then collected up to `max_frames`.
///
/// Decoding streams: only kept (and resized) frames stay in memory, and
/// decoding stops once `max_frames` are kept. Kept frames keep their index
/// and timestamp in the source; the clip's `fps` is the rate of the kept
/// frames (the source's divided by k for [`Sampling::EveryNth`], the target
/// for [`Sampling::TargetFps`] when below the source's), its size that of the
/// resized frames, and its `frame_count` the number kept.
///
/// ```
/// use framebreak_media::{ReadOptions, Resize, Sampling, read_clip};
/// # fn main() -> Result<(), framebreak_media::Error> {
/// let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/h264_high_bframes.mp4");
/// let options = ReadOptions { sampling: Sampling::EveryNth(2), resize: Some(Resize::MaxSide(80)), max_frames: Some(10) };
/// let clip = read_clip(&path, &options)?;
/// assert_eq!((clip.len(), clip.info.width, clip.info.height), (10, 80, 60));
/// assert_eq!(clip.frames[1].index(), 2);
/// # Ok(()) }
/// ```
pub fn read_clip(path: &Path, options: &ReadOptions) -> Result<Clip, Error> {
    options.validate()?;
    collect(crate::open(path)?, options)
}

/// [`read_clip`] over an already opened source (e.g. from
/// [`open_bytes`](crate::open_bytes)).
pub fn collect(mut source: impl FrameSource, options: &ReadOptions) -> Result<Clip, Error> {
    options.validate()?;
    let info = source.info().clone();
    let mut sampler = Sampler::new(options.sampling);
    let mut frames = Vec::new();
    let limit = options.max_frames.unwrap_or(usize::MAX);
    while frames.len() < limit {
        let Some(frame) = source.next().transpose()? else {
            break;
        };
        if !sampler.keep(&frame) {
            continue;
        }
        frames.push(prepare(frame, options));
    }
    Ok(finish(info, frames, options))
}

/// A kept frame as the clip holds it: resized when asked.
pub(crate) fn prepare(frame: Frame, options: &ReadOptions) -> Frame {
    match options.resize {
        Some(r) => {
            let (w, h) = r.target(frame.width(), frame.height());
            resize(&frame, w, h)
        }
        None => frame,
    }
}

/// The clip of the kept `frames`: size, rate and count as they are kept.
pub(crate) fn finish(mut info: ClipInfo, frames: Vec<Frame>, options: &ReadOptions) -> Clip {
    if let Some(first) = frames.first() {
        info.width = first.width();
        info.height = first.height();
    }
    info.fps = match options.sampling {
        Sampling::Every => info.fps,
        Sampling::EveryNth(k) => info.fps / f64::from(k.max(1)),
        Sampling::TargetFps(target) if info.fps > 0.0 => target.min(info.fps),
        Sampling::TargetFps(target) => target,
    };
    info.frame_count = Some(frames.len() as u64);
    Clip { info, frames }
}

/// Decides which frames a [`Sampling`] keeps, from their index and time.
#[derive(Debug, Clone)]
pub(crate) struct Sampler {
    sampling: Sampling,
    start: Option<f64>,
    next_tick: f64,
}

impl Sampler {
    pub(crate) fn new(sampling: Sampling) -> Self {
        Self {
            sampling,
            start: None,
            next_tick: 0.0,
        }
    }

    /// For a target rate: the first frame at or after each tick of the
    /// target clock (ticks at the first frame's time plus n / fps).
    pub(crate) fn keep(&mut self, frame: &Frame) -> bool {
        match self.sampling {
            Sampling::Every => true,
            Sampling::EveryNth(k) => frame.index().is_multiple_of(u64::from(k.max(1))),
            Sampling::TargetFps(fps) => {
                let start = *self.start.get_or_insert(frame.timestamp());
                let t = frame.timestamp() - start;
                // A microsecond of slack absorbs timestamps rounded by the
                // container's timescale.
                if t + 1e-6 < self.next_tick {
                    return false;
                }
                let period = 1.0 / fps;
                while self.next_tick <= t + 1e-6 {
                    self.next_tick += period;
                }
                true
            }
        }
    }
}

/// Resizes a frame to `width`×`height` with a triangle (bilinear) filter
/// whose support widens when shrinking, so downscaled frames are averaged
/// rather than aliased. The same size returns a copy.
pub fn resize(frame: &Frame, width: u32, height: u32) -> Frame {
    if (width, height) == (frame.width(), frame.height()) || width == 0 || height == 0 {
        return frame.clone();
    }
    let Some(src) =
        ImageBuffer::<Rgb<u8>, &[u8]>::from_raw(frame.width(), frame.height(), frame.data())
    else {
        return frame.clone();
    };
    let out = image::imageops::resize(&src, width, height, FilterType::Triangle);
    // The buffer is exactly width*height*3 by construction.
    Frame::from_rgb8(
        frame.index(),
        frame.timestamp(),
        width,
        height,
        out.into_raw(),
    )
    .unwrap_or_else(|_| frame.clone())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame(index: u64, fps: f64) -> Frame {
        Frame::from_rgb8(index, index as f64 / fps, 4, 2, vec![0; 24]).unwrap()
    }

    fn kept(sampling: Sampling, n: u64, fps: f64) -> Vec<u64> {
        let mut s = Sampler::new(sampling);
        (0..n)
            .map(|i| frame(i, fps))
            .filter(|f| s.keep(f))
            .map(|f| f.index())
            .collect()
    }

    #[test]
    fn every_nth_keeps_multiples() {
        assert_eq!(kept(Sampling::EveryNth(3), 10, 24.0), [0, 3, 6, 9]);
        assert_eq!(kept(Sampling::EveryNth(0), 3, 24.0), [0, 1, 2]);
        assert_eq!(kept(Sampling::Every, 3, 24.0), [0, 1, 2]);
    }

    #[test]
    fn target_fps_picks_the_frame_at_each_tick() {
        assert_eq!(
            kept(Sampling::TargetFps(8.0), 24, 24.0),
            [0, 3, 6, 9, 12, 15, 18, 21]
        );
        assert_eq!(
            kept(Sampling::TargetFps(10.0), 30, 30.0),
            [0, 3, 6, 9, 12, 15, 18, 21, 24, 27]
        );
        assert_eq!(kept(Sampling::TargetFps(60.0), 5, 24.0), [0, 1, 2, 3, 4]);
        assert_eq!(kept(Sampling::TargetFps(12.0), 12, 29.97).len(), 5);
    }

    #[test]
    fn resize_averages_when_shrinking() {
        // A 4x2 checker of black and white columns averages to mid grey.
        let data: Vec<u8> = (0..8)
            .flat_map(|i| if i % 2 == 0 { [0; 3] } else { [255; 3] })
            .collect();
        let f = Frame::from_rgb8(7, 0.5, 4, 2, data).unwrap();
        let small = resize(&f, 2, 1);
        assert_eq!(
            (
                small.width(),
                small.height(),
                small.index(),
                small.timestamp()
            ),
            (2, 1, 7, 0.5)
        );
        for &v in small.data() {
            assert!((100..=155).contains(&v), "{v}");
        }
    }
}
