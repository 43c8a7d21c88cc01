//! The derived assets `GET /v1/videos/{id}/content` offers beside the MP4:
//! a WebP thumbnail and a JPEG spritesheet, made from the clip's decoded
//! frames as a provider makes them from its render.

use std::io::Cursor;
use std::path::Path;

use framebreak_media::{Frame, resize};
use image::codecs::jpeg::JpegEncoder;
use image::codecs::webp::WebPEncoder;
use image::{ExtendedColorType, ImageEncoder, RgbImage};

use crate::Video;

/// Frames in a spritesheet, at most.
pub(super) const SHEET_FRAMES: u64 = 16;
/// Tiles per spritesheet row, at most.
pub(super) const SHEET_COLUMNS: u32 = 4;
/// Longest side of a spritesheet tile, in pixels.
pub(super) const TILE_SIDE: u32 = 256;
const JPEG_QUALITY: u8 = 85;

/// A downloadable asset of a finished video.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Variant {
    Video,
    Thumbnail,
    Spritesheet,
}

impl Variant {
    /// The variant a `variant` query value names.
    pub(super) fn parse(name: &str) -> Option<Self> {
        match name {
            "video" => Some(Self::Video),
            "thumbnail" => Some(Self::Thumbnail),
            "spritesheet" => Some(Self::Spritesheet),
            _ => None,
        }
    }
}

/// The first frame, at the clip's size, as lossless WebP.
pub(super) fn thumbnail(video: &Video) -> Result<Vec<u8>, String> {
    let first = decode(video, &[0])?.pop().ok_or("the clip has no frames")?;
    let mut out = Vec::new();
    WebPEncoder::new_lossless(&mut out)
        .write_image(
            first.data(),
            first.width(),
            first.height(),
            ExtendedColorType::Rgb8,
        )
        .map_err(|e| format!("cannot encode the thumbnail: {e}"))?;
    Ok(out)
}

/// Up to [`SHEET_FRAMES`] frames spread evenly over the clip, each shrunk
/// to [`TILE_SIDE`], in rows of [`SHEET_COLUMNS`], as a JPEG.
pub(super) fn spritesheet(video: &Video) -> Result<Vec<u8>, String> {
    let total = video.truth.frames.max(1);
    let n = total.min(SHEET_FRAMES);
    let picks: Vec<u64> = (0..n).map(|i| i * total / n).collect();
    let frames = decode(video, &picks)?;
    let first = frames.first().ok_or("the clip has no frames")?;
    let (w, h) = tile_size(first.width(), first.height());
    let count = frames.len() as u32;
    let cols = count.min(SHEET_COLUMNS);
    let rows = count.div_ceil(cols);
    let mut sheet = RgbImage::new(w * cols, h * rows);
    for (i, frame) in frames.iter().enumerate() {
        let tile = resize(frame, w, h);
        let tile = RgbImage::from_raw(w, h, tile.into_data()).ok_or("a tile has the wrong size")?;
        let (col, row) = (i as u32 % cols, i as u32 / cols);
        image::imageops::replace(&mut sheet, &tile, i64::from(col * w), i64::from(row * h));
    }
    let mut out = Cursor::new(Vec::new());
    JpegEncoder::new_with_quality(&mut out, JPEG_QUALITY)
        .write_image(
            sheet.as_raw(),
            sheet.width(),
            sheet.height(),
            ExtendedColorType::Rgb8,
        )
        .map_err(|e| format!("cannot encode the spritesheet: {e}"))?;
    Ok(out.into_inner())
}

/// A tile's size: the frame shrunk so that its longer side is at most
/// [`TILE_SIDE`], aspect kept.
fn tile_size(width: u32, height: u32) -> (u32, u32) {
    let long = width.max(height);
    if long <= TILE_SIDE {
        return (width, height);
    }
    let scale = |side: u32| ((u64::from(side) * u64::from(TILE_SIDE)) / u64::from(long)).max(1);
    (scale(width) as u32, scale(height) as u32)
}

/// The frames at `picks` (ascending indices), decoded from the MP4; the
/// decoder stops after the last one.
fn decode(video: &Video, picks: &[u64]) -> Result<Vec<Frame>, String> {
    let source = framebreak_media::open_bytes(Path::new("clip.mp4"), video.mp4.to_vec())
        .map_err(|e| format!("cannot decode the clip: {e}"))?;
    let last = picks.last().copied().unwrap_or(0);
    let mut frames = Vec::with_capacity(picks.len());
    for (i, frame) in source.enumerate() {
        let i = i as u64;
        if i > last {
            break;
        }
        let frame = frame.map_err(|e| format!("cannot decode the clip: {e}"))?;
        if picks.binary_search(&i).is_ok() {
            frames.push(frame);
        }
    }
    Ok(frames)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tiles_keep_the_aspect_and_small_frames_stay_whole() {
        assert_eq!(tile_size(96, 64), (96, 64));
        assert_eq!(tile_size(1280, 720), (256, 144));
        assert_eq!(tile_size(720, 1280), (144, 256));
    }

    #[test]
    fn variants_are_the_three_the_api_names() {
        assert_eq!(Variant::parse("video"), Some(Variant::Video));
        assert_eq!(Variant::parse("thumbnail"), Some(Variant::Thumbnail));
        assert_eq!(Variant::parse("spritesheet"), Some(Variant::Spritesheet));
        assert_eq!(Variant::parse("poster"), None);
    }
}
