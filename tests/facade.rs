//! The `framebreak` facade, used as a user's tool would use it:
//! a custom mutator composed with built-in ones, through the re-exports.

use std::sync::Arc;

use framebreak::variants::rand_core::RngCore;
use framebreak::variants::{
    BasePrompt, Catalogue, Chain, Draft, Generator, Insertion, Mutation, Mutator, Strategy,
    TrapInjector,
};

struct Suffix;

impl Mutator for Suffix {
    fn name(&self) -> &str {
        "suffix"
    }
    fn mutate(&self, draft: &mut Draft, _rng: &mut dyn RngCore) {
        draft.insert(
            Insertion::Sentence,
            Mutation::other(self.name(), "Shot on a phone."),
        );
    }
}

#[test]
fn a_custom_mutator_runs_in_a_chain_and_is_recorded() {
    let catalogue = Arc::new(Catalogue::builtin());
    let chain = Chain::new()
        .then(TrapInjector::new(catalogue.clone(), 1, 1).unwrap())
        .then(Box::new(Suffix) as Box<dyn Mutator>);
    let generator = Generator::builder(catalogue)
        .strategy(Strategy::Random { per_prompt: 4 })
        .mutator(chain)
        .build()
        .unwrap();
    let variants: Vec<_> = generator
        .generate([Ok(BasePrompt::new("A cat jumps onto a shelf."))])
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(variants.len(), 4);
    for v in &variants {
        assert_eq!(v.mutations.len(), 2);
        assert_eq!(v.mutations[0].mutator, "trap_injector");
        assert_eq!(v.mutations[1].mutator, "suffix");
        assert!(v.prompt.ends_with(". Shot on a phone."), "{}", v.prompt);
    }
}

#[test]
fn a_custom_mutator_is_refused_by_exhaustive_sampling() {
    let err = Generator::builder(Catalogue::builtin())
        .strategy(Strategy::Exhaustive)
        .mutator(Suffix)
        .build()
        .unwrap_err();
    assert!(
        err.to_string()
            .contains("exhaustive sampling uses no mutator"),
        "{err}"
    );
}
