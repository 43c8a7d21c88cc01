//! Training and calibrating a [`DecisionModel`] from labelled clips.
//!
//! Training is deterministic for a seed: weights start from a seeded
//! generator, batches are drawn in a seeded order, and every operation runs
//! on the CPU.

use candle_core::{Device, Tensor};
use candle_nn::{AdamW, Optimizer, ParamsAdamW};

use super::features::{FeatureMatrix, MODEL_FEATURES};
use super::model::{DECIDED, DecisionModel, KINDS, Net, tensor_err};
use crate::Error;
use framebreak_vocab::DefectKind;

/// A small seeded generator (SplitMix64): reproducible shuffles and weights
/// without another dependency.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    /// A generator for `seed`.
    pub fn new(seed: u64) -> Self {
        Rng(seed ^ 0x9E37_79B9_7F4A_7C15)
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `[0, 1)`.
    pub fn unit(&mut self) -> f32 {
        (self.next_u64() >> 40) as f32 / (1u64 << 24) as f32
    }

    /// Shuffles in place (Fisher–Yates).
    pub fn shuffle<T>(&mut self, items: &mut [T]) {
        for i in (1..items.len()).rev() {
            let j = (self.next_u64() % (i as u64 + 1)) as usize;
            items.swap(i, j);
        }
    }
}

/// One labelled clip: its features and, per frame, which decided kinds are
/// happening there.
#[derive(Debug, Clone)]
pub struct Example {
    /// A name for logs (the clip's file).
    pub name: String,
    /// The clip's features.
    pub features: FeatureMatrix,
    /// Per frame, per kind in the order of [`DECIDED`].
    pub labels: Vec<[bool; KINDS]>,
}

impl Example {
    /// An example whose labels are the frame ranges `defects` (kind, first,
    /// last inclusive); frozen and ranges past the end are ignored.
    pub fn new(
        name: impl Into<String>,
        features: FeatureMatrix,
        defects: &[(DefectKind, u64, u64)],
    ) -> Self {
        let n = features.len();
        let mut labels = vec![[false; KINDS]; n];
        for &(kind, a, b) in defects {
            let Some(k) = DECIDED.iter().position(|&d| d == kind) else {
                continue;
            };
            for row in labels
                .iter_mut()
                .take((b as usize + 1).min(n))
                .skip(a as usize)
            {
                row[k] = true;
            }
        }
        Example {
            name: name.into(),
            features,
            labels,
        }
    }

    /// True when no frame carries a defect.
    pub fn is_clean(&self) -> bool {
        self.labels.iter().all(|r| r.iter().all(|&l| !l))
    }

    fn has(&self, k: usize) -> bool {
        self.labels.iter().any(|r| r[k])
    }
}

/// How to train.
#[derive(Debug, Clone)]
pub struct TrainConfig {
    /// Hidden channels of each convolution.
    pub hidden: usize,
    /// Passes over the training clips.
    pub epochs: usize,
    /// Clips per step.
    pub batch: usize,
    /// AdamW learning rate.
    pub learning_rate: f64,
    /// AdamW weight decay.
    pub weight_decay: f64,
    /// Weight of a defect frame against a clean one in the loss.
    pub positive_weight: f32,
    /// Standard deviation of the noise added to the standardised features
    /// at every step (0: none): a regulariser against fitting one
    /// generator's exact numbers.
    pub input_noise: f32,
    /// Seed of the initial weights, the batch order and the noise.
    pub seed: u64,
}

impl Default for TrainConfig {
    fn default() -> Self {
        TrainConfig {
            hidden: 32,
            epochs: 20,
            batch: 16,
            learning_rate: 1e-3,
            weight_decay: 0.05,
            positive_weight: 4.0,
            input_noise: 1.0,
            seed: 20261206,
        }
    }
}

