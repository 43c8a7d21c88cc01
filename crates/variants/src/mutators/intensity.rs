use std::sync::Arc;

use rand_core::RngCore;

use crate::{Catalogue, Draft, Insertion, Mutation, Mutator, TrapId, rng};

/// Exaggerates one trap already in the draft, with one of the trap's own
/// intensifiers or, for a trap without any, a generic template.
///
/// Does nothing when the draft holds no trap, or every trap in it was
/// already intensified.
#[derive(Debug, Clone)]
pub struct Intensifier {
    catalogue: Arc<Catalogue>,
}

impl Intensifier {
    /// The name recorded in its mutations.
    pub const NAME: &'static str = "intensity";

    /// Intensifies traps of `catalogue`.
    pub fn new(catalogue: Arc<Catalogue>) -> Self {
        Intensifier { catalogue }
    }
}

impl Mutator for Intensifier {
    fn name(&self) -> &str {
        Self::NAME
    }

    fn mutate(&self, draft: &mut Draft, rng: &mut dyn RngCore) {
        let already = |id: &TrapId| {
            draft
                .mutations()
                .iter()
                .any(|m| m.mutator == Self::NAME && m.trap.as_ref() == Some(id))
        };
        let mut candidates: Vec<&TrapId> = Vec::new();
        for m in draft.mutations() {
            if let Some(id) = &m.trap
                && !candidates.contains(&id)
                && !already(id)
            {
                candidates.push(id);
            }
        }
        let Some(trap) =
            rng::pick(rng, &candidates).and_then(|id| self.catalogue.trap(id.as_str()))
        else {
            return;
        };
        let text = if trap.intensifiers.is_empty() {
            match rng::pick(rng, self.catalogue.intensity_templates()) {
                Some(template) => template.replace("{title}", &trap.title.to_lowercase()),
                None => return,
            }
        } else {
            rng::pick(rng, &trap.intensifiers)
                .cloned()
                .unwrap_or_default()
        };
        let mutation = Mutation::trap(Self::NAME, trap, text);
        draft.insert(Insertion::Append, mutation);
    }
}
