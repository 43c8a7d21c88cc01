//! Peak signal-to-noise ratio, exact to the last bit of the mean squared error.

use framebreak_media::Frame;

use crate::{Error, Plane};

/// PSNR in dB of two RGB8 frames over all three channels, peak 255:
/// `10 log10(255² / MSE)`, as scikit-image's
/// `peak_signal_noise_ratio(a, b, data_range=255)`.
///
/// The squared differences are summed as integers, so the MSE is exact;
/// identical frames give `f64::INFINITY`.
///
/// # Errors
/// [`Error::SizeMismatch`] when the frames differ in size.
pub fn psnr(a: &Frame, b: &Frame) -> Result<f64, Error> {
    if a.width() != b.width() || a.height() != b.height() {
        return Err(Error::SizeMismatch {
            left_width: a.width(),
            left_height: a.height(),
            right_width: b.width(),
            right_height: b.height(),
        });
    }
    let sse: u64 = a
        .data()
        .iter()
        .zip(b.data())
        .map(|(&x, &y)| {
            let d = u64::from(x.abs_diff(y));
            d * d
        })
        .sum();
    Ok(psnr_from_mse(sse as f64 / a.data().len() as f64, 255.0))
}

/// PSNR in dB of two planes with the given peak value (255 for planes taken
/// from frames), the MSE accumulated in f64.
///
/// # Errors
/// [`Error::SizeMismatch`] when the planes differ in size.
pub fn psnr_plane(a: &Plane, b: &Plane, peak: f64) -> Result<f64, Error> {
    a.check_same_size(b)?;
    let sse: f64 = a
        .data()
        .iter()
        .zip(b.data())
        .map(|(&x, &y)| {
            let d = f64::from(x) - f64::from(y);
            d * d
        })
        .sum();
    Ok(psnr_from_mse(sse / a.data().len() as f64, peak))
}

/// `10 log10(peak² / mse)`, infinite when `mse` is 0.
pub(crate) fn psnr_from_mse(mse: f64, peak: f64) -> f64 {
    if mse == 0.0 {
        f64::INFINITY
    } else {
        10.0 * (peak * peak / mse).log10()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_value_and_identity() {
        let a = Frame::from_rgb8(0, 0.0, 2, 1, vec![0, 0, 0, 0, 0, 0]).unwrap();
        let b = Frame::from_rgb8(0, 0.0, 2, 1, vec![0, 0, 0, 0, 0, 6]).unwrap();
        // MSE = 36 / 6 = 6.
        let want = 10.0 * (255.0f64 * 255.0 / 6.0).log10();
        assert!((psnr(&a, &b).unwrap() - want).abs() < 1e-12);
        assert_eq!(psnr(&a, &a).unwrap(), f64::INFINITY);
        let c = Frame::from_rgb8(0, 0.0, 1, 2, vec![0; 6]).unwrap();
        assert!(matches!(psnr(&a, &c), Err(Error::SizeMismatch { .. })));
    }
}
