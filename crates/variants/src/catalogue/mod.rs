//! The trap catalogue: traps, known combinations, camera demands and
//! intensity templates, loaded from TOML.
//!
//! The built-in catalogue is embedded from `data/catalogue.toml`. A user file
//! extends it (a trap with a built-in id replaces the built-in one) unless it
//! sets `extend_builtin = false`:
//!
//! ```toml
//! [[trap]]
//! id = "physics.sand_flow"
//! family = "physics"
//! title = "Sand flowing upward"
//! description = "Sand in an hourglass flows from the bottom bulb to the top."
//! insert = "append"            # append | prepend | sentence
//! provokes = ["gravity_violation"]
//! phrasings = ["while the sand in an hourglass flows upward"]
//! intensifiers = ["with every grain rising faster than the last"]   # optional
//! ```

mod parse;

use std::borrow::Borrow;
use std::collections::HashMap;
use std::fmt;
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::{DefectKind, Error, Family, Insertion, Result, TrapFilter};

/// The id of a trap: `"<family>.<name>"`, e.g. `physics.zero_g`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct TrapId(String);

impl TrapId {
    /// The id as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for TrapId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl Borrow<str> for TrapId {
    fn borrow(&self) -> &str {
        &self.0
    }
}

/// A known failure mode, and the words that provoke it.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[non_exhaustive]
pub struct Trap {
    /// Stable id, `"<family>.<name>"`.
    pub id: TrapId,
    /// Physics or coherence.
    pub family: Family,
    /// A short title ("Zero gravity").
    pub title: String,
    /// What the trap asks for and how models fail on it.
    pub description: String,
    /// Where its phrasings go in a prompt.
    pub insert: Insertion,
    /// The defect kinds it aims to provoke, most important first.
    pub provokes: Vec<DefectKind>,
    /// Ways to say it; one is chosen per variant.
    pub phrasings: Vec<String>,
    /// Clauses that exaggerate it, used by the intensity mutator.
    pub intensifiers: Vec<String>,
}

/// A set of traps known to break models when asked for together.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[non_exhaustive]
pub struct Combination {
    /// The traps, two or more, distinct.
    pub traps: Vec<TrapId>,
    /// Why they break models together.
    pub why: String,
}

/// A camera or realism demand: a setting under which defects are most
/// visible (slow motion, close-ups, photorealism).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[non_exhaustive]
pub struct Demand {
    /// Stable id, `[a-z0-9_]+` (`slow_motion`).
    pub id: String,
    /// A short title.
    pub title: String,
    /// Where its phrasings go in a prompt.
    pub insert: Insertion,
    /// The defect kinds it makes easier to see.
    pub reveals: Vec<DefectKind>,
    /// Ways to say it.
    pub phrasings: Vec<String>,
}

/// A validated catalogue. Every trap id is unique and well formed, every
/// combination names known traps, and there is at least one trap.
#[derive(Debug, Clone)]
pub struct Catalogue {
    source_name: String,
    traps: Vec<Trap>,
    index: HashMap<TrapId, usize>,
    combinations: Vec<Combination>,
    demands: Vec<Demand>,
    intensity_templates: Vec<String>,
}

const BUILTIN: &str = include_str!("../../data/catalogue.toml");

impl Catalogue {
    /// The catalogue that ships with framebreak.
    pub fn builtin() -> Catalogue {
        parse::standalone(BUILTIN, "<builtin>")
            .unwrap_or_else(|e| unreachable!("the built-in catalogue is checked by tests: {e}"))
    }

    /// Parses a catalogue file's text. Unless the file sets
    /// `extend_builtin = false`, the result is the built-in catalogue extended
    /// (and, for equal trap or demand ids, overridden) by the file.
    ///
    /// `source_name` names the file in errors.
    pub fn parse(text: &str, source_name: &str) -> Result<Catalogue> {
        parse::user(text, source_name)
    }

    /// Reads and parses a catalogue file, as [`Catalogue::parse`].
    pub fn load(path: impl AsRef<Path>) -> Result<Catalogue> {
        let path = path.as_ref();
        let name = path.display().to_string();
        let bytes = std::fs::read(path).map_err(|source| Error::Io {
            path: name.clone(),
            source,
        })?;
        let text = String::from_utf8(bytes).map_err(|e| {
            let valid = &e.as_bytes()[..e.utf8_error().valid_up_to()];
            let line = valid.iter().filter(|&&b| b == b'\n').count() as u64 + 1;
            let column = valid.iter().rev().take_while(|&&b| b != b'\n').count() + 1;
            Error::InvalidUtf8 {
                source_name: name.clone(),
                line,
                column,
            }
        })?;
        Catalogue::parse(&text, &name)
    }

    /// The name of the file it came from (`<builtin>` for the built-in one).
    pub fn source_name(&self) -> &str {
        &self.source_name
    }

    /// All traps, in catalogue order.
    pub fn traps(&self) -> &[Trap] {
        &self.traps
    }

    /// The trap with this id.
    pub fn trap(&self, id: &str) -> Option<&Trap> {
        self.index.get(id).map(|&i| &self.traps[i])
    }

    /// The known combinations whose traps are all in this catalogue.
    pub fn combinations(&self) -> &[Combination] {
        &self.combinations
    }

    /// Camera and realism demands.
    pub fn demands(&self) -> &[Demand] {
        &self.demands
    }

    /// Generic intensity templates; `{title}` stands for a trap's title.
    pub fn intensity_templates(&self) -> &[String] {
        &self.intensity_templates
    }

    /// A catalogue holding only the traps `filter` selects, and the
    /// combinations made only of those traps. Demands are kept.
    ///
    /// An exact id that is not in the catalogue is [`Error::UnknownTrap`]
    /// with the nearest ids; a wildcard that matches nothing is
    /// [`Error::NoTrapMatches`].
    pub fn select(&self, filter: &TrapFilter) -> Result<Catalogue> {
        let keep = filter.matching(self)?;
        let traps: Vec<Trap> = self
            .traps
            .iter()
            .zip(&keep)
            .filter(|(_, k)| **k)
            .map(|(t, _)| t.clone())
            .collect();
        let mut out = Catalogue::from_parts(self.source_name.clone(), traps);
        out.combinations = self
            .combinations
            .iter()
            .filter(|c| c.traps.iter().all(|t| out.index.contains_key(t)))
            .cloned()
            .collect();
        out.demands = self.demands.clone();
        out.intensity_templates = self.intensity_templates.clone();
        if out.traps.is_empty() {
            return Err(Error::EmptyCatalogue {
                source_name: self.source_name.clone(),
            });
        }
        Ok(out)
    }

    fn from_parts(source_name: String, traps: Vec<Trap>) -> Catalogue {
        let index = traps
            .iter()
            .enumerate()
            .map(|(i, t)| (t.id.clone(), i))
            .collect();
        Catalogue {
            source_name,
            traps,
            index,
            combinations: Vec::new(),
            demands: Vec::new(),
            intensity_templates: Vec::new(),
        }
    }
}

#[cfg(test)]
mod tests;
