use std::sync::Arc;

use rand_core::RngCore;

use crate::{Catalogue, Draft, Mutation, Mutator, Result, Trap, rng};

/// Adds between `min` and `max` traps, each with one of its phrasings.
///
/// Traps already in the draft are not added again. If the catalogue holds
/// fewer traps than asked for, it adds all that are left.
#[derive(Debug, Clone)]
pub struct TrapInjector {
    catalogue: Arc<Catalogue>,
    min: usize,
    max: usize,
}

impl TrapInjector {
    /// The name recorded in its mutations.
    pub const NAME: &'static str = "trap_injector";

    /// Adds `min..=max` traps (`1 <= min <= max`).
    pub fn new(catalogue: Arc<Catalogue>, min: usize, max: usize) -> Result<Self> {
        super::count_range("max-traps", min, max)?;
        Ok(TrapInjector {
            catalogue,
            min,
            max,
        })
    }

    /// Inserts `trap` into `draft` with a phrasing drawn from `rng`,
    /// recorded under `mutator`.
    pub fn insert(mutator: &str, trap: &Trap, draft: &mut Draft, rng: &mut dyn RngCore) {
        if let Some(text) = rng::pick(rng, &trap.phrasings) {
            draft.insert(trap.insert, Mutation::trap(mutator, trap, text.as_str()));
        }
    }
}

impl Mutator for TrapInjector {
    fn name(&self) -> &str {
        Self::NAME
    }

    fn mutate(&self, draft: &mut Draft, rng: &mut dyn RngCore) {
        let want = self.min + rng::below(rng, self.max - self.min + 1);
        let mut free: Vec<&Trap> = self
            .catalogue
            .traps()
            .iter()
            .filter(|t| !draft.has_trap(&t.id))
            .collect();
        rng::sample(rng, &mut free, want);
        for trap in free {
            Self::insert(Self::NAME, trap, draft, rng);
        }
    }
}
