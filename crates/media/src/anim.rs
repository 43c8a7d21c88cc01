//! Animated GIF, APNG and animated WebP (and single PNG/JPEG/WebP images)
//! through the `image` crate, decoded on a worker thread.
//!
//! image's animation iterators are not `Send`, and a [`FrameSource`] must
//! be; so the decoder lives on its own thread and hands frames over a
//! channel of two, which keeps streaming bounded: the thread decodes at
//! most two frames ahead, and stops when the source is dropped.

use std::io::{BufRead, Seek};
use std::path::{Path, PathBuf};
use std::sync::mpsc::{Receiver, SyncSender, sync_channel};

use image::codecs::gif::GifDecoder;
use image::codecs::png::PngDecoder;
use image::codecs::webp::WebPDecoder;
use image::{AnimationDecoder, ImageDecoder, ImageResult, Limits, RgbaImage};

use crate::options::{MAX_PIXELS, MAX_SIDE, check_size};
use crate::{ClipInfo, Error, Frame, FrameSource};

/// Which image decoder to use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    Gif,
    Png,
    WebP,
    Jpeg,
}

impl Kind {
    fn name(self) -> &'static str {
        match self {
            Self::Gif => "gif",
            Self::Png => "png",
            Self::WebP => "webp",
            Self::Jpeg => "jpeg",
        }
    }
}

/// Browsers show GIF frames with a delay of 10 ms or less for 100 ms, and
/// files made for them rely on it.
const MIN_DELAY_MS: f64 = 20.0;
const DEFAULT_DELAY_MS: f64 = 100.0;

/// A frame stream fed by a decoding thread.
pub(crate) struct AnimSource {
    path: PathBuf,
    kind: Kind,
    info: ClipInfo,
    /// `None` marks the end of the stream, so a thread that dies early
    /// (a panic in a decoder) is told apart from one that finished.
    frames: Receiver<Option<Result<Frame, Error>>>,
    done: bool,
}

type Frames = Box<dyn Iterator<Item = ImageResult<image::Frame>>>;

impl AnimSource {
    /// Starts decoding and waits for the first frame, so the size, rate
    /// and any error in the header are known on return.
    pub(crate) fn start<R>(path: &Path, kind: Kind, reader: R) -> Result<Self, Error>
    where
        R: BufRead + Seek + Send + 'static,
    {
        let (info_tx, info_rx) = sync_channel(1);
        let (frame_tx, frames) = sync_channel(2);
        let owned = path.to_path_buf();
        std::thread::Builder::new()
            .name("framebreak-media-decode".into())
            .spawn(move || run(&owned, kind, reader, &info_tx, &frame_tx))
            .map_err(|e| Error::io(path, e))?;
        let info = info_rx
            .recv()
            .map_err(|_| Error::corrupt(path, kind.name(), "the decoder stopped unexpectedly"))??;
        Ok(Self {
            path: path.to_path_buf(),
            kind,
            info,
            frames,
            done: false,
        })
    }
}

fn limits() -> Limits {
    let mut limits = Limits::default();
    limits.max_image_width = Some(MAX_SIDE);
    limits.max_image_height = Some(MAX_SIDE);
    // One RGBA canvas at the largest size, plus the frame being composed.
    limits.max_alloc = Some(MAX_PIXELS * 4 * 3);
    limits
}

fn open_frames<R: BufRead + Seek + 'static>(
    path: &Path,
    kind: Kind,
    reader: R,
) -> Result<(u32, u32, Frames), Error> {
    let bad = |e: image::ImageError| classify(path, kind, e);
    let checked = |decoder: &dyn ImageDecoder| {
        let (w, h) = decoder.dimensions();
        check_size(path, w.into(), h.into()).map(|()| (w, h))
    };
    match kind {
        Kind::Gif => {
            let mut d = GifDecoder::new(reader).map_err(bad)?;
            d.set_limits(limits()).map_err(bad)?;
            let (w, h) = checked(&d)?;
            Ok((w, h, Box::new(d.into_frames())))
        }
        Kind::Png => {
            let d = PngDecoder::with_limits(reader, limits()).map_err(bad)?;
            let (w, h) = checked(&d)?;
            if d.is_apng().map_err(bad)? {
                Ok((w, h, Box::new(d.apng().map_err(bad)?.into_frames())))
            } else {
                Ok((w, h, still(d)))
            }
        }
        Kind::WebP => {
            let mut d = WebPDecoder::new(reader).map_err(bad)?;
            d.set_limits(limits()).map_err(bad)?;
            let (w, h) = checked(&d)?;
            if d.has_animation() {
                Ok((w, h, Box::new(d.into_frames())))
            } else {
                Ok((w, h, still(d)))
            }
        }
        Kind::Jpeg => {
            let mut d = image::codecs::jpeg::JpegDecoder::new(reader).map_err(bad)?;
            d.set_limits(limits()).map_err(bad)?;
            let (w, h) = checked(&d)?;
            Ok((w, h, still(d)))
        }
    }
}

