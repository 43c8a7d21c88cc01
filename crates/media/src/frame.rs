//! One decoded picture: RGB8, row-major, tightly packed.

use std::fmt;

use crate::Error;

/// One decoded video frame.
///
/// Pixels are RGB8, row-major, with no row padding: the byte of channel `c`
/// of pixel `(x, y)` is `data[(y * width + x) * 3 + c]`. `index` counts
/// frames from 0 in presentation order; `timestamp` is the presentation time
/// in seconds from the start of the clip.
#[derive(Clone, PartialEq)]
pub struct Frame {
    index: u64,
    timestamp: f64,
    width: u32,
    height: u32,
    data: Vec<u8>,
}

impl Frame {
    /// Wraps RGB8 pixels, checking that the buffer holds exactly
    /// `width * height * 3` bytes and that neither side is zero.
    pub fn from_rgb8(
        index: u64,
        timestamp: f64,
        width: u32,
        height: u32,
        data: Vec<u8>,
    ) -> Result<Self, Error> {
        if width == 0 || height == 0 {
            return Err(Error::InvalidFrame {
                reason: format!("zero-sized frame {width}x{height}"),
            });
        }
        let expected = width as usize * height as usize * 3;
        if data.len() != expected {
            return Err(Error::InvalidFrame {
                reason: format!(
                    "{width}x{height} RGB8 needs {expected} bytes, got {}",
                    data.len()
                ),
            });
        }
        if !timestamp.is_finite() || timestamp < 0.0 {
            return Err(Error::InvalidFrame {
                reason: format!("timestamp {timestamp} is not a finite, non-negative time"),
            });
        }
        Ok(Self {
            index,
            timestamp,
            width,
            height,
            data,
        })
    }

    /// The frame's position in the clip, from 0, in presentation order.
    pub fn index(&self) -> u64 {
        self.index
    }

    /// Presentation time in seconds from the start of the clip.
    pub fn timestamp(&self) -> f64 {
        self.timestamp
    }

    /// Width in pixels.
    pub fn width(&self) -> u32 {
        self.width
    }

    /// Height in pixels.
    pub fn height(&self) -> u32 {
        self.height
    }

    /// The RGB8 pixels, row-major, `width * height * 3` bytes.
    pub fn data(&self) -> &[u8] {
        &self.data
    }

    /// Takes the RGB8 pixels out of the frame.
    pub fn into_data(self) -> Vec<u8> {
        self.data
    }

    /// The same pixels under another index and timestamp (after sampling).
    #[must_use]
    pub fn renumbered(mut self, index: u64, timestamp: f64) -> Self {
        self.index = index;
        self.timestamp = timestamp;
        self
    }

    /// The pixel at `(x, y)`, or `None` outside the frame.
    pub fn pixel(&self, x: u32, y: u32) -> Option<[u8; 3]> {
        if x >= self.width || y >= self.height {
            return None;
        }
        let i = (y as usize * self.width as usize + x as usize) * 3;
        Some([self.data[i], self.data[i + 1], self.data[i + 2]])
    }

    /// Luma (ITU-R BT.601: 0.299 R + 0.587 G + 0.114 B) in [0, 255] as f32,
    /// row-major, `width * height` values.
    pub fn luma_f32(&self) -> Vec<f32> {
        self.data
            .chunks_exact(3)
            .map(|p| 0.299 * f32::from(p[0]) + 0.587 * f32::from(p[1]) + 0.114 * f32::from(p[2]))
            .collect()
    }
}

impl fmt::Debug for Frame {
    // The pixels would flood any log: show their size only.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Frame")
            .field("index", &self.index)
            .field("timestamp", &self.timestamp)
            .field("width", &self.width)
            .field("height", &self.height)
            .field("bytes", &self.data.len())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rejects_wrong_buffer_sizes() {
        assert!(Frame::from_rgb8(0, 0.0, 2, 2, vec![0; 11]).is_err());
        assert!(Frame::from_rgb8(0, 0.0, 0, 2, vec![]).is_err());
        assert!(Frame::from_rgb8(0, f64::NAN, 1, 1, vec![0; 3]).is_err());
        let f = Frame::from_rgb8(3, 0.125, 2, 1, vec![1, 2, 3, 4, 5, 6]).unwrap();
        assert_eq!(f.pixel(1, 0), Some([4, 5, 6]));
        assert_eq!(f.pixel(2, 0), None);
        assert_eq!(f.luma_f32().len(), 2);
    }
}
