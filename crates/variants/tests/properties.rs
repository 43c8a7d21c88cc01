//! Property tests of the generator: determinism, unique ids, serde round
//! trips, stratified balance, and that every variant contains the text of
//! every mutation it claims.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use framebreak_variants::{
    BasePrompt, Catalogue, Generator, PromptReader, Strategy as Sampling, TrapFilter, Variant,
    builtin_scenes,
};
use proptest::prelude::*;

fn catalogue() -> Arc<Catalogue> {
    static CAT: std::sync::OnceLock<Arc<Catalogue>> = std::sync::OnceLock::new();
    CAT.get_or_init(|| Arc::new(Catalogue::builtin())).clone()
}

fn strategy() -> impl Strategy<Value = Sampling> {
    prop_oneof![
        (1usize..8).prop_map(|per_prompt| Sampling::Random { per_prompt }),
        (1usize..8).prop_map(|per_prompt| Sampling::Stratified { per_prompt }),
        Just(Sampling::Exhaustive),
    ]
}

fn scenes(n: usize, skip: usize) -> Vec<BasePrompt> {
    builtin_scenes()
        .into_iter()
        .cycle()
        .skip(skip)
        .take(n)
        .collect()
}

fn run(
    catalogue: Arc<Catalogue>,
    strategy: Sampling,
    seed: u64,
    control: bool,
    prompts: Vec<BasePrompt>,
) -> Vec<Variant> {
    Generator::builder(catalogue)
        .strategy(strategy)
        .seed(seed)
        .control(control)
        .build()
        .unwrap()
        .generate(prompts.into_iter().map(Ok))
        .collect::<Result<_, _>>()
        .unwrap()
}

/// Prompts a user might write: letters, punctuation, unicode, odd spacing.
fn user_prompt() -> impl Strategy<Value = String> {
    "[A-Za-zé漢 ,.!?'0-9]{1,80}".prop_filter("not blank", |s| !s.trim().is_empty())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    #[test]
    fn same_seed_same_output(strategy in strategy(), seed: u64, n in 1usize..4, skip in 0usize..40, control: bool) {
        let a = run(catalogue(), strategy, seed, control, scenes(n, skip));
        let b = run(catalogue(), strategy, seed, control, scenes(n, skip));
        prop_assert_eq!(a, b);
    }

    #[test]
    fn ids_are_unique_and_follow_content(strategy in strategy(), seed: u64, n in 1usize..4, skip in 0usize..40) {
        let variants = run(catalogue(), strategy, seed, true, scenes(n, skip));
        let ids: HashSet<_> = variants.iter().map(|v| v.id).collect();
        prop_assert_eq!(ids.len(), variants.len());
        let contents: HashSet<_> = variants.iter().map(|v| (&v.base_prompt, &v.prompt, &v.mutations)).collect();
        prop_assert_eq!(contents.len(), variants.len());
        // Another seed: the same content gets another id.
        let other = run(catalogue(), Sampling::Exhaustive, seed.wrapping_add(1), true, scenes(1, skip));
        let mine = run(catalogue(), Sampling::Exhaustive, seed, true, scenes(1, skip));
        prop_assert!(other.iter().zip(&mine).all(|(a, b)| a.id != b.id));
    }

    #[test]
    fn serde_round_trip(strategy in strategy(), seed: u64, skip in 0usize..40) {
        for v in run(catalogue(), strategy, seed, true, scenes(1, skip)).into_iter().take(20) {
            let json = serde_json::to_string(&v).unwrap();
            let back: Variant = serde_json::from_str(&json).unwrap();
            prop_assert_eq!(&back, &v);
            prop_assert_eq!(serde_json::to_string(&back).unwrap(), json);
        }
    }

    #[test]
    fn stratified_is_balanced(per_prompt in 1usize..12, n in 1usize..30, seed: u64, filter in prop_oneof![
        Just(None), Just(Some("physics")), Just(Some("coherence.*")), Just(Some("physics.zero_g,coherence.crowd,physics.pendulum")),
    ]) {
        let cat = match filter {
            Some(f) => Arc::new(catalogue().select(&TrapFilter::parse(f).unwrap()).unwrap()),
            None => catalogue(),
        };
        let variants = run(cat.clone(), Sampling::Stratified { per_prompt }, seed, false, scenes(n, 0));
        prop_assert_eq!(variants.len(), per_prompt * n);
        let mut counts: HashMap<&str, usize> = cat.traps().iter().map(|t| (t.id.as_str(), 0)).collect();
        for v in &variants {
            let traps: Vec<_> = v.traps().collect();
            prop_assert_eq!(traps.len(), 1, "one trap per stratified variant: {:?}", v.mutations);
            *counts.get_mut(traps[0].as_str()).unwrap() += 1;
        }
        let (min, max) = (counts.values().min().unwrap(), counts.values().max().unwrap());
        prop_assert!(max - min <= 1, "counts {:?}", counts);
    }

    #[test]
    fn variants_contain_what_they_claim(strategy in strategy(), seed: u64, prompts in proptest::collection::vec(user_prompt(), 1..4)) {
        let cat = catalogue();
        let bases: Vec<BasePrompt> = prompts.into_iter().map(BasePrompt::new).collect();
        for v in run(cat.clone(), strategy, seed, true, bases) {
            for m in &v.mutations {
                prop_assert!(v.prompt.contains(&m.text), "{:?} lacks {:?}", v.prompt, m.text);
                if let Some(id) = &m.trap {
                    let trap = cat.trap(id.as_str()).unwrap();
                    prop_assert_eq!(m.family, Some(trap.family));
                    prop_assert_eq!(&m.provokes, &trap.provokes);
                    // A second opening phrase has its first letter lowered.
                    let lowered = |p: &String| {
                        let mut c = p.chars();
                        c.next().map(|f| f.to_lowercase().chain(c).collect::<String>()) == Some(m.text.clone())
                    };
                    let known = trap.phrasings.contains(&m.text)
                        || trap.phrasings.iter().any(lowered)
                        || trap.intensifiers.contains(&m.text)
                        || cat.intensity_templates().iter().any(|t| t.replace("{title}", &trap.title.to_lowercase()) == m.text);
                    prop_assert!(known, "{} is not a text of {}", m.text, id);
                }
            }
            if v.is_control() {
                prop_assert_eq!(&v.prompt, &v.base_prompt);
            }
        }
    }

    #[test]
    fn the_reader_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..512), limit in 1usize..64) {
        for base in PromptReader::new(&bytes[..], "fuzz").max_prompt_len(limit).flatten() {
            prop_assert!(base.prompt.chars().count() <= limit);
        }
    }
}

