//! The collector: bounded histories of every series, alert evaluation, and
//! alert delivery to subscribers.

use std::collections::HashMap;
use std::fmt;
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll};
use std::time::{Duration, Instant, SystemTime};

use futures::Stream;
use futures::stream::BoxStream;
use tokio::sync::{Notify, broadcast};
use tokio::task::JoinHandle;

use crate::alert::RuleState;
use crate::{
    Aggregates, Alert, AlertRule, AlertState, Condition, Error, Level, Result, Series, SeriesKey,
};

/// Settings of a [`Collector`]; every default is documented on its setter.
#[derive(Debug, Clone)]
#[must_use = "a builder does nothing until .build()"]
pub struct CollectorBuilder {
    capacity: usize,
    max_series: usize,
    scale: f64,
    alert_buffer: usize,
    rules: Vec<AlertRule>,
}

impl Default for CollectorBuilder {
    fn default() -> Self {
        CollectorBuilder {
            capacity: 1024,
            max_series: 4096,
            scale: 1000.0,
            alert_buffer: 256,
            rules: Vec::new(),
        }
    }
}

impl CollectorBuilder {
    /// Recent samples kept per series. Default 1024.
    pub fn capacity(mut self, capacity: usize) -> Self {
        self.capacity = capacity;
        self
    }

    /// Most series held; a new series past it is refused
    /// ([`Error::TooManySeries`]). Default 4096.
    pub fn max_series(mut self, max_series: usize) -> Self {
        self.max_series = max_series;
        self
    }

    /// Histogram scale (see [`Series`]). Default 1000.
    pub fn scale(mut self, scale: f64) -> Self {
        self.scale = scale;
        self
    }

    /// Alerts buffered per subscriber before a slow one skips some.
    /// Default 256.
    pub fn alert_buffer(mut self, alert_buffer: usize) -> Self {
        self.alert_buffer = alert_buffer;
        self
    }

    /// Adds an alert rule.
    pub fn rule(mut self, rule: AlertRule) -> Self {
        self.rules.push(rule);
        self
    }

    /// The collector.
    pub fn build(self) -> Result<Collector> {
        // Checks capacity and scale once, with the errors Series gives.
        Series::new(self.capacity, self.scale)?;
        if self.max_series == 0 || self.alert_buffer == 0 {
            return Err(Error::InvalidConfig {
                setting: if self.max_series == 0 {
                    "max_series"
                } else {
                    "alert_buffer"
                },
                reason: "must be at least 1".into(),
            });
        }
        let (alerts, _) = broadcast::channel(self.alert_buffer);
        Ok(Collector {
            shared: Arc::new(Shared {
                inner: Mutex::new(Some(Inner {
                    series: HashMap::new(),
                    rules: self.rules,
                    states: HashMap::new(),
                    alerts,
                })),
                stop: Notify::new(),
                evaluator: Mutex::new(None),
                capacity: self.capacity,
                max_series: self.max_series,
                scale: self.scale,
            }),
        })
    }
}

/// Bounded histories of every series, with alert rules over them.
///
/// Memory is bounded: at most `max_series` series, each with `capacity`
/// recent samples and a fixed-size histogram. Cloning is cheap and shares
/// the state. Recording from many threads is safe, also during
/// [`shutdown`](Collector::shutdown), after which every call returns
/// [`Error::ShutDown`] and every alert stream ends.
///
/// ```
/// use std::time::{Duration, Instant};
/// use framebreak_telemetry::{AlertRule, Collector, Level, SeriesKey};
///
/// let temp = SeriesKey::new("framebreak_device_temperature_celsius").label("device", "cuda:0");
/// let collector = Collector::builder()
///     .rule(AlertRule::above("gpu-hot", SeriesKey::new(temp.name()), 85.0, Level::Critical)?)
///     .build()?;
/// let now = Instant::now();
/// collector.record_at(&temp, now, 91.0)?;
/// let alerts = collector.evaluate(now)?;
/// assert_eq!(alerts[0].level, Level::Critical);
/// assert_eq!(collector.aggregates(&temp, now, Duration::from_secs(60))?.unwrap().mean, 91.0);
/// # Ok::<(), framebreak_telemetry::Error>(())
/// ```
#[derive(Clone)]
pub struct Collector {
    shared: Arc<Shared>,
}

struct Shared {
    // None once shut down.
    inner: Mutex<Option<Inner>>,
    stop: Notify,
    evaluator: Mutex<Option<JoinHandle<()>>>,
    capacity: usize,
    max_series: usize,
    scale: f64,
}

struct Inner {
    series: HashMap<SeriesKey, Series>,
    rules: Vec<AlertRule>,
    states: HashMap<(usize, SeriesKey), RuleState>,
    alerts: broadcast::Sender<Alert>,
}

impl fmt::Debug for Collector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let guard = self.lock();
        let mut d = f.debug_struct("Collector");
        match guard.as_ref() {
            Some(inner) => d
                .field("series", &inner.series.len())
                .field("rules", &inner.rules.len()),
            None => d.field("shut_down", &true),
        };
        d.finish_non_exhaustive()
    }
}

