//! The defect kinds: what a video can get wrong, as every crate names it.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::UnknownName;

/// A kind of defect that a video can show, and that a trap aims to provoke.
///
/// This is the stable vocabulary of ARCHITECTURE.md: reports, detectors and
/// users rely on the snake_case names (`"gravity_violation"`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DefectKind {
    /// A region swirls or stretches in a way the scene's motion does not explain.
    Warp,
    /// A solid object sags, drips or loses its shape like wax.
    Melt,
    /// Brightness or colour pulses from frame to frame.
    Flicker,
    /// An object jumps to another place without crossing the space between.
    Teleport,
    /// Colour channels separate into fringes at edges.
    ChromaticAberration,
    /// Saturated sparks or specks of colour appear from nowhere.
    ColorSparks,
    /// A texture leaks across an object boundary into its neighbour.
    TextureBleed,
    /// Motion that breaks gravity: falling up, floating, reversing mid-air.
    GravityViolation,
    /// Motion stops although the scene says it should go on.
    Frozen,
}

impl DefectKind {
    /// Every defect kind, in the order of the vocabulary.
    pub const ALL: [DefectKind; 9] = [
        DefectKind::Warp,
        DefectKind::Melt,
        DefectKind::Flicker,
        DefectKind::Teleport,
        DefectKind::ChromaticAberration,
        DefectKind::ColorSparks,
        DefectKind::TextureBleed,
        DefectKind::GravityViolation,
        DefectKind::Frozen,
    ];

    /// The snake_case name used in JSON and on the command line.
    pub const fn as_str(self) -> &'static str {
        match self {
            DefectKind::Warp => "warp",
            DefectKind::Melt => "melt",
            DefectKind::Flicker => "flicker",
            DefectKind::Teleport => "teleport",
            DefectKind::ChromaticAberration => "chromatic_aberration",
            DefectKind::ColorSparks => "color_sparks",
            DefectKind::TextureBleed => "texture_bleed",
            DefectKind::GravityViolation => "gravity_violation",
            DefectKind::Frozen => "frozen",
        }
    }
}

impl fmt::Display for DefectKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for DefectKind {
    type Err = UnknownName;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        DefectKind::ALL
            .into_iter()
            .find(|k| k.as_str() == s)
            .ok_or_else(|| UnknownName {
                what: "defect kind",
                name: s.to_owned(),
                expected: DefectKind::ALL.map(DefectKind::as_str).join(", "),
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_through_str_and_json() {
        for kind in DefectKind::ALL {
            assert_eq!(kind.as_str().parse::<DefectKind>().unwrap(), kind);
            let json = serde_json::to_string(&kind).unwrap();
            assert_eq!(json, format!("\"{}\"", kind.as_str()));
        }
    }

    #[test]
    fn unknown_name_lists_the_vocabulary() {
        let err = "wobble".parse::<DefectKind>().unwrap_err().to_string();
        assert!(err.contains("`wobble`"), "{err}");
        assert!(err.contains("gravity_violation"), "{err}");
    }
}
