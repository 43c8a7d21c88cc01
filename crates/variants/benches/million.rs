//! 1,000,000 variants through the generator and the JSON writer: variants
//! per second and peak heap, measured by a counting allocator, at 100,000
//! and at 1,000,000 variants, to show that memory does not grow with the
//! number of variants.
//!
//! Run with `cargo bench -p framebreak-variants --bench million`.
#![allow(clippy::print_stdout)]

use std::io::Write;
use std::sync::Arc;
use std::time::Instant;

use framebreak_variants::{BasePrompt, Catalogue, Generator, Strategy, builtin_scenes};

framebreak_testkit::count_allocations!();

fn run(label: &str, total: usize, prompts: impl Iterator<Item = BasePrompt>, per_prompt: usize) {
    let generator = Generator::builder(Arc::new(Catalogue::builtin()))
        .strategy(Strategy::Random { per_prompt })
        .seed(7)
        .build()
        .unwrap();
    let baseline = framebreak_testkit::live();
    framebreak_testkit::reset_peak();
    let mut sink = std::io::BufWriter::new(std::io::sink());
    let mut buf = Vec::with_capacity(1024);
    let start = Instant::now();
    let mut n = 0usize;
    for v in generator.generate(prompts.map(Ok)).take(total) {
        buf.clear();
        serde_json::to_writer(&mut buf, &v.unwrap()).unwrap();
        buf.push(b'\n');
        sink.write_all(&buf).unwrap();
        n += 1;
    }
    let secs = start.elapsed().as_secs_f64();
    let peak = framebreak_testkit::peak().saturating_sub(baseline);
    println!(
        "{label:<44} {n:>9} variants  {:>9.0} variants/s  peak heap {:>7.2} MiB",
        n as f64 / secs,
        peak as f64 / (1 << 20) as f64
    );
}

fn main() {
    let scenes = builtin_scenes();
    for total in [100_000usize, 1_000_000] {
        let per_prompt = total.div_ceil(scenes.len());
        run(
            &format!("built-in scenes x {per_prompt} per prompt"),
            total,
            scenes.clone().into_iter(),
            per_prompt,
        );
    }
    for total in [100_000usize, 1_000_000] {
        let prompts = (0..)
            .map(|i| BasePrompt::new(format!("Ball number {i} is thrown across a sunny park")));
        run(
            &format!("{} distinct prompts x 10 per prompt", total / 10),
            total,
            prompts,
            10,
        );
    }
}
