//! Variants per second, by strategy, including JSON serialisation.
//!
//! Run with `cargo bench -p framebreak-variants --bench throughput`.

use std::sync::Arc;

use divan::counter::ItemsCount;
use framebreak_variants::{Catalogue, Generator, Strategy, builtin_scenes};

fn main() {
    divan::main();
}

const PER_PROMPT: usize = 100;

fn generate(strategy: Strategy) -> usize {
    let generator = Generator::builder(Arc::new(Catalogue::builtin()))
        .strategy(strategy)
        .seed(7)
        .build()
        .unwrap();
    let mut buf = Vec::with_capacity(1024);
    let mut n = 0;
    for v in generator.generate(builtin_scenes().into_iter().map(Ok)) {
        buf.clear();
        serde_json::to_writer(&mut buf, &v.unwrap()).unwrap();
        n += 1;
    }
    divan::black_box(buf);
    n
}

fn items(strategy: Strategy) -> ItemsCount {
    ItemsCount::new(generate(strategy))
}

#[divan::bench(sample_count = 10)]
fn random(bencher: divan::Bencher<'_, '_>) {
    let strategy = Strategy::Random {
        per_prompt: PER_PROMPT,
    };
    bencher
        .counter(items(strategy))
        .bench(|| generate(strategy));
}

#[divan::bench(sample_count = 10)]
fn stratified(bencher: divan::Bencher<'_, '_>) {
    let strategy = Strategy::Stratified {
        per_prompt: PER_PROMPT,
    };
    bencher
        .counter(items(strategy))
        .bench(|| generate(strategy));
}

#[divan::bench(sample_count = 10)]
fn exhaustive(bencher: divan::Bencher<'_, '_>) {
    bencher
        .counter(items(Strategy::Exhaustive))
        .bench(|| generate(Strategy::Exhaustive));
}
