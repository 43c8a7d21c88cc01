//! Time of a whole analysis (metrics, evidence, every detector, the learned
//! decision's features and net, scores) of the 48-frame 320×240 H.264
//! fixture, against the 0.25 s target; and the same with the detectors'
//! own thresholds (no learned decision).
//!
//! Run: `cargo bench -p framebreak-defects --bench analyze`
#![allow(clippy::print_stdout, missing_docs)] // A benchmark's job is to print.

use std::path::Path;
use std::time::{Duration, Instant};

use framebreak_defects::learned::FeatureMatrix;
use framebreak_defects::{
    Analyzer, ClipMetrics, Compute, DecisionModel, Evidence, MetricsSummary, default_detectors,
};
use framebreak_media::{ReadOptions, read_clip};

const TARGET: Duration = Duration::from_millis(250);
const REPS: usize = 7;

fn median(mut d: Vec<Duration>) -> Duration {
    d.sort();
    d[d.len() / 2]
}

fn time(f: impl Fn()) -> Duration {
    f();
    median(
        (0..REPS)
            .map(|_| {
                let t = Instant::now();
                f();
                t.elapsed()
            })
            .collect(),
    )
}

fn main() {
    let path =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../media/tests/fixtures/bench_320x240.mp4");
    let clip = read_clip(&path, &ReadOptions::default()).expect("the media fixture decodes");
    assert_eq!(
        (clip.len(), clip.info.width, clip.info.height),
        (48, 320, 240)
    );
    let analyzer = Analyzer::new();
    let detectors = default_detectors();
    let metrics = time(|| drop(ClipMetrics::compute(&clip, &Compute::cpu()).unwrap()));
    let summary = time(|| {
        std::hint::black_box(MetricsSummary::compute(&clip, &Compute::cpu()).unwrap());
    });
    let evidence = time(|| drop(Evidence::new(&clip).unwrap()));
    let ev = Evidence::new(&clip).unwrap();
    let detect = time(|| {
        drop(
            detectors
                .iter()
                .flat_map(|d| d.detect(&ev))
                .collect::<Vec<_>>(),
        )
    });
    let clip_metrics = ClipMetrics::compute(&clip, &Compute::cpu()).unwrap();
    let proposals: Vec<_> = detectors.iter().flat_map(|d| d.detect(&ev)).collect();
    let features = time(|| drop(FeatureMatrix::measure(&ev, &clip_metrics, &proposals)));
    let matrix = FeatureMatrix::measure(&ev, &clip_metrics, &proposals);
    let model = DecisionModel::embedded().unwrap();
    let decide = time(|| drop(model.probabilities(&matrix).unwrap()));
    let whole = time(|| drop(analyzer.analyze_clip("bench", &clip).unwrap()));
    let hand = Analyzer::new().without_decisions();
    let whole_hand = time(|| drop(hand.analyze_clip("bench", &clip).unwrap()));
    println!(
        "analyze of 48 frames at 320x240 (median of {REPS}, {} threads)",
        rayon_threads()
    );
    println!(
        "  metrics (ClipMetrics)      {:>8.1} ms",
        metrics.as_secs_f64() * 1e3
    );
    println!(
        "  metrics summary (analyze's){:>8.1} ms",
        summary.as_secs_f64() * 1e3
    );
    println!(
        "  evidence (block motion)    {:>8.1} ms",
        evidence.as_secs_f64() * 1e3
    );
    println!(
        "  9 detectors                {:>8.1} ms",
        detect.as_secs_f64() * 1e3
    );
    for d in &detectors {
        let t = time(|| drop(d.detect(&ev)));
        println!("    {:<24} {:>8.1} ms", d.name(), t.as_secs_f64() * 1e3);
    }
    println!(
        "  features (learned)         {:>8.1} ms",
        features.as_secs_f64() * 1e3
    );
    println!(
        "  decision net               {:>8.1} ms",
        decide.as_secs_f64() * 1e3
    );
    println!(
        "  whole analyze, hand thresholds {:>4.1} ms",
        whole_hand.as_secs_f64() * 1e3
    );
    println!(
        "  whole analyze              {:>8.1} ms   target {:.0} ms   ratio {:.2}x of target",
        whole.as_secs_f64() * 1e3,
        TARGET.as_secs_f64() * 1e3,
        whole.as_secs_f64() / TARGET.as_secs_f64()
    );
}

fn rayon_threads() -> usize {
    std::thread::available_parallelism().map_or(1, usize::from)
}
