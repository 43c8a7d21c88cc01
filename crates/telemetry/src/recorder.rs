//! The `metrics` recorder telemetry installs: every counter, gauge and
//! histogram goes both to the Prometheus exporter and into the collector's
//! bounded histories (where the alert rules see it).

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use metrics::{
    Counter, CounterFn, Gauge, GaugeFn, Histogram, HistogramFn, Key, KeyName, Metadata, Recorder,
    SharedString, Unit,
};
use metrics_exporter_prometheus::PrometheusRecorder;

use crate::{Collector, Error, SeriesKey, names};

/// A `metrics` recorder feeding Prometheus and a [`Collector`].
///
/// Samples the collector refuses (NaN, negative, a series past its limit)
/// still reach Prometheus; they are counted in
/// `framebreak_telemetry_dropped_samples_total`.
pub struct TelemetryRecorder {
    prometheus: PrometheusRecorder,
    tap: Arc<Tap>,
}

struct Tap {
    collector: Collector,
    dropped: Counter,
    dropped_count: AtomicU64,
}

impl Tap {
    fn record(&self, key: &SeriesKey, value: f64) {
        match self.collector.record(key, value) {
            Ok(()) | Err(Error::ShutDown) => {}
            Err(_) => {
                self.dropped.increment(1);
                self.dropped_count.fetch_add(1, Ordering::Relaxed);
            }
        }
    }
}

impl fmt::Debug for TelemetryRecorder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TelemetryRecorder")
            .field("collector", &self.tap.collector)
            .field("dropped", &self.dropped())
            .finish_non_exhaustive()
    }
}

impl TelemetryRecorder {
    /// Joins a Prometheus recorder and a collector.
    pub fn new(prometheus: PrometheusRecorder, collector: Collector) -> TelemetryRecorder {
        let dropped = metrics::with_local_recorder(&prometheus, || {
            metrics::counter!(names::TELEMETRY_DROPPED_SAMPLES_TOTAL)
        });
        TelemetryRecorder {
            prometheus,
            tap: Arc::new(Tap {
                collector,
                dropped,
                dropped_count: AtomicU64::new(0),
            }),
        }
    }

    /// Samples the collector refused so far.
    pub fn dropped(&self) -> u64 {
        self.tap.dropped_count.load(Ordering::Relaxed)
    }
}

impl Recorder for TelemetryRecorder {
    fn describe_counter(&self, key: KeyName, unit: Option<Unit>, description: SharedString) {
        self.prometheus.describe_counter(key, unit, description);
    }

    fn describe_gauge(&self, key: KeyName, unit: Option<Unit>, description: SharedString) {
        self.prometheus.describe_gauge(key, unit, description);
    }

    fn describe_histogram(&self, key: KeyName, unit: Option<Unit>, description: SharedString) {
        self.prometheus.describe_histogram(key, unit, description);
    }

    fn register_counter(&self, key: &Key, metadata: &Metadata<'_>) -> Counter {
        Counter::from_arc(Arc::new(TapCounter {
            inner: self.prometheus.register_counter(key, metadata),
            key: key.into(),
            tap: self.tap.clone(),
        }))
    }

    fn register_gauge(&self, key: &Key, metadata: &Metadata<'_>) -> Gauge {
        Gauge::from_arc(Arc::new(TapGauge {
            inner: self.prometheus.register_gauge(key, metadata),
            key: key.into(),
            value: AtomicU64::new(0f64.to_bits()),
            tap: self.tap.clone(),
        }))
    }

    fn register_histogram(&self, key: &Key, metadata: &Metadata<'_>) -> Histogram {
        Histogram::from_arc(Arc::new(TapHistogram {
            inner: self.prometheus.register_histogram(key, metadata),
            key: key.into(),
            tap: self.tap.clone(),
        }))
    }
}

/// A counter's samples are its increments, so a window's sum is its increase.
struct TapCounter {
    inner: Counter,
    key: SeriesKey,
    tap: Arc<Tap>,
}

impl CounterFn for TapCounter {
    fn increment(&self, value: u64) {
        self.inner.increment(value);
        self.tap.record(&self.key, value as f64);
    }

    fn absolute(&self, value: u64) {
        // An absolute value is not an increase; the history skips it.
        self.inner.absolute(value);
    }
}

/// A gauge's samples are its values after each change.
struct TapGauge {
    inner: Gauge,
    key: SeriesKey,
    value: AtomicU64,
    tap: Arc<Tap>,
}

impl TapGauge {
    fn update(&self, f: impl Fn(f64) -> f64) {
        let mut new = 0.0;
        let _ = self
            .value
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |bits| {
                new = f(f64::from_bits(bits));
                Some(new.to_bits())
            });
        self.tap.record(&self.key, new);
    }
}

impl GaugeFn for TapGauge {
    fn increment(&self, value: f64) {
        self.inner.increment(value);
        self.update(|v| v + value);
    }

    fn decrement(&self, value: f64) {
        self.inner.decrement(value);
        self.update(|v| v - value);
    }

    fn set(&self, value: f64) {
        self.inner.set(value);
        self.update(|_| value);
    }
}

struct TapHistogram {
    inner: Histogram,
    key: SeriesKey,
    tap: Arc<Tap>,
}

impl HistogramFn for TapHistogram {
    fn record(&self, value: f64) {
        self.inner.record(value);
        self.tap.record(&self.key, value);
    }
}
