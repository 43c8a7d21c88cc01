//! Write your own `Mutator`, run it with the built-in traps, then inside a
//! campaign against the simulated model.
//!
//! Run with `cargo run --release --example custom_mutator`.
#![allow(clippy::print_stdout)]

use std::sync::Arc;

use framebreak::campaign::{Campaign, ConfigLoader};
use framebreak::variants::rand_core::RngCore;
use framebreak::variants::{
    Catalogue, Chain, Draft, Generator, Insertion, Mutation, Mutator, Strategy, TrapInjector,
    builtin_scenes, rng,
};

/// Moves the scene to a place where lighting makes flicker and noise worst.
struct HarshLighting;

impl Mutator for HarshLighting {
    fn name(&self) -> &str {
        "harsh_lighting"
    }

    fn mutate(&self, draft: &mut Draft, rng: &mut dyn RngCore) {
        let options = [
            "lit only by a strobe light flashing twice a second",
            "under a single flickering fluorescent tube",
            "in harsh midday sun with deep, sharp shadows",
        ];
        if let Some(text) = rng::pick(rng, &options) {
            draft.insert(Insertion::Append, Mutation::other(self.name(), *text));
        }
    }
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let catalogue = Arc::new(Catalogue::builtin());
    // One built-in trap, then the custom mutator.
    let chain = Chain::new()
        .then(TrapInjector::new(catalogue.clone(), 1, 1)?)
        .then(HarshLighting);
    let generator = Generator::builder(catalogue)
        .strategy(Strategy::Random { per_prompt: 2 })
        .seed(42)
        .mutator(chain)
        .build()?;
    // The variants of three built-in scenes, as the generator alone makes them.
    for variant in generator.generate(builtin_scenes().into_iter().take(3).map(Ok)) {
        println!("{}", variant?.prompt);
    }

    // The same generator inside a campaign against the simulated model.
    let runs = std::env::temp_dir().join("framebreak-example-runs");
    let config = ConfigLoader::new()
        .set("output.runs_dir", &runs)
        .set("variants.limit", 4)
        .set("request.width", 160)
        .set("request.height", 120)
        .set("request.duration_secs", 1)
        .build()?;
    let campaign = Campaign::builder(config)
        .generator("harsh-lighting", generator)
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
        let physics = row.analysis.as_ref().map_or(f64::NAN, |a| a.scores.physics);
        println!("physics {physics:5.1}  {}", row.prompt);
    }
    Ok(())
}
