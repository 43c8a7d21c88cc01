#![doc = include_str!("../README.md")]

mod error;
mod failure;
mod kind;
pub mod metrics;
mod secret;

pub use error::{MissingKey, UnknownName};
pub use failure::FailureCategory;
pub use kind::DefectKind;
pub use secret::Secret;
