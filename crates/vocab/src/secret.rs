//! API keys that never print.

use std::fmt;
use std::path::Path;

use crate::MissingKey;

/// An API key or token. `Debug` and `Display` print `***`; the only way to
/// the text is [`Secret::expose`], which the adapters call when they set a
/// header, and nowhere else.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// Wraps a key.
    #[must_use]
    pub fn new(key: impl Into<String>) -> Self {
        Self(key.into())
    }

    /// Reads `variable` from the process environment, then from a `.env`
    /// file in the current directory or one of its parents.
    ///
    /// The `.env` file is read without changing the process environment.
    ///
    /// # Errors
    ///
    /// [`MissingKey`] naming `variable` when neither has it, or when
    /// it is empty.
    pub fn from_env(variable: &str) -> Result<Self, MissingKey> {
        if let Some(value) = std::env::var(variable)
            .ok()
            .filter(|v| !v.trim().is_empty())
        {
            return Ok(Self(value));
        }
        let found = dotenvy::dotenv_iter()
            .ok()
            .and_then(|iter| lookup(iter, variable));
        found.ok_or_else(|| missing(variable))
    }

    /// Reads `variable` from the process environment, then from the given
    /// `.env` file.
    ///
    /// # Errors
    ///
    /// [`MissingKey`] naming `variable` when neither has it.
    pub fn from_env_or_file(variable: &str, dotenv: &Path) -> Result<Self, MissingKey> {
        if let Some(value) = std::env::var(variable)
            .ok()
            .filter(|v| !v.trim().is_empty())
        {
            return Ok(Self(value));
        }
        let found = dotenvy::from_path_iter(dotenv)
            .ok()
            .and_then(|iter| lookup(iter, variable));
        found.ok_or_else(|| missing(variable))
    }

    /// The key itself. Call it only to put the key on the wire.
    #[must_use]
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// Replaces every occurrence of the key in `text` with `***`, for text a
    /// server echoes back (some gateways quote the Authorization header in
    /// their error messages).
    #[must_use]
    pub fn scrub(&self, text: &str) -> String {
        if self.0.len() < 4 {
            return text.to_owned();
        }
        text.replace(&self.0, "***")
    }
}

fn lookup(iter: dotenvy::Iter<std::fs::File>, variable: &str) -> Option<Secret> {
    iter.filter_map(std::result::Result::ok)
        .find(|(name, value)| name == variable && !value.trim().is_empty())
        .map(|(_, value)| Secret(value))
}

fn missing(variable: &str) -> MissingKey {
    MissingKey {
        variable: variable.to_owned(),
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(***)")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_and_display_are_redacted() {
        let s = Secret::new("r8_supersecret");
        assert_eq!(format!("{s:?}"), "Secret(***)");
        assert_eq!(s.to_string(), "***");
        assert_eq!(s.expose(), "r8_supersecret");
    }

    #[test]
    fn reads_a_dotenv_file_and_names_missing_variables() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(".env");
        std::fs::write(&path, "FRAMEBREAK_TEST_KEY_A=from-file\n# comment\n").unwrap();
        let s = Secret::from_env_or_file("FRAMEBREAK_TEST_KEY_A", &path).unwrap();
        assert_eq!(s.expose(), "from-file");

        let err = Secret::from_env_or_file("FRAMEBREAK_TEST_KEY_B", &path).unwrap_err();
        assert_eq!(err.variable, "FRAMEBREAK_TEST_KEY_B");
        assert!(
            err.to_string().contains("FRAMEBREAK_TEST_KEY_B is not set"),
            "{err}"
        );
    }

    #[test]
    fn scrub_removes_echoed_keys() {
        let s = Secret::new("sk-abcdef");
        assert_eq!(s.scrub("bad key Bearer sk-abcdef"), "bad key Bearer ***");
    }
}
