//! From base prompts to variants: sampling strategies, dedup, streaming.

use std::collections::HashSet;
use std::sync::Arc;

use crate::mutators::{ChainConfig, decoration_chain, default_chain};
use crate::{
    BasePrompt, Catalogue, Draft, Error, KnownCombination, Mutator, Result, TrapInjector, Variant,
    VariantId, id, rng,
};

/// How variants are sampled from each base prompt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Strategy {
    /// Every trap alone with each of its phrasings, then every known
    /// combination, once per base prompt. Nothing random but the phrasing
    /// of each trap in a combination.
    Exhaustive,
    /// `per_prompt` variants per base prompt from the mutator (by default
    /// the [default chain](crate::default_chain)).
    Random {
        /// Variants per base prompt.
        per_prompt: usize,
    },
    /// `per_prompt` variants per base prompt, each with exactly one trap.
    /// Traps are dealt round-robin over the whole batch, in a seeded order
    /// reshuffled every round, so every trap gets the same number of
    /// variants, ±1: the fair comparison reports need.
    Stratified {
        /// Variants per base prompt.
        per_prompt: usize,
    },
}

/// What a generator did, for a summary line.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Stats {
    /// Distinct base prompts read.
    pub base_prompts: u64,
    /// Base prompts dropped because the same text came earlier.
    pub repeated_base_prompts: u64,
    /// Variants produced, controls included.
    pub variants: u64,
    /// Controls produced (unmutated base prompts).
    pub controls: u64,
    /// Mutated variants dropped because an identical one came earlier.
    pub duplicates_dropped: u64,
    /// Variants that could not be produced because the mutators found no
    /// new variant for a prompt within the attempt budget.
    pub shortfall: u64,
}

/// Samples variants from base prompts. Cheap to clone.
///
/// ```
/// use framebreak_variants::{Catalogue, Generator, Strategy, builtin_scenes};
///
/// let generator = Generator::builder(Catalogue::builtin())
///     .strategy(Strategy::Stratified { per_prompt: 3 })
///     .seed(7)
///     .control(true)
///     .build()?;
/// let variants: Vec<_> = generator
///     .generate(builtin_scenes().into_iter().map(Ok))
///     .collect::<Result<_, _>>()?;
/// assert_eq!(variants.len(), builtin_scenes().len() * 4);
/// # Ok::<(), framebreak_variants::Error>(())
/// ```
#[derive(Clone)]
pub struct Generator {
    inner: Arc<Inner>,
}

struct Inner {
    catalogue: Arc<Catalogue>,
    strategy: Strategy,
    seed: u64,
    control: bool,
    mutator: Box<dyn Mutator>,
    /// For exhaustive sampling: (trap index, phrasing index) of every single-trap variant.
    singles: Vec<(usize, usize)>,
}

impl std::fmt::Debug for Generator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Generator")
            .field("strategy", &self.inner.strategy)
            .field("seed", &self.inner.seed)
            .field("control", &self.inner.control)
            .field("mutator", &self.inner.mutator.name())
            .field("traps", &self.inner.catalogue.traps().len())
            .finish()
    }
}

/// Builds a [`Generator`]; see [`Generator::builder`].
#[must_use]
pub struct GeneratorBuilder {
    catalogue: Arc<Catalogue>,
    strategy: Strategy,
    seed: u64,
    control: bool,
    chain: ChainConfig,
    mutator: Option<Box<dyn Mutator>>,
}

impl std::fmt::Debug for GeneratorBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GeneratorBuilder")
            .field("strategy", &self.strategy)
            .field("seed", &self.seed)
            .field("control", &self.control)
            .field("chain", &self.chain)
            .field("mutator", &self.mutator.as_ref().map(|m| m.name()))
            .finish()
    }
}

impl GeneratorBuilder {
    /// The sampling strategy (default: random, 5 per prompt).
    pub fn strategy(mut self, strategy: Strategy) -> Self {
        self.strategy = strategy;
        self
    }

    /// The campaign seed (default 0): every random choice derives from it,
    /// and it is recorded in every variant.
    pub fn seed(mut self, seed: u64) -> Self {
        self.seed = seed;
        self
    }

    /// Also emit each base prompt unmutated, as a control (default off).
    pub fn control(mut self, control: bool) -> Self {
        self.control = control;
        self
    }

    /// Settings of the default chain (ignored with a custom mutator).
    pub fn chain_config(mut self, config: ChainConfig) -> Self {
        self.chain = config;
        self
    }

    /// Replaces the default chain. With random sampling it makes each
    /// variant; with stratified sampling it runs after the variant's one
    /// trap is inserted. Exhaustive sampling uses no mutator.
    pub fn mutator(mut self, mutator: impl Mutator + 'static) -> Self {
        self.mutator = Some(Box::new(mutator));
        self
    }

