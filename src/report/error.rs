//! What can go wrong while writing a report.

use std::path::PathBuf;

/// A report could not be written.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The run folder given for the videos is not a folder.
    #[error("run folder {path}: {reason}")]
    RunDir {
        /// The folder as given.
        path: PathBuf,
        /// What is wrong with it.
        reason: String,
    },
    /// A video could not be read or decoded.
    #[error("video {path}: {source}")]
    Video {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: framebreak_media::Error,
    },
    /// A video's analysis does not fit its frames (sizes, frame numbers).
    #[error("video {path}: {reason}")]
    Mismatch {
        /// The file.
        path: PathBuf,
        /// What does not fit.
        reason: String,
    },
    /// A picture could not be encoded as PNG.
    #[error("encoding a contact sheet: {0}")]
    Image(#[from] image::ImageError),
    /// A report's file (or standard output) could not be written.
    #[error("{}: {source}", path.display())]
    File {
        /// The file, or `<standard output>`.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// Writing the report's output failed.
    #[error("writing the report: {0}")]
    Write(#[from] std::io::Error),
    /// A row could not be written as CSV.
    #[error("writing CSV: {0}")]
    Csv(#[from] csv::Error),
    /// A row could not be written as JSON.
    #[error("writing JSON: {0}")]
    Json(#[from] serde_json::Error),
}
