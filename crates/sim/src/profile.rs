//! Model profiles: how often a simulated model breaks, per trap and defect
//! kind, as TOML.

use std::collections::BTreeMap;
use std::path::Path;

use framebreak_variants::{Catalogue, DefectKind, Trap};
use serde::Deserialize;

use crate::{Error, Result};

const WEAK: &str = include_str!("../profiles/weak.toml");
const STRONG: &str = include_str!("../profiles/strong.toml");

/// How a simulated model breaks: for each trap of the catalogue, the
/// probability that its words provoke each defect kind, plus a base rate of
/// spontaneous defects on any prompt.
///
/// ```
/// use framebreak_sim::Profile;
/// use framebreak_variants::{Catalogue, DefectKind};
///
/// let weak = Profile::weak();
/// let zero_g = Catalogue::builtin().trap("physics.zero_g").unwrap().clone();
/// assert_eq!(weak.probability(&zero_g, DefectKind::GravityViolation), 0.85);
/// let own = Profile::parse("name = \"mine\"\nprovoked = 0.5\nspontaneous = 0.0\n", "inline")?;
/// assert_eq!(own.probability(&zero_g, DefectKind::Warp), 0.5);
/// # Ok::<(), framebreak_sim::Error>(())
/// ```
#[derive(Clone, Debug, PartialEq)]
pub struct Profile {
    name: String,
    description: String,
    provoked: f64,
    spontaneous: f64,
    spontaneous_kinds: BTreeMap<DefectKind, f64>,
    traps: BTreeMap<String, BTreeMap<DefectKind, f64>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Raw {
    name: String,
    #[serde(default)]
    description: String,
    provoked: f64,
    spontaneous: f64,
    #[serde(default)]
    spontaneous_kinds: BTreeMap<String, f64>,
    #[serde(default)]
    traps: BTreeMap<String, BTreeMap<String, f64>>,
}

impl Profile {
    /// The embedded weak model: traps usually land.
    #[must_use]
    pub fn weak() -> Self {
        Self::parse(WEAK, "weak").expect("the embedded weak profile is valid")
    }

    /// The embedded strong model: traps seldom land.
    #[must_use]
    pub fn strong() -> Self {
        Self::parse(STRONG, "strong").expect("the embedded strong profile is valid")
    }

    /// An embedded profile by name (`weak`, `strong`).
    #[must_use]
    pub fn builtin(name: &str) -> Option<Self> {
        match name {
            "weak" => Some(Self::weak()),
            "strong" => Some(Self::strong()),
            _ => None,
        }
    }

    /// An embedded profile by name, or else a TOML file at that path.
    ///
    /// # Errors
    ///
    /// [`Error::Io`] when the file cannot be read, [`Error::Profile`] when
    /// it is not a valid profile.
    pub fn named_or_file(name_or_path: &str) -> Result<Self> {
        if let Some(p) = Self::builtin(name_or_path) {
            return Ok(p);
        }
        Self::load(Path::new(name_or_path))
    }

    /// Reads a profile file.
    ///
    /// # Errors
    ///
    /// [`Error::Io`] when the file cannot be read, [`Error::Profile`] when
    /// it is not a valid profile.
    pub fn load(path: &Path) -> Result<Self> {
        let text = std::fs::read_to_string(path).map_err(|e| Error::Io {
            path: path.display().to_string(),
            reason: e.to_string(),
        })?;
        Self::parse(&text, &path.display().to_string())
    }

    /// Parses TOML. Every probability must lie in [0, 1], every kind must
    /// be one of the defect vocabulary, unknown fields are refused.
    ///
    /// # Errors
    ///
    /// [`Error::Profile`] naming `source_name` and the offending field.
    pub fn parse(text: &str, source_name: &str) -> Result<Self> {
        let bad = |reason: String| Error::Profile {
            source_name: source_name.to_owned(),
            reason,
        };
        let raw: Raw = toml::from_str(text).map_err(|e| bad(e.to_string()))?;
        if raw.name.trim().is_empty() {
            return Err(bad("`name` is empty".into()));
        }
        let check = |field: &str, p: f64| {
            if (0.0..=1.0).contains(&p) {
                Ok(p)
            } else {
                Err(bad(format!(
                    "`{field}` = {p} is not a probability in [0, 1]"
                )))
            }
        };
        let kind = |field: &str, name: &str| {
            name.parse::<DefectKind>()
                .map_err(|e| bad(format!("`{field}`: {e}")))
        };
        let provoked = check("provoked", raw.provoked)?;
        let spontaneous = check("spontaneous", raw.spontaneous)?;
        let mut spontaneous_kinds = BTreeMap::new();
        for (name, w) in raw.spontaneous_kinds {
            let field = format!("spontaneous_kinds.{name}");
            if !(w.is_finite() && w >= 0.0) {
                return Err(bad(format!("`{field}` = {w} is not a weight >= 0")));
            }
            spontaneous_kinds.insert(kind(&field, &name)?, w);
        }
        if spontaneous > 0.0
            && DefectKind::ALL
                .iter()
                .all(|k| spontaneous_kinds.get(k).copied().unwrap_or(1.0) == 0.0)
        {
            return Err(bad("`spontaneous` > 0 but every kind weighs 0".into()));
        }
        let mut traps = BTreeMap::new();
        for (trap, kinds) in raw.traps {
            let mut map = BTreeMap::new();
            for (name, p) in kinds {
                let field = format!("traps.\"{trap}\".{name}");
                map.insert(kind(&field, &name)?, check(&field, p)?);
            }
            traps.insert(trap, map);
        }
        Ok(Self {
            name: raw.name,
            description: raw.description,
            provoked,
            spontaneous,
            spontaneous_kinds,
            traps,
        })
    }

