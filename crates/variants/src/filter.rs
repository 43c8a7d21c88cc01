//! Choosing traps by id, glob or family: `physics.*,coherence.emerald_sparks`.

use std::str::FromStr;

use wildmatch::WildMatch;

use crate::error::suggest;
use crate::{Catalogue, Error, Family, Result};

/// A list of trap patterns, comma-separated on the command line.
///
/// Each pattern is an exact trap id (`physics.zero_g`), a glob with `*` and
/// `?` (`coherence.*`, `*.pendulum`), or a bare family name (`physics`).
/// A trap is selected when any pattern matches it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrapFilter {
    patterns: Vec<String>,
}

impl TrapFilter {
    /// Parses comma-separated patterns. Empty patterns are an error.
    pub fn parse(spec: &str) -> Result<TrapFilter> {
        let patterns: Vec<String> = spec.split(',').map(|p| p.trim().to_owned()).collect();
        if patterns.iter().any(String::is_empty) {
            return Err(Error::InvalidConfig {
                what: "trap filter",
                problem: format!(
                    "`{spec}` holds an empty pattern; write ids or globs separated by commas"
                ),
            });
        }
        Ok(TrapFilter { patterns })
    }

    /// The patterns, as written.
    pub fn patterns(&self) -> &[String] {
        &self.patterns
    }

    /// For each trap of `catalogue`, in order, whether it is selected.
    ///
    /// Every pattern must select something: an unknown exact id is
    /// [`Error::UnknownTrap`] with suggestions, an idle glob is
    /// [`Error::NoTrapMatches`].
    pub(crate) fn matching(&self, catalogue: &Catalogue) -> Result<Vec<bool>> {
        let traps = catalogue.traps();
        let mut keep = vec![false; traps.len()];
        for pattern in &self.patterns {
            let is_family = pattern.parse::<Family>().is_ok();
            let is_glob = pattern.contains(['*', '?']);
            let glob = WildMatch::new(pattern);
            let mut hit = false;
            for (slot, trap) in keep.iter_mut().zip(traps) {
                let matches = if is_family {
                    trap.family.as_str() == pattern
                } else if is_glob {
                    glob.matches(trap.id.as_str())
                } else {
                    trap.id.as_str() == pattern
                };
                if matches {
                    *slot = true;
                    hit = true;
                }
            }
            if !hit {
                return Err(if is_glob || is_family {
                    Error::NoTrapMatches {
                        pattern: pattern.clone(),
                    }
                } else {
                    Error::UnknownTrap {
                        pattern: pattern.clone(),
                        suggestions: suggest(pattern, traps.iter().map(|t| t.id.as_str())),
                    }
                });
            }
        }
        Ok(keep)
    }
}

impl FromStr for TrapFilter {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self> {
        TrapFilter::parse(s)
    }
}
