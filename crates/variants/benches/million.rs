//! 1,000,000 variants through the generator and the JSON writer: variants
//! per second and peak heap, measured by a counting allocator, at 100,000
//! and at 1,000,000 variants, to show that memory does not grow with the
//! number of variants.
//!
//! Run with `cargo bench -p framebreak-variants --bench million`.
#![allow(unsafe_code, clippy::print_stdout)]

use std::alloc::{GlobalAlloc, Layout, System};
use std::io::Write;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

use framebreak_variants::{BasePrompt, Catalogue, Generator, Strategy, builtin_scenes};

struct Counting;

static LIVE: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

// SAFETY: forwards to the system allocator; only adds bookkeeping.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let p = unsafe { System.alloc(layout) };
        if !p.is_null() {
            let now = LIVE.fetch_add(layout.size(), Ordering::Relaxed) + layout.size();
            PEAK.fetch_max(now, Ordering::Relaxed);
        }
        p
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) };
        LIVE.fetch_sub(layout.size(), Ordering::Relaxed);
    }
}

#[global_allocator]
static ALLOC: Counting = Counting;

fn run(label: &str, total: usize, prompts: impl Iterator<Item = BasePrompt>, per_prompt: usize) {
    let generator = Generator::builder(Arc::new(Catalogue::builtin()))
        .strategy(Strategy::Random { per_prompt })
        .seed(7)
        .build()
        .unwrap();
    let baseline = LIVE.load(Ordering::Relaxed);
    PEAK.store(baseline, Ordering::Relaxed);
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
    let peak = PEAK.load(Ordering::Relaxed).saturating_sub(baseline);
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
