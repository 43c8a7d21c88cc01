//! Animated GIF encoding (image's GIF encoder, NeuQuant palettes).

use std::fs::File;
use std::io::BufWriter;
use std::path::Path;

use image::codecs::gif::{GifEncoder, Repeat};
use image::{Delay, RgbaImage};

use crate::{Error, Frame};

/// Palette quality from 1 (best, slowest) to 30: 10 is the `gif` crate's
/// recommended trade-off.
const SPEED: i32 = 10;

/// Writes `frames` as an animated GIF at `fps`, looping forever.
///
/// GIF stores delays in hundredths of a second, so rates other than
/// 100 / n fps are rounded per frame (cumulatively, so the clip keeps its
/// length). Each frame gets its own 256-colour palette.
///
/// ```
/// use framebreak_media::{Frame, write_gif};
/// # fn main() -> Result<(), framebreak_media::Error> {
/// let dir = tempfile::tempdir().unwrap();
/// let frames: Vec<Frame> = (0..4u8)
///     .map(|i| Frame::from_rgb8(i.into(), f64::from(i) / 10.0, 8, 8, vec![i * 60; 8 * 8 * 3]))
///     .collect::<Result<_, _>>()?;
/// write_gif(&dir.path().join("a.gif"), &frames, 10.0)?;
/// # Ok(()) }
/// ```
pub fn write_gif(path: &Path, frames: &[Frame], fps: f64) -> Result<(), Error> {
    if !(fps.is_finite() && fps > 0.0 && fps <= 100.0) {
        return Err(Error::InvalidOptions {
            reason: format!("GIF frame rate {fps} is not in (0, 100]"),
        });
    }
    if frames.is_empty() {
        return Err(Error::encode(path, "no frame to write"));
    }
    let (w, h) = (frames[0].width(), frames[0].height());
    if w > u32::from(u16::MAX) || h > u32::from(u16::MAX) {
        return Err(Error::encode(
            path,
            format!("{w}x{h} is over GIF's 65535-pixel sides"),
        ));
    }
    let file = File::create(path).map_err(|e| Error::io(path, e))?;
    let mut encoder = GifEncoder::new_with_speed(BufWriter::new(file), SPEED);
    encoder
        .set_repeat(Repeat::Infinite)
        .map_err(|e| Error::encode(path, e.to_string()))?;
    let mut written_cs = 0u64;
    for (i, frame) in frames.iter().enumerate() {
        if (frame.width(), frame.height()) != (w, h) {
            return Err(Error::encode(
                path,
                format!(
                    "frame {i} is {}x{}, the GIF is {w}x{h}",
                    frame.width(),
                    frame.height()
                ),
            ));
        }
        let end_cs = ((i + 1) as f64 * 100.0 / fps).round() as u64;
        let delay_cs = (end_cs - written_cs).max(1);
        written_cs += delay_cs;
        let rgba: Vec<u8> = frame
            .data()
            .chunks_exact(3)
            .flat_map(|p| [p[0], p[1], p[2], 255])
            .collect();
        let Some(buffer) = RgbaImage::from_raw(w, h, rgba) else {
            return Err(Error::encode(
                path,
                format!("frame {i} has the wrong number of bytes"),
            ));
        };
        let delay = Delay::from_numer_denom_ms((delay_cs * 10) as u32, 1);
        encoder
            .encode_frame(image::Frame::from_parts(buffer, 0, 0, delay))
            .map_err(|e| Error::encode(path, e.to_string()))?;
    }
    Ok(())
}
