//! Alert rules over series, and the alert events they emit.

use std::fmt;
use std::time::{Duration, Instant, SystemTime};

use serde::Serialize;

use crate::{Error, Result, SeriesKey};

/// How much an alert matters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Level {
    /// For the record (a resolved alert).
    Info,
    /// Worth a look.
    Warning,
    /// Needs action now.
    Critical,
}

impl fmt::Display for Level {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Level::Info => "info",
            Level::Warning => "warning",
            Level::Critical => "critical",
        })
    }
}

/// Whether an alert starts or stops.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum AlertState {
    /// The condition became true.
    Firing,
    /// The condition is no longer true.
    Resolved,
}

/// One alert event, sent to every subscriber when a rule starts or stops
/// firing for a series.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Alert {
    /// The rule's name.
    pub rule: String,
    /// The rule's level when firing; [`Level::Info`] when resolved.
    pub level: Level,
    /// Firing or resolved.
    pub state: AlertState,
    /// The series it concerns, as `name{labels}`.
    pub series: String,
    /// The value that decided (a rate, a duration in seconds, a reading).
    pub value: f64,
    /// The limit it was compared with.
    pub limit: f64,
    /// One line for people.
    pub message: String,
    /// When it was decided.
    #[serde(with = "unix_seconds")]
    pub at: SystemTime,
}

mod unix_seconds {
    use std::time::{SystemTime, UNIX_EPOCH};

    pub(super) fn serialize<S: serde::Serializer>(t: &SystemTime, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_f64(
            t.duration_since(UNIX_EPOCH)
                .map_or(0.0, |d| d.as_secs_f64()),
        )
    }
}

impl fmt::Display for Alert {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = match self.state {
            AlertState::Firing => "FIRING",
            AlertState::Resolved => "resolved",
        };
        write!(
            f,
            "[{}] {} {}: {}",
            self.level, self.rule, state, self.message
        )
    }
}

/// What a rule watches. Rules apply to every series whose key
/// [matches](SeriesKey::matches) theirs, each one separately.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum Condition {
    /// The share of failures among outcomes within `window` is above
    /// `threshold` (0–1), once at least `min_events` outcomes were seen.
    /// Both keys usually name one counter, e.g.
    /// `framebreak_jobs_finished_total{outcome="failed"}` over
    /// `framebreak_jobs_finished_total`.
    FailureRate {
        /// Series counting failures.
        failures: SeriesKey,
        /// Series counting every outcome (failures included).
        outcomes: SeriesKey,
        /// Share of failures above which the rule fires.
        threshold: f64,
        /// How far back to count.
        window: Duration,
        /// Fewer outcomes than this in the window never fire.
        min_events: u64,
    },
    /// The series (a queue depth) has stayed at or above `limit` for longer
    /// than `for_longer_than`.
    Saturated {
        /// The gauge watched.
        series: SeriesKey,
        /// The saturation level.
        limit: f64,
        /// How long it must last.
        for_longer_than: Duration,
    },
    /// The latest value is above `limit`: a device hotter or fuller than it
    /// should be.
    Above {
        /// The gauge watched.
        series: SeriesKey,
        /// The limit.
        limit: f64,
    },
}

/// A named condition with a level.
///
/// ```
/// use std::time::Duration;
/// use framebreak_telemetry::{AlertRule, Level, SeriesKey, names};
///
/// let hot = AlertRule::above("gpu-hot", SeriesKey::new(names::DEVICE_TEMPERATURE_CELSIUS), 85.0, Level::Critical)?;
/// let stuck = AlertRule::saturated("queue-full", SeriesKey::new(names::QUEUE_DEPTH), 1000.0, Duration::from_secs(60), Level::Warning)?;
/// # Ok::<(), framebreak_telemetry::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct AlertRule {
    /// Names the rule in alerts.
    pub name: String,
    /// The level of its alerts when firing.
    pub level: Level,
    /// What it watches.
    pub condition: Condition,
}

impl AlertRule {
    /// A rule on any condition, checked.
    pub fn new(name: impl Into<String>, level: Level, condition: Condition) -> Result<AlertRule> {
        let name = name.into();
        let invalid = |reason: String| Error::InvalidRule {
            rule: name.clone(),
            reason,
        };
        match &condition {
            Condition::FailureRate {
                threshold, window, ..
            } => {
                if !(0.0..=1.0).contains(threshold) {
                    return Err(invalid(format!("threshold {threshold} is outside 0–1")));
                }
                if window.is_zero() {
                    return Err(invalid("window is zero".into()));
                }
            }
            Condition::Saturated { limit, .. } | Condition::Above { limit, .. } => {
                if !limit.is_finite() {
                    return Err(invalid(format!("limit {limit} is not a finite number")));
                }
            }
        }
        Ok(AlertRule {
            name,
            level,
            condition,
        })
    }

    /// [`Condition::FailureRate`].
    pub fn failure_rate(
        name: impl Into<String>,
        failures: SeriesKey,
        outcomes: SeriesKey,
        threshold: f64,
        window: Duration,
        min_events: u64,
        level: Level,
    ) -> Result<AlertRule> {
        let condition = Condition::FailureRate {
            failures,
            outcomes,
            threshold,
            window,
            min_events,
        };
        AlertRule::new(name, level, condition)
    }

    /// [`Condition::Saturated`].
    pub fn saturated(
        name: impl Into<String>,
        series: SeriesKey,
        limit: f64,
        for_longer_than: Duration,
        level: Level,
    ) -> Result<AlertRule> {
        AlertRule::new(
            name,
            level,
            Condition::Saturated {
                series,
                limit,
                for_longer_than,
            },
        )
    }

    /// [`Condition::Above`].
    pub fn above(
        name: impl Into<String>,
        series: SeriesKey,
        limit: f64,
        level: Level,
    ) -> Result<AlertRule> {
        AlertRule::new(name, level, Condition::Above { series, limit })
    }
}

/// Per (rule, series) memory of the evaluation: whether it fires, and since
/// when a saturation has lasted.
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct RuleState {
    pub(crate) firing: bool,
    pub(crate) saturated_since: Option<Instant>,
}
