//! PSNR and SSIM against scikit-image on photographs.
//!
//! The fixtures under `tests/data/metrics/` and the expected values in
//! `expected.json` come from `scripts/metric-refs.py` (scikit-image 0.26,
//! scipy 1.17): 128×128 crops of scikit-image's astronaut, camera, coffee and
//! chelsea photographs and four distortions of each.

use std::path::{Path, PathBuf};

use framebreak_defects::{Compute, Plane, psnr, ssim};
use framebreak_media::Frame;
use serde_json::Value;

/// Agreement required with scikit-image's SSIM (the bound).
const SSIM_TOLERANCE: f64 = 1e-4;
/// Agreement required with scikit-image's PSNR, dB.
const PSNR_TOLERANCE: f64 = 1e-6;

fn data_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/metrics")
}

fn load(name: &str) -> Frame {
    let img = image::open(data_dir().join(name))
        .expect("fixture decodes")
        .to_rgb8();
    let (w, h) = img.dimensions();
    Frame::from_rgb8(0, 0.0, w, h, img.into_raw()).expect("valid frame")
}

/// Luma in f64 as the script computes it, rounded to f32 once.
fn luma_f64(frame: &Frame) -> Plane {
    let data = frame
        .data()
        .chunks_exact(3)
        .map(|p| {
            (0.299 * f64::from(p[0]) + 0.587 * f64::from(p[1]) + 0.114 * f64::from(p[2])) as f32
        })
        .collect();
    Plane::new(frame.width() as usize, frame.height() as usize, data).expect("valid plane")
}

fn expected() -> Vec<Value> {
    let text = std::fs::read_to_string(data_dir().join("expected.json")).expect("expected.json");
    let doc: Value = serde_json::from_str(&text).expect("JSON");
    doc["pairs"].as_array().expect("pairs").clone()
}

#[test]
fn psnr_matches_scikit_image() {
    let pairs = expected();
    assert_eq!(pairs.len(), 16);
    for p in pairs {
        let (a, b) = (
            load(p["a"].as_str().unwrap()),
            load(p["b"].as_str().unwrap()),
        );
        let want = p["psnr_rgb"].as_f64().unwrap();
        let got = psnr(&a, &b).unwrap();
        assert!(
            (got - want).abs() < PSNR_TOLERANCE,
            "{}: {got} vs {want}",
            p["b"]
        );
    }
}

#[test]
fn ssim_matches_scikit_image_per_channel_and_on_luma() {
    let mut worst = 0.0f64;
    for p in expected() {
        let (a, b) = (
            load(p["a"].as_str().unwrap()),
            load(p["b"].as_str().unwrap()),
        );
        for c in 0..3 {
            let want = p["ssim_rgb"][c].as_f64().unwrap();
            let got = ssim(
                &Plane::channel(&a, c).unwrap(),
                &Plane::channel(&b, c).unwrap(),
            )
            .unwrap();
            worst = worst.max((got - want).abs());
            assert!(
                (got - want).abs() < SSIM_TOLERANCE,
                "{} channel {c}: {got} vs {want}",
                p["b"]
            );
        }
        let want = p["ssim_luma"].as_f64().unwrap();
        let got = ssim(&luma_f64(&a), &luma_f64(&b)).unwrap();
        worst = worst.max((got - want).abs());
        assert!(
            (got - want).abs() < SSIM_TOLERANCE,
            "{} luma: {got} vs {want}",
            p["b"]
        );
    }
    // Far inside the bound in practice; this guards against a silent drift.
    assert!(worst < 1e-5, "worst SSIM difference {worst}");
}

#[test]
fn tensor_path_matches_scikit_image_too() {
    let compute = Compute::tensors(candle_core::Device::Cpu);
    let pairs = expected();
    let frames: Vec<(Frame, Frame)> = pairs
        .iter()
        .map(|p| {
            (
                load(p["a"].as_str().unwrap()),
                load(p["b"].as_str().unwrap()),
            )
        })
        .collect();
    let planes: Vec<(Plane, Plane)> = frames
        .iter()
        .map(|(a, b)| (Plane::channel(a, 1).unwrap(), Plane::channel(b, 1).unwrap()))
        .collect();
    let refs: Vec<(&Plane, &Plane)> = planes.iter().map(|(a, b)| (a, b)).collect();
    let ssims = compute.ssim_pairs(&refs).unwrap();
    let frefs: Vec<(&Frame, &Frame)> = frames.iter().map(|(a, b)| (a, b)).collect();
    let psnrs = compute.psnr_pairs(&frefs).unwrap();
    for ((p, s), q) in pairs.iter().zip(ssims).zip(psnrs) {
        let want = p["ssim_rgb"][1].as_f64().unwrap();
        assert!(
            (s - want).abs() < SSIM_TOLERANCE,
            "{}: {s} vs {want}",
            p["b"]
        );
        let want = p["psnr_rgb"].as_f64().unwrap();
        assert!(
            (q - want).abs() < PSNR_TOLERANCE,
            "{}: {q} vs {want}",
            p["b"]
        );
    }
}
