//! What each model costs: a built-in table, each entry with where and when
//! it was read, and overrides from configuration (negotiated rates, models
//! the table does not know).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::Usd;

/// How a provider bills a model.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Unit {
    /// Per second of video made.
    Second,
    /// Per clip, whatever its length.
    Clip,
}

/// A model's price: per second or per clip, a range where it depends on
/// something a request does not settle (audio, a resolution tier), with
/// where it was read.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Price {
    /// What it is billed by.
    pub unit: Unit,
    /// The lowest rate.
    pub low: Usd,
    /// The highest rate (the one budgets hold).
    pub high: Usd,
    /// Where the rate was read.
    pub source: String,
    /// When it was read (`YYYY-MM-DD`), or `configured`.
    pub checked: String,
}

impl Price {
    /// One request of `duration_secs`: its lowest and highest cost.
    #[must_use]
    pub fn of(&self, duration_secs: u32) -> (Usd, Usd) {
        match self.unit {
            Unit::Second => (
                self.low.times(u64::from(duration_secs)),
                self.high.times(u64::from(duration_secs)),
            ),
            Unit::Clip => (self.low, self.high),
        }
    }

    /// `$0.05 per second of video`, or a range.
    #[must_use]
    pub fn rate(&self) -> String {
        let unit = match self.unit {
            Unit::Second => "per second of video",
            Unit::Clip => "per clip",
        };
        if self.low == self.high {
            format!("{} {unit}", self.low)
        } else {
            format!("{}–{} {unit}", self.low, self.high)
        }
    }

    /// The rate with where and when it was read.
    #[must_use]
    pub fn describe(&self) -> String {
        format!("{} ({}; {})", self.rate(), self.source, self.checked)
    }
}

/// A price set in configuration:
///
/// ```toml
/// [pricing."luma:ray-2"]
/// per_second = "0.08usd"   # or per_clip = "0.50usd"
/// up_to = "0.12usd"        # the top of a range, when it varies
/// source = "our contract of 2026-11"
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PriceConfig {
    /// Dollars per second of video.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub per_second: Option<Usd>,
    /// Dollars per clip.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub per_clip: Option<Usd>,
    /// The highest rate, when it varies.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub up_to: Option<Usd>,
    /// Where the price comes from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
}

impl PriceConfig {
    /// The price it sets, or what is wrong with it.
    fn price(&self) -> Result<Price, String> {
        let (unit, low) = match (self.per_second, self.per_clip) {
            (Some(rate), None) => (Unit::Second, rate),
            (None, Some(rate)) => (Unit::Clip, rate),
            (Some(_), Some(_)) => return Err("set per_second or per_clip, not both".into()),
            (None, None) => return Err("set per_second or per_clip".into()),
        };
        let high = self.up_to.unwrap_or(low);
        if high < low {
            return Err(format!("up_to {high} is below the rate {low}"));
        }
        Ok(Price {
            unit,
            low,
            high,
            source: self
                .source
                .clone()
                .unwrap_or_else(|| "framebreak.toml".into()),
            checked: "configured".into(),
        })
    }
}

/// Dollars per second as micro-dollars.
const fn cents(c: u64) -> Usd {
    Usd::from_micros(c * 10_000)
}

/// The built-in table: `(backend, model, unit, low, high, source, checked)`.
/// Only rates read on a page named here; a model not listed has no price
/// until one is configured.
const TABLE: &[(&str, &str, Unit, Usd, Usd, &str, &str)] = &[
    (
        "sim",
        "framebreak-sim",
        Unit::Second,
        cents(5),
        cents(5),
        "framebreak's nominal price for its simulator, so plans and budgets can be tried offline",
        "2026-12-07",
    ),
    (
        "fal",
        "fal-ai/veo3.1",
        Unit::Second,
        cents(20),
        cents(60),
        "fal.ai/models/fal-ai/veo3.1/llms.txt: $0.20 without audio, $0.40 with, at 720p or \
         1080p; $0.40 and $0.60 at 4k",
        "2026-12-07",
    ),
    (
        "runway",
        "gen4_turbo",
        Unit::Second,
        cents(5),
        cents(5),
        "Runway API reference: 5 credits per second, 1 credit = $0.01 (as transcribed at \
         skillspool.org; academy.runwayml.com for the credit)",
        "2026-12-07",
    ),
    (
        "runway",
        "gen4.5",
        Unit::Second,
        cents(12),
        cents(12),
        "Runway API reference: 12 credits per second, 1 credit = $0.01 (as transcribed at \
         skillspool.org)",
        "2026-12-07",
    ),
    (
        "runway",
        "veo3.1_fast",
        Unit::Second,
        cents(10),
        cents(15),
        "Runway API reference: 10–15 credits per second, 1 credit = $0.01 (as transcribed at \
         skillspool.org)",
        "2026-12-07",
    ),
    (
        "runway",
        "veo3.1",
        Unit::Second,
        cents(20),
        cents(40),
        "Runway API reference: 20–40 credits per second, 1 credit = $0.01 (as transcribed at \
         skillspool.org)",
        "2026-12-07",
    ),
    (
        "runway",
        "veo3",
        Unit::Second,
        cents(40),
        cents(40),
        "Runway API reference: 40 credits per second, 1 credit = $0.01 (as transcribed at \
         skillspool.org)",
        "2026-12-07",
    ),
    (
        "veo",
        "veo-3.1-fast-generate-preview",
        Unit::Second,
        cents(10),
        cents(20),
        "Gemini API, as listed at lumenfall.ai/models/google/veo-3.1-fast: $0.10 without \
         audio, $0.20 with",
        "2026-12-07",
    ),
];

