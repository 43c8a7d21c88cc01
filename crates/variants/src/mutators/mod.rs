//! The built-in mutators, and the default chain that combines them.

mod camera;
mod combination;
mod intensity;
mod trap_injector;

use std::sync::Arc;

pub use camera::CameraDemand;
pub use combination::KnownCombination;
pub use intensity::Intensifier;
pub use trap_injector::TrapInjector;

use crate::{Catalogue, Chain, OneOf, Result, Sometimes};

/// How often the default chain adds each kind of mutation. Every default is
/// documented in the [`Default`] impl.
#[derive(Debug, Clone, PartialEq)]
pub struct ChainConfig {
    /// The most traps the trap injector adds to one prompt (at least 1).
    pub max_traps: usize,
    /// Weight of the known-combination mutator against the trap injector
    /// (whose weight is 100), when the catalogue has combinations.
    pub combination_weight: u32,
    /// Probability of intensifying one of the inserted traps.
    pub intensity_probability: f64,
    /// Probability of adding camera or realism demands.
    pub camera_probability: f64,
    /// The most camera or realism demands added to one prompt.
    pub max_demands: usize,
}

impl Default for ChainConfig {
    fn default() -> Self {
        ChainConfig {
            // Two traps per prompt keeps each prompt readable; a third
            // mostly dilutes the first two.
            max_traps: 2,
            // One prompt in four gets a hand-picked combination instead.
            combination_weight: 33,
            // A third of the prompts push one trap to the extreme.
            intensity_probability: 0.3,
            // Half the prompts ask for the settings that expose defects.
            camera_probability: 0.5,
            max_demands: 2,
        }
    }
}

/// The default mutator for random sampling: either 1..=`max_traps` traps
/// or a known combination, then sometimes an intensifier, then sometimes
/// camera demands.
pub fn default_chain(catalogue: Arc<Catalogue>, config: &ChainConfig) -> Result<Chain> {
    let mut traps = OneOf::new().or(
        TrapInjector::new(catalogue.clone(), 1, config.max_traps)?,
        100,
    );
    if !catalogue.combinations().is_empty() {
        traps = traps.or(
            KnownCombination::new(catalogue.clone()),
            config.combination_weight,
        );
    }
    Ok(Chain::new()
        .then(traps)
        .then(decoration_chain(catalogue, config)?))
}

/// What follows the variant's one trap in stratified sampling (and closes
/// the default chain): no further trap, so each stratified variant counts
/// for one trap only.
pub(crate) fn decoration_chain(catalogue: Arc<Catalogue>, config: &ChainConfig) -> Result<Chain> {
    Ok(Chain::new()
        .then(Sometimes::new(
            Intensifier::new(catalogue.clone()),
            config.intensity_probability,
        )?)
        .then(Sometimes::new(
            CameraDemand::new(catalogue, 1, config.max_demands)?,
            config.camera_probability,
        )?))
}

/// Checks a `min..=max` count setting.
fn count_range(what: &'static str, min: usize, max: usize) -> Result<()> {
    if min == 0 || min > max {
        return Err(crate::Error::InvalidConfig {
            what,
            problem: format!("{min}..={max} is not a range of at least 1"),
        });
    }
    Ok(())
}
