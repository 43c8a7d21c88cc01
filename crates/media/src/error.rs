//! The media crate's error type.

/// Everything that can go wrong reading or writing video.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// Pixels that do not form a valid frame.
    #[error("invalid frame: {reason}")]
    InvalidFrame {
        /// What is wrong with it.
        reason: String,
    },
}
