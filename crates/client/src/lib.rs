//! Text-to-video API protocols, error classification, streamed downloads,
//! secrets, and an X publisher.
//!
//! framebreak fires thousands of prompts at video models. This crate speaks
//! their long-running-job protocols exactly and nothing more (retries, rate
//! limits and circuit breakers live in the scheduler and wrap any backend):
//!
//! - **one trait**, [`VideoBackend`]: `submit` → [`RemoteJob`] (serialisable,
//!   so a restarted run polls it again instead of submitting twice),
//!   `status` → [`JobStatus`] (queued, running, succeeded with assets, failed,
//!   plus the provider's polling hint), `download` → bytes streamed into any
//!   writer; [`VideoBackendExt::download_to_file`] adds atomic writes, a size
//!   cap and a SHA-256;
//! - **six adapters**: [`OpenAiBackend`] (the OpenAI-compatible Videos API,
//!   also spoken by gateways and the framebreak simulator),
//!   [`ReplicateBackend`], [`FalBackend`], [`RunwayBackend`], [`LumaBackend`],
//!   [`VeoBackend`] (Gemini API), sharing one pooled rustls client;
//! - **limits**: [`VideoBackend::conform`] fits a request to what its model
//!   accepts ([`ModelLimits`], one table per provider): the nearest
//!   duration, size or aspect ratio, unsupported parameters dropped, each
//!   change an [`Adjustment`]; `submit` only ever sends conformed requests;
//! - **one error type**, [`Error`], whose every value maps to a
//!   [`FailureCategory`] that says whether to retry, and after how long;
//! - **secrets**: keys from the environment or `.env`, held in [`Secret`],
//!   which never prints, and scrubbed from anything a server echoes back;
//! - **publishing**: the [`Publisher`] trait, [`DryRunPublisher`] (the
//!   default, JSON Lines to a file) and [`XPublisher`];
//! - **conformance** (feature `conformance`): the scenarios every backend
//!   must pass, staged by a [`conformance::Harness`] of the implementation's
//!   choosing.
//!
//! # Example
//!
//! Failures are classified the same way for every provider; here a
//! connection to a port where nothing listens:
//!
//! ```
//! use framebreak_client::{FailureCategory, OpenAiBackend, Secret, VideoBackend, VideoRequest};
//!
//! # #[tokio::main(flavor = "current_thread")] async fn main() -> framebreak_client::Result<()> {
//! let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap();
//! let backend = OpenAiBackend::new(Secret::new("sk-example"))?
//!     .with_base_url(&format!("http://{closed}"))?;
//! assert!(!format!("{backend:?}").contains("sk-example"));
//!
//! let request = VideoRequest::new("a ball rolls uphill").duration_secs(8).size(1280, 720);
//! let err = backend.submit(&request).await.unwrap_err();
//! assert_eq!(err.category(), FailureCategory::Connection);
//! assert!(err.is_retryable());
//! # Ok(()) }
//! ```
//!
//! Against a real provider the flow is submit, poll, download; see
//! [`VideoBackend`].
#![warn(missing_docs)]

mod backend;
mod conform;
#[cfg(feature = "conformance")]
pub mod conformance;
mod download;
mod error;
mod http;
mod job;
mod providers;
mod publish;
pub mod reconcile;

pub use backend::VideoBackend;
pub use conform::{Adjustment, Conformed};
pub use download::{Downloaded, ProgressFn, VideoBackendExt, no_progress};
pub use error::{Error, FailureCategory, Result, SubmitEffect};
pub use framebreak_vocab::Secret;
pub use http::{DEFAULT_MAX_DOWNLOAD_BYTES, DEFAULT_TIMEOUT, HttpConfig};
pub use job::{
    Asset, DownloadProgress, JobState, JobStatus, ParseSizeError, RemoteJob, Size, VideoRequest,
};
pub use providers::fal::FalBackend;
pub use providers::limits::{Durations, ModelLimits};
pub use providers::luma::LumaBackend;
pub use providers::openai::{OpenAiBackend, SubmitEncoding};
pub use providers::replicate::ReplicateBackend;
pub use providers::runway::RunwayBackend;
pub use providers::veo::VeoBackend;
pub use publish::{
    DryRunPublisher, MAX_POST_LEN, Post, Published, Publisher, URL_LEN, XPublisher, weighted_len,
};
pub use reconcile::Lookup;
