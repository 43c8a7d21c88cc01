//! `framebreak analyze`: videos in, one JSON report per video out.

use std::io::Write;
use std::path::PathBuf;

use anyhow::Context;
use framebreak::ResultRow;
use framebreak::defects::{Analyzer, Compute, DecisionModel};
use framebreak::gpu::{DeviceId, candle_device};
use framebreak::media::{ReadOptions, Resize, Sampling};
use framebreak::report::{self, Digest, HtmlOptions};

use crate::exit::Usage;

#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// Videos: MP4 (H.264), GIF, APNG, WebP, or folders of numbered frames.
    #[arg(required = true, value_name = "FILE")]
    files: Vec<PathBuf>,

    /// Where metrics run: `cpu` or `cuda:N` (needs a build with `--features cuda`).
    #[arg(long, value_name = "DEVICE", default_value = "cpu")]
    device: String,

    /// Analyse frames at this rate instead of every frame.
    #[arg(long, value_name = "FPS", conflicts_with = "every")]
    fps: Option<f64>,

    /// Analyse every N-th frame.
    #[arg(long, value_name = "N")]
    every: Option<u32>,

    /// Analysis size: the longest side in pixels (`320`) or `WxH`.
    #[arg(long, value_name = "SIZE", default_value = "320")]
    size: String,

    /// Analyse at most this many frames per video.
    #[arg(long, value_name = "N")]
    max_frames: Option<usize>,

    /// Decide with these weights (a safetensors file written by the
    /// defects crate's `train_decisions` example) instead of the shipped ones.
    #[arg(long, value_name = "FILE", conflicts_with = "hand_thresholds")]
    decisions: Option<PathBuf>,

    /// Report the hand-written detectors' findings at their own thresholds,
    /// without the learned decision (for comparison).
    #[arg(long)]
    hand_thresholds: bool,

    /// Also write a one-page HTML report of these videos (contact sheets
    /// of the worst ones, defect rates, score distributions).
    #[arg(long, value_name = "FILE")]
    html: Option<PathBuf>,
}

/// The device is the gpu crate's to name and open; defects computes on it.
fn device(name: &str) -> anyhow::Result<Compute> {
    let id: DeviceId = name.parse().map_err(|e| Usage(format!("--device: {e}")))?;
    let device = candle_device(id).with_context(|| format!("--device {name}"))?;
    Ok(Compute::new(device))
}

fn size(text: &str) -> anyhow::Result<Resize> {
    let bad = || {
        Usage(format!(
            "--size {text:?}: expected a longest side (`320`) or `WxH` (`320x240`)"
        ))
    };
    let resize = match text.parse::<framebreak::client::Size>() {
        Ok(size) => Resize::Exact {
            width: size.width,
            height: size.height,
        },
        Err(_) if text.contains(['x', 'X']) => return Err(bad().into()),
        Err(_) => Resize::MaxSide(text.parse().map_err(|_| bad())?),
    };
    Ok(resize)
}

/// Analyses every file; `Ok(false)` when some could not be (each one's cause
/// is already on standard error, one line each).
pub(crate) fn run(args: Args) -> anyhow::Result<bool> {
    let sampling = match (args.fps, args.every) {
        (Some(fps), _) => Sampling::TargetFps(fps),
        (None, Some(n)) => Sampling::EveryNth(n),
        (None, None) => Sampling::Every,
    };
    let read = ReadOptions {
        sampling,
        resize: Some(size(&args.size)?),
        max_frames: args.max_frames,
    };
    read.validate().map_err(|e| Usage(e.to_string()))?;
    let mut analyzer = Analyzer::new()
        .compute(device(&args.device)?)
        .read_options(read);
    if let Some(path) = &args.decisions {
        let bytes = std::fs::read(path)
            .map_err(|e| Usage(format!("--decisions {}: {e}", path.display())))?;
        let model = DecisionModel::from_safetensors(&bytes, &path.display().to_string())
            .map_err(|e| Usage(format!("--decisions: {e}")))?;
        analyzer = analyzer.decisions(model);
    }
    if args.hand_thresholds {
        analyzer = analyzer.without_decisions();
    }
    let stdout = std::io::stdout();
    let mut failed = false;
    let options = HtmlOptions::new(".");
    // The HTML report's figures and worst videos, gathered as files pass.
    let mut digest = args.html.as_ref().map(|_| Digest::new(options.top_n));
    for file in &args.files {
        match analyzer.analyze_file(file) {
            Ok(report) => {
                if let Some(digest) = &mut digest {
                    digest.add(&ResultRow::from_analysis(
                        &file.display().to_string(),
                        report.clone(),
                    ));
                }
                let mut out = stdout.lock();
                writeln!(out, "{}", report.to_json_line())
                    .and_then(|()| out.flush())
                    .context("writing the report")?;
            }
            Err(e) => {
                // Every other file is still analysed; one line per failure.
                let cause = e
                    .to_string()
                    .split_whitespace()
                    .collect::<Vec<_>>()
                    .join(" ");
                let name = file.display().to_string();
                if cause.contains(&name) {
                    eprintln!("error: {cause}");
                } else {
                    eprintln!("error: {name}: {cause}");
                }
                failed = true;
            }
        }
    }
    if let (Some(path), Some(digest)) = (&args.html, &digest) {
        let options = options.title(format!("framebreak analyze: {} videos", digest.rows()));
        let page = report::html_from(digest, &options).context("writing the HTML report")?;
        let mut out = framebreak::report::Output::open(Some(path))?;
        out.writer()
            .write_all(page.as_bytes())
            .with_context(|| format!("writing {}", path.display()))?;
        out.finish()?;
    }
    Ok(!failed)
}