/// Per-feature mean and standard deviation over every frame of `examples`.
fn standardisation(examples: &[Example]) -> (Vec<f32>, Vec<f32>) {
    let mut sum = vec![0f64; MODEL_FEATURES];
    let mut sq = vec![0f64; MODEL_FEATURES];
    let mut n = 0f64;
    for e in examples {
        let t = e.features.len();
        let x = e.features.model_input();
        for f in 0..MODEL_FEATURES {
            for &v in &x[f * t..(f + 1) * t] {
                sum[f] += f64::from(v);
                sq[f] += f64::from(v) * f64::from(v);
            }
        }
        n += t as f64;
    }
    let n = n.max(1.0);
    let mean: Vec<f32> = sum.iter().map(|s| (s / n) as f32).collect();
    let std = sq
        .iter()
        .zip(&sum)
        .map(|(q, s)| ((q / n - (s / n).powi(2)).max(0.0).sqrt().max(0.05)) as f32)
        .collect();
    (mean, std)
}

/// A padded batch: input, labels, loss weights (0 on padding).
fn batch(
    examples: &[&Example],
    positive_weight: f32,
) -> candle_core::Result<(Tensor, Tensor, Tensor)> {
    let t = examples.iter().map(|e| e.features.len()).max().unwrap_or(1);
    let b = examples.len();
    let mut x = vec![0f32; b * MODEL_FEATURES * t];
    let mut y = vec![0f32; b * KINDS * t];
    let mut w = vec![0f32; b * KINDS * t];
    for (i, e) in examples.iter().enumerate() {
        let n = e.features.len();
        let input = e.features.model_input();
        for f in 0..MODEL_FEATURES {
            let dst = (i * MODEL_FEATURES + f) * t;
            x[dst..dst + n].copy_from_slice(&input[f * n..(f + 1) * n]);
        }
        for (frame, row) in e.labels.iter().enumerate() {
            for (k, &l) in row.iter().enumerate() {
                let at = (i * KINDS + k) * t + frame;
                y[at] = if l { 1.0 } else { 0.0 };
                w[at] = if l { positive_weight } else { 1.0 };
            }
        }
    }
    let dev = &Device::Cpu;
    Ok((
        Tensor::from_vec(x, (b, MODEL_FEATURES, t), dev)?,
        Tensor::from_vec(y, (b, KINDS, t), dev)?,
        Tensor::from_vec(w, (b, KINDS, t), dev)?,
    ))
}

/// Weighted binary cross-entropy on logits, summed and divided by the
/// weights' sum.
fn loss(logits: &Tensor, y: &Tensor, w: &Tensor) -> candle_core::Result<Tensor> {
    // max(z, 0) − z·y + ln(1 + e^−|z|): stable for any z.
    let per =
        (logits.relu()? - (logits * y)?)?.add(&(logits.abs()?.neg()?.exp()? + 1.0)?.log()?)?;
    (per * w)?.sum_all()?.broadcast_div(&w.sum_all()?)
}

