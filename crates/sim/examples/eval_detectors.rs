//! Scores the defects crate's detectors against the simulator's ground
//! truth: `cargo run --release -p framebreak-sim --example eval_detectors -- [N] [PROFILE] [SECONDS]`
//! (defaults: 500 clips, profile `weak`, 2 s at 320x240).
//!
//! Prompts are built-in scenes, four in five carrying one random trap (the
//! variants crate's generator). Each clip is rendered, encoded as H.264,
//! decoded back with `read_clip` and analysed by the detectors at their own thresholds. A
//! finding matches a true defect of its kind when their frame ranges
//! overlap. Per kind: precision (findings that match), recall (true
//! defects found), F1. With `VERBOSE=1` every unmatched finding is listed
//! with its clip's number (its seed), scene and true defects.
#![allow(clippy::print_stdout, clippy::print_stderr)]

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::time::Instant;

mod common;

use common::prompts;
use framebreak_client::VideoRequest;
use framebreak_defects::eval::{Evaluation, TrueDefect, matches};
use framebreak_defects::{Analyzer, Finding};
use framebreak_media::{ReadOptions, read_clip};
use framebreak_sim::{GroundTruth, Profile, Simulator};
use framebreak_variants::DefectKind;

/// The simulator's truth as the evaluation reads it.
fn true_defects(truth: &GroundTruth) -> Vec<TrueDefect> {
    truth
        .defects
        .iter()
        .map(|d| TrueDefect::new(d.kind, d.start_frame, d.end_frame))
        .collect()
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let n: usize = args.first().map_or(Ok(500), |a| a.parse())?;
    let profile = Profile::named_or_file(args.get(1).map_or("weak", String::as_str))?;
    let secs: u32 = args.get(2).map_or(Ok(2), |a| a.parse())?;
    let name = profile.name().to_owned();
    let sim = Simulator::new(profile)?.cache_clips(4);
    let analyzer = Analyzer::new().without_decisions();
    let prompts = prompts(n);
    let started = Instant::now();
    let results: Mutex<Vec<(usize, GroundTruth, Vec<Finding>)>> = Mutex::new(Vec::new());
    let next = std::sync::atomic::AtomicUsize::new(0);
    let threads = std::thread::available_parallelism()
        .map_or(2, |n| n.get())
        .min(4);
    std::thread::scope(|s| {
        for _ in 0..threads {
            s.spawn(|| {
                let dir = tempfile::tempdir().expect("a temporary folder");
                loop {
                    let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    let Some(prompt) = prompts.get(i) else { break };
                    let request = VideoRequest::new(prompt.as_str())
                        .size(320, 240)
                        .duration_secs(secs)
                        .seed(i as u64);
                    let video = sim.render(&request).expect("a clip");
                    let path = dir.path().join(format!("{i}.mp4"));
                    std::fs::write(&path, &video.mp4).expect("a written clip");
                    let clip = read_clip(&path, &ReadOptions::default()).expect("a decoded clip");
                    let _ = std::fs::remove_file(&path);
                    let report = analyzer.analyze_clip(prompt, &clip).expect("an analysis");
                    results
                        .lock()
                        .expect("results")
                        .push((i, video.truth.clone(), report.defects));
                }
            });
        }
    });
    let mut results = results.into_inner()?;
    results.sort_by_key(|r| r.0);
    let mut eval = Evaluation::new(0);
    for (_, truth, findings) in &results {
        eval.add_clip(findings, &true_defects(truth));
    }
    println!(
        "{} sim clips (profile {name}, 320x240, {secs} s at 24 fps) rendered, encoded, decoded and analysed in {:.0} s\n",
        results.len(),
        started.elapsed().as_secs_f64()
    );
    println!("| kind | true defects | findings | precision | recall | F1 |");
    println!("|---|---:|---:|---:|---:|---:|");
    let show = |v: Option<f64>| v.map_or_else(|| "NaN".into(), |v| format!("{v:.2}"));
    for (kind, t) in eval.per_kind() {
        println!(
            "| {kind} | {} | {} | {} | {} | {:.2} |",
            t.truths,
            t.findings,
            show(t.precision()),
            show(t.recall()),
            // An undefined precision or recall makes no F1: shown as 0.
            t.f1().unwrap_or(0.0)
        );
    }
    let all = eval.total();
    println!(
        "| all | {} | {} | {} | {} | {} |",
        all.truths,
        all.findings,
        show(all.precision()),
        show(all.recall()),
        show(all.f1())
    );
    let (clean, clean_flagged) = (eval.clean_clips(), eval.clean_flagged());
    println!(
        "\nclean clips with any finding: {clean_flagged}/{clean} ({:.1} %)",
        100.0 * clean_flagged as f64 / clean as f64
    );

    // Where the unmatched findings come from, by scene.
    let mut by_scene: BTreeMap<String, (usize, BTreeMap<DefectKind, usize>)> = BTreeMap::new();
    for (_, truth, findings) in &results {
        let truth_defects = true_defects(truth);
        let e = by_scene.entry(truth.scene.to_string()).or_default();
        e.0 += 1;
        for f in findings
            .iter()
            .filter(|f| !truth_defects.iter().any(|d| matches(f, d, 0)))
        {
            *e.1.entry(f.kind).or_default() += 1;
        }
    }
    println!("\n| scene | clips | unmatched findings per clip, by kind |");
    println!("|---|---:|---|");
    for (scene, (clips, kinds)) in &by_scene {
        let text: Vec<String> = kinds
            .iter()
            .map(|(k, n)| format!("{k} {:.2}", *n as f64 / *clips as f64))
            .collect();
        println!("| {scene} | {clips} | {} |", text.join(", "));
    }
    if std::env::var_os("VERBOSE").is_some() {
        println!("\nunmatched findings (clip: scene [true defects]: kind frames score bbox)");
        for (i, truth, findings) in &results {
            let truth_defects = true_defects(truth);
            for f in findings
                .iter()
                .filter(|f| !truth_defects.iter().any(|d| matches(f, d, 0)))
            {
                let truths: Vec<String> = truth
                    .defects
                    .iter()
                    .map(|d| format!("{} {}-{}", d.kind, d.start_frame, d.end_frame))
                    .collect();
                println!(
                    "{i}: {} [{}]: {} {}-{} {:.2} {:?}",
                    truth.scene,
                    truths.join(", "),
                    f.kind,
                    f.start_frame,
                    f.end_frame,
                    f.score,
                    f.bbox
                );
            }
        }
    }
    Ok(())
}