/// A still image as a one-frame animation.
fn still(decoder: impl ImageDecoder + 'static) -> Frames {
    let frame =
        image::DynamicImage::from_decoder(decoder).map(|img| image::Frame::new(img.into_rgba8()));
    Box::new(std::iter::once(frame))
}

fn classify(path: &Path, kind: Kind, e: image::ImageError) -> Error {
    match e {
        image::ImageError::Limits(l) => {
            Error::corrupt(path, kind.name(), format!("over the size limits: {l}"))
        }
        image::ImageError::IoError(io) if io.kind() != std::io::ErrorKind::UnexpectedEof => {
            Error::io(path, io)
        }
        other => Error::corrupt(path, kind.name(), other.to_string()),
    }
}

fn delay_seconds(frame: &image::Frame) -> f64 {
    let (n, d) = frame.delay().numer_denom_ms();
    let ms = if d == 0 {
        0.0
    } else {
        f64::from(n) / f64::from(d)
    };
    if ms < MIN_DELAY_MS {
        DEFAULT_DELAY_MS / 1000.0
    } else {
        ms / 1000.0
    }
}

fn rgb(buffer: RgbaImage) -> Vec<u8> {
    // Transparent pixels keep the colour the decoder composed them with
    // (black for a cleared GIF canvas): analysis wants opaque RGB.
    buffer
        .into_raw()
        .chunks_exact(4)
        .flat_map(|p| [p[0], p[1], p[2]])
        .collect()
}

fn run<R: BufRead + Seek + 'static>(
    path: &Path,
    kind: Kind,
    reader: R,
    info_tx: &SyncSender<Result<ClipInfo, Error>>,
    frame_tx: &SyncSender<Option<Result<Frame, Error>>>,
) {
    let (width, height, mut frames) = match open_frames(path, kind, reader) {
        Ok(opened) => opened,
        Err(e) => {
            let _ = info_tx.send(Err(e));
            return;
        }
    };
    let first = match frames.next() {
        Some(Ok(frame)) => frame,
        Some(Err(e)) => {
            let _ = info_tx.send(Err(classify(path, kind, e)));
            return;
        }
        None => {
            let _ = info_tx.send(Err(Error::NoFrames {
                path: path.to_path_buf(),
                reason: format!("the {} holds no frame", kind.name()),
            }));
            return;
        }
    };
    let animated = !matches!(kind, Kind::Jpeg);
    let fps = if animated {
        1.0 / delay_seconds(&first)
    } else {
        1.0
    };
    let codec = match kind {
        Kind::Png => "apng",
        other => other.name(),
    };
    let info = ClipInfo {
        width,
        height,
        fps,
        frame_count: None,
        codec: codec.into(),
    };
    if info_tx.send(Ok(info)).is_err() {
        return;
    }
    let mut clock = 0.0;
    let mut pending = Some(Ok(first));
    for index in 0u64.. {
        let Some(next) = pending.take().or_else(|| frames.next()) else {
            let _ = frame_tx.send(None);
            return;
        };
        let item = next.map_err(|e| classify(path, kind, e)).and_then(|frame| {
            let delay = delay_seconds(&frame);
            let buffer = frame.into_buffer();
            let (w, h) = buffer.dimensions();
            let made = Frame::from_rgb8(index, clock, w, h, rgb(buffer));
            clock += delay;
            made
        });
        let failed = item.is_err();
        if frame_tx.send(Some(item)).is_err() || failed {
            return;
        }
    }
}

impl Iterator for AnimSource {
    type Item = Result<Frame, Error>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        let item = self.frames.recv().unwrap_or_else(|_| {
            Some(Err(Error::corrupt(
                &self.path,
                self.kind.name(),
                "the decoder stopped unexpectedly",
            )))
        });
        if !matches!(item, Some(Ok(_))) {
            self.done = true;
        }
        item
    }
}

impl FrameSource for AnimSource {
    fn info(&self) -> &ClipInfo {
        &self.info
    }
}
