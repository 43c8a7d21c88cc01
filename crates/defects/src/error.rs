//! The defects crate's error type.

/// Everything that can go wrong measuring frames or detecting defects.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// Two frames or planes that must have the same size do not.
    #[error("size mismatch: {left_width}x{left_height} vs {right_width}x{right_height}")]
    SizeMismatch {
        /// Width of the first input.
        left_width: u32,
        /// Height of the first input.
        left_height: u32,
        /// Width of the second input.
        right_width: u32,
        /// Height of the second input.
        right_height: u32,
    },
    /// An input a metric cannot use (empty, too small, wrong length…).
    #[error("invalid {what}: {reason}")]
    InvalidInput {
        /// Which input, e.g. `plane`, `flow`, `clip`.
        what: String,
        /// What is wrong with it.
        reason: String,
    },
    /// A tensor operation failed on the compute device.
    #[error("tensor operation failed on {device}: {source}")]
    Tensor {
        /// The device, e.g. `cpu` or `cuda:0`.
        device: String,
        /// candle's error.
        #[source]
        source: candle_core::Error,
    },
    /// Decision weights that cannot be used: unreadable, or made for other
    /// features or kinds than this build measures.
    #[error("decision weights {source_name}: {reason}")]
    Weights {
        /// Where the weights came from: a path, or `embedded`.
        source_name: String,
        /// What is wrong with them.
        reason: String,
    },
    /// A video could not be read or decoded.
    #[error(transparent)]
    Media(#[from] framebreak_media::Error),
}