impl Collector {
    /// Settings, starting from the defaults.
    pub fn builder() -> CollectorBuilder {
        CollectorBuilder::default()
    }

    // Every update is validated before it mutates, so a lock poisoned by a
    // panicking subscriber elsewhere still guards a consistent state.
    fn lock(&self) -> MutexGuard<'_, Option<Inner>> {
        self.shared.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Records `value` for `key` now.
    pub fn record(&self, key: &SeriesKey, value: f64) -> Result<()> {
        self.record_at(key, Instant::now(), value)
    }

    /// Records `value` for `key` at `at`. An invalid value or a series past
    /// the limit is an error and changes nothing.
    pub fn record_at(&self, key: &SeriesKey, at: Instant, value: f64) -> Result<()> {
        // Checked before a new series is made for it.
        if !(value.is_finite() && value >= 0.0) {
            return Err(Error::InvalidSample {
                series: key.to_string(),
                value,
            });
        }
        let mut guard = self.lock();
        let inner = guard.as_mut().ok_or(Error::ShutDown)?;
        if !inner.series.contains_key(key) {
            if inner.series.len() >= self.shared.max_series {
                return Err(Error::TooManySeries {
                    series: key.to_string(),
                    limit: self.shared.max_series,
                });
            }
            let series = Series::new(self.shared.capacity, self.shared.scale)?;
            inner.series.insert(key.clone(), series);
        }
        let series = inner.series.get_mut(key).expect("inserted above");
        series.record(key, at, value)?;
        for (i, rule) in inner.rules.iter().enumerate() {
            if let Condition::Saturated {
                series: watched,
                limit,
                ..
            } = &rule.condition
                && key.matches(watched)
            {
                let state = inner.states.entry((i, key.clone())).or_default();
                state.saturated_since = if value >= *limit {
                    Some(state.saturated_since.unwrap_or(at))
                } else {
                    None
                };
            }
        }
        Ok(())
    }

    /// The aggregates of `key` as of `now`, `None` if it has no samples.
    pub fn aggregates(
        &self,
        key: &SeriesKey,
        now: Instant,
        window: Duration,
    ) -> Result<Option<Aggregates>> {
        let guard = self.lock();
        let inner = guard.as_ref().ok_or(Error::ShutDown)?;
        Ok(inner.series.get(key).map(|s| s.aggregates(now, window)))
    }

    /// Every series and its aggregates, sorted by key.
    pub fn snapshot(&self, now: Instant, window: Duration) -> Result<Vec<(SeriesKey, Aggregates)>> {
        let guard = self.lock();
        let inner = guard.as_ref().ok_or(Error::ShutDown)?;
        let mut all: Vec<_> = inner
            .series
            .iter()
            .map(|(k, s)| (k.clone(), s.aggregates(now, window)))
            .collect();
        all.sort_by(|a, b| a.0.cmp(&b.0));
        Ok(all)
    }

    /// How many series are held.
    pub fn series_count(&self) -> Result<usize> {
        Ok(self.lock().as_ref().ok_or(Error::ShutDown)?.series.len())
    }

    /// A stream of every alert from now on. It ends at shutdown. A
    /// subscriber that falls more than the alert buffer behind skips the
    /// oldest alerts it missed (and a warning says how many).
    pub fn subscribe(&self) -> Result<AlertStream> {
        let receiver = self
            .lock()
            .as_ref()
            .ok_or(Error::ShutDown)?
            .alerts
            .subscribe();
        let stream = futures::stream::unfold(receiver, |mut rx| async move {
            loop {
                match rx.recv().await {
                    Ok(alert) => return Some((alert, rx)),
                    Err(broadcast::error::RecvError::Lagged(n)) => {
                        tracing::warn!(skipped = n, "alert subscriber fell behind");
                    }
                    Err(broadcast::error::RecvError::Closed) => return None,
                }
            }
        });
        Ok(AlertStream {
            inner: Box::pin(stream),
        })
    }

    /// Evaluates every rule as of `now`, sends the alerts that start or stop
    /// to subscribers, and returns them.
    pub fn evaluate(&self, now: Instant) -> Result<Vec<Alert>> {
        let mut guard = self.lock();
        let inner = guard.as_mut().ok_or(Error::ShutDown)?;
        let mut alerts = Vec::new();
        let wall = SystemTime::now();
        for (i, rule) in inner.rules.iter().enumerate() {
            for (subject, value, limit, firing, message) in
                decide(rule, &inner.series, &inner.states, i, now)
            {
                let state = inner.states.entry((i, subject.clone())).or_default();
                if state.firing == firing {
                    continue;
                }
                state.firing = firing;
                alerts.push(Alert {
                    rule: rule.name.clone(),
                    level: if firing { rule.level } else { Level::Info },
                    state: if firing {
                        AlertState::Firing
                    } else {
                        AlertState::Resolved
                    },
                    series: subject.to_string(),
                    value,
                    limit,
                    message,
                    at: wall,
                });
            }
        }
        for alert in &alerts {
            // No subscriber is not an error: the alert is still returned.
            let _ = inner.alerts.send(alert.clone());
        }
        Ok(alerts)
    }

