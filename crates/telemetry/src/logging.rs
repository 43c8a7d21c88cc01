//! Tracing setup: one subscriber, pretty on a terminal or JSON in a file,
//! job correlation ids on every event, secrets never written.
//!
//! # Correlation ids
//!
//! Wrap a job's work in [`job_span`]: every event inside it, however deep,
//! carries `job_id` and `variant_id` (in the pretty prefix
//! `job{job_id=… variant_id=…}:`, and as top-level keys in JSON).
//!
//! # Secrets
//!
//! Two guards, so one mistake is not a leak:
//!
//! - **By type.** Hold keys in [`Secret`], whose `Debug` and `Display` print
//!   `[redacted]`; `?secret` or `%secret` in an event records only that.
//! - **By name.** A field whose name has a part in [`SECRET_FIELD_PARTS`]
//!   (`api_key`, `token`, `password`, `authorization`, `x-api-key`…) is
//!   written as `[redacted]` whatever its value, by the field formatters of
//!   both formats, for events and spans alike.

use std::fmt;
use std::fs::OpenOptions;
use std::path::Path;
use std::sync::Mutex;

use serde_json::{Map, Value};
use tracing::field::{Field, Visit};
use tracing::{Event, Subscriber};
use tracing_subscriber::Layer;
use tracing_subscriber::field::RecordFields;
use tracing_subscriber::filter::Targets;
use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::time::FormatTime;
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields, FormattedFields, MakeWriter};
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::registry::LookupSpan;

use crate::{Error, Result};

/// What a redacted value is written as.
pub const REDACTED: &str = "[redacted]";

/// Parts of a field name (split at `_`, `-`, `.`) that mark it as secret.
pub const SECRET_FIELD_PARTS: &[&str] = &[
    "key",
    "apikey",
    "token",
    "password",
    "passwd",
    "secret",
    "authorization",
    "auth",
    "cookie",
    "credential",
    "credentials",
    "bearer",
];

/// Field names hoisted to the top level of JSON lines.
pub const CORRELATION_FIELDS: &[&str] = &["job_id", "variant_id"];

/// Whether a field of this name is written as [`REDACTED`].
///
/// ```
/// use framebreak_telemetry::is_secret_field;
///
/// assert!(is_secret_field("api_key") && is_secret_field("Authorization") && is_secret_field("x-api-key"));
/// assert!(!is_secret_field("job_id") && !is_secret_field("monkey"));
/// ```
pub fn is_secret_field(name: &str) -> bool {
    name.split(['_', '-', '.']).any(|part| {
        SECRET_FIELD_PARTS
            .iter()
            .any(|s| part.eq_ignore_ascii_case(s))
    })
}

/// A key that must never be printed (`Debug` writes `Secret(***)`,
/// `Display` `***`): the project's one secret type, from `framebreak-vocab`.
pub use framebreak_vocab::Secret;

/// The span a job's work runs in: its events carry both ids.
///
/// ```
/// let span = framebreak_telemetry::job_span("job-42", "v-3f9a");
/// let _entered = span.enter();
/// tracing::info!("submitted"); // carries job_id=job-42 variant_id=v-3f9a
/// ```
pub fn job_span(job_id: &str, variant_id: &str) -> tracing::Span {
    tracing::info_span!("job", job_id = %job_id, variant_id = %variant_id)
}

/// How log lines look.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    /// One human-readable line per event, coloured when `ansi` is on.
    Pretty {
        /// Terminal colours.
        ansi: bool,
    },
    /// One JSON object per line, for files and log shippers.
    Json,
}

/// A formatting layer for `format`, writing to `writer`, with redaction.
/// [`init_tracing`] uses it; tests and embedders can stack it themselves.
pub fn layer<S, W>(format: LogFormat, writer: W) -> Box<dyn Layer<S> + Send + Sync>
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    W: for<'a> MakeWriter<'a> + Send + Sync + 'static,
{
    let base = tracing_subscriber::fmt::layer().with_writer(writer);
    match format {
        LogFormat::Pretty { ansi } => Box::new(base.with_ansi(ansi).fmt_fields(PrettyFields)),
        LogFormat::Json => Box::new(
            base.with_ansi(false)
                .fmt_fields(JsonFields)
                .event_format(JsonLines),
        ),
    }
}

/// Installs the process-wide subscriber: `filter` as in `RUST_LOG`
/// (`info`, `warn,framebreak_scheduler=debug`), lines to stderr or appended
/// to `file`. Once per process; a second call is [`Error::AlreadyInstalled`].
pub fn init_tracing(format: LogFormat, filter: &str, file: Option<&Path>) -> Result<()> {
    let targets: Targets =
        filter
            .parse()
            .map_err(
                |e: tracing_subscriber::filter::ParseError| Error::InvalidFilter {
                    filter: filter.to_owned(),
                    reason: e.to_string(),
                },
            )?;
    let registry = tracing_subscriber::registry().with(targets);
    let installed = match file {
        None => {
            tracing::subscriber::set_global_default(registry.with(layer(format, std::io::stderr)))
        }
        Some(path) => {
            let file = OpenOptions::new()
                .create(true)
                .append(true)
                .open(path)
                .map_err(|source| Error::LogFile {
                    path: path.display().to_string(),
                    source,
                })?;
            tracing::subscriber::set_global_default(registry.with(layer(format, Mutex::new(file))))
        }
    };
    installed.map_err(|_| Error::AlreadyInstalled {
        what: "tracing subscriber",
    })
}

