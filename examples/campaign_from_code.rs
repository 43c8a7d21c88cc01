//! Run a small campaign from code against the in-process simulated model,
//! then read its results and write its HTML report.
//!
//! Run with `cargo run --release --example campaign_from_code`.
#![allow(clippy::print_stdout)]

use framebreak::campaign::{Campaign, ConfigLoader};
use framebreak::report::{self, HtmlOptions};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let runs = std::env::temp_dir().join("framebreak-example-runs");
    // The same keys as framebreak.toml; here, physics traps only, 3
    // variants of each built-in scene, and short clips.
    let config = ConfigLoader::new()
        .set("output.runs_dir", &runs)
        .set("variants.traps", "physics.*")
        .set("variants.per_prompt", 3)
        .set("variants.limit", 40)
        .set("request.duration_secs", 1)
        .build()?;
    let campaign = Campaign::create(config).await?;
    let enqueued = campaign.enqueue().await?;
    println!("run {}: {} jobs", campaign.run_dir().id(), enqueued.added);

    let summary = campaign.run().await?;
    println!(
        "{} done, {} failed",
        summary.counts.done, summary.counts.failed
    );

    let rows = campaign.rows().await?;
    let broken = rows
        .iter()
        .filter(|r| r.analysis.as_ref().is_some_and(|a| !a.defects.is_empty()))
        .count();
    println!("{broken} of {} videos show at least one defect", rows.len());

    let options = HtmlOptions::new(campaign.run_dir().path())
        .title(format!("framebreak run {}", campaign.run_dir().id()))
        .run_id(campaign.run_dir().id());
    let page = report::html(&rows, &options)?;
    let path = campaign.run_dir().path().join("report.html");
    std::fs::write(&path, page)?;
    println!("report: {}", path.display());
    Ok(())
}
