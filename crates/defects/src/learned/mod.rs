//! Learned decisions: the hand-written detectors propose, a small trained
//! model decides.
//!
//! Each hand-written detector reads the shared [`Evidence`](crate::Evidence)
//! and proposes findings with its own hand-set thresholds. Those thresholds
//! were fitted to one generator and do not transfer, so their findings are
//! not the answer: their scores become features beside general measurements
//! of every frame ([`FeatureMatrix`]), and a temporal convolution net
//! ([`DecisionModel`], built with candle-nn) turns them into one calibrated
//! probability per kind and frame. Runs of frames above a kind's threshold,
//! set for a stated false-alarm rate on clean footage, become findings.
//!
//! The weights ship in the crate (`model/decisions.safetensors`, loaded by
//! [`DecisionModel::embedded`]); the `train_decisions` example retrains them
//! from labelled corpora in one command.

mod decide;
mod features;
mod model;
mod train;

pub use decide::findings;
pub use features::{BASE_FEATURES, FEATURES_VERSION, FeatureMatrix, MODEL_FEATURES};
pub use model::{DECIDED, DecisionModel, FrameProbabilities, KINDS};
pub use train::{Calibration, Example, Rng, TrainConfig, assess, calibrate, train};