/// The built-in price of `model` on `backend`, if the table has one.
#[must_use]
pub fn builtin(backend: &str, model: &str) -> Option<Price> {
    // The simulator over HTTP is the simulator.
    let backend = if backend == "sim-http" {
        "sim"
    } else {
        backend
    };
    TABLE.iter().find(|e| e.0 == backend && e.1 == model).map(
        |&(_, _, unit, low, high, source, checked)| Price {
            unit,
            low,
            high,
            source: source.to_owned(),
            checked: checked.to_owned(),
        },
    )
}

/// Prices: the configured ones over the built-in table.
#[derive(Clone, Debug, Default)]
pub struct PriceList {
    configured: BTreeMap<String, Price>,
}

impl PriceList {
    /// The table with `overrides` (keys `backend:model`) over it. `kinds`
    /// are the backend names a key may start with.
    ///
    /// # Errors
    ///
    /// `(key, reason)` for the first override that is wrong.
    pub fn new(
        overrides: &BTreeMap<String, PriceConfig>,
        kinds: &[&str],
    ) -> Result<Self, (String, String)> {
        let mut configured = BTreeMap::new();
        for (key, config) in overrides {
            let named = format!("pricing.{key:?}");
            let Some((backend, model)) = key.split_once(':') else {
                return Err((named, "expected BACKEND:MODEL, as in \"luma:ray-2\"".into()));
            };
            if !kinds.contains(&backend) {
                return Err((
                    named,
                    format!("no backend {backend:?}; one of {}", kinds.join(", ")),
                ));
            }
            if model.is_empty() {
                return Err((named, "no model after the backend".into()));
            }
            let price = config.price().map_err(|reason| (named, reason))?;
            configured.insert(key.clone(), price);
        }
        Ok(Self { configured })
    }

    /// The price of `model` on `backend`: configured, else built in.
    #[must_use]
    pub fn get(&self, backend: &str, model: &str) -> Option<Price> {
        self.configured
            .get(&format!("{backend}:{model}"))
            .cloned()
            .or_else(|| builtin(backend, model))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const KINDS: &[&str] = &["sim", "luma", "fal"];

    fn config(toml: &str) -> BTreeMap<String, PriceConfig> {
        toml::from_str(toml).unwrap()
    }

    #[test]
    fn a_configured_price_wins_over_the_table_and_fills_its_gaps() {
        let list = PriceList::new(
            &config("[\"sim:framebreak-sim\"]\nper_second = \"0.10usd\"\n[\"luma:ray-2\"]\nper_clip = 0.5\nup_to = \"0.9usd\"\nsource = \"our contract\""),
            KINDS,
        )
        .unwrap();
        let sim = list.get("sim", "framebreak-sim").unwrap();
        assert_eq!(
            sim.of(4),
            (Usd::from_micros(400_000), Usd::from_micros(400_000))
        );
        let ray = list.get("luma", "ray-2").unwrap();
        assert_eq!(
            ray.of(9),
            (Usd::from_micros(500_000), Usd::from_micros(900_000))
        );
        assert!(
            ray.describe().contains("our contract"),
            "{}",
            ray.describe()
        );
        assert_eq!(
            list.get("fal", "fal-ai/veo3.1").unwrap().of(8).1,
            "4.80usd".parse().unwrap()
        );
        assert!(list.get("luma", "ray-9").is_none());
    }

    #[test]
    fn bad_overrides_are_named_by_key() {
        for (toml, says) in [
            ("[\"ray-2\"]\nper_second = 1", "BACKEND:MODEL"),
            ("[\"lumen:ray-2\"]\nper_second = 1", "no backend \"lumen\""),
            ("[\"luma:\"]\nper_second = 1", "no model"),
            (
                "[\"luma:ray-2\"]\nsource = \"x\"",
                "set per_second or per_clip",
            ),
            ("[\"luma:ray-2\"]\nper_second = 1\nper_clip = 1", "not both"),
            (
                "[\"luma:ray-2\"]\nper_second = 1\nup_to = 0.5",
                "below the rate",
            ),
        ] {
            let (key, reason) = PriceList::new(&config(toml), KINDS).unwrap_err();
            assert!(
                key.starts_with("pricing.") && reason.contains(says),
                "{toml}: {key}: {reason}"
            );
        }
        for toml in [
            "[\"luma:ray-2\"]\nper_second = \"-1usd\"",
            "[\"luma:ray-2\"]\nper_second = \"1eur\"",
            "[\"luma:ray-2\"]\nper_hour = 1",
        ] {
            assert!(
                toml::from_str::<BTreeMap<String, PriceConfig>>(toml).is_err(),
                "{toml}"
            );
        }
    }

    #[test]
    fn every_builtin_entry_names_its_source_and_date() {
        for e in TABLE {
            assert!(e.3 <= e.4, "{}:{}", e.0, e.1);
            assert!(e.5.len() > 20 && e.6.len() == 10, "{}:{}", e.0, e.1);
        }
    }
}
