//! Write your own `DefectDetector` and run it beside the built-in ones on a
//! video the simulated model makes.
//!
//! Run with `cargo run --release --example custom_detector`.
#![allow(clippy::print_stdout)]

use framebreak::defects::{Analyzer, DefectDetector, Evidence, Finding, default_detectors};
use framebreak::sim::{Profile, Simulator};
use framebreak::variants::DefectKind;

/// Flags frames much darker than the clip's brightest: a model that fades
/// to black mid-shot (reported as flicker, the nearest shared kind).
struct Blackout;

impl DefectDetector for Blackout {
    fn detect(&self, ev: &Evidence<'_>) -> Vec<Finding> {
        let means: Vec<f64> = (0..ev.len()).map(|i| ev.luma(i).mean()).collect();
        let brightest = means.iter().copied().fold(0.0, f64::max);
        means
            .iter()
            .enumerate()
            .filter(|&(_, &m)| brightest > 32.0 && m < brightest * 0.25)
            .map(|(i, &m)| {
                Finding::new(DefectKind::Flicker, i as u64, i as u64, 1.0 - m / brightest)
            })
            .collect()
    }

    fn name(&self) -> &str {
        "blackout"
    }

    fn kinds(&self) -> Vec<DefectKind> {
        vec![DefectKind::Flicker]
    }
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    // A video from the simulated model, with what it knows it put in.
    let simulator = Simulator::new(Profile::weak())?;
    let request = framebreak::client::VideoRequest::new(
        "a red ball bounces down a staircase, then floats upward in zero gravity",
    )
    .size(160, 120)
    .duration_secs(2);
    let video = simulator.render(&request)?;
    let path = std::env::temp_dir().join("framebreak-custom-detector.mp4");
    std::fs::write(&path, &video.mp4)?;

    let mut detectors = default_detectors();
    detectors.push(Box::new(Blackout));
    let report = Analyzer::new().detectors(detectors).analyze_file(&path)?;
    println!("{}", report.to_json_line());
    println!(
        "the simulator planted: {:?}",
        video
            .truth
            .defects
            .iter()
            .map(|d| d.kind)
            .collect::<Vec<_>>()
    );
    Ok(())
}
