//! A single-channel f32 image: what every metric and detector works on.

use std::fmt;

use framebreak_media::Frame;

use crate::Error;

/// One channel of a picture as `f32`, row-major, no padding: the value of
/// pixel `(x, y)` is `data[y * width + x]`.
///
/// Values keep the frame's scale, `[0, 255]` for planes taken from a
/// [`Frame`]; metrics that need another scale say so.
#[derive(Clone, PartialEq)]
pub struct Plane {
    width: usize,
    height: usize,
    data: Vec<f32>,
}

impl Plane {
    /// Wraps `width * height` values, row-major.
    ///
    /// # Errors
    /// [`Error::InvalidInput`] when a side is zero or the buffer has the wrong
    /// length.
    pub fn new(width: usize, height: usize, data: Vec<f32>) -> Result<Self, Error> {
        if width == 0 || height == 0 {
            return Err(Error::InvalidInput {
                what: "plane".into(),
                reason: format!("zero-sized plane {width}x{height}"),
            });
        }
        if data.len() != width * height {
            return Err(Error::InvalidInput {
                what: "plane".into(),
                reason: format!(
                    "{width}x{height} needs {} values, got {}",
                    width * height,
                    data.len()
                ),
            });
        }
        Ok(Self {
            width,
            height,
            data,
        })
    }

    /// A plane of `width * height` copies of `value` (sides must be non-zero
    /// for the result to be usable by the metrics).
    pub fn filled(width: usize, height: usize, value: f32) -> Self {
        Self {
            width,
            height,
            data: vec![value; width * height],
        }
    }

    /// Luma (BT.601, as [`Frame::luma_f32`]) in `[0, 255]`.
    pub fn luma(frame: &Frame) -> Self {
        Self {
            width: frame.width() as usize,
            height: frame.height() as usize,
            data: frame.luma_f32(),
        }
    }

    /// Channel `c` (0 = red, 1 = green, 2 = blue) in `[0, 255]`.
    ///
    /// # Errors
    /// [`Error::InvalidInput`] when `c > 2`.
    pub fn channel(frame: &Frame, c: usize) -> Result<Self, Error> {
        if c > 2 {
            return Err(Error::InvalidInput {
                what: "channel".into(),
                reason: format!("an RGB frame has channels 0..=2, not {c}"),
            });
        }
        Ok(Self {
            width: frame.width() as usize,
            height: frame.height() as usize,
            data: frame
                .data()
                .chunks_exact(3)
                .map(|p| f32::from(p[c]))
                .collect(),
        })
    }

    /// Width in pixels.
    pub fn width(&self) -> usize {
        self.width
    }

    /// Height in pixels.
    pub fn height(&self) -> usize {
        self.height
    }

    /// The values, row-major.
    pub fn data(&self) -> &[f32] {
        &self.data
    }

    /// The values, row-major, mutable.
    pub fn data_mut(&mut self) -> &mut [f32] {
        &mut self.data
    }

    /// Takes the values out.
    pub fn into_data(self) -> Vec<f32> {
        self.data
    }

    /// The value at `(x, y)`; panics outside the plane, like slice indexing.
    #[inline]
    pub fn at(&self, x: usize, y: usize) -> f32 {
        self.data[y * self.width + x]
    }

    /// Row `y`.
    #[inline]
    pub fn row(&self, y: usize) -> &[f32] {
        &self.data[y * self.width..(y + 1) * self.width]
    }

    /// Mean of all values, accumulated in f64.
    pub fn mean(&self) -> f64 {
        self.data.iter().map(|&v| f64::from(v)).sum::<f64>() / self.data.len().max(1) as f64
    }

    /// Checks that `other` has this plane's size.
    ///
    /// # Errors
    /// [`Error::SizeMismatch`] otherwise.
    pub fn check_same_size(&self, other: &Plane) -> Result<(), Error> {
        if self.width == other.width && self.height == other.height {
            Ok(())
        } else {
            Err(Error::SizeMismatch {
                left_width: self.width as u32,
                left_height: self.height as u32,
                right_width: other.width as u32,
                right_height: other.height as u32,
            })
        }
    }
}

impl fmt::Debug for Plane {
    // The values would flood any log: show the size and mean only.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Plane")
            .field("width", &self.width)
            .field("height", &self.height)
            .field("mean", &self.mean())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn checks_sizes_and_channels() {
        assert!(Plane::new(2, 2, vec![0.0; 3]).is_err());
        assert!(Plane::new(0, 2, vec![]).is_err());
        let frame = Frame::from_rgb8(0, 0.0, 2, 1, vec![10, 20, 30, 40, 50, 60]).unwrap();
        let g = Plane::channel(&frame, 1).unwrap();
        assert_eq!(g.data(), &[20.0, 50.0]);
        assert!(Plane::channel(&frame, 3).is_err());
        let y = Plane::luma(&frame);
        assert!((y.at(0, 0) - (0.299 * 10.0 + 0.587 * 20.0 + 0.114 * 30.0)).abs() < 1e-4);
        assert!(g.check_same_size(&Plane::filled(1, 2, 0.0)).is_err());
    }
}
