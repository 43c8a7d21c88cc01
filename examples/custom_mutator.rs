//! Write your own `Mutator` and run it with the built-in traps.
//!
//! Run with `cargo run --example custom_mutator`.
#![allow(clippy::print_stdout)]

use std::sync::Arc;

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

fn main() -> Result<(), framebreak::variants::Error> {
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
    for variant in generator.generate(builtin_scenes().into_iter().take(3).map(Ok)) {
        let variant = variant?;
        println!("{}", variant.prompt);
    }
    Ok(())
}