    /// Evaluates the rules every `interval` on the current tokio runtime,
    /// until shutdown. Calling it again replaces the previous evaluator.
    pub fn spawn_evaluator(&self, interval: Duration) -> Result<()> {
        if interval.is_zero() {
            return Err(Error::InvalidConfig {
                setting: "interval",
                reason: "must be above zero".into(),
            });
        }
        if self.lock().is_none() {
            return Err(Error::ShutDown);
        }
        if tokio::runtime::Handle::try_current().is_err() {
            return Err(Error::NoRuntime {
                what: "the alert evaluator",
            });
        }
        let collector = self.clone();
        let handle = tokio::spawn(async move {
            let mut tick = tokio::time::interval(interval);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tokio::select! {
                    _ = collector.shared.stop.notified() => return,
                    _ = tick.tick() => {
                        if collector.evaluate(Instant::now()).is_err() {
                            return;
                        }
                    }
                }
            }
        });
        if let Some(old) = self
            .shared
            .evaluator
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .replace(handle)
        {
            old.abort();
        }
        Ok(())
    }

    /// Drops every series, rule and subscriber channel (alert streams end),
    /// and stops the evaluator, waiting for it to finish. Idempotent.
    pub async fn shutdown(&self) {
        self.close();
        let evaluator = self
            .shared
            .evaluator
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .take();
        if let Some(handle) = evaluator {
            // The evaluator ends on its own at the next await point; a
            // JoinError here can only be the abort of a replaced one.
            let _ = handle.await;
        }
    }

    /// The synchronous part of [`shutdown`](Collector::shutdown): drops the
    /// state and tells the evaluator to stop, without waiting for it.
    pub fn close(&self) {
        let inner = self.lock().take();
        drop(inner);
        // notify_one keeps a permit when the evaluator is busy evaluating,
        // so the stop is never lost.
        self.shared.stop.notify_one();
    }

    /// Whether the collector has been shut down.
    pub fn is_shut_down(&self) -> bool {
        self.lock().is_none()
    }
}

type Decision = (SeriesKey, f64, f64, bool, String);

fn decide(
    rule: &AlertRule,
    series: &HashMap<SeriesKey, Series>,
    states: &HashMap<(usize, SeriesKey), RuleState>,
    index: usize,
    now: Instant,
) -> Vec<Decision> {
    match &rule.condition {
        Condition::FailureRate {
            failures,
            outcomes,
            threshold,
            window,
            min_events,
        } => {
            let sum = |wanted: &SeriesKey| -> f64 {
                series
                    .iter()
                    .filter(|(k, _)| k.matches(wanted))
                    .map(|(_, s)| s.window(now, *window).1)
                    .sum()
            };
            let (failed, total) = (sum(failures), sum(outcomes));
            let rate = if total > 0.0 { failed / total } else { 0.0 };
            let firing = total >= *min_events as f64 && total > 0.0 && rate > *threshold;
            let message = format!(
                "{:.1} % of {total} outcomes failed in the last {}s (limit {:.1} %)",
                rate * 100.0,
                window.as_secs_f64(),
                threshold * 100.0
            );
            vec![(outcomes.clone(), rate, *threshold, firing, message)]
        }
        Condition::Saturated {
            series: watched,
            limit,
            for_longer_than,
        } => series
            .keys()
            .filter(|k| k.matches(watched))
            .map(|k| {
                let since = states
                    .get(&(index, k.clone()))
                    .and_then(|s| s.saturated_since);
                let lasted = since.map_or(Duration::ZERO, |t| now.saturating_duration_since(t));
                let firing = since.is_some() && lasted > *for_longer_than;
                let message = format!(
                    "{k} at or above {limit} for {:.0}s (limit {:.0}s)",
                    lasted.as_secs_f64(),
                    for_longer_than.as_secs_f64()
                );
                (
                    k.clone(),
                    lasted.as_secs_f64(),
                    for_longer_than.as_secs_f64(),
                    firing,
                    message,
                )
            })
            .collect(),
        Condition::Above {
            series: watched,
            limit,
        } => series
            .iter()
            .filter(|(k, _)| k.matches(watched))
            .filter_map(|(k, s)| {
                let latest = s.latest()?.value;
                let firing = latest > *limit;
                Some((
                    k.clone(),
                    latest,
                    *limit,
                    firing,
                    format!("{k} is {latest} (limit {limit})"),
                ))
            })
            .collect(),
    }
}

/// Alerts as they happen; ends when the collector shuts down.
pub struct AlertStream {
    inner: BoxStream<'static, Alert>,
}

impl fmt::Debug for AlertStream {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AlertStream").finish_non_exhaustive()
    }
}

impl Stream for AlertStream {
    type Item = Alert;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Alert>> {
        self.inner.as_mut().poll_next(cx)
    }
}