#[test]
fn random_sampling_fills_per_prompt_from_the_builtin_catalogue() {
    let variants = run(
        catalogue(),
        Sampling::Random { per_prompt: 50 },
        3,
        false,
        scenes(3, 0),
    );
    assert_eq!(variants.len(), 150);
    // Every mutator of the default chain shows up.
    let mutators: HashSet<&str> = variants
        .iter()
        .flat_map(|v| v.mutations.iter().map(|m| m.mutator.as_str()))
        .collect();
    for name in ["trap_injector", "combination", "intensity", "camera"] {
        assert!(mutators.contains(name), "{name} never ran: {mutators:?}");
    }
}

#[test]
fn a_narrow_filter_reports_a_shortfall_instead_of_looping() {
    // One trap and no decorations: as many distinct variants as phrasings.
    let cat = Arc::new(
        catalogue()
            .select(&TrapFilter::parse("physics.zero_g").unwrap())
            .unwrap(),
    );
    let phrasings = cat.traps()[0].phrasings.len();
    let chain = framebreak_variants::ChainConfig {
        intensity_probability: 0.0,
        camera_probability: 0.0,
        ..Default::default()
    };
    let generator = Generator::builder(cat)
        .strategy(Sampling::Random { per_prompt: 100 })
        .chain_config(chain)
        .build()
        .unwrap();
    let mut it = generator.generate(scenes(1, 0).into_iter().map(Ok));
    assert_eq!(it.by_ref().count(), phrasings);
    let stats = it.stats();
    assert_eq!(stats.shortfall as usize, 100 - phrasings);
    assert!(stats.duplicates_dropped > 0);
}

#[test]
fn repeated_base_prompts_are_dropped_and_counted() {
    let a = BasePrompt::new("A ball is thrown");
    let generator = Generator::builder(catalogue()).build().unwrap();
    let mut it = generator.generate(vec![Ok(a.clone()), Ok(a)]);
    assert_eq!(it.by_ref().count(), 5);
    assert_eq!(it.stats().repeated_base_prompts, 1);
}

#[test]
fn one_id_for_two_prompts_is_an_error() {
    let a = BasePrompt {
        id: "x".into(),
        prompt: "A ball".into(),
        tags: vec![],
    };
    let b = BasePrompt {
        id: "x".into(),
        prompt: "A dog".into(),
        tags: vec![],
    };
    let generator = Generator::builder(catalogue()).build().unwrap();
    let err = generator
        .generate(vec![Ok(a), Ok(b)])
        .find_map(Result::err)
        .unwrap();
    assert_eq!(
        err.to_string(),
        "base prompt id `x` is used by two different prompts; ids must be unique"
    );
}

#[test]
fn bad_settings_are_typed_errors() {
    let zero = Generator::builder(catalogue())
        .strategy(Sampling::Random { per_prompt: 0 })
        .build();
    assert_eq!(
        zero.unwrap_err().to_string(),
        "invalid per-prompt: must be at least 1"
    );
    let chain = framebreak_variants::ChainConfig {
        max_traps: 0,
        ..Default::default()
    };
    let e = Generator::builder(catalogue())
        .chain_config(chain)
        .build()
        .unwrap_err();
    assert!(e.to_string().starts_with("invalid max-traps"), "{e}");
}
