//! Trains the decision model from labelled corpora, calibrates its
//! thresholds for a clean false-alarm rate, and writes the weights:
//!
//! ```sh
//! cargo run --release -p framebreak-defects --example train_decisions -- \
//!     --train .work/train/tune-101 --calibrate .work/train/calib-102 \
//!     --out crates/defects/model/decisions.safetensors
//! ```
//!
//! Each folder holds clips and a `labels.json` in the format of
//! `scripts/score.py` (as `scripts/corpus.py` writes it). Features are
//! measured once per folder and kept beside it (`features.<version>.json`),
//! so a second run with other settings only trains. Clips are read as
//! `framebreak analyze` reads them by default (longest side 320 px). Options: `--seed N`,
//! `--epochs N`, `--hidden N`, `--lr F`, `--weight-decay F`, `--noise F`
//! (input noise while training), `--clean-fpr F` (share of clean
//! calibration clips allowed a finding, default 0.02), `--limit N` (clips
//! per folder), `--evaluate DIR[,DIR…]` (print the calibrated model's
//! clip-level F1 and clean false alarms on more labelled folders).
#![allow(clippy::print_stdout, clippy::print_stderr)]

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::Instant;

use framebreak_defects::learned::{
    BASE_FEATURES, Calibration, DECIDED, Example, FEATURES_VERSION, FeatureMatrix, TrainConfig,
    assess, calibrate, train,
};
use framebreak_defects::{Analyzer, Error};
use framebreak_media::{ReadOptions, Resize, read_clip};
use framebreak_vocab::DefectKind;
use serde::{Deserialize, Serialize};

#[derive(Deserialize)]
struct Label {
    file: String,
    #[serde(default)]
    defects: Vec<Defect>,
}

#[derive(Deserialize)]
struct Defect {
    kind: String,
    start_frame: u64,
    end_frame: u64,
}

#[derive(Serialize, Deserialize, Default)]
struct Cache {
    version: String,
    clips: HashMap<String, Vec<Vec<f32>>>,
}

struct Args {
    train: Vec<PathBuf>,
    calibrate: Vec<PathBuf>,
    evaluate: Vec<PathBuf>,
    out: PathBuf,
    config: TrainConfig,
    clean_fpr: f64,
    limit: Option<usize>,
}

fn args() -> Result<Args, String> {
    let mut a = Args {
        train: Vec::new(),
        calibrate: Vec::new(),
        evaluate: Vec::new(),
        out: PathBuf::from("crates/defects/model/decisions.safetensors"),
        config: TrainConfig::default(),
        clean_fpr: 0.02,
        limit: None,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let mut value = || it.next().ok_or(format!("{flag} needs a value"));
        let number = |v: String| {
            v.parse::<f64>()
                .map_err(|_| format!("{flag}: {v:?} is not a number"))
        };
        match flag.as_str() {
            "--train" => a.train.extend(value()?.split(',').map(PathBuf::from)),
            "--calibrate" => a.calibrate.extend(value()?.split(',').map(PathBuf::from)),
            "--evaluate" => a.evaluate.extend(value()?.split(',').map(PathBuf::from)),
            "--out" => a.out = PathBuf::from(value()?),
            "--noise" => a.config.input_noise = number(value()?)? as f32,
            "--weight-decay" => a.config.weight_decay = number(value()?)?,
            "--lr" => a.config.learning_rate = number(value()?)?,
            "--seed" => a.config.seed = number(value()?)? as u64,
            "--epochs" => a.config.epochs = number(value()?)? as usize,
            "--hidden" => a.config.hidden = number(value()?)? as usize,
            "--clean-fpr" => a.clean_fpr = number(value()?)?,
            "--limit" => a.limit = Some(number(value()?)? as usize),
            other => return Err(format!("unknown option {other}")),
        }
    }
    if a.train.is_empty() || a.calibrate.is_empty() {
        return Err("give --train DIR[,DIR…] and --calibrate DIR[,DIR…]".into());
    }
    Ok(a)
}

