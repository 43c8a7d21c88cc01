//! The candle tensor path of the metrics: the same formulas as the CPU
//! kernels, written as batched tensor ops so they run on CUDA (and, for the
//! agreement tests, on candle's CPU device). Every function takes a batch of
//! pairs and launches one chain of ops for all of them.

use candle_core::{DType, Device, Tensor};
use framebreak_media::Frame;

use crate::metrics::filter::gaussian_kernel;
use crate::metrics::ssim::{C1, C2, SIGMA, TRUNCATE, WIN};
use crate::{Flow, Plane};

type Result<T> = candle_core::Result<T>;

/// Planes of one size stacked into `(n, h, w)` f32.
fn stack_planes(planes: &[&Plane], device: &Device) -> Result<Tensor> {
    let (w, h) = (planes[0].width(), planes[0].height());
    let mut data = Vec::with_capacity(planes.len() * w * h);
    for p in planes {
        data.extend_from_slice(p.data());
    }
    Tensor::from_vec(data, (planes.len(), h, w), device)
}

/// Valid-mode separable correlation along the last two dims: the output is
/// `(n, h − 2r, w − 2r)`, which is exactly scikit-image's cropped region.
fn blur_valid(t: &Tensor, kernel: &[f32]) -> Result<Tensor> {
    let (_, h, w) = t.dims3()?;
    let taps = kernel.len();
    let (ho, wo) = (h + 1 - taps, w + 1 - taps);
    let mut acc = (t.narrow(2, 0, wo)? * f64::from(kernel[0]))?;
    for (k, &kw) in kernel.iter().enumerate().skip(1) {
        acc = (acc + (t.narrow(2, k, wo)? * f64::from(kw))?)?;
    }
    let mut out = (acc.narrow(1, 0, ho)? * f64::from(kernel[0]))?;
    for (k, &kw) in kernel.iter().enumerate().skip(1) {
        out = (out + (acc.narrow(1, k, ho)? * f64::from(kw))?)?;
    }
    Ok(out)
}

/// Mean SSIM of each pair (planes in `[0, 255]`, all of one size ≥ 11×11).
pub(crate) fn ssim_batch(pairs: &[(&Plane, &Plane)], device: &Device) -> Result<Vec<f64>> {
    if pairs.is_empty() {
        return Ok(Vec::new());
    }
    let kernel = gaussian_kernel(SIGMA, TRUNCATE);
    debug_assert_eq!(kernel.len(), WIN);
    let a: Vec<&Plane> = pairs.iter().map(|p| p.0).collect();
    let b: Vec<&Plane> = pairs.iter().map(|p| p.1).collect();
    // Centred on 128 as the CPU kernel, so f32 variances keep their digits.
    let a = stack_planes(&a, device)?.affine(1.0, -128.0)?;
    let b = stack_planes(&b, device)?.affine(1.0, -128.0)?;
    let ua = blur_valid(&a, &kernel)?;
    let ub = blur_valid(&b, &kernel)?;
    let uaa = blur_valid(&a.sqr()?, &kernel)?;
    let ubb = blur_valid(&b.sqr()?, &kernel)?;
    let uab = blur_valid(&(&a * &b)?, &kernel)?;
    let va = (uaa - ua.sqr()?)?;
    let vb = (ubb - ub.sqr()?)?;
    let cov = (uab - (&ua * &ub)?)?;
    let ma = ua.affine(1.0, 128.0)?;
    let mb = ub.affine(1.0, 128.0)?;
    let num = ((&ma * &mb)?.affine(2.0, f64::from(C1))? * cov.affine(2.0, f64::from(C2))?)?;
    let den = ((ma.sqr()? + mb.sqr()?)?.affine(1.0, f64::from(C1))?
        * (va + vb)?.affine(1.0, f64::from(C2))?)?;
    let map = (num / den)?;
    map.to_dtype(DType::F64)?.mean((1, 2))?.to_vec1::<f64>()
}

/// PSNR of each pair of RGB8 frames (all of one size), peak 255, with the
/// squared differences summed in f64 (exact for 8-bit inputs).
pub(crate) fn psnr_batch(pairs: &[(&Frame, &Frame)], device: &Device) -> Result<Vec<f64>> {
    if pairs.is_empty() {
        return Ok(Vec::new());
    }
    let len = pairs[0].0.data().len();
    let mut a = Vec::with_capacity(pairs.len() * len);
    let mut b = Vec::with_capacity(pairs.len() * len);
    for (x, y) in pairs {
        a.extend_from_slice(x.data());
        b.extend_from_slice(y.data());
    }
    let a = Tensor::from_vec(a, (pairs.len(), len), device)?.to_dtype(DType::F64)?;
    let b = Tensor::from_vec(b, (pairs.len(), len), device)?.to_dtype(DType::F64)?;
    let mse = (a - b)?.sqr()?.mean(1)?.to_vec1::<f64>()?;
    Ok(mse
        .into_iter()
        .map(|m| crate::metrics::psnr::psnr_from_mse(m, 255.0))
        .collect())
}

/// Bilinear samples of `src` `(n, h·w)` at `(sx, sy)` `(n, h·w)`, coordinates
/// clamped into the frame, as the CPU sampler.
fn bilinear(src: &Tensor, sx: &Tensor, sy: &Tensor, w: usize, h: usize) -> Result<Tensor> {
    let sx = sx.clamp(0f32, (w - 1) as f32)?;
    let sy = sy.clamp(0f32, (h - 1) as f32)?;
    let x0 = sx.floor()?;
    let y0 = sy.floor()?;
    let fx = (&sx - &x0)?;
    let fy = (&sy - &y0)?;
    let x1 = (&x0 + 1.0)?.minimum((w - 1) as f32)?;
    let y1 = (&y0 + 1.0)?.minimum((h - 1) as f32)?;
    let at = |y: &Tensor, x: &Tensor| -> Result<Tensor> {
        let idx = ((y * w as f64)? + x)?.to_dtype(DType::U32)?;
        src.gather(&idx, 1)
    };
    let (v00, v01, v10, v11) = (at(&y0, &x0)?, at(&y0, &x1)?, at(&y1, &x0)?, at(&y1, &x1)?);
    let top = (&v00 + (&fx * (v01 - &v00)?)?)?;
    let bottom = (&v10 + (&fx * (v11 - &v10)?)?)?;
    &top + (fy * (bottom - &top)?)?
}