    /// Checks the settings and builds the generator.
    pub fn build(self) -> Result<Generator> {
        let per_prompt = match self.strategy {
            Strategy::Random { per_prompt } | Strategy::Stratified { per_prompt } => {
                Some(per_prompt)
            }
            Strategy::Exhaustive => None,
        };
        if per_prompt == Some(0) {
            return Err(Error::InvalidConfig {
                what: "per-prompt",
                problem: "must be at least 1".into(),
            });
        }
        if self.mutator.is_some() && self.strategy == Strategy::Exhaustive {
            return Err(Error::InvalidConfig {
                what: "mutator",
                problem: "exhaustive sampling uses no mutator; choose random or stratified".into(),
            });
        }
        if self.catalogue.traps().is_empty() {
            return Err(Error::EmptyCatalogue {
                source_name: self.catalogue.source_name().to_owned(),
            });
        }
        let mutator: Box<dyn Mutator> = match (self.mutator, self.strategy) {
            (Some(m), _) => m,
            (None, Strategy::Stratified { .. }) => {
                Box::new(decoration_chain(self.catalogue.clone(), &self.chain)?)
            }
            (None, _) => Box::new(default_chain(self.catalogue.clone(), &self.chain)?),
        };
        let singles = self
            .catalogue
            .traps()
            .iter()
            .enumerate()
            .flat_map(|(t, trap)| (0..trap.phrasings.len()).map(move |p| (t, p)))
            .collect();
        Ok(Generator {
            inner: Arc::new(Inner {
                catalogue: self.catalogue,
                strategy: self.strategy,
                seed: self.seed,
                control: self.control,
                mutator,
                singles,
            }),
        })
    }
}

impl Generator {
    /// A builder over `catalogue`, with random sampling of 5 variants per
    /// prompt, seed 0 and no controls.
    pub fn builder(catalogue: impl Into<Arc<Catalogue>>) -> GeneratorBuilder {
        GeneratorBuilder {
            catalogue: catalogue.into(),
            strategy: Strategy::Random { per_prompt: 5 },
            seed: 0,
            control: false,
            chain: ChainConfig::default(),
            mutator: None,
        }
    }

    /// The catalogue it draws from.
    pub fn catalogue(&self) -> &Catalogue {
        &self.inner.catalogue
    }

    /// Streams the variants of `prompts`, in input order.
    ///
    /// Memory holds the fingerprints of the base prompts seen (to drop a
    /// prompt that repeats) and the ids of the current prompt's variants
    /// (to drop duplicates): it does not grow with the number of variants.
    /// The first input error ends the stream.
    pub fn generate<I>(&self, prompts: I) -> Variants<I::IntoIter>
    where
        I: IntoIterator<Item = Result<BasePrompt>>,
    {
        Variants {
            generator: self.inner.clone(),
            prompts: prompts.into_iter(),
            seen_prompts: HashSet::new(),
            seen_ids: HashSet::new(),
            current: None,
            deal: Deal::default(),
            stats: Stats::default(),
            finished: false,
        }
    }
}

/// The iterator of [`Generator::generate`].
pub struct Variants<I> {
    generator: Arc<Inner>,
    prompts: I,
    seen_prompts: HashSet<[u8; 16]>,
    seen_ids: HashSet<String>,
    current: Option<Current>,
    deal: Deal,
    stats: Stats,
    finished: bool,
}

/// The base prompt being worked on.
struct Current {
    base: Arc<BasePrompt>,
    /// Keys the random streams of this prompt's attempts.
    fingerprint: [u8; 16],
    control_pending: bool,
    produced: usize,
    attempt: u64,
    /// Stratified: the trap of the variant being made, kept across retries.
    slot_trap: Option<usize>,
    /// Exhaustive: the next item.
    cursor: usize,
    seen: HashSet<VariantId>,
}

/// The round-robin deal of traps for stratified sampling.
#[derive(Default)]
struct Deal {
    dealt: u64,
    order: Vec<usize>,
}

impl Deal {
    fn next(&mut self, traps: usize, seed: u64) -> usize {
        let round = self.dealt / traps as u64;
        let at = (self.dealt % traps as u64) as usize;
        if at == 0 {
            self.order = (0..traps).collect();
            let mut stream = rng::stream(id::stream_seed("framebreak/deal/v1", seed, &[], round));
            rng::shuffle(&mut stream, &mut self.order);
        }
        self.dealt += 1;
        self.order[at]
    }
}

impl<I> std::fmt::Debug for Variants<I> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Variants")
            .field("stats", &self.stats)
            .field("finished", &self.finished)
            .finish_non_exhaustive()
    }
}

impl<I> Variants<I> {
    /// What was produced and dropped so far.
    pub fn stats(&self) -> Stats {
        self.stats
    }
}

impl<I: Iterator<Item = Result<BasePrompt>>> Iterator for Variants<I> {
    type Item = Result<Variant>;

