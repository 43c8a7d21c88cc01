//! The crate's one error type.

use std::io;

/// Everything that can go wrong while loading catalogues, reading prompts or
/// generating variants.
///
/// Each variant names the input (file and line, or the flag) and what is
/// wrong with it, so that a person can fix it from the message alone.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A line of a prompt file is not valid UTF-8.
    #[error(
        "{source_name}:{line}:{column}: invalid UTF-8: the byte at column {column} does not start a valid UTF-8 sequence"
    )]
    InvalidUtf8 {
        /// The file name, or `<stdin>`.
        source_name: String,
        /// 1-based line number.
        line: u64,
        /// 1-based byte column of the first invalid byte.
        column: usize,
    },

    /// A JSON Lines record does not parse or lacks a required field.
    #[error("{source_name}:{line}:{column}: malformed JSON: {message}")]
    MalformedJson {
        /// The file name, or `<stdin>`.
        source_name: String,
        /// 1-based line number.
        line: u64,
        /// 1-based column reported by the JSON parser.
        column: usize,
        /// What the parser found wrong.
        message: String,
    },

    /// A prompt is longer than the configured limit.
    #[error(
        "{source_name}:{line}: {}, over the limit of {limit} characters (raise the limit with --max-prompt-len)",
        if *read_whole {
            format!("prompt is {length} characters long")
        } else {
            format!("line is longer than {length} bytes (not read further)")
        }
    )]
    PromptTooLong {
        /// The file name, or `<stdin>`.
        source_name: String,
        /// 1-based line number.
        line: u64,
        /// The prompt's length in characters when `read_whole`; otherwise
        /// the bytes read before giving up on the line (a lower bound).
        length: usize,
        /// Whether the line was read to its end.
        read_whole: bool,
        /// The limit in characters.
        limit: usize,
    },

    /// A JSON Lines record has an empty `prompt`.
    #[error("{source_name}:{line}: the prompt is empty")]
    EmptyPrompt {
        /// The file name, or `<stdin>`.
        source_name: String,
        /// 1-based line number.
        line: u64,
    },

    /// An input holds no prompt at all.
    #[error("{source_name}: no prompts (blank lines and lines starting with # are skipped)")]
    EmptyInput {
        /// The file name, or `<stdin>`.
        source_name: String,
    },

    /// A catalogue file does not parse or breaks a rule of the schema.
    #[error("{source_name}:{line}:{column}: {message}")]
    MalformedCatalogue {
        /// The catalogue file name, or `<builtin>`.
        source_name: String,
        /// 1-based line number.
        line: usize,
        /// 1-based column.
        column: usize,
        /// What is wrong.
        message: String,
    },

    /// A catalogue (after filtering or merging) has no trap.
    #[error("{source_name}: the catalogue has no traps")]
    EmptyCatalogue {
        /// The catalogue file name, or `<builtin>`.
        source_name: String,
    },

    /// A trap filter names a trap id that is not in the catalogue.
    #[error("unknown trap id `{pattern}`{}", did_you_mean(suggestions))]
    UnknownTrap {
        /// The id as written.
        pattern: String,
        /// The nearest ids in the catalogue, best first.
        suggestions: Vec<String>,
    },

    /// A wildcard trap filter matches no trap.
    #[error(
        "trap pattern `{pattern}` matches no trap in the catalogue (families: physics, coherence; `framebreak traps` lists the ids)"
    )]
    NoTrapMatches {
        /// The pattern as written.
        pattern: String,
    },

    /// Two different base prompts carry the same id.
    #[error("base prompt id `{id}` is used by two different prompts; ids must be unique")]
    DuplicateBaseId {
        /// The id.
        id: String,
    },

    /// A generator setting is out of range.
    #[error("invalid {what}: {problem}")]
    InvalidConfig {
        /// The setting, as a user knows it (`per-prompt`, `max-traps`).
        what: &'static str,
        /// What is wrong and what is allowed.
        problem: String,
    },

    /// A name is not one of a fixed vocabulary.
    #[error("unknown {what} `{name}`; expected one of: {expected}")]
    UnknownName {
        /// What kind of name (`defect kind`, `trap family`).
        what: &'static str,
        /// The name as written.
        name: String,
        /// The accepted names, comma-separated.
        expected: String,
    },

    /// Reading a file failed.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// The underlying error.
        source: io::Error,
    },
}

fn did_you_mean(suggestions: &[String]) -> String {
    match suggestions {
        [] => "; `framebreak traps` lists the ids".to_owned(),
        [one] => format!("; did you mean `{one}`?"),
        many => {
            let quoted: Vec<String> = many.iter().map(|s| format!("`{s}`")).collect();
            format!("; did you mean one of {}?", quoted.join(", "))
        }
    }
}

/// `Result` with this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// The ids in `candidates` nearest to `name`, best first, at most three.
///
/// Names are compared without their family (`zero_gravity` against
/// `zero_g`), since a shared `physics.` prefix says nothing about closeness.
pub(crate) fn suggest<'a>(
    name: &str,
    candidates: impl IntoIterator<Item = &'a str>,
) -> Vec<String> {
    let bare = |id: &'a str| id.rsplit_once('.').map_or(id, |(_, n)| n);
    let wanted = name.rsplit_once('.').map_or(name, |(_, n)| n);
    let mut scored: Vec<(f64, &str)> = candidates
        .into_iter()
        .filter_map(|candidate| {
            let score = strsim::jaro_winkler(wanted, bare(candidate));
            (score >= 0.8).then_some((score, candidate))
        })
        .collect();
    scored.sort_by(|a, b| b.0.total_cmp(&a.0).then_with(|| a.1.cmp(b.1)));
    scored
        .into_iter()
        .take(3)
        .map(|(_, c)| c.to_owned())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suggestions_prefer_close_ids_and_bare_names() {
        let ids = [
            "physics.zero_g",
            "physics.gravity_inversion",
            "coherence.crowd",
        ];
        assert_eq!(suggest("physics.zero_gg", ids), vec!["physics.zero_g"]);
        assert_eq!(suggest("zero_g", ids), vec!["physics.zero_g"]);
        assert!(suggest("nothing_like_it_at_all", ids).is_empty());
    }

    #[test]
    fn unknown_trap_message_names_the_suggestion() {
        let err = Error::UnknownTrap {
            pattern: "physics.zero_gg".into(),
            suggestions: vec!["physics.zero_g".into()],
        };
        assert_eq!(
            err.to_string(),
            "unknown trap id `physics.zero_gg`; did you mean `physics.zero_g`?"
        );
    }
}