/// One pair's warping error from the tensor path: the value, the error map
/// and the mask, as [`crate::warp_error`] computes them.
pub(crate) struct TensorWarp {
    pub(crate) value: f64,
    pub(crate) error_map: Vec<f32>,
    pub(crate) difference: Vec<f32>,
    pub(crate) mask: Vec<bool>,
    pub(crate) brightness_shift: f64,
}

/// Warping errors (Lai et al. 2018 with Ruder et al.'s mask) of a batch of
/// pairs `(prev, next, forward, backward)` of one size.
pub(crate) fn warp_batch(
    pairs: &[(&Plane, &Plane, &Flow, &Flow)],
    device: &Device,
) -> Result<Vec<TensorWarp>> {
    if pairs.is_empty() {
        return Ok(Vec::new());
    }
    let (w, h) = (pairs[0].0.width(), pairs[0].0.height());
    let n = pairs.len();
    let mut planes: [Vec<f32>; 6] = Default::default();
    for (p, nx, f, b) in pairs {
        let parts: [&[f32]; 6] = [p.data(), nx.data(), &f.u, &f.v, &b.u, &b.v];
        for (dst, src) in planes.iter_mut().zip(parts) {
            dst.extend_from_slice(src);
        }
    }
    let [prev, next, fu, fv, bu, bv] =
        planes.map(|data| Tensor::from_vec(data, (n, w * h), device));
    let (prev, next, fu, fv, bu, bv) = (prev?, next?, fu?, fv?, bu?, bv?);
    let xs: Vec<f32> = (0..w * h).map(|i| (i % w) as f32).collect();
    let ys: Vec<f32> = (0..w * h).map(|i| (i / w) as f32).collect();
    let xs = Tensor::from_vec(xs, (1, w * h), device)?;
    let ys = Tensor::from_vec(ys, (1, w * h), device)?;
    let sx = xs.broadcast_add(&fu)?;
    let sy = ys.broadcast_add(&fv)?;
    let inside = (sx.ge(0f32)?.to_dtype(DType::F32)?
        * sx.le((w - 1) as f32)?.to_dtype(DType::F32)?
        * sy.ge(0f32)?.to_dtype(DType::F32)?
        * sy.le((h - 1) as f32)?.to_dtype(DType::F32)?)?;
    let wu = bilinear(&bu, &sx, &sy, w, h)?;
    let wv = bilinear(&bv, &sx, &sy, w, h)?;
    let f2 = (fu.sqr()? + fv.sqr()?)?;
    let sum2 = ((&fu + &wu)?.sqr()? + (&fv + &wv)?.sqr()?)?;
    let bound = ((&f2 + (wu.sqr()? + wv.sqr()?)?)? * 0.01)?.affine(1.0, 0.5)?;
    let occluded = sum2.gt(&bound)?.to_dtype(DType::F32)?;
    // Forward differences, zero at the last column / row (clamped neighbour).
    let grad2 = |t: &Tensor| -> Result<Tensor> {
        let t3 = t.reshape((n, h, w))?;
        let right = Tensor::cat(&[t3.narrow(2, 1, w - 1)?, t3.narrow(2, w - 1, 1)?], 2)?;
        let down = Tensor::cat(&[t3.narrow(1, 1, h - 1)?, t3.narrow(1, h - 1, 1)?], 1)?;
        let gx = (right - &t3)?.sqr()?;
        let gy = (down - &t3)?.sqr()?;
        (gx + gy)?.reshape((n, w * h))
    };
    let grad = (grad2(&fu)? + grad2(&fv)?)?;
    let boundary = grad
        .gt(&(&f2 * 0.01)?.affine(1.0, 0.002)?)?
        .to_dtype(DType::F32)?;
    let mask = ((inside * occluded.affine(-1.0, 1.0)?)? * boundary.affine(-1.0, 1.0)?)?;
    let warped = bilinear(&next, &sx, &sy, w, h)?;
    let diff = (((warped - prev)? * (1.0 / 255.0)) * &mask)?;
    let shifts = diff.to_dtype(DType::F64)?.sum(1)?.to_vec1::<f64>()?;
    let err = diff.sqr()?;
    let sums = err.to_dtype(DType::F64)?.sum(1)?.to_vec1::<f64>()?;
    let counts = mask.to_dtype(DType::F64)?.sum(1)?.to_vec1::<f64>()?;
    let maps = err.to_vec2::<f32>()?;
    let masks = mask.to_vec2::<f32>()?;
    let diffs = diff.to_vec2::<f32>()?;
    Ok(maps
        .into_iter()
        .zip(diffs)
        .zip(masks)
        .zip(sums.into_iter().zip(counts).zip(shifts))
        .map(
            |(((error_map, difference), mask), ((sum, count), shift))| TensorWarp {
                value: if count > 0.0 { sum / count } else { 0.0 },
                error_map,
                difference,
                mask: mask.into_iter().map(|m| m > 0.5).collect(),
                brightness_shift: if count > 0.0 { shift / count } else { 0.0 },
            },
        )
        .collect())
}
