//! One named series: its recent samples in a ring, and lifetime aggregates
//! in constant memory.

use std::fmt;
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;
use serde::Serialize;

use crate::{Error, Result, RingBuffer};

/// A series' identity: a metric name and its labels, sorted by label name.
/// Prints as Prometheus does: `name{device="cuda:0"}`.
///
/// ```
/// use framebreak_telemetry::SeriesKey;
///
/// let key = SeriesKey::new("framebreak_queue_depth").label("queue", "main");
/// assert_eq!(key.to_string(), r#"framebreak_queue_depth{queue="main"}"#);
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
pub struct SeriesKey {
    name: String,
    labels: Vec<(String, String)>,
}

impl SeriesKey {
    /// A series with no labels.
    pub fn new(name: impl Into<String>) -> SeriesKey {
        SeriesKey {
            name: name.into(),
            labels: Vec::new(),
        }
    }

    /// The same series with one more label (replacing one of the same name).
    #[must_use]
    pub fn label(mut self, key: impl Into<String>, value: impl Into<String>) -> SeriesKey {
        let key = key.into();
        self.labels.retain(|(k, _)| *k != key);
        self.labels.push((key, value.into()));
        self.labels.sort();
        self
    }

    /// The metric name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The value of label `key`, if set.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.labels
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    /// Whether every label of `other` is set here to the same value and the
    /// names are equal: `name{a="1",b="2"}` matches `name{a="1"}` and `name`.
    pub fn matches(&self, other: &SeriesKey) -> bool {
        self.name == other.name && other.labels.iter().all(|(k, v)| self.get(k) == Some(v))
    }
}

impl From<&metrics::Key> for SeriesKey {
    fn from(key: &metrics::Key) -> SeriesKey {
        key.labels().fold(SeriesKey::new(key.name()), |s, l| {
            s.label(l.key(), l.value())
        })
    }
}

impl fmt::Display for SeriesKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.name)?;
        if self.labels.is_empty() {
            return Ok(());
        }
        f.write_str("{")?;
        for (i, (k, v)) in self.labels.iter().enumerate() {
            if i > 0 {
                f.write_str(",")?;
            }
            write!(f, "{k}={v:?}")?;
        }
        f.write_str("}")
    }
}

/// One recorded value and when.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Sample {
    /// When it was recorded.
    pub at: Instant,
    /// The value.
    pub value: f64,
}

/// Summary of a series: lifetime figures from the histogram, window figures
/// from the recent samples.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize)]
pub struct Aggregates {
    /// Samples recorded over the series' life.
    pub count: u64,
    /// Their mean.
    pub mean: f64,
    /// Smallest value (at the histogram's precision).
    pub min: f64,
    /// Largest value (at the histogram's precision).
    pub max: f64,
    /// Median.
    pub p50: f64,
    /// 95th percentile.
    pub p95: f64,
    /// 99th percentile.
    pub p99: f64,
    /// Samples within the window (among those the ring still holds).
    pub window_count: usize,
    /// Sum of the values within the window (for counters: the increase).
    pub window_sum: f64,
    /// `window_count` per second of window.
    pub rate_per_second: f64,
}

/// Significant figures the histogram keeps: values are exact to 0.1 %.
pub const SIGNIFICANT_FIGURES: u8 = 3;

/// The recent samples of one series in a [`RingBuffer`], plus lifetime
/// aggregates (count, mean, an HDR histogram for percentiles) whose memory
/// does not grow with the number of samples.
///
/// Values must be finite and ≥ 0 (durations, sizes, counts, percentages).
/// The histogram stores `value × scale` as an integer, so `scale` sets the
/// finest step it tells apart: the default 1000 keeps milliseconds of a
/// value in seconds.
#[derive(Debug, Clone)]
pub struct Series {
    recent: RingBuffer<Sample>,
    count: u64,
    mean: f64,
    histogram: Histogram<u64>,
    scale: f64,
}

impl Series {
    /// An empty series keeping `capacity` recent samples, histogram scale
    /// `scale` (finite, > 0).
    pub fn new(capacity: usize, scale: f64) -> Result<Series> {
        if !(scale.is_finite() && scale > 0.0) {
            return Err(Error::InvalidConfig {
                setting: "scale",
                reason: format!("{scale} is not a finite number above 0"),
            });
        }
        Ok(Series {
            recent: RingBuffer::new(capacity)?,
            count: 0,
            mean: 0.0,
            histogram: Histogram::new(SIGNIFICANT_FIGURES).expect("3 significant figures is valid"),
            scale,
        })
    }

    /// Records `value` at `at`. `key` only names the series in the error.
    pub fn record(&mut self, key: &SeriesKey, at: Instant, value: f64) -> Result<()> {
        if !(value.is_finite() && value >= 0.0) {
            return Err(Error::InvalidSample {
                series: key.to_string(),
                value,
            });
        }
        self.count += 1;
        self.mean += (value - self.mean) / self.count as f64;
        // The histogram grows its range to the largest value seen (memory
        // grows with the log of that range, not with the count). `as`
        // saturates, and a value past what it can track lands in its top
        // bucket.
        let scaled = (value * self.scale).round() as u64;
        if self.histogram.record(scaled).is_err() {
            self.histogram.saturating_record(scaled);
        }
        self.recent.push(Sample { at, value });
        Ok(())
    }

