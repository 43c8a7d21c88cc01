//! The errors of this crate: a name outside a vocabulary, a missing key.

/// A name that is not in a vocabulary; the message lists the names that are.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown {what} `{name}`; expected one of: {expected}")]
pub struct UnknownName {
    /// Which vocabulary (`"defect kind"`).
    pub what: &'static str,
    /// The name given.
    pub name: String,
    /// The names the vocabulary has, comma-separated.
    pub expected: String,
}

/// An API key that is neither in the environment nor in the `.env` file.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{variable} is not set: export it or put `{variable}=…` in a .env file")]
pub struct MissingKey {
    /// The environment variable that should hold the key.
    pub variable: String,
}
