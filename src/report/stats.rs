//! Confidence intervals for proportions and their differences.
//!
//! Defect rates are proportions of small samples (a trap may have a dozen
//! videos), often at 0 or 1, where the textbook `p ± 1.96·√(p(1−p)/n)`
//! collapses to a point. Wilson's score interval stays inside `[0, 1]` and
//! keeps its coverage there; Newcombe's hybrid score interval (his method
//! 10, 1998) builds the interval of a difference from the two Wilson
//! intervals, with the same good behaviour.

use serde::Serialize;

/// The normal quantile of a two-sided 95 % interval.
pub const Z95: f64 = 1.959_963_984_540_054;

/// A point estimate and its interval.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Interval {
    /// The point estimate.
    pub estimate: f64,
    /// The lower bound.
    pub low: f64,
    /// The upper bound.
    pub high: f64,
}

/// Wilson's 95 % score interval of `successes` out of `trials`; `None`
/// without trials. Successes above trials are counted as trials.
///
/// ```
/// use framebreak::report::wilson;
///
/// let i = wilson(81, 263).unwrap();
/// assert!((i.low - 0.2553).abs() < 5e-5 && (i.high - 0.3662).abs() < 5e-5);
/// ```
#[must_use]
pub fn wilson(successes: u64, trials: u64) -> Option<Interval> {
    wilson_z(successes, trials, Z95)
}

/// Wilson's score interval with normal quantile `z`.
#[must_use]
pub fn wilson_z(successes: u64, trials: u64, z: f64) -> Option<Interval> {
    if trials == 0 {
        return None;
    }
    let n = trials as f64;
    let p = successes.min(trials) as f64 / n;
    let z2 = z * z;
    let denom = 1.0 + z2 / n;
    let centre = (p + z2 / (2.0 * n)) / denom;
    let half = z * (p * (1.0 - p) / n + z2 / (4.0 * n * n)).sqrt() / denom;
    // At 0 and at n the bounds are exactly 0 and 1 (the formula reaches
    // them only up to rounding).
    let k = successes.min(trials);
    Some(Interval {
        estimate: p,
        low: if k == 0 {
            0.0
        } else {
            (centre - half).max(0.0)
        },
        high: if k == trials {
            1.0
        } else {
            (centre + half).min(1.0)
        },
    })
}

/// Newcombe's 95 % hybrid score interval of the difference `p1 − p2` of
/// two independent proportions `k1/n1` and `k2/n2`; `None` when either has
/// no trials.
///
/// ```
/// use framebreak::report::newcombe;
///
/// // Newcombe (1998), example (a): 56/70 − 48/80.
/// let d = newcombe((56, 70), (48, 80)).unwrap();
/// assert!((d.estimate - 0.2).abs() < 1e-12);
/// assert!((d.low - 0.0524).abs() < 5e-5 && (d.high - 0.3339).abs() < 5e-5);
/// ```
#[must_use]
pub fn newcombe((k1, n1): (u64, u64), (k2, n2): (u64, u64)) -> Option<Interval> {
    let a = wilson(k1, n1)?;
    let b = wilson(k2, n2)?;
    let d = a.estimate - b.estimate;
    Some(Interval {
        estimate: d,
        low: d - ((a.estimate - a.low).powi(2) + (b.high - b.estimate).powi(2)).sqrt(),
        high: d + ((a.high - a.estimate).powi(2) + (b.estimate - b.low).powi(2)).sqrt(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(i: Interval, low: f64, high: f64) -> bool {
        (i.low - low).abs() < 5e-5 && (i.high - high).abs() < 5e-5
    }

    // Newcombe, "Two-sided confidence intervals for the single proportion:
    // comparison of seven methods", Stat. Med. 1998, Table II, method 3.
    #[test]
    fn wilson_matches_newcombes_published_intervals() {
        assert!(close(wilson(81, 263).unwrap(), 0.2553, 0.3662));
        assert!(close(wilson(15, 148).unwrap(), 0.0624, 0.1605));
        assert!(close(wilson(0, 20).unwrap(), 0.0, 0.1611));
        assert!(close(wilson(1, 29).unwrap(), 0.0061, 0.1718));
    }

    #[test]
    fn wilson_edges_stay_in_the_unit_interval() {
        assert_eq!(wilson(0, 0), None);
        let all = wilson(10, 10).unwrap();
        assert_eq!((all.estimate, all.high), (1.0, 1.0));
        assert!((all.low - 0.7225).abs() < 5e-5, "{all:?}");
        let half = wilson(5, 10).unwrap();
        assert!((half.low + half.high - 1.0).abs() < 1e-12);
        assert_eq!(wilson(12, 10), wilson(10, 10));
    }

    // Newcombe, "Interval estimation for the difference between independent
    // proportions: comparison of eleven methods", Stat. Med. 1998, Table II,
    // method 10.
    #[test]
    fn newcombe_matches_the_published_differences() {
        assert!(close(newcombe((56, 70), (48, 80)).unwrap(), 0.0524, 0.3339));
        assert!(close(newcombe((9, 10), (3, 10)).unwrap(), 0.1705, 0.8090));
        assert!(close(newcombe((5, 56), (0, 29)).unwrap(), -0.0381, 0.1926));
        assert_eq!(newcombe((1, 0), (1, 2)), None);
    }
}
