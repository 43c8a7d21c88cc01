//! Memory and throughput of telemetry fed 10 million samples through the
//! `metrics` facade (Prometheus exporter + bounded histories), measured with
//! a counting allocator. Run: `cargo bench -p framebreak-telemetry --bench memory`.
#![allow(clippy::print_stdout)]

use std::time::Instant;

use framebreak_telemetry::{Series, SeriesKey, Telemetry, names};

framebreak_testkit::count_allocations!();

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
    let start_live = framebreak_testkit::live() as isize;
    framebreak_testkit::reset_peak();
    let started = Instant::now();
    feed(SAMPLES);
    let elapsed = started.elapsed();
    let end_live = framebreak_testkit::live() as isize;
    let peak = framebreak_testkit::peak() as isize;
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
    let before = framebreak_testkit::live() as isize;
    let started = Instant::now();
    for i in 0..SAMPLES {
        alone
            .record(&key, t0, (i % 5000) as f64 / 100_000.0)
            .expect("valid");
    }
    let alone_elapsed = started.elapsed();
    println!("one Series alone, {SAMPLES} samples:");
    println!(
        "  growth {} B",
        (framebreak_testkit::live() as isize) - before
    );
    println!(
        "  {:.1} ns/sample; the full path costs {:.1}× the history alone",
        alone_elapsed.as_nanos() as f64 / SAMPLES as f64,
        elapsed.as_secs_f64() / alone_elapsed.as_secs_f64()
    );
}