/// `name=value` fields with secrets redacted.
#[derive(Debug, Clone, Copy, Default)]
struct PrettyFields;

impl<'w> FormatFields<'w> for PrettyFields {
    fn format_fields<R: RecordFields>(&self, writer: Writer<'w>, fields: R) -> fmt::Result {
        let mut visitor = PrettyVisitor {
            writer,
            first: true,
            result: Ok(()),
        };
        fields.record(&mut visitor);
        visitor.result
    }
}

struct PrettyVisitor<'w> {
    writer: Writer<'w>,
    first: bool,
    result: fmt::Result,
}

impl PrettyVisitor<'_> {
    fn write(&mut self, field: &Field, value: &dyn fmt::Debug) {
        if self.result.is_err() {
            return;
        }
        let sep = if self.first { "" } else { " " };
        self.first = false;
        self.result = if is_secret_field(field.name()) {
            write!(self.writer, "{sep}{}={REDACTED}", field.name())
        } else if field.name() == "message" {
            write!(self.writer, "{sep}{value:?}")
        } else {
            write!(self.writer, "{sep}{}={value:?}", field.name())
        };
    }
}

impl Visit for PrettyVisitor<'_> {
    fn record_str(&mut self, field: &Field, value: &str) {
        self.write(field, &value);
    }

    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        self.write(field, value);
    }
}

/// Fields as a JSON object, secrets redacted; how JSON spans store theirs.
#[derive(Debug, Clone, Copy, Default)]
struct JsonFields;

impl<'w> FormatFields<'w> for JsonFields {
    fn format_fields<R: RecordFields>(&self, mut writer: Writer<'w>, fields: R) -> fmt::Result {
        let mut visitor = JsonVisitor(Map::new());
        fields.record(&mut visitor);
        write!(writer, "{}", Value::Object(visitor.0))
    }

    // The default appends text after the object; merge instead, so a span
    // that records a field later still holds one JSON object.
    fn add_fields(
        &self,
        current: &'w mut FormattedFields<Self>,
        fields: &tracing::span::Record<'_>,
    ) -> fmt::Result {
        let mut visitor = JsonVisitor(serde_json::from_str(&current.fields).unwrap_or_default());
        fields.record(&mut visitor);
        current.fields = Value::Object(visitor.0).to_string();
        Ok(())
    }
}

struct JsonVisitor(Map<String, Value>);

impl JsonVisitor {
    fn put(&mut self, field: &Field, value: Value) {
        let value = if is_secret_field(field.name()) {
            Value::from(REDACTED)
        } else {
            value
        };
        self.0.insert(field.name().to_owned(), value);
    }
}

impl Visit for JsonVisitor {
    fn record_f64(&mut self, field: &Field, value: f64) {
        self.put(field, Value::from(value));
    }

    fn record_i64(&mut self, field: &Field, value: i64) {
        self.put(field, Value::from(value));
    }

    fn record_u64(&mut self, field: &Field, value: u64) {
        self.put(field, Value::from(value));
    }

    fn record_bool(&mut self, field: &Field, value: bool) {
        self.put(field, Value::from(value));
    }

    fn record_str(&mut self, field: &Field, value: &str) {
        self.put(field, Value::from(value));
    }

    fn record_error(&mut self, field: &Field, value: &(dyn std::error::Error + 'static)) {
        self.put(field, Value::from(value.to_string()));
    }

    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        self.put(field, Value::from(format!("{value:?}")));
    }
}

/// One JSON object per event: `timestamp`, `level`, `target`, the
/// correlation ids, `fields` (with `message`), and `spans` from the root.
#[derive(Debug, Clone, Copy, Default)]
struct JsonLines;

impl<S, N> FormatEvent<S, N> for JsonLines
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
{
    fn format_event(
        &self,
        ctx: &FmtContext<'_, S, N>,
        mut writer: Writer<'_>,
        event: &Event<'_>,
    ) -> fmt::Result {
        let mut line = Map::new();
        let mut timestamp = String::new();
        tracing_subscriber::fmt::time::SystemTime.format_time(&mut Writer::new(&mut timestamp))?;
        line.insert("timestamp".into(), Value::from(timestamp));
        line.insert(
            "level".into(),
            Value::from(event.metadata().level().as_str()),
        );
        line.insert("target".into(), Value::from(event.metadata().target()));
        let mut spans = Vec::new();
        for span in ctx
            .event_scope()
            .into_iter()
            .flat_map(|scope| scope.from_root())
        {
            let mut fields: Map<String, Value> = span
                .extensions()
                .get::<FormattedFields<N>>()
                .and_then(|f| serde_json::from_str(&f.fields).ok())
                .unwrap_or_default();
            for &id in CORRELATION_FIELDS {
                if let Some(v) = fields.get(id) {
                    line.insert(id.to_owned(), v.clone());
                }
            }
            fields.insert("name".into(), Value::from(span.name()));
            spans.push(Value::Object(fields));
        }
        let mut visitor = JsonVisitor(Map::new());
        event.record(&mut visitor);
        line.insert("fields".into(), Value::Object(visitor.0));
        line.insert("spans".into(), Value::Array(spans));
        writeln!(writer, "{}", Value::Object(line))
    }
}
