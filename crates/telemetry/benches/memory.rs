//! Memory and throughput of telemetry fed 10 million samples through the
//! `metrics` facade (Prometheus exporter + bounded histories), measured with
//! a counting allocator. Run: `cargo bench -p framebreak-telemetry --bench memory`.
// A global allocator is `unsafe impl` by definition; it only counts and
// forwards to the system allocator.
#![allow(unsafe_code, clippy::print_stdout)]

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicIsize, Ordering};
use std::time::Instant;

use framebreak_telemetry::{Series, SeriesKey, Telemetry, names};

struct Counting;

static LIVE: AtomicIsize = AtomicIsize::new(0);
static PEAK: AtomicIsize = AtomicIsize::new(0);

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let now =
            LIVE.fetch_add(layout.size() as isize, Ordering::Relaxed) + layout.size() as isize;
        PEAK.fetch_max(now, Ordering::Relaxed);
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        LIVE.fetch_sub(layout.size() as isize, Ordering::Relaxed);
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

const SAMPLES: u64 = 10_000_000;

fn main() {
    let (telemetry, recorder) = Telemetry::builder().build().expect("telemetry");
    let series: Vec<_> = metrics::with_local_recorder(&recorder, || {
        (0..4)
            .map(|d| metrics::histogram!(names::FRAME_ANALYSIS_SECONDS, "device" => format!("cuda:{d}")))
            .collect()
    });
    // The exporter buffers histogram samples until upkeep folds them in;
    // Telemetry's housekeeping task does that every second. Here: every
    // 100,000 samples.
    let feed = |n: u64| {
        for i in 0..n {
            series[(i % 4) as usize].record((i % 5000) as f64 / 100_000.0);
            if i % 100_000 == 0 {
                telemetry.render();
            }
        }
        telemetry.render();
    };
    feed(200_000);
    let start_live = LIVE.load(Ordering::Relaxed);
    PEAK.store(start_live, Ordering::Relaxed);
    let started = Instant::now();
    feed(SAMPLES);
    let elapsed = started.elapsed();
    let end_live = LIVE.load(Ordering::Relaxed);
    let peak = PEAK.load(Ordering::Relaxed);
    println!("facade → Prometheus + histories, {SAMPLES} samples over 4 series:");
    println!(
        "  live heap before {start_live} B, after {end_live} B, growth {} B",
        end_live - start_live
    );
    println!("  peak above start {} B", peak - start_live);
    println!(
        "  {:.1} ns/sample, {:.2} M samples/s",
        elapsed.as_nanos() as f64 / SAMPLES as f64,
        SAMPLES as f64 / elapsed.as_secs_f64() / 1e6
    );

    // The history alone, for the ratio.
    let key = SeriesKey::new(names::FRAME_ANALYSIS_SECONDS);
    let mut alone = Series::new(1024, 1000.0).expect("series");
    let t0 = Instant::now();
    let before = LIVE.load(Ordering::Relaxed);
    let started = Instant::now();
    for i in 0..SAMPLES {
        alone
            .record(&key, t0, (i % 5000) as f64 / 100_000.0)
            .expect("valid");
    }
    let alone_elapsed = started.elapsed();
    println!("one Series alone, {SAMPLES} samples:");
    println!("  growth {} B", LIVE.load(Ordering::Relaxed) - before);
    println!(
        "  {:.1} ns/sample; the full path costs {:.1}× the history alone",
        alone_elapsed.as_nanos() as f64 / SAMPLES as f64,
        elapsed.as_secs_f64() / alone_elapsed.as_secs_f64()
    );
}
