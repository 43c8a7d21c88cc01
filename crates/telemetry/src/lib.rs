//! framebreak's observability: everything that watches a campaign run.
//!
//! Library crates only write to the `metrics` and `tracing` facades; this
//! crate is what listens:
//!
//! - **Metrics** ([`Telemetry`], [`TelemetryRecorder`], [`MetricsServer`]):
//!   a `metrics` recorder that feeds a Prometheus exporter, served as
//!   `GET /metrics` on a loopback port (`framebreak --metrics-addr`). The
//!   names every crate uses are in [`names`].
//! - **Bounded histories** ([`Collector`], [`Series`], [`RingBuffer`]): the
//!   recent samples of every series in a fixed-capacity ring, with count,
//!   mean, p50/p95/p99 from an HDR histogram and rates over a window, in
//!   memory that does not grow with the number of samples.
//! - **Alerts** ([`AlertRule`], [`Alert`], [`AlertStream`]): failure rate
//!   over a threshold in a window, a queue saturated for longer than T, a
//!   device hotter or fuller than a limit; alerts have a [`Level`] and go
//!   to every subscriber as a stream.
//! - **Tracing** ([`init_tracing`], [`job_span`], [`Secret`]): one
//!   subscriber, pretty or JSON, with job and variant ids on every event of
//!   a job and secrets redacted by type and by field name.
//!
//! # Example
//!
//! ```
//! use std::time::{Duration, Instant};
//! use framebreak_telemetry::{AlertRule, Collector, Level, SeriesKey, Telemetry, names};
//! use futures::StreamExt;
//!
//! # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), framebreak_telemetry::Error> {
//! let queue = SeriesKey::new(names::QUEUE_DEPTH);
//! let rules = Collector::builder()
//!     .rule(AlertRule::saturated("queue-full", queue.clone(), 100.0, Duration::from_secs(30), Level::Warning)?);
//! let (telemetry, recorder) = Telemetry::builder().collector(rules).build()?;
//! let mut alerts = telemetry.alerts()?;
//!
//! // What a library does: write to the facade.
//! metrics::with_local_recorder(&recorder, || metrics::gauge!(names::QUEUE_DEPTH).set(250.0));
//!
//! // Half a minute later the rule fires.
//! telemetry.collector().evaluate(Instant::now() + Duration::from_secs(31))?;
//! let alert = alerts.next().await.unwrap();
//! assert_eq!((alert.rule.as_str(), alert.level), ("queue-full", Level::Warning));
//! assert!(telemetry.render().contains("framebreak_queue_depth 250"));
//! telemetry.shutdown().await;
//! # Ok(()) }
//! ```
#![warn(missing_docs)]

mod alert;
mod collector;
mod error;
mod logging;
pub mod names;
mod recorder;
mod ring;
mod series;
mod server;
mod telemetry;

pub use alert::{Alert, AlertRule, AlertState, Condition, Level};
pub use collector::{AlertStream, Collector, CollectorBuilder};
pub use error::{Error, Result};
pub use logging::{
    CORRELATION_FIELDS, LogFormat, REDACTED, SECRET_FIELD_PARTS, Secret, init_tracing,
    is_secret_field, job_span, layer,
};
pub use recorder::TelemetryRecorder;
pub use ring::RingBuffer;
pub use series::{Aggregates, SIGNIFICANT_FIGURES, Sample, Series, SeriesKey};
pub use server::MetricsServer;
pub use telemetry::{DEFAULT_METRICS_ADDR, Telemetry, TelemetryBuilder};
