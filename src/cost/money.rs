//! Amounts of money: US dollars, exact to the micro-dollar.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// Micro-dollars in a dollar.
const MICROS: u64 = 1_000_000;

/// An amount of US dollars, exact to a millionth of a dollar, never
/// negative. Prices and budgets are written `25usd`, `25 USD`, `$25`,
/// `0.05usd` or a bare number (dollars); other currencies are refused
/// rather than converted.
///
/// ```
/// use framebreak::cost::Usd;
///
/// let budget: Usd = "25usd".parse().unwrap();
/// let price: Usd = "$0.05".parse().unwrap();
/// assert_eq!(price.times(8), "0.40usd".parse().unwrap());
/// assert_eq!(budget.to_string(), "$25.00");
/// assert!("-5usd".parse::<Usd>().is_err());
/// assert!("5eur".parse::<Usd>().is_err());
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Usd(u64);

/// Why a text is not an amount of dollars.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{text:?} is not an amount of US dollars: {reason} (write it as 25usd, $25 or 0.05usd)")]
pub struct ParseUsdError {
    text: String,
    reason: &'static str,
}

impl Usd {
    /// Nothing.
    pub const ZERO: Self = Self(0);

    /// `micros` millionths of a dollar.
    #[must_use]
    pub const fn from_micros(micros: u64) -> Self {
        Self(micros)
    }

    /// In millionths of a dollar.
    #[must_use]
    pub const fn micros(self) -> u64 {
        self.0
    }

    /// `n` times this amount (saturating: no price is that large).
    #[must_use]
    pub const fn times(self, n: u64) -> Self {
        Self(self.0.saturating_mul(n))
    }

    /// The sum (saturating).
    #[must_use]
    pub const fn plus(self, other: Self) -> Self {
        Self(self.0.saturating_add(other.0))
    }

    /// In dollars, for figures and reports (not for sums).
    #[must_use]
    pub fn dollars(self) -> f64 {
        self.0 as f64 / MICROS as f64
    }
}

impl FromStr for Usd {
    type Err = ParseUsdError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let bad = |reason| ParseUsdError {
            text: text.to_owned(),
            reason,
        };
        let trimmed = text.trim();
        let lower = trimmed.to_ascii_lowercase();
        let number = if let Some(rest) = lower.strip_prefix('$') {
            rest.trim()
        } else if let Some(rest) = lower.strip_suffix("usd") {
            rest.trim()
        } else {
            lower.as_str()
        };
        if number.starts_with('-') {
            return Err(bad("an amount cannot be negative"));
        }
        if number.is_empty() {
            return Err(bad("no number"));
        }
        if number.chars().any(|c| c.is_ascii_alphabetic()) {
            return Err(bad(
                "the currency is not USD (prices and budgets are in US dollars)",
            ));
        }
        let (whole, fraction) = number.split_once('.').unwrap_or((number, ""));
        if whole.is_empty() && fraction.is_empty() {
            return Err(bad("no number"));
        }
        let all_digits = |s: &str| s.chars().all(|c| c.is_ascii_digit());
        if !all_digits(whole) || !all_digits(fraction) {
            return Err(bad("not a number"));
        }
        if fraction.len() > 6 {
            return Err(bad(
                "more than six decimals (a millionth of a dollar is the smallest amount)",
            ));
        }
        let whole: u64 = if whole.is_empty() {
            0
        } else {
            whole.parse().map_err(|_| bad("too large"))?
        };
        let fraction: u64 = format!("{fraction:0<6}")
            .parse()
            .map_err(|_| bad("not a number"))?;
        whole
            .checked_mul(MICROS)
            .and_then(|m| m.checked_add(fraction))
            .map(Self)
            .ok_or_else(|| bad("too large"))
    }
}

impl fmt::Display for Usd {
    /// `$25.00`, `$0.05`; down to the micro-dollar when cents do not say it
    /// (`$0.0525`).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (whole, fraction) = (self.0 / MICROS, self.0 % MICROS);
        if fraction % 10_000 == 0 {
            write!(f, "${whole}.{:02}", fraction / 10_000)
        } else {
            let digits = format!("{fraction:06}");
            write!(f, "${whole}.{}", digits.trim_end_matches('0'))
        }
    }
}

impl Serialize for Usd {
    /// As text (`0.05usd`), so configuration files and rows read back.
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let (whole, fraction) = (self.0 / MICROS, self.0 % MICROS);
        let digits = format!("{fraction:06}");
        let digits = digits.trim_end_matches('0');
        if digits.is_empty() {
            s.serialize_str(&format!("{whole}usd"))
        } else {
            s.serialize_str(&format!("{whole}.{digits}usd"))
        }
    }
}

impl<'de> Deserialize<'de> for Usd {
    /// From text (`25usd`) or a number of dollars (`25`, `0.05`).
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Written {
            Text(String),
            Whole(u64),
            Number(f64),
        }
        let text = match Written::deserialize(d)? {
            Written::Text(t) => t,
            Written::Whole(n) => n.to_string(),
            Written::Number(x) => format!("{x}"),
        };
        text.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn amounts_parse_in_every_spelling_and_print_back() {
        for (text, micros) in [
            ("25usd", 25_000_000),
            ("25 USD", 25_000_000),
            ("$25", 25_000_000),
            ("25", 25_000_000),
            ("0.05usd", 50_000),
            (".5", 500_000),
            ("$0.000001", 1),
            ("0", 0),
        ] {
            assert_eq!(text.parse::<Usd>().unwrap().micros(), micros, "{text}");
        }
        assert_eq!(Usd::from_micros(52_500).to_string(), "$0.0525");
        assert_eq!(Usd::from_micros(25_000_000).to_string(), "$25.00");
        let back: Usd =
            serde_json::from_value(serde_json::to_value(Usd::from_micros(52_500)).unwrap())
                .unwrap();
        assert_eq!(back, Usd::from_micros(52_500));
    }

    #[test]
    fn bad_amounts_are_named_with_the_reason() {
        for (text, says) in [
            ("-5usd", "negative"),
            ("5eur", "not USD"),
            ("€5", "not a number"),
            ("usd", "no number"),
            ("1.2.3", "not a number"),
            ("0.0000001", "six decimals"),
            ("99999999999999999999", "too large"),
        ] {
            let e = text.parse::<Usd>().unwrap_err().to_string();
            assert!(
                e.contains(says) && e.contains(&format!("{text:?}")),
                "{text}: {e}"
            );
        }
    }
}
