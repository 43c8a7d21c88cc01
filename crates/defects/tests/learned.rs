//! The learned decision end to end: features of real clips, training,
//! weights through safetensors, and the analyzer deciding with them.

use framebreak_defects::learned::{DECIDED, Example, TrainConfig, calibrate, train};
use framebreak_defects::{Analyzer, DecisionModel, Error};
use framebreak_media::{Clip, ClipInfo, Frame};
use framebreak_vocab::DefectKind;

const W: u32 = 64;
const H: u32 = 48;
const FRAMES: u64 = 20;

/// A textured scene panning one pixel a frame; with `pulse`, frames
/// `pulse..pulse + 2` are 25 % brighter (a flicker).
fn clip(seed: u64, pulse: Option<u64>) -> Clip {
    let phase = seed as f64 * 0.7;
    let frames = (0..FRAMES)
        .map(|i| {
            let gain = if pulse.is_some_and(|p| (p..p + 2).contains(&i)) {
                1.25
            } else {
                1.0
            };
            let mut data = Vec::with_capacity((W * H * 3) as usize);
            for y in 0..H {
                for x in 0..W {
                    let (xf, yf) = (f64::from(x) + i as f64 + phase, f64::from(y));
                    let v = 110.0
                        + 40.0 * (xf * 0.23).sin() * (yf * 0.19 + phase).cos()
                        + 25.0 * ((xf + yf) * 0.11).sin();
                    let v = (v * gain).clamp(0.0, 255.0) as u8;
                    data.extend([v, v.saturating_sub(10), v.saturating_add(5)]);
                }
            }
            Frame::from_rgb8(i, i as f64 / 24.0, W, H, data)
        })
        .collect::<Result<Vec<_>, _>>()
        .unwrap();
    let info = ClipInfo {
        width: W,
        height: H,
        fps: 24.0,
        frame_count: Some(FRAMES),
        codec: "raw".into(),
    };
    Clip { info, frames }
}

fn examples(seeds: std::ops::Range<u64>) -> Vec<Example> {
    let analyzer = Analyzer::new();
    seeds
        .map(|s| {
            let pulse = (s % 2 == 0).then_some(5 + s % 9);
            let features = analyzer.features(&clip(s, pulse)).unwrap();
            let labels: Vec<(DefectKind, u64, u64)> = pulse
                .map(|p| (DefectKind::Flicker, p, p + 1))
                .into_iter()
                .collect();
            Example::new(format!("clip {s}"), features, &labels)
        })
        .collect()
}

#[test]
fn a_model_retrained_on_a_tiny_corpus_finds_its_kind_and_passes_clean_clips() {
    let config = TrainConfig {
        hidden: 8,
        epochs: 30,
        batch: 8,
        learning_rate: 3e-3,
        ..TrainConfig::default()
    };
    let model = train(&examples(0..32), &config, |_, _| {}).unwrap();
    let cal = calibrate(&model, &examples(100..116), 0.0).unwrap();
    assert_eq!(cal.clean_false_alarms, 0.0, "{cal:?}");
    let flicker = DECIDED
        .iter()
        .position(|&k| k == DefectKind::Flicker)
        .unwrap();
    assert!(cal.f1[flicker] >= 0.8, "{cal:?}");
    // Through safetensors and into the analyzer, as a user would load it.
    let bytes = model
        .with_thresholds(cal.thresholds)
        .to_safetensors()
        .unwrap();
    let analyzer =
        Analyzer::new().decisions(DecisionModel::from_safetensors(&bytes, "retrained").unwrap());
    let found = analyzer
        .analyze_clip("pulse", &clip(201, Some(9)))
        .unwrap()
        .defects;
    assert!(
        found
            .iter()
            .any(|f| f.kind == DefectKind::Flicker && f.start_frame <= 10 && f.end_frame >= 9),
        "{found:?}"
    );
    let clean = analyzer
        .analyze_clip("clean", &clip(203, None))
        .unwrap()
        .defects;
    assert!(
        clean.iter().all(|f| f.kind != DefectKind::Flicker),
        "{clean:?}"
    );
}

#[test]
fn the_shipped_weights_load_and_round_trip() {
    let model = DecisionModel::embedded().unwrap();
    assert!(model.thresholds().iter().all(|&t| t > 0.0 && t <= 1.0));
    let again = DecisionModel::from_safetensors(&model.to_safetensors().unwrap(), "copy").unwrap();
    let features = Analyzer::new().features(&clip(7, Some(6))).unwrap();
    assert_eq!(
        model.probabilities(&features).unwrap(),
        again.probabilities(&features).unwrap()
    );
}

#[test]
fn unusable_weights_are_a_typed_error_naming_their_source() {
    let err = DecisionModel::from_safetensors(b"not safetensors", "w.safetensors").unwrap_err();
    assert!(matches!(err, Error::Weights { .. }), "{err}");
    assert!(err.to_string().contains("w.safetensors"), "{err}");
    // Weights made for other features: a tensor of the wrong shape.
    let mut tensors = std::collections::HashMap::new();
    tensors.insert(
        "c1.weight".to_owned(),
        candle_core::Tensor::zeros((10, 4), candle_core::DType::F32, &candle_core::Device::Cpu)
            .unwrap(),
    );
    let path = std::env::temp_dir().join(format!("fb-bad-weights-{}", std::process::id()));
    candle_core::safetensors::save(&tensors, &path).unwrap();
    let bytes = std::fs::read(&path).unwrap();
    std::fs::remove_file(&path).unwrap();
    let err = DecisionModel::from_safetensors(&bytes, "old.safetensors").unwrap_err();
    assert!(err.to_string().contains("old.safetensors"), "{err}");
}
