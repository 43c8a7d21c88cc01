//! The output record: one [`Variant`] per line of JSON.

use serde::{Deserialize, Serialize};

use crate::{Mutation, TrapId, VariantId};

/// One adversarial variant of a base prompt: one job of a campaign.
///
/// Serialised as one JSON object per line:
///
/// ```json
/// {"id":"…","base_id":"ball_thrown","base_prompt":"A child throws…","prompt":"A child throws…, floating weightlessly…","seed":7,
///  "mutations":[{"mutator":"trap_injector","trap":"physics.zero_g","family":"physics","provokes":["gravity_violation","warp"],"text":"floating weightlessly…"}]}
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Variant {
    /// Stable content id: same base prompt, mutations and seed, same id.
    pub id: VariantId,
    /// The id of the base prompt (given in the input, or derived from its text).
    pub base_id: String,
    /// The unmutated prompt.
    pub base_prompt: String,
    /// The prompt to send to the model.
    pub prompt: String,
    /// The campaign seed, for models that accept one.
    pub seed: u64,
    /// The mutations that made this variant, in order; empty for a control.
    pub mutations: Vec<Mutation>,
    /// Tags of the base prompt.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<String>,
}

impl Variant {
    /// Whether this is the unmutated base prompt, kept as a control.
    pub fn is_control(&self) -> bool {
        self.mutations.is_empty()
    }

    /// The traps this variant carries, in order, without repeats.
    pub fn traps(&self) -> impl Iterator<Item = &TrapId> {
        let mut seen: Vec<&TrapId> = Vec::new();
        self.mutations.iter().filter_map(move |m| {
            let t = m.trap.as_ref()?;
            if seen.contains(&t) {
                None
            } else {
                seen.push(t);
                Some(t)
            }
        })
    }
}
