//! The candle tensor path (what CUDA runs) against the CPU kernels, both on
//! this machine's CPU: same SSIM, PSNR and warping error within the stated
//! tolerances, on a real photograph and its shifted, noisy copy.

use std::path::Path;

use candle_core::Device;
use framebreak_defects::{Compute, Flow, FlowParams, Plane, dense_flow, warp_error};
use framebreak_media::Frame;

/// SSIM: both paths are f32 with the same centring; only summation order
/// differs.
const SSIM_TOLERANCE: f64 = 1e-5;
/// PSNR: both sum exact squared 8-bit differences.
const PSNR_TOLERANCE: f64 = 1e-9;
/// Warping error, relative: bilinear samples agree to f32 rounding.
const WARP_RELATIVE_TOLERANCE: f64 = 1e-4;
/// Mask pixels allowed to differ (threshold ties under f32 rounding).
const MASK_DISAGREEMENT: f64 = 1e-3;

fn photo() -> Plane {
    let img = image::open(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/metrics/flow_photo.png"),
    )
    .expect("fixture decodes")
    .to_luma8();
    let (w, h) = img.dimensions();
    Plane::new(
        w as usize,
        h as usize,
        img.into_raw().into_iter().map(f32::from).collect(),
    )
    .unwrap()
}

/// The photo moved by (1.25, -0.5) px with a deterministic ±3 grey ripple.
fn moved(p: &Plane) -> Plane {
    let w = p.width();
    let data = (0..w * p.height())
        .map(|i| {
            let (x, y) = ((i % w) as f32 + 1.25, (i / w) as f32 - 0.5);
            let (x0, y0) = (
                x.floor().clamp(0.0, (w - 2) as f32),
                y.floor().clamp(0.0, (p.height() - 2) as f32),
            );
            let (fx, fy) = ((x - x0).clamp(0.0, 1.0), (y - y0).clamp(0.0, 1.0));
            let (x0, y0) = (x0 as usize, y0 as usize);
            let v = p.at(x0, y0) * (1.0 - fx) * (1.0 - fy)
                + p.at(x0 + 1, y0) * fx * (1.0 - fy)
                + p.at(x0, y0 + 1) * (1.0 - fx) * fy
                + p.at(x0 + 1, y0 + 1) * fx * fy;
            (v + 3.0 * ((i * 7919 % 13) as f32 / 6.0 - 1.0))
                .round()
                .clamp(0.0, 255.0)
        })
        .collect();
    Plane::new(w, p.height(), data).unwrap()
}

fn to_frame(p: &Plane) -> Frame {
    let data = p
        .data()
        .iter()
        .flat_map(|&v| [v as u8, (v * 0.5) as u8, 255 - v as u8])
        .collect();
    Frame::from_rgb8(0, 0.0, p.width() as u32, p.height() as u32, data).unwrap()
}

#[test]
fn ssim_and_psnr_agree_across_paths() {
    let a = photo();
    let b = moved(&a);
    let (kernels, tensors) = (Compute::cpu(), Compute::tensors(Device::Cpu));
    assert!(!kernels.uses_tensors() && tensors.uses_tensors());
    let pairs = [(&a, &b), (&b, &a), (&a, &a)];
    let (k, t) = (
        kernels.ssim_pairs(&pairs).unwrap(),
        tensors.ssim_pairs(&pairs).unwrap(),
    );
    for (x, y) in k.iter().zip(&t) {
        assert!((x - y).abs() < SSIM_TOLERANCE, "{x} vs {y}");
    }
    assert!((k[2] - 1.0).abs() < 1e-6);
    let (fa, fb) = (to_frame(&a), to_frame(&b));
    let frames = [(&fa, &fb), (&fa, &fa)];
    let (k, t) = (
        kernels.psnr_pairs(&frames).unwrap(),
        tensors.psnr_pairs(&frames).unwrap(),
    );
    assert!((k[0] - t[0]).abs() < PSNR_TOLERANCE, "{} vs {}", k[0], t[0]);
    assert_eq!((k[1], t[1]), (f64::INFINITY, f64::INFINITY));
}

#[test]
fn warping_error_agrees_across_paths() {
    let a = photo();
    let b = moved(&a);
    let params = FlowParams::default();
    let fwd = dense_flow(&a, &b, &params).unwrap();
    let bwd = dense_flow(&b, &a, &params).unwrap();
    let zero = Flow::zeros(a.width(), a.height());
    let inputs = [(&a, &b, &fwd, &bwd), (&a, &b, &zero, &zero)];
    let k = Compute::cpu().warp_errors(&inputs).unwrap();
    let t = Compute::tensors(Device::Cpu).warp_errors(&inputs).unwrap();
    for (x, y) in k.iter().zip(&t) {
        let rel = (x.value - y.value).abs() / x.value.max(1e-12);
        assert!(rel < WARP_RELATIVE_TOLERANCE, "{x:?} vs {y:?}");
        let differ = x.mask.iter().zip(&y.mask).filter(|(p, q)| p != q).count();
        assert!(
            (differ as f64) < MASK_DISAGREEMENT * x.mask.len() as f64,
            "{differ} mask pixels differ"
        );
        assert!((x.brightness_shift - y.brightness_shift).abs() < 1e-5);
    }
    // The direct function is the kernel path.
    assert_eq!(warp_error(&a, &b, &fwd, &bwd).unwrap().value, k[0].value);
}

#[test]
fn the_tensor_path_rejects_what_the_kernels_reject() {
    let small = Plane::filled(8, 8, 1.0);
    let big = Plane::filled(20, 20, 1.0);
    let tensors = Compute::tensors(Device::Cpu);
    assert!(tensors.ssim_pairs(&[(&small, &small)]).is_err());
    assert!(
        tensors
            .ssim_pairs(&[(&big, &big), (&small, &small)])
            .is_err()
    );
    assert_eq!(tensors.name(), "cpu");
}