/// Trains a model on `examples`; thresholds start at 0.5 (see
/// [`calibrate`]). `progress` hears each epoch's mean loss.
///
/// # Errors
/// [`Error::InvalidInput`] without examples; [`Error::Tensor`] if a tensor
/// operation fails.
pub fn train(
    examples: &[Example],
    config: &TrainConfig,
    mut progress: impl FnMut(usize, f32),
) -> Result<DecisionModel, Error> {
    if examples.is_empty() || config.batch == 0 {
        return Err(Error::InvalidInput {
            what: "training set".into(),
            reason: "it has no clips (or the batch size is 0)".into(),
        });
    }
    let (mean, std) = standardisation(examples);
    let dev = &Device::Cpu;
    let mean = Tensor::new(mean.as_slice(), dev).map_err(tensor_err)?;
    let std = Tensor::new(std.as_slice(), dev).map_err(tensor_err)?;
    let (net, vars) = Net::init(config.hidden, config.seed).map_err(tensor_err)?;
    let model = DecisionModel::new(net, mean, std, [0.5; KINDS]);
    let params = ParamsAdamW {
        lr: config.learning_rate,
        weight_decay: config.weight_decay,
        ..ParamsAdamW::default()
    };
    let mut opt = AdamW::new(vars, params).map_err(tensor_err)?;
    // Similar lengths share a batch, so little of it is padding.
    let mut order: Vec<usize> = (0..examples.len()).collect();
    order.sort_by_key(|&i| examples[i].features.len());
    let mut batches: Vec<Vec<&Example>> = order
        .chunks(config.batch)
        .map(|c| c.iter().map(|&i| &examples[i]).collect())
        .collect();
    let mut rng = Rng::new(config.seed.wrapping_add(1));
    let prepared: Vec<(Tensor, Tensor, Tensor)> = batches
        .iter_mut()
        .map(|b| {
            let (x, y, w) = batch(b, config.positive_weight)?;
            Ok((model.standardise(&x)?, y, w))
        })
        .collect::<candle_core::Result<_>>()
        .map_err(tensor_err)?;
    let mut steps: Vec<usize> = (0..prepared.len()).collect();
    for epoch in 0..config.epochs {
        rng.shuffle(&mut steps);
        let mut total = 0f32;
        for &s in &steps {
            let (x, y, w) = &prepared[s];
            let noisy;
            let x = if config.input_noise > 0.0 {
                let n = x.elem_count();
                // Sum of three uniforms: close enough to a normal, seeded.
                let noise: Vec<f32> = (0..n)
                    .map(|_| {
                        (rng.unit() + rng.unit() + rng.unit() - 1.5) * 2.0 * config.input_noise
                    })
                    .collect();
                noisy = (x + Tensor::from_vec(noise, x.shape(), &Device::Cpu)
                    .map_err(tensor_err)?)
                .map_err(tensor_err)?;
                &noisy
            } else {
                x
            };
            let l = loss(&model.net().forward(x).map_err(tensor_err)?, y, w).map_err(tensor_err)?;
            opt.backward_step(&l).map_err(tensor_err)?;
            total += l.to_scalar::<f32>().map_err(tensor_err)?;
        }
        progress(epoch, total / steps.len().max(1) as f32);
    }
    Ok(model)
}

/// What calibration chose and what it measured on the calibration clips.
#[derive(Debug, Clone, PartialEq)]
pub struct Calibration {
    /// Per kind, in the order of [`DECIDED`].
    pub thresholds: [f32; KINDS],
    /// Per kind F1 on the calibration clips at those thresholds.
    pub f1: [f64; KINDS],
    /// Share of clean calibration clips with any finding.
    pub clean_false_alarms: f64,
}

/// Sets each kind's threshold: the one with the best clip-level F1 on
/// `examples`, raised (all kinds together, by the same count of tolerated
/// clean clips) until at most `clean_fpr` of the clean examples draw any
/// finding.
///
/// # Errors
/// [`Error::Tensor`] if a tensor operation fails.
pub fn calibrate(
    model: &DecisionModel,
    examples: &[Example],
    clean_fpr: f64,
) -> Result<Calibration, Error> {
    let peaks = peaks(model, examples)?;
    let f1_at = |k: usize, th: f32| kind_f1(examples, &peaks, k, th);
    let grid: Vec<f32> = (1..100)
        .map(|i| i as f32 / 100.0)
        .chain([0.995, 0.999])
        .collect();
    let best: Vec<f32> = (0..KINDS)
        .map(|k| {
            grid.iter()
                .copied()
                .fold((0.5f32, -1.0f64), |(bt, bf), th| {
                    let f = f1_at(k, th);
                    if f > bf { (th, f) } else { (bt, bf) }
                })
                .0
        })
        .collect();
    let clean = clean_peaks(examples, &peaks);
    // The threshold that lets at most `budget` clean clips through for kind k.
    let strict = |k: usize, budget: usize| -> f32 {
        let mut v: Vec<f32> = clean.iter().map(|r| r[k].0).collect();
        v.sort_by(|a, b| b.total_cmp(a));
        v.get(budget).map_or(0.0, |&x| (x + 1e-4).min(1.0))
    };
    let alarms = |th: &[f32; KINDS]| clean_alarms(&clean, th);
    let mut thresholds = [0.5f32; KINDS];
    for budget in (0..=clean.len()).rev() {
        for k in 0..KINDS {
            thresholds[k] = best[k].max(strict(k, budget));
        }
        if alarms(&thresholds) <= clean_fpr {
            break;
        }
    }
    let mut f1 = [0f64; KINDS];
    for (k, slot) in f1.iter_mut().enumerate() {
        *slot = f1_at(k, thresholds[k]);
    }
    Ok(Calibration {
        thresholds,
        f1,
        clean_false_alarms: alarms(&thresholds),
    })
}

