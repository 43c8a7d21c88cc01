//! The mutator conformance suite on every built-in mutator and the
//! default chain, and on broken ones it must catch.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use framebreak_variants::rand_core::RngCore;
use framebreak_variants::{
    CameraDemand, Catalogue, ChainConfig, Draft, Insertion, Intensifier, KnownCombination,
    Mutation, Mutator, TrapInjector, conformance, default_chain,
};

#[test]
fn every_built_in_mutator_passes_the_suite() {
    let catalogue = Arc::new(Catalogue::builtin());
    let mutators: Vec<Box<dyn Mutator>> = vec![
        Box::new(TrapInjector::new(catalogue.clone(), 1, 3).unwrap()),
        Box::new(KnownCombination::new(catalogue.clone())),
        Box::new(Intensifier::new(catalogue.clone())),
        Box::new(CameraDemand::new(catalogue.clone(), 1, 2).unwrap()),
        Box::new(default_chain(catalogue, &ChainConfig::default()).unwrap()),
    ];
    for m in &mutators {
        conformance::run_all(m.as_ref());
    }
}

/// Draws from its own counter, not from the stream it is given.
#[derive(Default)]
struct Forgetful(AtomicU64);

impl Mutator for Forgetful {
    fn name(&self) -> &str {
        "forgetful"
    }
    fn mutate(&self, draft: &mut Draft, _: &mut dyn RngCore) {
        let n = self.0.fetch_add(1, Ordering::SeqCst);
        draft.insert(
            Insertion::Append,
            Mutation::other("forgetful", format!("take {n}")),
        );
    }
}

/// Has no name.
struct Nameless;

impl Mutator for Nameless {
    fn name(&self) -> &str {
        ""
    }
    fn mutate(&self, draft: &mut Draft, _: &mut dyn RngCore) {
        draft.insert(Insertion::Append, Mutation::other("", "in slow motion"));
    }
}

fn fails(mutator: &dyn Mutator) -> bool {
    catch_unwind(AssertUnwindSafe(|| conformance::run_all(mutator))).is_err()
}

#[test]
fn broken_mutators_fail_the_suite() {
    assert!(
        fails(&Forgetful::default()),
        "a mutator ignoring its stream passed"
    );
    assert!(fails(&Nameless), "a nameless mutator passed");
}
