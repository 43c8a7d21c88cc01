//! Write your own `DefectDetector` and run it inside a campaign, beside the
//! built-in ones, on the videos the simulated model makes. Its findings
//! are reported as it finds them.
//!
//! Run with `cargo run --release --example custom_detector`.
#![allow(clippy::print_stdout)]

use framebreak::campaign::{Campaign, ConfigLoader};
use framebreak::defects::{DefectDetector, Evidence, Finding};
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

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    // A small campaign against the simulated model, with the detector
    // beside the built-in ones on every video.
    let runs = std::env::temp_dir().join("framebreak-example-runs");
    let config = ConfigLoader::new()
        .set("output.runs_dir", &runs)
        .set("variants.per_prompt", 1)
        .set("variants.limit", 6)
        .set("request.width", 160)
        .set("request.height", 120)
        .set("request.duration_secs", 1)
        .build()?;
    let campaign = Campaign::builder(config)
        .detector(Blackout)
        .create()
        .await?;
    campaign.enqueue().await?;
    let summary = campaign.run().await?;
    println!(
        "run {}: {} done, {} failed",
        campaign.run_dir().id(),
        summary.counts.done,
        summary.counts.failed
    );
    for row in campaign.rows().await? {
        let Some(analysis) = &row.analysis else {
            continue;
        };
        let found: Vec<String> = analysis
            .defects
            .iter()
            .map(|f| f.kind.to_string())
            .collect();
        let planted: Vec<String> = row.truth.as_ref().map_or_else(Vec::new, |t| {
            t.defects.iter().map(|d| d.kind.to_string()).collect()
        });
        println!(
            "{}  found: [{}]  planted by the simulator: [{}]",
            row.job,
            found.join(", "),
            planted.join(", ")
        );
    }
    Ok(())
}
