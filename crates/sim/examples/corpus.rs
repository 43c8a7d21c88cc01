//! Renders simulator clips with their ground truth and writes them as a
//! labelled corpus folder:
//! `cargo run --release -p framebreak-sim --example corpus -- --out DIR [--clips N] [--first-seed S] [--profile weak] [--seconds 2] [--threads 2]`
//! (defaults: 200 clips from seed 0, profile `weak`, 2 s at 320x240, 2 threads).
//!
//! Prompts are built as in `eval_detectors`: built-in scenes, four in five
//! carrying one random trap, clip `i` rendered with seed `i`, so the two
//! examples see the same clip for the same seed. Each clip is written as
//! `DIR/clip_<seed>.mp4` (the simulator's own H.264 bytes) and described in
//! `DIR/labels.json`, a JSON array in the scorer's format: file, clean,
//! frames, defects (kind, 0-based inclusive start/end frame, bbox
//! `[x, y, w, h]` or null for the whole frame), family, background (the
//! scene), form (the traps, or `clean`), width, height, fps, split. Only the
//! eight visual kinds go into `defects`; a clip whose truth has a frozen
//! defect is marked `"clean": false, "frozen": true` so a consumer can drop it.
#![allow(clippy::print_stdout, clippy::print_stderr)]

use std::path::PathBuf;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

mod common;

use common::prompts;
use framebreak_client::VideoRequest;
use framebreak_sim::{GroundTruth, Profile, Simulator};
use framebreak_variants::DefectKind;
use serde::Serialize;

/// One defect as the scorer reads it.
#[derive(Serialize)]
struct Defect {
    kind: &'static str,
    start_frame: u64,
    end_frame: u64,
    bbox: Option<[u32; 4]>,
}

/// One clip's label, fields in the scorer's order.
#[derive(Serialize)]
struct Label {
    file: String,
    clean: bool,
    frames: u64,
    defects: Vec<Defect>,
    family: &'static str,
    background: String,
    form: String,
    width: u32,
    height: u32,
    fps: f64,
    split: &'static str,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    frozen: bool,
}

fn label(file: String, truth: &GroundTruth) -> Label {
    let frozen = truth.defects.iter().any(|d| d.kind == DefectKind::Frozen);
    let defects: Vec<Defect> = truth
        .defects
        .iter()
        .filter(|d| d.kind != DefectKind::Frozen)
        .map(|d| Defect {
            kind: d.kind.as_str(),
            start_frame: d.start_frame,
            end_frame: d.end_frame,
            bbox: d.bbox,
        })
        .collect();
    Label {
        file,
        clean: defects.is_empty() && !frozen,
        frames: truth.frames,
        defects,
        family: "sim",
        background: truth.scene.as_str().to_owned(),
        form: if truth.traps.is_empty() {
            "clean".to_owned()
        } else {
            truth.traps.join("+")
        },
        width: truth.width,
        height: truth.height,
        fps: truth.fps,
        split: "sim",
        frozen,
    }
}

struct Args {
    out: PathBuf,
    clips: usize,
    first_seed: usize,
    profile: String,
    seconds: u32,
    threads: usize,
}

fn parse_args() -> Result<Args, Box<dyn std::error::Error>> {
    let mut args = Args {
        out: PathBuf::new(),
        clips: 200,
        first_seed: 0,
        profile: "weak".to_owned(),
        seconds: 2,
        threads: 2,
    };
    let mut out = None;
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let mut value = || it.next().ok_or_else(|| format!("{flag} needs a value"));
        match flag.as_str() {
            "--out" => out = Some(PathBuf::from(value()?)),
            "--clips" => args.clips = value()?.parse()?,
            "--first-seed" => args.first_seed = value()?.parse()?,
            "--profile" => args.profile = value()?,
            "--seconds" => args.seconds = value()?.parse()?,
            "--threads" => args.threads = value()?.parse::<usize>()?.max(1),
            "-h" | "--help" => {
                println!(
                    "usage: corpus --out DIR [--clips N (200)] [--first-seed S (0)] [--profile weak] [--seconds 2] [--threads 2]"
                );
                std::process::exit(0);
            }
            other => return Err(format!("unknown argument {other:?}").into()),
        }
    }
    args.out = out.ok_or("--out DIR is required")?;
    Ok(args)
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args = parse_args()?;
    let profile = Profile::named_or_file(&args.profile)?;
    let name = profile.name().to_owned();
    let sim = Simulator::new(profile)?;
    std::fs::create_dir_all(&args.out)?;
    let prompts = prompts(args.first_seed + args.clips);
    let prompts = &prompts[args.first_seed..];
    let started = Instant::now();
    let results: Mutex<Vec<(usize, Label)>> = Mutex::new(Vec::with_capacity(args.clips));
    let next = AtomicUsize::new(0);
    let done = AtomicUsize::new(0);
    std::thread::scope(|s| {
        for _ in 0..args.threads {
            s.spawn(|| {
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let Some(prompt) = prompts.get(i) else { break };
                    let seed = args.first_seed + i;
                    let request = VideoRequest::new(prompt.as_str())
                        .size(320, 240)
                        .duration_secs(args.seconds)
                        .seed(seed as u64);
                    let video = sim.render(&request).expect("a clip");
                    let file = format!("clip_{seed:04}.mp4");
                    std::fs::write(args.out.join(&file), &video.mp4).expect("a written clip");
                    let l = label(file, &video.truth);
                    results.lock().expect("results").push((seed, l));
                    let n = done.fetch_add(1, Ordering::Relaxed) + 1;
                    if n.is_multiple_of(50) {
                        eprintln!(
                            "{n}/{} clips in {:.0} s",
                            prompts.len(),
                            started.elapsed().as_secs_f64()
                        );
                    }
                }
            });
        }
    });
    let mut results = results.into_inner()?;
    results.sort_by_key(|r| r.0);
    let lines = results
        .iter()
        .map(|(_, l)| serde_json::to_string(l))
        .collect::<Result<Vec<_>, _>>()?;
    let json = format!("[\n{}\n]\n", lines.join(",\n"));
    std::fs::write(args.out.join("labels.json"), json)?;
    let secs = started.elapsed().as_secs_f64();
    let clean = results.iter().filter(|(_, l)| l.clean).count();
    let frozen = results.iter().filter(|(_, l)| l.frozen).count();
    println!(
        "{} sim clips (profile {name}, 320x240, {} s, seeds {}..{}) written to {} in {secs:.1} s ({:.2} s per clip, {} threads): {clean} clean, {frozen} frozen",
        results.len(),
        args.seconds,
        args.first_seed,
        args.first_seed + results.len(),
        args.out.display(),
        secs / results.len().max(1) as f64,
        args.threads,
    );
    Ok(())
}
