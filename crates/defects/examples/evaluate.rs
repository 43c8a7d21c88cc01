//! Scores the detectors on the evaluation set made by
//! `scripts/eval_make.py`: `cargo run --release -p framebreak-defects
//! --example evaluate -- .work/eval/test`.
//!
//! A finding matches a true defect of its kind when their frame ranges
//! overlap (one frame of slack). Per kind it prints precision (findings
//! that match), recall (true defects found) and F1; then the share of clean
//! clips with any finding at all.
#![allow(clippy::print_stdout, clippy::print_stderr)]

use std::path::{Path, PathBuf};
use std::time::Instant;

use framebreak_defects::eval::{Evaluation, TrueDefect};
use framebreak_defects::{Evidence, Finding, default_detectors};
use framebreak_media::{Clip, ClipInfo, Frame};
use framebreak_vocab::DefectKind;

#[derive(serde::Deserialize)]
struct Truth {
    kind: Option<DefectKind>,
    fps: f64,
    defects: Vec<TrueDefect>,
}

fn load(dir: &Path) -> Result<(Clip, Truth), Box<dyn std::error::Error>> {
    let truth: Truth = serde_json::from_slice(&std::fs::read(dir.join("truth.json"))?)?;
    let mut pngs: Vec<PathBuf> = std::fs::read_dir(dir)?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "png"))
        .collect();
    pngs.sort();
    let mut frames = Vec::new();
    for (i, p) in pngs.iter().enumerate() {
        let img = image::open(p)?.to_rgb8();
        let (w, h) = img.dimensions();
        frames.push(Frame::from_rgb8(
            i as u64,
            i as f64 / truth.fps,
            w,
            h,
            img.into_raw(),
        )?);
    }
    let (width, height) = (frames[0].width(), frames[0].height());
    let info = ClipInfo {
        width,
        height,
        fps: truth.fps,
        frame_count: Some(frames.len() as u64),
        codec: "png-sequence".into(),
    };
    Ok((Clip { info, frames }, truth))
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let root = PathBuf::from(
        std::env::args()
            .nth(1)
            .unwrap_or_else(|| ".work/eval/test".into()),
    );
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(&root)?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.is_dir())
        .collect();
    dirs.sort();
    let detectors = default_detectors();
    // One frame of slack: the set's spans are drawn by hand.
    let mut eval = Evaluation::new(1);
    let verbose = std::env::var_os("VERBOSE").is_some();
    let started = Instant::now();
    for dir in &dirs {
        let (clip, truth) = load(dir)?;
        let ev = Evidence::new(&clip)?;
        let findings: Vec<Finding> = detectors.iter().flat_map(|d| d.detect(&ev)).collect();
        if verbose {
            let kinds: Vec<String> = findings
                .iter()
                .map(|f| {
                    format!(
                        "{}[{}-{}]{:?}",
                        f.kind,
                        f.start_frame,
                        f.end_frame,
                        f.bbox.map(<[u32; 4]>::from)
                    )
                })
                .collect();
            println!(
                "{}: {}",
                dir.file_name().unwrap_or_default().to_string_lossy(),
                kinds.join(" ")
            );
        }
        eval.add_clip_marked(&findings, &truth.defects, truth.kind.is_none());
    }
    println!(
        "{} clips from {} in {:.1} s\n",
        dirs.len(),
        root.display(),
        started.elapsed().as_secs_f64()
    );
    println!(
        "| kind | true defects | findings | precision | recall | F1 | findings on clean clips |"
    );
    println!("|---|---:|---:|---:|---:|---:|---:|");
    let show = |v: Option<f64>| v.map_or_else(|| "NaN".into(), |v| format!("{v:.2}"));
    for (kind, t) in eval.per_kind() {
        println!(
            "| {kind} | {} | {} | {} | {} | {:.2} | {} |",
            t.truths,
            t.findings,
            show(t.precision()),
            show(t.recall()),
            // An undefined precision or recall makes no F1: shown as 0.
            t.f1().unwrap_or(0.0),
            t.on_clean
        );
    }
    let (clean, clean_flagged) = (eval.clean_clips(), eval.clean_flagged());
    println!(
        "\nclean clips with any finding: {clean_flagged}/{clean} ({:.1} %)",
        100.0 * clean_flagged as f64 / clean as f64
    );
    Ok(())
}
