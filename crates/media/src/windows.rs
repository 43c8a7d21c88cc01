//! [`Windows`]: a video read as overlapping clips of a bounded number of
//! frames, so that whatever is computed per clip is bounded by the window
//! and not by the length of the video.

use crate::read::{Sampler, prepare};
use crate::{Clip, ClipInfo, Error, FrameSource, ReadOptions};

/// Splits what [`read_clip`](crate::read_clip) would return into clips of
/// at most `size` frames, each starting `size − overlap` kept frames after
/// the one before and sharing its first `overlap` frames with the end of the
/// one before; only one window (plus the overlap carried into the next) is
/// held at a time.
///
/// A video of `size` frames or fewer comes out as one clip equal to
/// `read_clip`'s. Each item is `(start, clip)`: `start` is the position of
/// the clip's first frame among all kept frames, so a frame's position in
/// the whole video is `start` plus its position in the window. The last
/// window may be shorter; it is never only frames the window before already
/// held.
///
/// ```
/// use framebreak_media::{ReadOptions, Resize, Windows, open};
/// # fn main() -> Result<(), framebreak_media::Error> {
/// let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/h264_high_bframes.mp4");
/// let options = ReadOptions { resize: Some(Resize::MaxSide(80)), ..ReadOptions::default() };
/// let starts: Vec<usize> = Windows::new(open(&path)?, &options, 8, 2)?
///     .map(|w| w.map(|(start, _)| start))
///     .collect::<Result<_, _>>()?;
/// assert_eq!(&starts[..3], &[0, 6, 12]);
/// # Ok(()) }
/// ```
pub struct Windows<S> {
    source: S,
    options: ReadOptions,
    info: ClipInfo,
    sampler: Sampler,
    size: usize,
    overlap: usize,
    carried: Vec<crate::Frame>,
    start: usize,
    kept: usize,
    done: bool,
}

impl<S: FrameSource> Windows<S> {
    /// Windows of `size` frames overlapping by `overlap`.
    ///
    /// # Errors
    /// [`Error::InvalidOptions`] when the options are invalid, `size` is
    /// under 2 or `overlap` is not below `size`.
    pub fn new(
        source: S,
        options: &ReadOptions,
        size: usize,
        overlap: usize,
    ) -> Result<Self, Error> {
        options.validate()?;
        if size < 2 || overlap >= size {
            return Err(Error::InvalidOptions {
                reason: format!(
                    "windows of {size} frames overlapping by {overlap}: a window needs at least 2 frames and more than its overlap"
                ),
            });
        }
        let info = source.info().clone();
        Ok(Windows {
            source,
            options: options.clone(),
            info,
            sampler: Sampler::new(options.sampling),
            size,
            overlap,
            carried: Vec::new(),
            start: 0,
            kept: 0,
            done: false,
        })
    }
}

impl<S: FrameSource> Iterator for Windows<S> {
    type Item = Result<(usize, Clip), Error>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        let limit = self.options.max_frames.unwrap_or(usize::MAX);
        let mut frames = std::mem::take(&mut self.carried);
        let fresh_before = frames.len();
        while frames.len() < self.size && self.kept < limit {
            let frame = match self.source.next() {
                None => break,
                Some(Err(e)) => {
                    self.done = true;
                    return Some(Err(e));
                }
                Some(Ok(frame)) => frame,
            };
            if !self.sampler.keep(&frame) {
                continue;
            }
            frames.push(prepare(frame, &self.options));
            self.kept += 1;
        }
        let ended = frames.len() < self.size || self.kept >= limit;
        if ended {
            self.done = true;
            // Nothing new since the window before: it already held these.
            if frames.len() == fresh_before && self.start > 0 {
                return None;
            }
        }
        let start = self.start;
        if !ended {
            let keep_from = frames.len() - self.overlap;
            self.carried = frames[keep_from..].to_vec();
            self.start += keep_from;
        }
        let clip = crate::read::finish(self.info.clone(), frames, &self.options);
        Some(Ok((start, clip)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Frame, Resize, Sampling};

    struct Counting {
        info: ClipInfo,
        next: u64,
        count: u64,
    }

    impl Iterator for Counting {
        type Item = Result<Frame, Error>;
        fn next(&mut self) -> Option<Self::Item> {
            if self.next == self.count {
                return None;
            }
            let i = self.next;
            self.next += 1;
            Some(Frame::from_rgb8(
                i,
                i as f64 / 10.0,
                8,
                6,
                vec![i as u8; 8 * 6 * 3],
            ))
        }
    }

    impl FrameSource for Counting {
        fn info(&self) -> &ClipInfo {
            &self.info
        }
    }

    fn source(count: u64) -> Counting {
        Counting {
            info: ClipInfo {
                width: 8,
                height: 6,
                fps: 10.0,
                frame_count: Some(count),
                codec: "test".into(),
            },
            next: 0,
            count,
        }
    }

    fn spans(
        count: u64,
        options: &ReadOptions,
        size: usize,
        overlap: usize,
    ) -> Vec<(usize, Vec<u64>)> {
        Windows::new(source(count), options, size, overlap)
            .unwrap()
            .map(|w| {
                let (start, clip) = w.unwrap();
                (start, clip.frames.iter().map(Frame::index).collect())
            })
            .collect()
    }

    #[test]
    fn windows_overlap_and_cover_every_kept_frame_once_past_the_overlap() {
        let w = spans(10, &ReadOptions::default(), 4, 1);
        assert_eq!(
            w,
            vec![
                (0, vec![0, 1, 2, 3]),
                (3, vec![3, 4, 5, 6]),
                (6, vec![6, 7, 8, 9]),
            ]
        );
        // The last window is shorter when the frames run out.
        let w = spans(11, &ReadOptions::default(), 4, 1);
        assert_eq!(w.last(), Some(&(9, vec![9, 10])));
    }

    #[test]
    fn a_short_video_is_one_window_equal_to_read_clip() {
        let options = ReadOptions {
            resize: Some(Resize::Exact {
                width: 4,
                height: 4,
            }),
            ..ReadOptions::default()
        };
        let whole = crate::collect(source(5), &options).unwrap();
        let mut w = Windows::new(source(5), &options, 8, 2).unwrap();
        let (start, clip) = w.next().unwrap().unwrap();
        assert_eq!(start, 0);
        assert_eq!(clip.info, whole.info);
        assert_eq!(clip.frames.len(), whole.frames.len());
        assert!(
            clip.frames
                .iter()
                .zip(&whole.frames)
                .all(|(a, b)| a.data() == b.data())
        );
        assert!(w.next().is_none());
    }

    #[test]
    fn sampling_and_the_frame_cap_apply_across_windows() {
        let options = ReadOptions {
            sampling: Sampling::EveryNth(2),
            max_frames: Some(7),
            ..ReadOptions::default()
        };
        let w = spans(100, &options, 4, 2);
        assert_eq!(
            w,
            vec![
                (0, vec![0, 2, 4, 6]),
                (2, vec![4, 6, 8, 10]),
                (4, vec![8, 10, 12]),
            ]
        );
    }

    #[test]
    fn a_window_no_larger_than_its_overlap_is_refused() {
        let err = Windows::new(source(3), &ReadOptions::default(), 4, 4)
            .err()
            .unwrap();
        assert!(err.to_string().contains("overlapping by 4"), "{err}");
        assert!(Windows::new(source(3), &ReadOptions::default(), 1, 0).is_err());
    }
}
