//! The conformance suite every [`Mutator`] must pass: it is deterministic
//! in its random stream (variant ids depend on it), it names itself and
//! every mutation it records, and it takes any prompt a user may write
//! without panicking.
//!
//! Each check panics with a message naming the mutator and the broken rule:
//!
//! ```
//! use std::sync::Arc;
//! use framebreak_variants::{Catalogue, Intensifier, conformance};
//!
//! conformance::run_all(&Intensifier::new(Arc::new(Catalogue::builtin())));
//! ```
#![allow(clippy::missing_panics_doc)]

use std::sync::Arc;

use crate::{BasePrompt, Draft, Mutation, Mutator, builtin_scenes, rng};

/// Prompts of every shape a user may write.
fn prompts() -> Vec<BasePrompt> {
    let mut out: Vec<BasePrompt> = builtin_scenes().into_iter().take(8).collect();
    for text in [
        "A ball.",
        "a red ball rolls across a wooden table, then stops",
        "Ein Hund läuft am Strand entlang — 🐕, très vite!",
        &"A very long prompt about a cat on a windowsill watching rain ".repeat(20),
    ] {
        out.push(BasePrompt::new(text));
    }
    out
}

/// One run of `mutator` on `base` with the stream of `seed`.
fn mutate(mutator: &dyn Mutator, base: &BasePrompt, seed: u64) -> (String, Vec<Mutation>) {
    let mut draft = Draft::new(Arc::new(base.clone()));
    mutator.mutate(&mut draft, &mut rng::seeded(seed));
    (draft.prompt(), draft.mutations().to_vec())
}

/// The same draft and stream give the same prompt and mutations.
pub fn is_deterministic(mutator: &dyn Mutator) {
    for base in prompts() {
        for seed in [0, 1, 42, u64::MAX] {
            assert_eq!(
                mutate(mutator, &base, seed),
                mutate(mutator, &base, seed),
                "{}: two runs with seed {seed} on {:?} differ",
                mutator.name(),
                base.prompt
            );
        }
    }
}

/// Its name is short, stable and not empty; every mutation it records
/// names a mutator and carries the text it inserted.
pub fn names_itself_and_its_mutations(mutator: &dyn Mutator) {
    let name = mutator.name().to_owned();
    assert!(
        !name.trim().is_empty() && name.len() <= 64,
        "a mutator's name must be short and not empty: {name:?}"
    );
    for base in prompts() {
        for seed in 0..16 {
            let (prompt, mutations) = mutate(mutator, &base, seed);
            assert_eq!(mutator.name(), name, "{name}: the name changed");
            for m in &mutations {
                assert!(
                    !m.mutator.trim().is_empty(),
                    "{name}: a mutation names no mutator: {m:?}"
                );
                assert!(
                    !m.text.trim().is_empty(),
                    "{name}: a mutation with no text: {m:?}"
                );
                assert!(
                    prompt
                        .to_lowercase()
                        .contains(&m.text.trim().to_lowercase()),
                    "{name}: the prompt {prompt:?} lacks the mutation's text {:?}",
                    m.text
                );
            }
        }
    }
}

/// Runs every check on `mutator`.
pub fn run_all(mutator: &dyn Mutator) {
    names_itself_and_its_mutations(mutator);
    is_deterministic(mutator);
}
