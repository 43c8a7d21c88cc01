//! Build result rows by hand from real simulated videos, then write every
//! report of them: `cargo run --release --example report_from_sim -- [OUT_DIR] [PER_PROMPT]`
//! (defaults: `target/report-example`, 3 variants per built-in scene plus
//! its control). `scripts/check-report OUT_DIR/report.html shot.png`
//! renders the page in headless Chromium.
//!
//! No campaign, no store: each variant's prompt goes to the simulator, the
//! MP4 is written under `OUT_DIR/videos/`, decoded and analysed, and the
//! row carries the simulator's ground truth. Two jobs fail for real: one
//! asks the simulator for an impossible size (`bad_request`), one video is
//! truncated before analysis (`decode`).
#![allow(clippy::print_stdout)]

use std::path::Path;
use std::sync::Mutex;

use framebreak::client::{DryRunPublisher, VideoRequest};
use framebreak::defects::Analyzer;
use framebreak::report::{self, HtmlOptions};
use framebreak::roast;
use framebreak::scheduler::FailureCategory;
use framebreak::sim::{Profile, Simulator};
use framebreak::variants::{Catalogue, Generator, Strategy, Variant, builtin_scenes};
use framebreak::{ResultRow, RowFailure, RowStatus};

fn row(variant: &Variant, status: RowStatus) -> ResultRow {
    let mut row = ResultRow::of_variant(variant, "sim", status);
    row.model = Some("weak".into());
    row
}

fn failed(mut row: ResultRow, category: FailureCategory, message: String) -> ResultRow {
    row.status = RowStatus::Failed;
    row.failure = Some(RowFailure { category, message });
    row
}

/// Renders, writes, decodes and analyses one variant's video.
fn generate(
    sim: &Simulator,
    analyzer: &Analyzer,
    out: &Path,
    variant: &Variant,
    i: usize,
) -> ResultRow {
    let base = row(variant, RowStatus::Done);
    let request = VideoRequest::new(variant.prompt.as_str())
        .size(160, 120)
        .duration_secs(2)
        .seed(i as u64);
    let video = match sim.render(&request) {
        Ok(v) => v,
        Err(e) => return failed(base, FailureCategory::BadRequest, e.to_string()),
    };
    let file = format!("videos/{}.mp4", variant.id);
    let path = out.join(&file);
    if let Err(e) = std::fs::write(&path, &video.mp4) {
        return failed(base, FailureCategory::Download, e.to_string());
    }
    match analyzer.analyze_file(&path) {
        Ok(analysis) => ResultRow {
            remote_id: Some(format!("sim-{i}")),
            video: Some(file),
            analysis: Some(analysis),
            truth: Some(video.truth.clone()),
            cost: None,
            ..base
        },
        Err(e) => failed(base, FailureCategory::Decode, e.to_string()),
    }
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let out = Path::new(args.first().map_or("target/report-example", String::as_str)).to_owned();
    let per_prompt: usize = args.get(1).map_or(Ok(3), |a| a.parse())?;
    std::fs::create_dir_all(out.join("videos"))?;

    let generator = Generator::builder(Catalogue::builtin())
        .strategy(Strategy::Stratified { per_prompt })
        .control(true)
        .seed(1)
        .build()?;
    let variants: Vec<Variant> = generator
        .generate(builtin_scenes().into_iter().map(Ok))
        .collect::<Result<_, _>>()?;
    let sim = Simulator::new(Profile::weak())?;
    let analyzer = Analyzer::new();
    let started = std::time::Instant::now();
    let rows: Mutex<Vec<(usize, ResultRow)>> = Mutex::new(Vec::new());
    let next = std::sync::atomic::AtomicUsize::new(0);
    std::thread::scope(|s| {
        for _ in 0..std::thread::available_parallelism().map_or(2, |n| n.get()) {
            s.spawn(|| {
                loop {
                    let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    let Some(v) = variants.get(i) else { break };
                    let r = generate(&sim, &analyzer, &out, v, i);
                    rows.lock().map(|mut rows| rows.push((i, r))).ok();
                }
            });
        }
    });
    let mut rows: Vec<(usize, ResultRow)> = rows.into_inner().map_err(|_| "a worker panicked")?;
    rows.sort_by_key(|(i, _)| *i);
    let mut rows: Vec<ResultRow> = rows.into_iter().map(|(_, r)| r).collect();

    // Two real failures: a size the simulator refuses, a truncated video.
    let first = variants.first().ok_or("no variants")?;
    let refused = sim
        .render(&VideoRequest::new(first.prompt.as_str()).size(100_000, 90))
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
    rows.push(failed(
        row(first, RowStatus::Failed),
        FailureCategory::BadRequest,
        refused,
    ));
    if let Some(done) = rows.iter().find(|r| r.video.is_some()).cloned() {
        let bytes = std::fs::read(out.join(done.video.as_deref().unwrap_or_default()))?;
        let cut = out.join("videos/truncated.mp4");
        std::fs::write(&cut, &bytes[..bytes.len() / 3])?;
        if let Err(e) = analyzer.analyze_file(&cut) {
            let mut r = failed(done, FailureCategory::Decode, e.to_string());
            r.job = format!("{}-truncated", r.job);
            r.video = None;
            r.analysis = None;
            r.truth = None;
            rows.push(r);
        }
    }
    println!(
        "{} rows ({} variants rendered and analysed) in {:.1} s",
        rows.len(),
        variants.len(),
        started.elapsed().as_secs_f64()
    );

    let options = HtmlOptions::new(&out)
        .title("framebreak report: simulated weak model")
        .run_id("report-from-sim");
    let started = std::time::Instant::now();
    let page = report::html(&rows, &options)?;
    println!(
        "report.html: {} KiB in {:.2} s",
        page.len() / 1024,
        started.elapsed().as_secs_f64()
    );
    std::fs::write(out.join("report.html"), page)?;
    report::jsonl(&rows, std::fs::File::create(out.join("rows.jsonl"))?)?;
    report::csv(&rows, std::fs::File::create(out.join("rows.csv"))?)?;
    report::junit(&rows, std::fs::File::create(out.join("junit.xml"))?)?;

    let roasts = roast::compose(&rows, 3);
    let posts = out.join("posts.jsonl");
    let _ = std::fs::remove_file(&posts);
    let publisher = DryRunPublisher::new(&posts);
    let runtime = tokio::runtime::Builder::new_current_thread().build()?;
    let published = runtime.block_on(roast::publish(&roasts, &publisher, &out))?;
    for (roast, p) in roasts.iter().zip(&published) {
        println!("{}: {}", p.id, roast.text);
    }
    println!("wrote {}", out.display());
    Ok(())
}