    /// The samples still held, oldest first.
    pub fn recent(&self) -> &RingBuffer<Sample> {
        &self.recent
    }

    /// The newest sample.
    pub fn latest(&self) -> Option<Sample> {
        self.recent.newest().copied()
    }

    /// Sum and count of the held samples recorded after `now - window`.
    pub fn window(&self, now: Instant, window: Duration) -> (usize, f64) {
        let since = now.checked_sub(window);
        self.recent
            .iter()
            .rev()
            .take_while(|s| since.is_none_or(|t| s.at > t))
            .fold((0, 0.0), |(n, sum), s| (n + 1, sum + s.value))
    }

    /// The value at quantile `q` (0–1), at the histogram's precision.
    pub fn quantile(&self, q: f64) -> f64 {
        self.histogram.value_at_quantile(q) as f64 / self.scale
    }

    /// Lifetime and window figures as of `now`.
    pub fn aggregates(&self, now: Instant, window: Duration) -> Aggregates {
        if self.count == 0 {
            return Aggregates::default();
        }
        let (window_count, window_sum) = self.window(now, window);
        let seconds = window.as_secs_f64();
        Aggregates {
            count: self.count,
            mean: self.mean,
            min: self.histogram.min() as f64 / self.scale,
            max: self.histogram.max() as f64 / self.scale,
            p50: self.quantile(0.50),
            p95: self.quantile(0.95),
            p99: self.quantile(0.99),
            window_count,
            window_sum,
            rate_per_second: if seconds > 0.0 {
                window_count as f64 / seconds
            } else {
                0.0
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn key() -> SeriesKey {
        SeriesKey::new("t")
    }

    #[test]
    fn invalid_samples_are_typed_errors_and_change_nothing() {
        let mut s = Series::new(4, 1000.0).unwrap();
        s.record(&key(), Instant::now(), 1.0).unwrap();
        for bad in [f64::NAN, f64::INFINITY, -0.5] {
            let e = s
                .record(&key().label("device", "cpu"), Instant::now(), bad)
                .unwrap_err();
            assert!(
                matches!(e, Error::InvalidSample { ref series, .. } if series == r#"t{device="cpu"}"#),
                "{e}"
            );
        }
        assert_eq!(
            s.aggregates(Instant::now(), Duration::from_secs(1)).count,
            1
        );
        assert_eq!(s.recent().len(), 1);
    }

    #[test]
    fn bad_settings_are_typed_errors() {
        assert!(matches!(Series::new(0, 1.0), Err(Error::ZeroCapacity)));
        for scale in [0.0, -1.0, f64::NAN] {
            assert!(matches!(
                Series::new(1, scale),
                Err(Error::InvalidConfig {
                    setting: "scale",
                    ..
                })
            ));
        }
    }

    #[test]
    fn window_counts_only_recent_samples() {
        let t0 = Instant::now();
        let mut s = Series::new(100, 1000.0).unwrap();
        for i in 0..10u64 {
            s.record(&key(), t0 + Duration::from_secs(i), 2.0).unwrap();
        }
        let now = t0 + Duration::from_secs(9);
        let a = s.aggregates(now, Duration::from_secs(5)); // samples at 5..=9
        assert_eq!((a.window_count, a.window_sum), (5, 10.0));
        assert!((a.rate_per_second - 1.0).abs() < 1e-12);
        assert_eq!(a.count, 10);
        assert_eq!(a.mean, 2.0);
    }

    #[test]
    fn keys_match_by_label_subset() {
        let k = SeriesKey::new("m").label("b", "2").label("a", "1");
        assert_eq!(k.to_string(), r#"m{a="1",b="2"}"#);
        assert!(k.matches(&SeriesKey::new("m")));
        assert!(k.matches(&SeriesKey::new("m").label("a", "1")));
        assert!(!k.matches(&SeriesKey::new("m").label("a", "2")));
        assert!(!k.matches(&SeriesKey::new("n")));
    }

    proptest! {
        #[test]
        fn percentiles_match_a_sorted_reference(
            values in prop::collection::vec(0.0f64..10_000.0, 1..2000),
            q in prop::sample::select(vec![0.5, 0.9, 0.95, 0.99, 1.0]),
        ) {
            let scale = 1000.0;
            let mut s = Series::new(8, scale).unwrap();
            let t = Instant::now();
            for &v in &values {
                s.record(&key(), t, v).unwrap();
            }
            // The reference stores what the histogram stores (value × scale,
            // rounded) and takes the nearest rank, as HDR does.
            let mut reference: Vec<f64> = values.iter().map(|v| (v * scale).round() / scale).collect();
            reference.sort_by(f64::total_cmp);
            let rank = ((q * values.len() as f64).ceil() as usize).max(1) - 1;
            let expected = reference[rank];
            let got = s.quantile(q);
            // 3 significant figures: a bucket spans at most 1/1024 of its
            // value, plus one step of the scale.
            let tolerance = expected / 1024.0 + 1.0 / scale;
            prop_assert!((got - expected).abs() <= tolerance, "q{q}: {got} vs {expected}");
        }
    }
}
