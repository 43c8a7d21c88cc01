//! Where metrics run: hand-written kernels on the CPU, candle tensor ops
//! batched over frames on a GPU.
//!
//! candle's CPU convolutions are a poor fit for single-channel image filters
//! (an 11×11 conv2d on one 720p frame takes hundreds of milliseconds, the
//! separable kernel here a few), so a CPU device runs the kernels of
//! [`crate::ssim`] and friends, and CUDA runs the tensor formulas of
//! `metrics::tensor`. [`Compute::tensors`] forces the tensor path on any
//! device, which is how the tests check that both paths agree on a machine
//! without a GPU. Optical flow runs on the CPU kernels on every device.

use candle_core::{Device, DeviceLocation};
use framebreak_media::Frame;

use crate::metrics::{check_pair, tensor};
use crate::{Error, Flow, Plane, WarpError};

/// A compute device and the path the metrics take on it.
///
/// # Examples
///
/// ```
/// use framebreak_defects::{Compute, Plane};
///
/// let a = Plane::filled(32, 32, 100.0);
/// let b = Plane::filled(32, 32, 110.0);
/// let cpu = Compute::cpu();
/// let fast = cpu.ssim_pairs(&[(&a, &b)])?;
/// // The candle tensor path (what CUDA runs), here on candle's CPU device.
/// let tensors = Compute::tensors(candle_core::Device::Cpu);
/// let slow = tensors.ssim_pairs(&[(&a, &b)])?;
/// assert!((fast[0] - slow[0]).abs() < 1e-5);
/// # Ok::<(), framebreak_defects::Error>(())
/// ```
#[derive(Debug, Clone)]
pub struct Compute {
    device: Device,
    tensors: bool,
}

impl Default for Compute {
    fn default() -> Self {
        Self::cpu()
    }
}

impl Compute {
    /// The CPU with the hand-written kernels.
    pub fn cpu() -> Self {
        Self {
            device: Device::Cpu,
            tensors: false,
        }
    }

    /// The given device with the path that is fastest there: kernels on the
    /// CPU, candle tensor ops elsewhere.
    pub fn new(device: Device) -> Self {
        let tensors = !device.is_cpu();
        Self { device, tensors }
    }

    /// The given device, always through candle tensor ops (also on the CPU:
    /// slow, but it is the GPU's code path, testable anywhere).
    pub fn tensors(device: Device) -> Self {
        Self {
            device,
            tensors: true,
        }
    }

    /// CUDA GPU `ordinal` through candle.
    ///
    /// # Errors
    /// [`Error::Tensor`] when there is no such GPU, or when this build lacks
    /// the `cuda` feature.
    pub fn cuda(ordinal: usize) -> Result<Self, Error> {
        let device = Device::new_cuda(ordinal).map_err(|source| Error::Tensor {
            device: format!("cuda:{ordinal}"),
            source,
        })?;
        Ok(Self::new(device))
    }

    /// The candle device.
    pub fn device(&self) -> &Device {
        &self.device
    }

    /// Whether metrics go through candle tensor ops (rather than the CPU
    /// kernels).
    pub fn uses_tensors(&self) -> bool {
        self.tensors
    }

    /// The device's name as users write it: `cpu`, `cuda:0`, `metal:0`.
    pub fn name(&self) -> String {
        match self.device.location() {
            DeviceLocation::Cpu => "cpu".into(),
            DeviceLocation::Cuda { gpu_id } => format!("cuda:{gpu_id}"),
            DeviceLocation::Metal { gpu_id } => format!("metal:{gpu_id}"),
        }
    }

    fn tensor_error(&self) -> impl Fn(candle_core::Error) -> Error + '_ {
        move |source| Error::Tensor {
            device: self.name(),
            source,
        }
    }

    /// Mean SSIM ([`crate::ssim`]) of each pair; one batch on a GPU. Pairs
    /// on the tensor path must all have one size.
    ///
    /// # Errors
    /// As [`crate::ssim`]; [`Error::Tensor`] when the device fails.
    pub fn ssim_pairs(&self, pairs: &[(&Plane, &Plane)]) -> Result<Vec<f64>, Error> {
        if !self.tensors {
            use rayon::prelude::*;
            return pairs.par_iter().map(|(a, b)| crate::ssim(a, b)).collect();
        }
        for (a, b) in pairs {
            a.check_same_size(b)?;
            pairs[0].0.check_same_size(a)?;
            if a.width() < 11 || a.height() < 11 {
                // The kernel path's error names the problem.
                crate::ssim(a, b)?;
            }
        }
        tensor::ssim_batch(pairs, &self.device).map_err(self.tensor_error())
    }

    /// PSNR ([`crate::psnr`]) of each pair of frames; one batch on a GPU.
    ///
    /// # Errors
    /// As [`crate::psnr`]; [`Error::Tensor`] when the device fails.
    pub fn psnr_pairs(&self, pairs: &[(&Frame, &Frame)]) -> Result<Vec<f64>, Error> {
        if !self.tensors {
            return pairs.iter().map(|(a, b)| crate::psnr(a, b)).collect();
        }
        for (a, b) in pairs {
            for f in [a, b] {
                let first = pairs[0].0;
                if f.width() != first.width() || f.height() != first.height() {
                    return Err(Error::SizeMismatch {
                        left_width: first.width(),
                        left_height: first.height(),
                        right_width: f.width(),
                        right_height: f.height(),
                    });
                }
            }
        }
        tensor::psnr_batch(pairs, &self.device).map_err(self.tensor_error())
    }

    /// Warping errors ([`crate::warp_error`]) of each
    /// `(prev, next, forward, backward)`; one batch on a GPU.
    ///
    /// # Errors
    /// As [`crate::warp_error`]; [`Error::Tensor`] when the device fails.
    pub fn warp_errors(
        &self,
        pairs: &[(&Plane, &Plane, &Flow, &Flow)],
    ) -> Result<Vec<WarpError>, Error> {
        if !self.tensors {
            use rayon::prelude::*;
            return pairs
                .par_iter()
                .map(|(p, n, f, b)| crate::warp_error(p, n, f, b))
                .collect();
        }
        for (p, n, f, b) in pairs {
            pairs[0].0.check_same_size(p)?;
            check_pair(p, n, f, b)?;
        }
        let results = tensor::warp_batch(pairs, &self.device).map_err(self.tensor_error())?;
        Ok(results
            .into_iter()
            .zip(pairs)
            .map(|(r, (p, ..))| {
                let valid = r.mask.iter().filter(|m| **m).count();
                WarpError {
                    value: r.value,
                    error_map: Plane::new(p.width(), p.height(), r.error_map)
                        .expect("tensor path keeps the plane's size"),
                    difference: Plane::new(p.width(), p.height(), r.difference)
                        .expect("tensor path keeps the plane's size"),
                    valid_fraction: valid as f64 / r.mask.len().max(1) as f64,
                    mask: r.mask,
                    brightness_shift: r.brightness_shift,
                }
            })
            .collect())
    }
}
