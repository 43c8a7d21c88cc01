//! Memory of the bounded histories stays flat however many samples arrive:
//! measured with a counting allocator. (`benches/memory.rs` does the same
//! through the `metrics` facade in a release build, and prints figures.)

use std::time::{Duration, Instant};

use framebreak_telemetry::{Collector, Series, SeriesKey};

framebreak_testkit::count_allocations!();

fn live() -> isize {
    framebreak_testkit::live() as isize
}

// One test in this binary, so no other test's allocations are counted.
#[test]
fn ten_million_samples_leave_memory_flat() {
    let key = SeriesKey::new("framebreak_frame_analysis_seconds");
    let mut series = Series::new(1024, 1000.0).unwrap();
    let t0 = Instant::now();
    // Warm up: fill the ring and let the histogram reach its value range.
    for i in 0..100_000u64 {
        series.record(&key, t0, (i % 5000) as f64 / 100.0).unwrap();
    }
    let before = live();
    for i in 0..10_000_000u64 {
        series.record(&key, t0, (i % 5000) as f64 / 100.0).unwrap();
    }
    let grown = live() - before;
    assert_eq!(
        grown, 0,
        "a series grew by {grown} bytes over 10 million samples"
    );
    assert_eq!(
        series.aggregates(t0, Duration::from_secs(1)).count,
        10_100_000
    );

    // Through the collector (lock, lookup, rules): 1 million over 4 series.
    let collector = Collector::builder().capacity(1024).build().unwrap();
    let keys: Vec<SeriesKey> = (0..4)
        .map(|d| {
            SeriesKey::new("framebreak_device_utilization_percent")
                .label("device", format!("cuda:{d}"))
        })
        .collect();
    for i in 0..50_000u64 {
        collector
            .record_at(&keys[(i % 4) as usize], t0, (i % 100) as f64)
            .unwrap();
    }
    let before = live();
    for i in 0..1_000_000u64 {
        collector
            .record_at(&keys[(i % 4) as usize], t0, (i % 100) as f64)
            .unwrap();
    }
    let grown = live() - before;
    assert_eq!(
        grown, 0,
        "the collector grew by {grown} bytes over 1 million samples"
    );
}
