//! Text-to-video API protocols (OpenAI-compatible, Replicate, fal.ai, Runway, Luma, Veo), error classification, streamed downloads, secrets, and an X publisher.
#![warn(missing_docs)]

mod backend;
mod download;
mod error;
mod http;
mod job;
mod providers;
mod secret;

pub use backend::VideoBackend;
pub use download::{Downloaded, ProgressFn, VideoBackendExt, no_progress};
pub use error::{Error, FailureCategory, Result};
pub use http::{DEFAULT_MAX_DOWNLOAD_BYTES, DEFAULT_TIMEOUT, HttpConfig};
pub use job::{Asset, DownloadProgress, JobState, JobStatus, RemoteJob, Size, VideoRequest};
pub use providers::openai::{OpenAiBackend, SubmitEncoding};
pub use secret::Secret;
mod publish;
pub use providers::fal::FalBackend;
pub use providers::luma::LumaBackend;
pub use providers::replicate::ReplicateBackend;
pub use providers::runway::RunwayBackend;
pub use providers::veo::VeoBackend;
pub use publish::{
    DryRunPublisher, MAX_POST_LEN, Post, Published, Publisher, URL_LEN, XPublisher, weighted_len,
};
#[cfg(feature = "conformance")]
pub mod conformance;
