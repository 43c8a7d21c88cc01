//! Scores the defects crate's detectors against the simulator's ground
//! truth: `cargo run --release -p framebreak-sim --example eval_detectors -- [N] [PROFILE] [SECONDS]`
//! (defaults: 500 clips, profile `weak`, 2 s at 320x240).
//!
//! Prompts are built-in scenes, four in five carrying one random trap (the
//! variants crate's generator). Each clip is rendered, encoded as H.264,
//! decoded back with `read_clip` and analysed with the default analyzer. A
//! finding matches a true defect of its kind when their frame ranges
//! overlap. Per kind: precision (findings that match), recall (true
//! defects found), F1.
#![allow(clippy::print_stdout, clippy::print_stderr)]

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::time::Instant;

use framebreak_client::VideoRequest;
use framebreak_defects::{Analyzer, Finding};
use framebreak_media::{ReadOptions, read_clip};
use framebreak_sim::{GroundTruth, Profile, Simulator, TruthDefect};
use framebreak_variants::{Catalogue, DefectKind, Generator, Strategy, builtin_scenes};

fn overlaps(f: &Finding, t: &TruthDefect) -> bool {
    f.kind == t.kind && f.start_frame <= t.end_frame && t.start_frame <= f.end_frame
}

#[derive(Default, Clone, Copy)]
struct Tally {
    findings: usize,
    matching: usize,
    truths: usize,
    found: usize,
}

fn prompts(n: usize) -> Vec<String> {
    let mut out = Vec::with_capacity(n);
    let scenes = builtin_scenes();
    let mut seed = 0;
    while out.len() < n {
        let generator = Generator::builder(Catalogue::builtin())
            .strategy(Strategy::Random { per_prompt: 1 })
            .seed(seed)
            .build()
            .expect("a generator");
        for (i, v) in generator
            .generate(scenes.clone().into_iter().map(Ok))
            .enumerate()
        {
            let v = v.expect("a variant");
            out.push(if (out.len() + i) % 5 == 4 {
                v.base_prompt
            } else {
                v.prompt
            });
            if out.len() == n {
                break;
            }
        }
        seed += 1;
    }
    out
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let n: usize = args.first().map_or(Ok(500), |a| a.parse())?;
    let profile = Profile::named_or_file(args.get(1).map_or("weak", String::as_str))?;
    let secs: u32 = args.get(2).map_or(Ok(2), |a| a.parse())?;
    let name = profile.name().to_owned();
    let sim = Simulator::new(profile)?.cache_clips(4);
    let analyzer = Analyzer::new();
    let prompts = prompts(n);
    let started = Instant::now();
    let results: Mutex<Vec<(GroundTruth, Vec<Finding>)>> = Mutex::new(Vec::new());
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
                        .push((video.truth.clone(), report.defects));
                }
            });
        }
    });
    let results = results.into_inner()?;
    let mut tally: BTreeMap<DefectKind, Tally> = DefectKind::ALL
        .iter()
        .map(|k| (*k, Tally::default()))
        .collect();
    let (mut clean, mut clean_flagged) = (0, 0);
    for (truth, findings) in &results {
        if truth.defects.is_empty() {
            clean += 1;
            clean_flagged += usize::from(!findings.is_empty());
        }
        for f in findings {
            let t = tally.get_mut(&f.kind).expect("a known kind");
            t.findings += 1;
            t.matching += usize::from(truth.defects.iter().any(|d| overlaps(f, d)));
        }
        for d in &truth.defects {
            let t = tally.get_mut(&d.kind).expect("a known kind");
            t.truths += 1;
            t.found += usize::from(findings.iter().any(|f| overlaps(f, d)));
        }
    }
    println!(
        "{} sim clips (profile {name}, 320x240, {secs} s at 24 fps) rendered, encoded, decoded and analysed in {:.0} s\n",
        results.len(),
        started.elapsed().as_secs_f64()
    );
    println!("| kind | true defects | findings | precision | recall | F1 |");
    println!("|---|---:|---:|---:|---:|---:|");
    let ratio = |a: usize, b: usize| {
        if b == 0 {
            f64::NAN
        } else {
            a as f64 / b as f64
        }
    };
    let mut all = Tally::default();
    for (kind, t) in &tally {
        let (p, r) = (ratio(t.matching, t.findings), ratio(t.found, t.truths));
        let f1 = if p + r > 0.0 {
            2.0 * p * r / (p + r)
        } else {
            0.0
        };
        println!(
            "| {kind} | {} | {} | {p:.2} | {r:.2} | {f1:.2} |",
            t.truths, t.findings
        );
        all.findings += t.findings;
        all.matching += t.matching;
        all.truths += t.truths;
        all.found += t.found;
    }
    let (p, r) = (
        ratio(all.matching, all.findings),
        ratio(all.found, all.truths),
    );
    println!(
        "| all | {} | {} | {p:.2} | {r:.2} | {:.2} |",
        all.truths,
        all.findings,
        2.0 * p * r / (p + r)
    );
    println!(
        "\nclean clips with any finding: {clean_flagged}/{clean} ({:.1} %)",
        100.0 * ratio(clean_flagged, clean)
    );

    // Where the unmatched findings come from, by scene.
    let mut by_scene: BTreeMap<String, (usize, BTreeMap<DefectKind, usize>)> = BTreeMap::new();
    for (truth, findings) in &results {
        let e = by_scene.entry(truth.scene.to_string()).or_default();
        e.0 += 1;
        for f in findings
            .iter()
            .filter(|f| !truth.defects.iter().any(|d| overlaps(f, d)))
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
    Ok(())
}
