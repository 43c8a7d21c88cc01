//! The learned decision: a tiny temporal convolution net over the per-frame
//! features, one calibrated probability per decided kind and frame.
//!
//! Layout (all `f32`, one safetensors file):
//!
//! | tensor | shape | what |
//! |---|---|---|
//! | `c1.weight`, `c1.bias` | `[5·MODEL_FEATURES, H]`, `[H]` | convolution over ±2 frames |
//! | `c2.weight`, `c2.bias` | `[5·H, H]`, `[H]` | dilation 2: ±4 more frames |
//! | `c3.weight`, `c3.bias` | `[5·H, H]`, `[H]` | dilation 4: ±8 more frames |
//! | `head.weight`, `head.bias` | `[H, KINDS]`, `[KINDS]` | one logit per kind |
//!
//! A convolution's weight row `j·C + c` multiplies channel `c` at tap `j`
//! (frame `t + (j − 2)·dilation`). The convolutions are written as a
//! gather of taps and one matrix product (candle's `conv1d` gradient was
//! measured wrong against finite differences for these shapes).
//! | `norm.mean`, `norm.std` | `[MODEL_FEATURES]` | input standardisation |
//! | `thresholds` | `[KINDS]` | per-kind decision threshold on the probability |
//!
//! Each frame therefore sees 29 frames around it: enough for a sag or a fade
//! spread over a second, short enough that a defect is placed in time.

use std::collections::HashMap;

use candle_core::{DType, Device, Tensor, Var};
use framebreak_vocab::DefectKind;

use super::features::{FeatureMatrix, MODEL_FEATURES};
use crate::Error;

/// The kinds the model decides, in the order of its outputs. Frozen motion
/// is left to its own detector: it is a fact about the footage (identical
/// frames), not a judgement.
pub const DECIDED: [DefectKind; 8] = {
    // Every kind of the shared vocabulary but the last, frozen.
    assert!(matches!(DefectKind::ALL[8], DefectKind::Frozen));
    let mut out = [DefectKind::Frozen; 8];
    let mut i = 0;
    while i < 8 {
        out[i] = DefectKind::ALL[i];
        i += 1;
    }
    out
};

/// Number of decided kinds.
pub const KINDS: usize = DECIDED.len();

/// Kernel width of every temporal convolution.
const KERNEL: usize = 5;

/// Dilations of the three hidden convolutions.
const DILATIONS: [usize; 3] = [1, 2, 4];

pub(crate) fn tensor_err(source: candle_core::Error) -> Error {
    Error::Tensor {
        device: "cpu".into(),
        source,
    }
}

/// The weights of the net, as tensors (or trainable variables).
#[derive(Clone)]
pub(crate) struct Net {
    pub(crate) convs: Vec<(Tensor, Tensor)>,
    pub(crate) head: (Tensor, Tensor),
}

impl Net {
    /// Logits `[batch, KINDS, frames]` for standardised input
    /// `[batch, MODEL_FEATURES, frames]`.
    pub(crate) fn forward(&self, x: &Tensor) -> candle_core::Result<Tensor> {
        let frames = x.dim(2)?;
        // [batch, frames, channels] from here on.
        let mut h = x.transpose(1, 2)?.contiguous()?;
        for ((w, b), &d) in self.convs.iter().zip(&DILATIONS) {
            let pad = d * (KERNEL - 1) / 2;
            let padded = h.pad_with_zeros(1, pad, pad)?;
            let taps = (0..KERNEL)
                .map(|j| padded.narrow(1, j * d, frames))
                .collect::<candle_core::Result<Vec<_>>>()?;
            let stacked = Tensor::cat(&taps, 2)?;
            h = stacked.broadcast_matmul(w)?.broadcast_add(b)?.relu()?;
        }
        h.broadcast_matmul(&self.head.0)?
            .broadcast_add(&self.head.1)?
            .transpose(1, 2)?
            .contiguous()
    }

