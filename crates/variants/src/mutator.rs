//! The [`Mutator`] trait and the combinators that compose mutators.

use rand_core::RngCore;

use crate::{Draft, Error, Result, rng};

/// Turns a prompt into an adversarial one, a step at a time.
///
/// A mutator looks at a [`Draft`] (the base prompt and the mutations made so
/// far) and inserts text with [`Draft::insert`], recording a
/// [`Mutation`](crate::Mutation) that says what it did. It draws every
/// random choice from `rng`, which the generator seeds from the campaign
/// seed, the base prompt and the attempt number: a mutator that uses only
/// `rng` is deterministic, which makes variant ids reproducible.
///
/// Mutators are template-based: no network, no model. They compose:
/// [`Chain`] runs several in order, [`Sometimes`] runs one with a
/// probability, [`OneOf`] picks one by weight.
///
/// # Example
///
/// ```
/// use std::sync::Arc;
/// use framebreak_variants::{
///     BasePrompt, Draft, Insertion, Mutation, Mutator, rng, rand_core::RngCore,
/// };
///
/// /// Asks for the scene at night, when noise and flicker are worst.
/// struct AtNight;
///
/// impl Mutator for AtNight {
///     fn name(&self) -> &str {
///         "at_night"
///     }
///
///     fn mutate(&self, draft: &mut Draft, rng: &mut dyn RngCore) {
///         let text = *rng::pick(rng, &["at night under one flickering streetlight", "in near darkness"]).unwrap();
///         draft.insert(Insertion::Append, Mutation::other(self.name(), text));
///     }
/// }
///
/// let mut draft = Draft::new(Arc::new(BasePrompt::new("A dog runs along a beach")));
/// AtNight.mutate(&mut draft, &mut rng::seeded(7));
/// assert!(draft.prompt().starts_with("A dog runs along a beach, "));
/// ```
#[auto_impl::auto_impl(&, Box, Arc)]
pub trait Mutator: Send + Sync {
    /// A short, stable name recorded in each mutation (`trap_injector`).
    fn name(&self) -> &str;

    /// Applies this mutator to `draft`. It may do nothing (an intensity
    /// mutator with no trap to intensify); the generator then tries again
    /// with a fresh random stream.
    fn mutate(&self, draft: &mut Draft, rng: &mut dyn RngCore);
}

// Fails to compile if `Mutator` stops being object-safe.
const _: fn(Box<dyn Mutator>) = |_| {};

/// Runs mutators in order, each on the draft the previous one left.
#[derive(Default)]
pub struct Chain {
    steps: Vec<Box<dyn Mutator>>,
}

impl Chain {
    /// An empty chain.
    pub fn new() -> Self {
        Chain::default()
    }

    /// Adds a step at the end.
    #[must_use]
    pub fn then(mut self, step: impl Mutator + 'static) -> Self {
        self.steps.push(Box::new(step));
        self
    }
}

impl Mutator for Chain {
    fn name(&self) -> &str {
        "chain"
    }
    fn mutate(&self, draft: &mut Draft, rng: &mut dyn RngCore) {
        for step in &self.steps {
            step.mutate(draft, rng);
        }
    }
}

impl std::fmt::Debug for Chain {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list()
            .entries(self.steps.iter().map(|s| s.name()))
            .finish()
    }
}

/// Runs its mutator with a probability.
#[derive(Debug)]
pub struct Sometimes<M> {
    inner: M,
    probability: f64,
}

impl<M: Mutator> Sometimes<M> {
    /// Runs `inner` with probability `probability`, which must be in `[0, 1]`.
    pub fn new(inner: M, probability: f64) -> Result<Self> {
        if !(0.0..=1.0).contains(&probability) {
            return Err(Error::InvalidConfig {
                what: "probability",
                problem: format!("{probability} is not in [0, 1]"),
            });
        }
        Ok(Sometimes { inner, probability })
    }
}

impl<M: Mutator> Mutator for Sometimes<M> {
    fn name(&self) -> &str {
        self.inner.name()
    }
    fn mutate(&self, draft: &mut Draft, rng: &mut dyn RngCore) {
        // Draw even when p is 0 or 1, so the stream does not depend on p's value.
        if rng::chance(rng, self.probability) {
            self.inner.mutate(draft, rng);
        }
    }
}

/// Runs one of several mutators, chosen by weight.
#[derive(Default)]
pub struct OneOf {
    choices: Vec<(Box<dyn Mutator>, u32)>,
}

impl OneOf {
    /// No choice yet.
    pub fn new() -> Self {
        OneOf::default()
    }

    /// Adds a choice with a weight; a weight of 0 never runs.
    #[must_use]
    pub fn or(mut self, mutator: impl Mutator + 'static, weight: u32) -> Self {
        self.choices.push((Box::new(mutator), weight));
        self
    }
}

impl Mutator for OneOf {
    fn name(&self) -> &str {
        "one_of"
    }
    fn mutate(&self, draft: &mut Draft, rng: &mut dyn RngCore) {
        let total: u64 = self.choices.iter().map(|(_, w)| u64::from(*w)).sum();
        if total == 0 {
            return;
        }
        let mut ticket = rng::below(rng, total as usize) as u64;
        for (mutator, weight) in &self.choices {
            let weight = u64::from(*weight);
            if ticket < weight {
                mutator.mutate(draft, rng);
                return;
            }
            ticket -= weight;
        }
    }
}

impl std::fmt::Debug for OneOf {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list()
            .entries(self.choices.iter().map(|(m, w)| (m.name(), w)))
            .finish()
    }
}
