use std::sync::Arc;

use rand_core::RngCore;

use crate::{Catalogue, Draft, Mutator, TrapInjector, rng};

/// Adds one of the catalogue's known combinations: traps that are known to
/// break models when asked for together (zero gravity + pouring liquid).
#[derive(Debug, Clone)]
pub struct KnownCombination {
    catalogue: Arc<Catalogue>,
}

impl KnownCombination {
    /// The name recorded in its mutations.
    pub const NAME: &'static str = "combination";

    /// Draws from `catalogue`'s combinations; does nothing if it has none.
    pub fn new(catalogue: Arc<Catalogue>) -> Self {
        KnownCombination { catalogue }
    }
}

impl Mutator for KnownCombination {
    fn name(&self) -> &str {
        Self::NAME
    }

    fn mutate(&self, draft: &mut Draft, rng: &mut dyn RngCore) {
        let Some(combination) = rng::pick(rng, self.catalogue.combinations()) else {
            return;
        };
        for id in &combination.traps {
            if let Some(trap) = self.catalogue.trap(id.as_str())
                && !draft.has_trap(&trap.id)
            {
                TrapInjector::insert(Self::NAME, trap, draft, rng);
            }
        }
    }
}
