//! Structural similarity (Wang et al. 2004) exactly as scikit-image computes
//! it with `gaussian_weights=True, sigma=1.5, use_sample_covariance=False`.
//!
//! The window is scipy's Gaussian with `truncate=3.5`: radius 5, 11 taps.
//! scikit-image filters with `reflect` borders and then averages the SSIM map
//! with 5 pixels cropped from every border, so the mean never reads a
//! reflected pixel: [`ssim`] computes only the cropped rows and columns, in one
//! streaming pass that keeps 11 horizontally filtered rows of the five
//! moments (x, y, x², y², xy) in a ring and fuses the vertical pass with the
//! SSIM formula. Values are centred on 128 before the squares so the f32
//! variances do not cancel catastrophically.

use crate::metrics::filter::{gaussian_kernel, separable};
use crate::{Error, Plane};

/// Gaussian σ of the SSIM window.
pub(crate) const SIGMA: f64 = 1.5;
/// scipy's `truncate` as scikit-image passes it.
pub(crate) const TRUNCATE: f64 = 3.5;
/// Window side: `2 * int(3.5 * 1.5 + 0.5) + 1`.
pub(crate) const WIN: usize = 11;
/// `(K1 L)²` with K1 = 0.01, L = 255.
pub(crate) const C1: f32 = (0.01 * 255.0) * (0.01 * 255.0);
/// `(K2 L)²` with K2 = 0.03, L = 255.
pub(crate) const C2: f32 = (0.03 * 255.0) * (0.03 * 255.0);
const CENTRE: f32 = 128.0;
/// Rows per parallel band: bands recompute 10 rows of overlap.
const BAND_ROWS: usize = 96;

fn check(a: &Plane, b: &Plane) -> Result<(), Error> {
    a.check_same_size(b)?;
    if a.width() < WIN || a.height() < WIN {
        return Err(Error::InvalidInput {
            what: "plane".into(),
            reason: format!(
                "SSIM needs at least {WIN}x{WIN} pixels (its window), got {}x{}",
                a.width(),
                a.height()
            ),
        });
    }
    Ok(())
}

/// Mean SSIM of two planes in `[0, 255]` (data range 255).
///
/// Agrees with `skimage.metrics.structural_similarity(a, b,
/// gaussian_weights=True, sigma=1.5, use_sample_covariance=False,
/// data_range=255)` to 1e-4 (tested on photographs; typically ~1e-6).
///
/// # Errors
/// [`Error::SizeMismatch`] for planes of different sizes,
/// [`Error::InvalidInput`] for planes smaller than the 11×11 window.
pub fn ssim(a: &Plane, b: &Plane) -> Result<f64, Error> {
    check(a, b)?;
    let kernel = gaussian_kernel(SIGMA, TRUNCATE);
    let pad = WIN / 2;
    let (first, last) = (pad, a.height() - pad);
    let bands: Vec<(usize, usize)> = (first..last)
        .step_by(BAND_ROWS)
        .map(|y| (y, (y + BAND_ROWS).min(last)))
        .collect();
    let sum: f64 = {
        use rayon::prelude::*;
        bands
            .par_iter()
            .map(|&(y0, y1)| band_sum(a, b, &kernel, y0, y1))
            .sum()
    };
    let count = (last - first) * (a.width() - 2 * pad);
    Ok(sum / count as f64)
}

/// Sum of the SSIM map over output rows `y0..y1` and the cropped columns.
fn band_sum(a: &Plane, b: &Plane, kernel: &[f32], y0: usize, y1: usize) -> f64 {
    let w = a.width();
    let r = WIN / 2;
    let wo = w - 2 * r;
    // ring[q][slot] is one horizontally filtered row of moment q.
    let mut ring = vec![0.0f32; 5 * WIN * wo];
    let mut products = vec![0.0f32; 5 * w];
    let mut acc = vec![0.0f32; 5 * wo];
    let mut total = 0.0f64;
    for sy in y0 - r..y1 + r {
        let (pa, rest) = products.split_at_mut(w);
        let (pb, rest) = rest.split_at_mut(w);
        let (paa, rest) = rest.split_at_mut(w);
        let (pbb, pab) = rest.split_at_mut(w);
        for (i, (&x, &y)) in a.row(sy).iter().zip(b.row(sy)).enumerate() {
            let (x, y) = (x - CENTRE, y - CENTRE);
            pa[i] = x;
            pb[i] = y;
            paa[i] = x * x;
            pbb[i] = y * y;
            pab[i] = x * y;
        }
        let slot = sy % WIN;
        for q in 0..5 {
            let src = &products[q * w..(q + 1) * w];
            let dst = &mut ring[(q * WIN + slot) * wo..(q * WIN + slot + 1) * wo];
            let shifted: [&[f32]; WIN] = std::array::from_fn(|k| &src[k..]);
            weighted_sum(&shifted, kernel, dst);
        }
        if sy < y0 + r {
            continue;
        }
        // Output row sy - r is complete: rows sy - 2r ..= sy are in the ring.
        for q in 0..5 {
            let rows: [&[f32]; WIN] = std::array::from_fn(|k| {
                let s = (sy - 2 * r + k) % WIN;
                &ring[(q * WIN + s) * wo..(q * WIN + s + 1) * wo]
            });
            weighted_sum(&rows, kernel, &mut acc[q * wo..(q + 1) * wo]);
        }
        let (ua, rest) = acc.split_at(wo);
        let (ub, rest) = rest.split_at(wo);
        let (uaa, rest) = rest.split_at(wo);
        let (ubb, uab) = rest.split_at(wo);
        let mut row_sum = 0.0f32;
        for i in 0..wo {
            row_sum += ssim_pixel(ua[i], ub[i], uaa[i], ubb[i], uab[i]);
        }
        total += f64::from(row_sum);
    }
    total
}