    fn next(&mut self) -> Option<Result<Variant>> {
        while !self.finished {
            let Some(current) = self.current.as_mut() else {
                match self.prompts.next() {
                    None => self.finished = true,
                    Some(Err(e)) => {
                        self.finished = true;
                        return Some(Err(e));
                    }
                    Some(Ok(base)) => {
                        if let Err(e) = self.start(base) {
                            self.finished = true;
                            return Some(Err(e));
                        }
                    }
                }
                continue;
            };
            let g = &*self.generator;
            if current.control_pending {
                current.control_pending = false;
                self.stats.variants += 1;
                self.stats.controls += 1;
                return Some(Ok(Draft::new(current.base.clone()).finish(g.seed)));
            }
            let outcome = match g.strategy {
                Strategy::Exhaustive => exhaustive_step(g, current),
                Strategy::Random { per_prompt } => sampled_step(g, current, per_prompt, None),
                Strategy::Stratified { per_prompt } => {
                    if current.produced < per_prompt && current.slot_trap.is_none() {
                        current.slot_trap = Some(self.deal.next(g.catalogue.traps().len(), g.seed));
                    }
                    sampled_step(g, current, per_prompt, current.slot_trap)
                }
            };
            match outcome {
                Step::Done { shortfall } => {
                    self.stats.shortfall += shortfall as u64;
                    self.current = None;
                }
                Step::Duplicate => self.stats.duplicates_dropped += 1,
                Step::New(variant) => {
                    current.slot_trap = None;
                    self.stats.variants += 1;
                    return Some(Ok(variant));
                }
            }
        }
        None
    }
}

impl<I> Variants<I> {
    fn start(&mut self, base: BasePrompt) -> Result<()> {
        let fingerprint = id::prompt_fingerprint(&base.prompt);
        if !self.seen_prompts.insert(fingerprint) {
            self.stats.repeated_base_prompts += 1;
            return Ok(());
        }
        if !self.seen_ids.insert(base.id.clone()) {
            return Err(Error::DuplicateBaseId { id: base.id });
        }
        self.stats.base_prompts += 1;
        self.current = Some(Current {
            base: Arc::new(base),
            fingerprint,
            control_pending: self.generator.control,
            produced: 0,
            attempt: 0,
            slot_trap: None,
            cursor: 0,
            seen: HashSet::new(),
        });
        Ok(())
    }
}

enum Step {
    New(Variant),
    Duplicate,
    Done { shortfall: usize },
}

/// Tries a few times per variant before giving up on a prompt: the mutation
/// space of a narrow filter can be smaller than `per_prompt`.
const ATTEMPTS_PER_VARIANT: u64 = 8;
const EXTRA_ATTEMPTS: u64 = 32;

fn sampled_step(g: &Inner, current: &mut Current, per_prompt: usize, trap: Option<usize>) -> Step {
    let budget = per_prompt as u64 * ATTEMPTS_PER_VARIANT + EXTRA_ATTEMPTS;
    if current.produced == per_prompt || current.attempt >= budget {
        return Step::Done {
            shortfall: per_prompt - current.produced,
        };
    }
    let mut stream = rng::stream(id::stream_seed(
        "framebreak/attempt/v1",
        g.seed,
        &current.fingerprint,
        current.attempt,
    ));
    current.attempt += 1;
    let mut draft = Draft::new(current.base.clone());
    if let Some(t) = trap {
        TrapInjector::insert(
            TrapInjector::NAME,
            &g.catalogue.traps()[t],
            &mut draft,
            &mut stream,
        );
    }
    g.mutator.mutate(&mut draft, &mut stream);
    if draft.mutations().is_empty() {
        return Step::Duplicate;
    }
    keep_if_new(current, draft.finish(g.seed))
}

fn exhaustive_step(g: &Inner, current: &mut Current) -> Step {
    let combos = g.catalogue.combinations();
    let at = current.cursor;
    current.cursor += 1;
    let mut draft = Draft::new(current.base.clone());
    if let Some(&(t, p)) = g.singles.get(at) {
        let trap = &g.catalogue.traps()[t];
        let mutation = crate::Mutation::trap(TrapInjector::NAME, trap, trap.phrasings[p].as_str());
        draft.insert(trap.insert, mutation);
    } else if let Some(combination) = combos.get(at - g.singles.len()) {
        let mut stream = rng::stream(id::stream_seed(
            "framebreak/exhaustive/v1",
            g.seed,
            &current.fingerprint,
            at as u64,
        ));
        for trap in combination
            .traps
            .iter()
            .filter_map(|t| g.catalogue.trap(t.as_str()))
        {
            TrapInjector::insert(KnownCombination::NAME, trap, &mut draft, &mut stream);
        }
    } else {
        return Step::Done { shortfall: 0 };
    }
    keep_if_new(current, draft.finish(g.seed))
}

fn keep_if_new(current: &mut Current, variant: Variant) -> Step {
    if current.seen.insert(variant.id) {
        current.produced += 1;
        Step::New(variant)
    } else {
        Step::Duplicate
    }
}
