//! Trap families; the defect kinds traps aim at come from
//! `framebreak-vocab` ([`DefectKind`]).

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::Error;
#[cfg(doc)]
use framebreak_vocab::DefectKind;

/// The family a trap belongs to; the first part of its id (`physics.zero_g`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Family {
    /// Traps that ask for physics video models get wrong: gravity, momentum, fluids.
    Physics,
    /// Traps that strain visual coherence: colour, texture, identity, permanence.
    Coherence,
}

impl Family {
    /// Every family.
    pub const ALL: [Family; 2] = [Family::Physics, Family::Coherence];

    /// The snake_case name used in ids, JSON and on the command line.
    pub const fn as_str(self) -> &'static str {
        match self {
            Family::Physics => "physics",
            Family::Coherence => "coherence",
        }
    }
}

impl fmt::Display for Family {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Family {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Family::ALL
            .into_iter()
            .find(|k| k.as_str() == s)
            .ok_or_else(|| Error::UnknownName {
                what: "trap family",
                name: s.to_owned(),
                expected: Family::ALL.map(Family::as_str).join(", "),
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_through_str_and_json() {
        for family in Family::ALL {
            assert_eq!(family.as_str().parse::<Family>().unwrap(), family);
        }
    }

    #[test]
    fn unknown_name_lists_the_vocabulary() {
        let err = "wobble".parse::<Family>().unwrap_err().to_string();
        assert!(err.contains("`wobble`"), "{err}");
        assert!(err.contains("coherence"), "{err}");
    }
}