/// Outputs a register block of [`weighted_sum`] computes at once.
const LANES: usize = 16;

/// `dst[i] = Σₖ kernel[k] · rows[k][i]`. The vertical pass gives it the
/// ring's rows; the horizontal pass gives it one row shifted by each tap
/// (`rows[k] = &src[k..]`). Each block of [`LANES`] outputs is summed in
/// registers over the taps (vectorised) instead of being read and written
/// back once per tap.
#[inline]
fn weighted_sum(rows: &[&[f32]; WIN], kernel: &[f32], dst: &mut [f32]) {
    let mut blocks = dst.chunks_exact_mut(LANES);
    let mut i = 0;
    for block in &mut blocks {
        let mut acc = [0.0f32; LANES];
        for (row, &kw) in rows.iter().zip(kernel) {
            let s = &row[i..i + LANES];
            for j in 0..LANES {
                acc[j] += kw * s[j];
            }
        }
        block.copy_from_slice(&acc);
        i += LANES;
    }
    for (j, d) in blocks.into_remainder().iter_mut().enumerate() {
        *d = rows
            .iter()
            .zip(kernel)
            .map(|(row, kw)| kw * row[i + j])
            .sum();
    }
}

/// SSIM of one pixel from the blurred centred moments.
#[inline(always)]
pub(crate) fn ssim_pixel(ua: f32, ub: f32, uaa: f32, ubb: f32, uab: f32) -> f32 {
    let va = uaa - ua * ua;
    let vb = ubb - ub * ub;
    let cov = uab - ua * ub;
    let (ma, mb) = (ua + CENTRE, ub + CENTRE);
    ((2.0 * ma * mb + C1) * (2.0 * cov + C2)) / ((ma * ma + mb * mb + C1) * (va + vb + C2))
}

/// The full per-pixel SSIM map (scikit-image's `full=True` image), borders
/// filtered with scipy's `reflect` mode. Its mean over the pixels 5 or more
/// from every border is [`ssim`].
///
/// # Errors
/// As [`ssim`].
pub fn ssim_map(a: &Plane, b: &Plane) -> Result<Plane, Error> {
    check(a, b)?;
    let kernel = gaussian_kernel(SIGMA, TRUNCATE);
    let (w, h) = (a.width(), a.height());
    let centred = |p: &Plane, f: &dyn Fn(f32) -> f32| {
        Plane::new(w, h, p.data().iter().map(|&v| f(v - CENTRE)).collect())
            .expect("same size as a valid plane")
    };
    let ua = separable(&centred(a, &|v| v), &kernel);
    let ub = separable(&centred(b, &|v| v), &kernel);
    let uaa = separable(&centred(a, &|v| v * v), &kernel);
    let ubb = separable(&centred(b, &|v| v * v), &kernel);
    let prod = Plane::new(
        w,
        h,
        a.data()
            .iter()
            .zip(b.data())
            .map(|(&x, &y)| (x - CENTRE) * (y - CENTRE))
            .collect(),
    )?;
    let uab = separable(&prod, &kernel);
    let data = (0..w * h)
        .map(|i| {
            ssim_pixel(
                ua.data()[i],
                ub.data()[i],
                uaa.data()[i],
                ubb.data()[i],
                uab.data()[i],
            )
        })
        .collect();
    Plane::new(w, h, data)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn textured(w: usize, h: usize, seed: u32) -> Plane {
        let data = (0..w * h)
            .map(|i| {
                let (x, y) = ((i % w) as f32, (i / w) as f32);
                let n = (i as u32).wrapping_mul(2_654_435_761).wrapping_add(seed) >> 24;
                (128.0 + 60.0 * (x * 0.3).sin() * (y * 0.2).cos() + n as f32 * 0.1)
                    .clamp(0.0, 255.0)
            })
            .collect();
        Plane::new(w, h, data).unwrap()
    }

    #[test]
    fn streaming_mean_equals_cropped_map_mean() {
        let (a, b) = (textured(40, 230, 1), textured(40, 230, 99));
        let map = ssim_map(&a, &b).unwrap();
        let mut s = 0.0f64;
        for y in 5..225 {
            for x in 5..35 {
                s += f64::from(map.at(x, y));
            }
        }
        let want = s / (220.0 * 30.0);
        assert!((ssim(&a, &b).unwrap() - want).abs() < 1e-6);
    }

    #[test]
    fn rejects_tiny_and_mismatched() {
        let a = Plane::filled(10, 20, 1.0);
        assert!(matches!(ssim(&a, &a), Err(Error::InvalidInput { .. })));
        let b = Plane::filled(12, 20, 1.0);
        let c = Plane::filled(12, 21, 1.0);
        assert!(matches!(ssim(&b, &c), Err(Error::SizeMismatch { .. })));
    }
}
