//! Adversarial prompt variants for text-to-video models.
//!
//! framebreak turns a few base prompts into thousands of variants aimed at
//! known failure modes of video models. This crate holds that knowledge:
//!
//! - a **trap catalogue** ([`Catalogue`]): physics traps (zero gravity,
//!   gravity inversion, momentum violations…) and coherence traps (emerald
//!   sparks, chromatic aberration, texture bleeding…), each with phrasings
//!   and the [`DefectKind`]s it aims to provoke, embedded as TOML and
//!   extensible with a user file;
//! - **mutators** ([`Mutator`]): a trap injector, known combinations, an
//!   intensifier, camera and realism demands, and combinators to compose
//!   them;
//! - **sampling** ([`Strategy`]): exhaustive, random-k, and stratified
//!   (every trap the same number of times, ±1);
//! - **stable ids** ([`VariantId`]): a content hash of (base prompt,
//!   mutations, seed), the same on every machine;
//! - **streaming** ([`PromptReader`], [`Generator::generate`]): prompts in,
//!   variants out, with memory that does not grow with the number of variants.
//!
//! # Example
//!
//! ```
//! use framebreak_variants::{Catalogue, Generator, Strategy, TrapFilter, builtin_scenes};
//!
//! let catalogue = Catalogue::builtin().select(&TrapFilter::parse("physics.*")?)?;
//! let generator = Generator::builder(catalogue)
//!     .strategy(Strategy::Random { per_prompt: 2 })
//!     .seed(7)
//!     .build()?;
//! for variant in generator.generate(builtin_scenes().into_iter().take(3).map(Ok)) {
//!     let variant = variant?;
//!     assert!(variant.mutations.iter().all(|m| variant.prompt.contains(&m.text)));
//!     println!("{}", serde_json::to_string(&variant).unwrap());
//! }
//! # Ok::<(), framebreak_variants::Error>(())
//! ```
#![warn(missing_docs)]

mod catalogue;
pub mod conformance;
mod defect;
mod error;
mod filter;
mod generate;
mod id;
mod input;
mod mutation;
mod mutator;
mod mutators;
pub mod rng;
mod scenes;
mod variant;

pub use catalogue::{Catalogue, Combination, Demand, Trap, TrapId};
pub use defect::Family;
pub use error::{Error, Result};
pub use filter::TrapFilter;
pub use framebreak_vocab::DefectKind;
pub use generate::{Generator, GeneratorBuilder, Stats, Strategy, Variants};
pub use id::VariantId;
pub use input::{BasePrompt, DEFAULT_MAX_PROMPT_LEN, InputFormat, PromptReader};
pub use mutation::{Draft, Insertion, Mutation};
pub use mutator::{Chain, Mutator, OneOf, Sometimes};
pub use mutators::{
    CameraDemand, ChainConfig, Intensifier, KnownCombination, TrapInjector, default_chain,
};
pub use scenes::builtin_scenes;
pub use variant::Variant;

/// The random-number traits mutators are written against.
pub use rand_core;
