//! The cargo-fuzz targets' body (fuzz/body.rs) run on stable under a
//! mutation harness: real fixtures with bytes flipped, overwritten,
//! inserted, duplicated and cut. A bounded proptest run is part of the
//! normal suite; `long_mutation_run` (ignored) runs for `FUZZ_SECONDS`
//! (default 300) and prints how many inputs it tried:
//!
//! `FUZZ_SECONDS=600 cargo test -p framebreak-media --release --test fuzz_mutations -- --ignored --nocapture`

use std::path::Path;
use std::sync::Once;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use proptest::prelude::*;

include!("../fuzz/body.rs");

/// (fuzz name, fixture, where the format's magic goes).
const SEEDS: &[(&str, &str)] = &[
    ("seed.mp4", "h264_baseline.mp4"),
    ("seed.mp4", "h264_main_bframes.mp4"),
    ("seed.mp4", "h264_high_90x62.mp4"),
    ("seed.gif", "anim.gif"),
    ("seed.png", "anim.apng"),
    ("seed.webp", "anim.webp"),
    ("seed.jpg", "jpeg_seq/001.jpg"),
];

fn seed(i: usize) -> (&'static str, Vec<u8>) {
    let (name, file) = SEEDS[i % SEEDS.len()];
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(file);
    (name, std::fs::read(path).unwrap())
}

/// Panics other than re_mp4's handled ones (see `panic_is_expected`),
/// on any thread: decoder worker threads swallow theirs by design, so they
/// are counted here to fail the harness.
static UNEXPECTED_PANICS: AtomicUsize = AtomicUsize::new(0);

fn count_unexpected_panics() {
    static HOOK: Once = Once::new();
    HOOK.call_once(|| {
        let default = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            if !panic_is_expected(info) {
                UNEXPECTED_PANICS.fetch_add(1, Ordering::SeqCst);
                default(info);
            }
        }));
    });
}

#[derive(Debug, Clone)]
enum Mutation {
    Flip { at: usize, bit: u8 },
    Set { at: usize, value: u8 },
    Insert { at: usize, bytes: Vec<u8> },
    Duplicate { from: usize, len: usize, to: usize },
    Truncate { at: usize },
}

fn apply(bytes: &mut Vec<u8>, m: &Mutation) {
    let n = bytes.len().max(1);
    match m {
        Mutation::Flip { at, bit } => {
            if let Some(b) = bytes.get_mut(at % n) {
                *b ^= 1 << (bit % 8);
            }
        }
        Mutation::Set { at, value } => {
            if let Some(b) = bytes.get_mut(at % n) {
                *b = *value;
            }
        }
        Mutation::Insert { at, bytes: new } => {
            let at = at % n;
            bytes.splice(at..at, new.iter().copied());
        }
        Mutation::Duplicate { from, len, to } => {
            let from = from % n;
            let end = (from + len).min(bytes.len());
            let chunk = bytes.get(from..end).map(<[u8]>::to_vec).unwrap_or_default();
            let to = to % n;
            bytes.splice(to..to, chunk);
        }
        Mutation::Truncate { at } => bytes.truncate(at % n),
    }
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        4 => (any::<usize>(), any::<u8>()).prop_map(|(at, bit)| Mutation::Flip { at, bit }),
        // Extreme values hit size and count fields.
        3 => (any::<usize>(), prop_oneof![Just(0u8), Just(0xff), Just(0x7f), Just(0x80), any::<u8>()])
            .prop_map(|(at, value)| Mutation::Set { at, value }),
        1 => (any::<usize>(), proptest::collection::vec(any::<u8>(), 1..16))
            .prop_map(|(at, bytes)| Mutation::Insert { at, bytes }),
        1 => (any::<usize>(), 1usize..256, any::<usize>()).prop_map(|(from, len, to)| Mutation::Duplicate { from, len, to }),
        1 => any::<usize>().prop_map(|at| Mutation::Truncate { at }),
    ]
}

fn run_one(seed_index: usize, mutations: &[Mutation]) {
    let (name, mut bytes) = seed(seed_index);
    for m in mutations {
        apply(&mut bytes, m);
    }
    decode_bytes(name, &bytes);
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 96, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn mutated_fixtures_never_panic(seed_index in 0..SEEDS.len(), mutations in proptest::collection::vec(mutation(), 1..12)) {
        count_unexpected_panics();
        run_one(seed_index, &mutations);
        prop_assert_eq!(UNEXPECTED_PANICS.load(Ordering::SeqCst), 0);
    }
}

/// A small deterministic generator for the long run (SplitMix64).
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: u64) -> usize {
        (self.next() % n.max(1)) as usize
    }

    fn mutation(&mut self) -> Mutation {
        let at = self.next() as usize;
        match self.below(10) {
            0..=3 => Mutation::Flip {
                at,
                bit: self.below(8) as u8,
            },
            4..=6 => Mutation::Set {
                at,
                value: [0, 0xff, 0x7f, 0x80, self.next() as u8][self.below(5)],
            },
            7 => Mutation::Insert {
                at,
                bytes: (0..1 + self.below(15)).map(|_| self.next() as u8).collect(),
            },
            8 => Mutation::Duplicate {
                from: at,
                len: 1 + self.below(255),
                to: self.next() as usize,
            },
            _ => Mutation::Truncate { at },
        }
    }
}

#[test]
#[ignore = "long run: minutes; see the module docs"]
fn long_mutation_run() {
    count_unexpected_panics();
    let seconds = std::env::var("FUZZ_SECONDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(300);
    let start = Instant::now();
    let mut rng = Rng(0x5eed_f00d);
    let mut tried = 0u64;
    while start.elapsed() < Duration::from_secs(seconds) {
        let seed_index = rng.below(SEEDS.len() as u64);
        let mutations: Vec<Mutation> = (0..1 + rng.below(12)).map(|_| rng.mutation()).collect();
        let attempt = std::panic::catch_unwind(|| run_one(seed_index, &mutations));
        assert!(
            attempt.is_ok(),
            "panic on seed {} with {mutations:?}",
            SEEDS[seed_index].1
        );
        assert_eq!(
            UNEXPECTED_PANICS.load(Ordering::SeqCst),
            0,
            "unexpected panic on seed {} with {mutations:?}",
            SEEDS[seed_index].1
        );
        tried += 1;
    }
    #[allow(clippy::print_stdout)]
    {
        println!(
            "long_mutation_run: {tried} mutated inputs in {:.0} s, no panic",
            start.elapsed().as_secs_f64()
        );
    }
}
