//! `--fail-on` thresholds: conditions on a run's results that make CI fail.

use std::fmt;
use std::str::FromStr;

use crate::campaign::Error;
use crate::report::Summary;
use crate::row::RowStatus;

/// What a threshold measures over a run's rows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Measure {
    /// Mean physics score of the analysed videos, 0–100.
    Physics,
    /// Mean realism score of the analysed videos, 0–100.
    Realism,
    /// Share of analysed videos with at least one defect, 0–1.
    DefectRate,
    /// Share of jobs that failed, 0–1.
    FailedRate,
    /// Estimated spend of the submitted jobs, in dollars (the highest
    /// estimate).
    Cost,
}

impl Measure {
    const NAMES: [(&'static str, Self); 5] = [
        ("physics", Self::Physics),
        ("realism", Self::Realism),
        ("defect_rate", Self::DefectRate),
        ("failed_rate", Self::FailedRate),
        ("cost", Self::Cost),
    ];

    fn name(self) -> &'static str {
        Self::NAMES
            .iter()
            .find(|(_, m)| *m == self)
            .map_or("?", |(n, _)| n)
    }

    /// Its value over a run's rows, from their [`Summary`]; `None` when
    /// nothing was measured.
    #[must_use]
    pub fn of(self, summary: &Summary) -> Option<f64> {
        let all = &summary.all;
        match self {
            Self::Physics => all.physics_mean,
            Self::Realism => all.realism_mean,
            Self::DefectRate => {
                (all.broken.videos > 0).then(|| all.broken.hits as f64 / all.broken.videos as f64)
            }
            Self::FailedRate => (summary.rows > 0).then(|| {
                summary
                    .by_status
                    .get(&RowStatus::Failed)
                    .copied()
                    .unwrap_or(0) as f64
                    / summary.rows as f64
            }),
            Self::Cost => summary.spend.map(|(_, spend)| spend.high.dollars()),
        }
    }
}

/// A condition such as `physics<50` or `defect_rate>0.3`: when it holds,
/// the run "fails" (`framebreak run` exits with code 3).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Threshold {
    /// What is measured.
    pub measure: Measure,
    /// `true` for `<`, `false` for `>`.
    pub below: bool,
    /// The bound.
    pub bound: f64,
}

impl Threshold {
    /// The measured value when the condition holds (the run fails), `None`
    /// when it does not or nothing was measured.
    #[must_use]
    pub fn crossed(&self, summary: &Summary) -> Option<f64> {
        let v = self.measure.of(summary)?;
        let hit = if self.below {
            v < self.bound
        } else {
            v > self.bound
        };
        hit.then_some(v)
    }
}

impl fmt::Display for Threshold {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let op = if self.below { '<' } else { '>' };
        write!(f, "{}{op}{}", self.measure.name(), self.bound)
    }
}

impl FromStr for Threshold {
    type Err = Error;

    fn from_str(text: &str) -> Result<Self, Error> {
        let bad = |reason: String| Error::Config {
            source_name: format!("--fail-on {text:?}"),
            reason,
        };
        let (i, below) = match (text.find('<'), text.find('>')) {
            (Some(i), None) => (i, true),
            (None, Some(i)) => (i, false),
            _ => {
                return Err(bad(
                    "expected MEASURE<VALUE or MEASURE>VALUE, as in physics<50".into(),
                ));
            }
        };
        let name = text[..i].trim();
        let measure = Measure::NAMES
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, m)| *m)
            .ok_or_else(|| {
                let names: Vec<_> = Measure::NAMES.iter().map(|(n, _)| *n).collect();
                bad(format!("{name:?} is not one of {}", names.join(", ")))
            })?;
        let written = text[i + 1..].trim();
        let bound: f64 = if measure == Measure::Cost {
            // Dollars, written as budgets are (`cost>25usd`, `cost>25`).
            written
                .parse::<crate::cost::Usd>()
                .map(crate::cost::Usd::dollars)
                .map_err(|e| bad(e.to_string()))?
        } else {
            written
                .parse()
                .ok()
                .filter(|b: &f64| b.is_finite())
                .ok_or_else(|| bad(format!("{written:?} is not a number")))?
        };
        Ok(Self {
            measure,
            below,
            bound,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thresholds_parse_print_and_refuse_nonsense() {
        let t: Threshold = "physics<50".parse().unwrap();
        assert_eq!(t.to_string(), "physics<50");
        assert!(t.below);
        let t: Threshold = "defect_rate > 0.25".parse().unwrap();
        assert_eq!(t.measure, Measure::DefectRate);
        assert!(!t.below);
        let t: Threshold = "cost>25usd".parse().unwrap();
        assert_eq!((t.measure, t.bound), (Measure::Cost, 25.0));
        for bad in [
            "cost>5eur",
            "physics",
            "physics<>3",
            "speed<3",
            "physics<abc",
            "physics<NaN",
        ] {
            let e = bad.parse::<Threshold>().unwrap_err().to_string();
            assert!(e.contains(bad), "{e}");
        }
    }

    #[test]
    fn nothing_measured_never_fails() {
        let t: Threshold = "physics<50".parse().unwrap();
        assert_eq!(t.crossed(&Summary::new(&[])), None);
    }
}
