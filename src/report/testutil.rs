//! Rows for the report tests: hand-made ones for the statistics, and rows
//! of real simulated MP4s, analysed, for pictures.

use std::path::Path;

use framebreak_client::VideoRequest;
use framebreak_defects::{Analyzer, Finding, MetricsSummary, Scores, VideoReport};
use framebreak_scheduler::FailureCategory;
use framebreak_sim::{Profile, Simulator};
use framebreak_variants::{DefectKind, Family};

use crate::{ResultRow, RowFailure, RowStatus};

/// A done, analysed row with these traps and findings.
pub(crate) fn row(
    job: &str,
    base: &str,
    traps: &[&str],
    defects: &[(DefectKind, u64, u64)],
    physics: f64,
    realism: f64,
) -> ResultRow {
    let mut families = Vec::new();
    for t in traps {
        let f = if t.starts_with("physics.") {
            Family::Physics
        } else {
            Family::Coherence
        };
        if !families.contains(&f) {
            families.push(f);
        }
    }
    ResultRow {
        job: job.into(),
        base_id: base.into(),
        base_prompt: format!("scene {base}"),
        prompt: format!("scene {base} with {}", traps.join(" and ")),
        control: traps.is_empty(),
        traps: traps.iter().map(|t| (*t).to_owned()).collect(),
        families,
        backend: "sim".into(),
        model: Some("weak".into()),
        status: RowStatus::Done,
        failure: None,
        attempts: 0,
        remote_id: Some(format!("sim-{job}")),
        video: None,
        analysis: Some(VideoReport {
            file: format!("{job}.mp4"),
            frames: 24,
            fps: 24.0,
            width: 320,
            height: 240,
            defects: defects
                .iter()
                .map(|&(k, s, e)| Finding::new(k, s, e, 0.8))
                .collect(),
            metrics: MetricsSummary {
                psnr_mean: 30.0,
                ssim_mean: 0.9,
                warp_error: 0.01,
                flicker_index: 0.02,
            },
            scores: Scores { physics, realism },
        }),
        truth: None,
        cost: None,
    }
}

/// A row whose job failed for good.
pub(crate) fn failed(job: &str, category: FailureCategory, message: &str) -> ResultRow {
    ResultRow {
        status: RowStatus::Failed,
        failure: Some(RowFailure {
            category,
            message: message.into(),
        }),
        analysis: None,
        remote_id: None,
        ..row(job, "b-failed", &["physics.zero_g"], &[], 0.0, 0.0)
    }
}

/// A real simulated 128×96, one-second MP4 of `prompt`, written to
/// `dir/<job>.mp4` and analysed; the row carries the simulator's truth.
pub(crate) fn sim_row(
    dir: &Path,
    job: &str,
    base: &str,
    traps: &[&str],
    prompt: &str,
    seed: u64,
) -> ResultRow {
    let sim = Simulator::new(Profile::weak()).unwrap();
    let request = VideoRequest::new(prompt)
        .size(128, 96)
        .duration_secs(1)
        .seed(seed);
    let video = sim.render(&request).unwrap();
    let file = format!("{job}.mp4");
    std::fs::write(dir.join(&file), &video.mp4).unwrap();
    let analysis = Analyzer::new().analyze_file(&dir.join(&file)).unwrap();
    ResultRow {
        prompt: prompt.into(),
        video: Some(file),
        analysis: Some(analysis),
        truth: Some(video.truth.clone()),
        cost: None,
        ..row(job, base, traps, &[], 0.0, 0.0)
    }
}
