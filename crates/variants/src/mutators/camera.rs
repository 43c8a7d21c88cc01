use std::sync::Arc;

use rand_core::RngCore;

use crate::{Catalogue, Demand, Draft, Mutation, Mutator, Result, rng};

/// Adds `min..=max` camera or realism demands (slow motion, extreme
/// close-up, photorealism): the settings under which defects are most
/// visible. Demands already in the draft are not repeated.
#[derive(Debug, Clone)]
pub struct CameraDemand {
    catalogue: Arc<Catalogue>,
    min: usize,
    max: usize,
}

impl CameraDemand {
    /// The name recorded in its mutations.
    pub const NAME: &'static str = "camera";

    /// Adds `min..=max` demands (`1 <= min <= max`).
    pub fn new(catalogue: Arc<Catalogue>, min: usize, max: usize) -> Result<Self> {
        super::count_range("max-demands", min, max)?;
        Ok(CameraDemand {
            catalogue,
            min,
            max,
        })
    }
}

impl Mutator for CameraDemand {
    fn name(&self) -> &str {
        Self::NAME
    }

    fn mutate(&self, draft: &mut Draft, rng: &mut dyn RngCore) {
        let want = self.min + rng::below(rng, self.max - self.min + 1);
        let mut free: Vec<&Demand> = self
            .catalogue
            .demands()
            .iter()
            .filter(|d| !draft.has_demand(&d.id))
            .collect();
        rng::sample(rng, &mut free, want);
        for demand in free {
            if let Some(text) = rng::pick(rng, &demand.phrasings) {
                let mutation = Mutation::demand(Self::NAME, demand, text.as_str());
                draft.insert(demand.insert, mutation);
            }
        }
    }
}