/// The model's own thresholds measured on `examples`, as [`calibrate`]
/// measures: per kind F1 (a clip counts when the kind's probability reaches
/// its threshold inside the labelled frames) and the share of clean clips
/// with any kind reaching its threshold.
///
/// # Errors
/// [`Error::Tensor`] if a tensor operation fails.
pub fn assess(model: &DecisionModel, examples: &[Example]) -> Result<Calibration, Error> {
    let peaks = peaks(model, examples)?;
    let thresholds = model.thresholds();
    let mut f1 = [0f64; KINDS];
    for (k, slot) in f1.iter_mut().enumerate() {
        *slot = kind_f1(examples, &peaks, k, thresholds[k]);
    }
    Ok(Calibration {
        thresholds,
        f1,
        clean_false_alarms: clean_alarms(&clean_peaks(examples, &peaks), &thresholds),
    })
}

/// Per example and kind: the highest probability anywhere, and inside the
/// kind's labelled frames (None when it has none).
type Peaks = Vec<[(f32, Option<f32>); KINDS]>;

fn peaks(model: &DecisionModel, examples: &[Example]) -> Result<Peaks, Error> {
    let mut peaks = Vec::with_capacity(examples.len());
    for e in examples {
        let p = model.probabilities(&e.features)?;
        let mut row = [(0f32, None); KINDS];
        for (k, slot) in row.iter_mut().enumerate() {
            let all = p.by_kind[k].iter().copied().fold(0f32, f32::max);
            let inside = e
                .labels
                .iter()
                .zip(&p.by_kind[k])
                .filter(|(l, _)| l[k])
                .map(|(_, &v)| v)
                .reduce(f32::max);
            *slot = (all, inside);
        }
        peaks.push(row);
    }
    Ok(peaks)
}

/// The peaks of the clean examples.
fn clean_peaks<'p>(examples: &[Example], peaks: &'p Peaks) -> Vec<&'p [(f32, Option<f32>); KINDS]> {
    examples
        .iter()
        .zip(peaks)
        .filter(|(e, _)| e.is_clean())
        .map(|(_, r)| r)
        .collect()
}

/// Share of clean clips where some kind reaches its threshold.
fn clean_alarms(clean: &[&[(f32, Option<f32>); KINDS]], thresholds: &[f32; KINDS]) -> f64 {
    let n = clean
        .iter()
        .filter(|r| (0..KINDS).any(|k| r[k].0 >= thresholds[k]))
        .count();
    if clean.is_empty() {
        0.0
    } else {
        n as f64 / clean.len() as f64
    }
}