fn load(dir: &Path, limit: Option<usize>) -> Result<Vec<Example>, Box<dyn std::error::Error>> {
    let labels: Vec<Label> = serde_json::from_slice(&std::fs::read(dir.join("labels.json"))?)
        .map_err(|e| format!("{}: {e}", dir.join("labels.json").display()))?;
    let labels: Vec<Label> = labels
        .into_iter()
        .take(limit.unwrap_or(usize::MAX))
        .collect();
    // Read as `framebreak analyze` reads by default: longest side 320.
    let read = ReadOptions {
        resize: Some(Resize::MaxSide(320)),
        ..ReadOptions::default()
    };
    let cache_path = dir.join(format!("features.{FEATURES_VERSION}-320.json"));
    let mut cache: Cache = std::fs::read(&cache_path)
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok())
        .filter(|c: &Cache| c.version == FEATURES_VERSION)
        .unwrap_or_default();
    cache.version = FEATURES_VERSION.into();
    let missing: Vec<&Label> = labels
        .iter()
        .filter(|l| !cache.clips.contains_key(&l.file))
        .collect();
    if !missing.is_empty() {
        use rayon::prelude::*;
        let t0 = Instant::now();
        let analyzer = Analyzer::new();
        let measured: Vec<(String, Result<FeatureMatrix, Error>)> = missing
            .par_iter()
            .map(|l| {
                let clip = read_clip(&dir.join(&l.file), &read);
                (
                    l.file.clone(),
                    clip.map_err(Error::from)
                        .and_then(|c| analyzer.features(&c)),
                )
            })
            .collect();
        for (file, m) in measured {
            let m = m.map_err(|e| format!("{}: {e}", dir.join(&file).display()))?;
            cache
                .clips
                .insert(file, m.rows().iter().map(|r| r.to_vec()).collect());
        }
        eprintln!(
            "{}: features of {} clips in {:.0} s",
            dir.display(),
            missing.len(),
            t0.elapsed().as_secs_f64()
        );
        std::fs::write(&cache_path, serde_json::to_vec(&cache)?)?;
    }
    let mut out = Vec::new();
    for l in &labels {
        let rows = cache.clips[&l.file]
            .iter()
            .map(|r| {
                <[f32; BASE_FEATURES]>::try_from(r.as_slice())
                    .map_err(|_| format!("{}: cached row of {} features", l.file, r.len()))
            })
            .collect::<Result<Vec<_>, _>>()?;
        let defects = l
            .defects
            .iter()
            .map(|d| {
                let kind: DefectKind = d.kind.parse().map_err(|e| format!("{}: {e}", l.file))?;
                Ok((kind, d.start_frame, d.end_frame))
            })
            .collect::<Result<Vec<_>, String>>()?;
        out.push(Example::new(
            l.file.clone(),
            FeatureMatrix::from_rows(rows),
            &defects,
        ));
    }
    Ok(out)
}

/// Thresholds, then per set the F1 of each kind, the macro-F1 and the share
/// of clean clips with a finding (clip level, as `scripts/score.py` counts).
fn table(columns: &[(String, Calibration)]) {
    for (i, (name, _)) in columns.iter().enumerate() {
        println!("[{i}] {name}");
    }
    print!("{:<22}{:>9}", "kind", "threshold");
    for i in 0..columns.len() {
        print!("{:>8}", format!("F1[{i}]"));
    }
    println!();
    for (k, kind) in DECIDED.iter().enumerate() {
        print!("{:<22}{:>9.3}", kind.as_str(), columns[0].1.thresholds[k]);
        for (_, c) in columns {
            print!("{:>8.2}", c.f1[k]);
        }
        println!();
    }
    print!("{:<31}", "macro-F1");
    for (_, c) in columns {
        print!("{:>8.3}", c.f1.iter().sum::<f64>() / c.f1.len() as f64);
    }
    println!();
    print!("{:<31}", "clean clips with a finding");
    for (_, c) in columns {
        print!("{:>8.3}", c.clean_false_alarms);
    }
    println!();
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let a = args().map_err(|e| format!("train_decisions: {e}"))?;
    let mut training = Vec::new();
    for d in &a.train {
        training.extend(load(d, a.limit)?);
    }
    let mut calibration = Vec::new();
    for d in &a.calibrate {
        calibration.extend(load(d, a.limit)?);
    }
    eprintln!(
        "training on {} clips ({} clean), calibrating on {} ({} clean)",
        training.len(),
        training.iter().filter(|e| e.is_clean()).count(),
        calibration.len(),
        calibration.iter().filter(|e| e.is_clean()).count()
    );
    let t0 = Instant::now();
    let model = train(&training, &a.config, |epoch, loss| {
        if epoch % 5 == 4 {
            eprintln!("epoch {:>3}: loss {loss:.4}", epoch + 1);
        }
    })?;
    eprintln!("trained in {:.0} s", t0.elapsed().as_secs_f64());
    let cal = calibrate(&model, &calibration, a.clean_fpr)?;
    let model = model.with_thresholds(cal.thresholds);
    let mut columns = vec![("calibration".to_owned(), cal)];
    for d in &a.evaluate {
        columns.push((d.display().to_string(), assess(&model, &load(d, a.limit)?)?));
    }
    table(&columns);
    if let Some(parent) = a.out.parent() {
        std::fs::create_dir_all(parent)?;
    }
    std::fs::write(&a.out, model.to_safetensors()?)?;
    println!("wrote {}", a.out.display());
    Ok(())
}