    /// Fresh weights, He-uniform from a seeded generator (reproducible).
    pub(crate) fn init(hidden: usize, seed: u64) -> candle_core::Result<(Net, Vec<Var>)> {
        let mut rng = super::train::Rng::new(seed);
        let mut vars = Vec::new();
        let mut make = |shape: &[usize], fan_in: usize| -> candle_core::Result<Tensor> {
            let bound = (6.0 / fan_in as f64).sqrt() as f32;
            let n: usize = shape.iter().product();
            let data: Vec<f32> = (0..n).map(|_| (rng.unit() * 2.0 - 1.0) * bound).collect();
            let var = Var::from_tensor(&Tensor::from_vec(data, shape, &Device::Cpu)?)?;
            let t = var.as_tensor().clone();
            vars.push(var);
            Ok(t)
        };
        let mut convs = Vec::new();
        let mut inputs = MODEL_FEATURES;
        for _ in DILATIONS {
            let w = make(&[KERNEL * inputs, hidden], inputs * KERNEL)?;
            let b = make(&[hidden], 1_000_000)?;
            convs.push((w, b));
            inputs = hidden;
        }
        let hw = make(&[hidden, KINDS], hidden)?;
        let hb = make(&[KINDS], 1_000_000)?;
        Ok((
            Net {
                convs,
                head: (hw, hb),
            },
            vars,
        ))
    }

    fn names() -> Vec<(String, String)> {
        (1..=DILATIONS.len())
            .map(|i| (format!("c{i}.weight"), format!("c{i}.bias")))
            .collect()
    }
}

/// A trained decision model: standardisation, net, thresholds.
#[derive(Clone)]
pub struct DecisionModel {
    net: Net,
    mean: Tensor,
    std: Tensor,
    thresholds: [f32; KINDS],
}

impl std::fmt::Debug for DecisionModel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DecisionModel")
            .field("hidden", &self.hidden())
            .field("thresholds", &self.thresholds)
            .finish()
    }
}

/// Per kind and frame, the probability that the kind is happening there.
#[derive(Debug, Clone, PartialEq)]
pub struct FrameProbabilities {
    /// `[kind][frame]`, kinds in the order of [`DECIDED`].
    pub by_kind: Vec<Vec<f32>>,
}

impl DecisionModel {
    pub(crate) fn new(net: Net, mean: Tensor, std: Tensor, thresholds: [f32; KINDS]) -> Self {
        DecisionModel {
            net,
            mean,
            std,
            thresholds,
        }
    }

    /// The weights this build ships, trained by the `train_decisions`
    /// example (see the crate README).
    ///
    /// # Errors
    /// [`Error::Weights`] if the embedded file does not fit this build's
    /// features (a stale file after a feature change).
    pub fn embedded() -> Result<Self, Error> {
        Self::from_safetensors(
            include_bytes!("../../model/decisions.safetensors"),
            "embedded",
        )
    }

    /// Reads weights saved by [`DecisionModel::save`].
    ///
    /// # Errors
    /// [`Error::Weights`] naming `source_name` when the bytes are not
    /// safetensors, a tensor is missing, or a shape does not fit.
    pub fn from_safetensors(bytes: &[u8], source_name: &str) -> Result<Self, Error> {
        let bad = |reason: String| Error::Weights {
            source_name: source_name.to_owned(),
            reason,
        };
        let tensors = candle_core::safetensors::load_buffer(bytes, &Device::Cpu)
            .map_err(|e| bad(format!("not a safetensors file: {e}")))?;
        let get = |name: &str| -> Result<Tensor, Error> {
            let t = tensors
                .get(name)
                .ok_or_else(|| bad(format!("tensor {name:?} is missing")))?;
            t.to_dtype(DType::F32)
                .map_err(|e| bad(format!("tensor {name:?}: {e}")))
        };
        let shape = |t: &Tensor, name: &str, want: &[usize]| -> Result<(), Error> {
            if t.dims() == want {
                Ok(())
            } else {
                Err(bad(format!(
                    "tensor {name:?} has shape {:?}, this build needs {want:?} \
                     (weights made for other features: retrain them)",
                    t.dims()
                )))
            }
        };
        let first = get("c1.weight")?;
        let hidden = first.dims().get(1).copied().unwrap_or(0);
        let mut convs = Vec::new();
        let mut inputs = MODEL_FEATURES;
        for (wn, bn) in Net::names() {
            let (w, b) = (get(&wn)?, get(&bn)?);
            shape(&w, &wn, &[KERNEL * inputs, hidden])?;
            shape(&b, &bn, &[hidden])?;
            convs.push((w, b));
            inputs = hidden;
        }
        let (hw, hb) = (get("head.weight")?, get("head.bias")?);
        shape(&hw, "head.weight", &[hidden, KINDS])?;
        shape(&hb, "head.bias", &[KINDS])?;
        let (mean, std) = (get("norm.mean")?, get("norm.std")?);
        shape(&mean, "norm.mean", &[MODEL_FEATURES])?;
        shape(&std, "norm.std", &[MODEL_FEATURES])?;
        let th = get("thresholds")?;
        shape(&th, "thresholds", &[KINDS])?;
        let th: Vec<f32> = th.to_vec1().map_err(|e| bad(e.to_string()))?;
        let mut thresholds = [0f32; KINDS];
        for (slot, v) in thresholds.iter_mut().zip(th) {
            if !(v > 0.0 && v <= 1.0) {
                return Err(bad(format!("threshold {v} is not a probability in (0, 1]")));
            }
            *slot = v;
        }
        Ok(DecisionModel {
            net: Net {
                convs,
                head: (hw, hb),
            },
            mean,
            std,
            thresholds,
        })
    }