    /// Fails unless every trap the profile names is in `catalogue`.
    ///
    /// # Errors
    ///
    /// [`Error::Profile`] naming the unknown trap.
    pub fn check_against(&self, catalogue: &Catalogue) -> Result<()> {
        match self.traps.keys().find(|t| catalogue.trap(t).is_none()) {
            None => Ok(()),
            Some(t) => Err(Error::Profile {
                source_name: self.name.clone(),
                reason: format!("`traps.\"{t}\"` is not a trap of the catalogue"),
            }),
        }
    }

    /// The profile's name.
    #[must_use]
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The profile's one-line description.
    #[must_use]
    pub fn description(&self) -> &str {
        &self.description
    }

    /// The probability that `trap`, present in a prompt, provokes `kind`.
    #[must_use]
    pub fn probability(&self, trap: &Trap, kind: DefectKind) -> f64 {
        if let Some(p) = self.traps.get(trap.id.as_str()).and_then(|m| m.get(&kind)) {
            return *p;
        }
        if trap.provokes.contains(&kind) {
            self.provoked
        } else {
            0.0
        }
    }

    /// The probability of a spontaneous defect of `kind` on any clip: the
    /// base rate times the kind's share of the weights.
    #[must_use]
    pub fn spontaneous(&self, kind: DefectKind) -> f64 {
        let total: f64 = DefectKind::ALL.iter().map(|k| self.weight(*k)).sum();
        if total == 0.0 {
            0.0
        } else {
            self.spontaneous * self.weight(kind) / total
        }
    }

    /// The base rate of spontaneous defects.
    #[must_use]
    pub fn spontaneous_rate(&self) -> f64 {
        self.spontaneous
    }

    pub(crate) fn weight(&self, kind: DefectKind) -> f64 {
        self.spontaneous_kinds.get(&kind).copied().unwrap_or(1.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn embedded_profiles_fit_the_builtin_catalogue() {
        let catalogue = Catalogue::builtin();
        for p in [Profile::weak(), Profile::strong()] {
            p.check_against(&catalogue).unwrap();
        }
        let zero_g = catalogue.trap("physics.zero_g").unwrap();
        assert!(
            Profile::weak().probability(zero_g, DefectKind::GravityViolation)
                > Profile::strong().probability(zero_g, DefectKind::GravityViolation)
        );
        assert_eq!(Profile::weak().probability(zero_g, DefectKind::Frozen), 0.0);
    }

    #[test]
    fn bad_profiles_are_refused_naming_the_field() {
        let cases = [
            (
                "name = \"x\"\nprovoked = 1.5\nspontaneous = 0.1\n",
                "`provoked` = 1.5",
            ),
            (
                "name = \"x\"\nprovoked = 0.5\nspontaneous = -0.1\n",
                "`spontaneous`",
            ),
            (
                "name = \"x\"\nprovoked = 0.5\nspontaneous = 0.1\n[traps.\"physics.zero_g\"]\nwobble = 0.5\n",
                "wobble",
            ),
            (
                "name = \"x\"\nprovoked = 0.5\nspontaneous = 0.1\ncolour = 1\n",
                "colour",
            ),
            (
                "name = \"\"\nprovoked = 0.5\nspontaneous = 0.1\n",
                "`name` is empty",
            ),
            ("provoked = 0.5", "name"),
        ];
        for (text, needle) in cases {
            let err = Profile::parse(text, "test.toml").unwrap_err().to_string();
            assert!(err.contains(needle) && err.contains("test.toml"), "{err}");
        }
        let unknown = Profile::parse(
            "name = \"x\"\nprovoked = 0.5\nspontaneous = 0.1\n[traps.\"physics.nope\"]\nwarp = 0.5\n",
            "t",
        )
        .unwrap();
        let err = unknown.check_against(&Catalogue::builtin()).unwrap_err();
        assert!(err.to_string().contains("physics.nope"), "{err}");
        let missing = Profile::load(Path::new("/nonexistent/profile.toml")).unwrap_err();
        assert!(matches!(missing, Error::Io { .. }), "{missing}");
    }

    #[test]
    fn spontaneous_rates_split_the_base_rate_by_weight() {
        let p = Profile::weak();
        let sum: f64 = DefectKind::ALL.iter().map(|k| p.spontaneous(*k)).sum();
        assert!((sum - p.spontaneous_rate()).abs() < 1e-12);
        assert!(p.spontaneous(DefectKind::Flicker) > p.spontaneous(DefectKind::Teleport));
    }
}