/// Clip-level F1 of kind `k` at threshold `th`, scored as `score.py` does.
fn kind_f1(examples: &[Example], peaks: &Peaks, k: usize, th: f32) -> f64 {
    let (mut tp, mut fp, mut fneg) = (0f64, 0f64, 0f64);
    for (e, row) in examples.iter().zip(peaks) {
        let (all, inside) = row[k];
        match (e.has(k), inside) {
            (true, Some(i)) if i >= th => tp += 1.0,
            (true, _) => {
                fneg += 1.0;
                if all >= th {
                    fp += 1.0;
                }
            }
            (false, _) if all >= th => fp += 1.0,
            _ => {}
        }
    }
    if tp == 0.0 {
        0.0
    } else {
        2.0 * tp / (2.0 * tp + fp + fneg)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::learned::BASE_FEATURES;

    /// Clips whose feature 3 jumps on the frames of a flicker.
    fn synthetic(n: usize, seed: u64) -> Vec<Example> {
        let mut rng = Rng::new(seed);
        (0..n)
            .map(|i| {
                let frames = 24 + (i % 9);
                let start = 4 + (rng.next_u64() % 10) as usize;
                let defect = i % 2 == 0;
                let rows = (0..frames)
                    .map(|t| {
                        let mut r = [0f32; BASE_FEATURES];
                        for v in r.iter_mut() {
                            *v = rng.unit() * 0.2;
                        }
                        if defect && (start..start + 3).contains(&t) {
                            r[3] += 3.0;
                        }
                        r
                    })
                    .collect();
                let labels: Vec<(DefectKind, u64, u64)> = if defect {
                    vec![(DefectKind::Flicker, start as u64, start as u64 + 2)]
                } else {
                    vec![]
                };
                Example::new(format!("clip{i}"), FeatureMatrix::from_rows(rows), &labels)
            })
            .collect()
    }

    #[test]
    fn the_nets_gradients_match_finite_differences() {
        let data = synthetic(4, 3);
        let refs: Vec<&Example> = data.iter().collect();
        let (x, y, w) = batch(&refs, 4.0).unwrap();
        let (net, vars) = Net::init(6, 9).unwrap();
        let model = DecisionModel::new(
            net,
            Tensor::zeros(MODEL_FEATURES, candle_core::DType::F32, &Device::Cpu).unwrap(),
            Tensor::ones(MODEL_FEATURES, candle_core::DType::F32, &Device::Cpu).unwrap(),
            [0.5; KINDS],
        );
        let at = |m: &DecisionModel| -> f64 {
            f64::from(
                loss(&m.net().forward(&x).unwrap(), &y, &w)
                    .unwrap()
                    .to_scalar::<f32>()
                    .unwrap(),
            )
        };
        let l0 = loss(&model.net().forward(&x).unwrap(), &y, &w).unwrap();
        let grads = l0.backward().unwrap();
        for v in &vars {
            let g = grads
                .get(v.as_tensor())
                .unwrap()
                .flatten_all()
                .unwrap()
                .to_vec1::<f32>()
                .unwrap();
            let orig = v
                .as_tensor()
                .flatten_all()
                .unwrap()
                .to_vec1::<f32>()
                .unwrap();
            for idx in [0, orig.len() / 2, orig.len() - 1] {
                // Central differences, small enough not to cross a ReLU's
                // kink, large enough for f32.
                let loss_at = |delta: f32| {
                    let mut p = orig.clone();
                    p[idx] += delta;
                    v.set(&Tensor::from_vec(p, v.shape(), &Device::Cpu).unwrap())
                        .unwrap();
                    at(&model)
                };
                let numeric = (loss_at(2e-3) - loss_at(-2e-3)) / 4e-3;
                v.set(&Tensor::from_vec(orig.clone(), v.shape(), &Device::Cpu).unwrap())
                    .unwrap();
                let analytic = f64::from(g[idx]);
                assert!(
                    (numeric - analytic).abs() <= 2e-3 + 0.05 * analytic.abs(),
                    "{:?}[{idx}]: numeric {numeric}, analytic {analytic}",
                    v.shape()
                );
            }
        }
    }

    #[test]
    fn training_lowers_the_loss_and_separates_the_kind() {
        let data = synthetic(64, 1);
        let mut losses = Vec::new();
        let config = TrainConfig {
            hidden: 8,
            epochs: 30,
            batch: 8,
            learning_rate: 3e-3,
            ..TrainConfig::default()
        };
        let model = train(&data, &config, |_, l| losses.push(l)).unwrap();
        assert!(losses.last().unwrap() < &(losses[0] * 0.7), "{losses:?}");
        let test = synthetic(32, 2);
        let cal = calibrate(&model, &test, 0.1).unwrap();
        assert!(cal.f1[2] > 0.8, "{cal:?}");
    }
}