    /// The weights as a safetensors file.
    ///
    /// # Errors
    /// [`Error::Tensor`] when serialising fails.
    pub fn to_safetensors(&self) -> Result<Vec<u8>, Error> {
        let mut map: HashMap<String, Tensor> = HashMap::new();
        for ((wn, bn), (w, b)) in Net::names().into_iter().zip(&self.net.convs) {
            map.insert(wn, w.detach());
            map.insert(bn, b.detach());
        }
        map.insert("head.weight".into(), self.net.head.0.detach());
        map.insert("head.bias".into(), self.net.head.1.detach());
        map.insert("norm.mean".into(), self.mean.clone());
        map.insert("norm.std".into(), self.std.clone());
        map.insert(
            "thresholds".into(),
            Tensor::new(&self.thresholds[..], &Device::Cpu).map_err(tensor_err)?,
        );
        safetensors::serialize(&map, None).map_err(|e| Error::Weights {
            source_name: "serialised weights".into(),
            reason: e.to_string(),
        })
    }

    /// Hidden channels of the net.
    pub fn hidden(&self) -> usize {
        self.net.convs.first().map_or(0, |(w, _)| w.dims()[1])
    }

    /// Per-kind thresholds, in the order of [`DECIDED`].
    pub fn thresholds(&self) -> [f32; KINDS] {
        self.thresholds
    }

    /// Replaces the thresholds (calibration does).
    #[must_use]
    pub fn with_thresholds(mut self, thresholds: [f32; KINDS]) -> Self {
        self.thresholds = thresholds;
        self
    }

    pub(crate) fn standardise(&self, x: &Tensor) -> candle_core::Result<Tensor> {
        let d = self.mean.dims()[0];
        // Clamped: one wild measurement must not dominate a frame.
        x.broadcast_sub(&self.mean.reshape((1, d, 1))?)?
            .broadcast_div(&self.std.reshape((1, d, 1))?)?
            .clamp(-8f32, 8f32)
    }

    /// Per-frame probabilities for one clip's features.
    ///
    /// # Errors
    /// [`Error::Tensor`] if a tensor operation fails.
    pub fn probabilities(&self, features: &FeatureMatrix) -> Result<FrameProbabilities, Error> {
        let n = features.len();
        if n == 0 {
            return Ok(FrameProbabilities {
                by_kind: vec![Vec::new(); KINDS],
            });
        }
        let run = || -> candle_core::Result<Vec<Vec<f32>>> {
            let x = Tensor::from_vec(features.model_input(), (1, MODEL_FEATURES, n), &Device::Cpu)?;
            let p = candle_nn::ops::sigmoid(&self.net.forward(&self.standardise(&x)?)?)?;
            p.squeeze(0)?.to_vec2()
        };
        Ok(FrameProbabilities {
            by_kind: run().map_err(tensor_err)?,
        })
    }

    pub(crate) fn net(&self) -> &Net {
        &self.net
    }
}
