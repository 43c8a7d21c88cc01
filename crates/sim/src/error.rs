//! The crate's one error type.

/// Everything that can go wrong in the simulator.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A model profile does not parse or holds a value out of range.
    #[error("model profile {source_name}: {reason}")]
    Profile {
        /// Where the profile came from (`weak`, a file path).
        source_name: String,
        /// What is wrong, naming the field.
        reason: String,
    },
    /// A request the simulator cannot render (size, duration).
    #[error("invalid request: {reason}")]
    InvalidRequest {
        /// What is wrong, naming the field.
        reason: String,
    },
    /// A fault or latency specification does not parse.
    #[error("invalid fault spec `{spec}`: {reason}")]
    Faults {
        /// The text given.
        spec: String,
        /// What is wrong.
        reason: String,
    },
    /// The clip could not be encoded.
    #[error("encoding the clip failed: {reason}")]
    Encode {
        /// The encoder's explanation.
        reason: String,
    },
    /// The server could not listen.
    #[error("cannot listen on {addr}: {reason}")]
    Bind {
        /// The address asked for.
        addr: String,
        /// The operating system's explanation.
        reason: String,
    },
    /// A submission journal holds a line that is not a submission record
    /// (other than a torn last line, which is dropped).
    #[error("journal {path}, line {line}: {reason}")]
    Journal {
        /// The journal file.
        path: String,
        /// The 1-based line.
        line: usize,
        /// What is wrong with it.
        reason: String,
    },
    /// A file could not be read or written.
    #[error("{path}: {reason}")]
    Io {
        /// The file.
        path: String,
        /// The operating system's explanation.
        reason: String,
    },
}

/// Shorthand for `Result<T, framebreak_sim::Error>`.
pub type Result<T, E = Error> = std::result::Result<T, E>;
