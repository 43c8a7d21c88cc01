//! The metric names framebreak emits, for every crate to use and for
//! dashboards and alert rules to rely on.
//!
//! Library crates do not depend on this crate: they write these names
//! through the `metrics` facade (`metrics::counter!(...)`), and this list is
//! the contract. Units follow Prometheus conventions (`_seconds`, `_bytes`,
//! `_total` for counters). [`describe`] registers a description and unit for
//! each with the installed recorder.

use metrics::{Unit, describe_counter, describe_gauge, describe_histogram};

/// Counter: jobs that entered a state. Label `state`: `pending`,
/// `submitted`, `generating`, `downloaded`, `analyzed`, `done`, `failed`,
/// `cancelled`; `failed` also has `category` (`timeout`, `rate_limited`…).
pub const JOB_TRANSITIONS_TOTAL: &str = "framebreak_job_transitions_total";
/// Counter: jobs that finished. Label `outcome`: `done`, `failed`,
/// `cancelled`. The failure-rate alert divides `outcome="failed"` by all.
pub const JOBS_FINISHED_TOTAL: &str = "framebreak_jobs_finished_total";
/// Gauge: jobs waiting to be leased.
pub const QUEUE_DEPTH: &str = "framebreak_queue_depth";
/// Gauge: jobs leased and running.
pub const JOBS_IN_FLIGHT: &str = "framebreak_jobs_in_flight";
/// Histogram: time of one request to a video API, in seconds. Labels
/// `backend` (`replicate`, `fal`, `sim`…) and `outcome` (`ok` or a failure
/// category).
pub const REQUEST_DURATION_SECONDS: &str = "framebreak_request_duration_seconds";
/// Counter: retries scheduled. Label `backend`.
pub const RETRIES_TOTAL: &str = "framebreak_retries_total";
/// Gauge: circuit breaker state per backend: 0 closed, 1 half-open, 2 open.
/// Label `backend`.
pub const BREAKER_STATE: &str = "framebreak_breaker_state";
/// Histogram: time spent waiting for a rate limiter, in seconds. Label
/// `backend`.
pub const RATE_LIMIT_WAIT_SECONDS: &str = "framebreak_rate_limit_wait_seconds";
/// Histogram: defect analysis time per frame, in seconds. Label `device`
/// (`cpu`, `cuda:0`…).
pub const FRAME_ANALYSIS_SECONDS: &str = "framebreak_frame_analysis_seconds";
/// Gauge: device compute utilization, percent. Label `device`.
pub const DEVICE_UTILIZATION_PERCENT: &str = "framebreak_device_utilization_percent";
/// Gauge: device memory in use, bytes. Label `device`.
pub const DEVICE_MEMORY_USED_BYTES: &str = "framebreak_device_memory_used_bytes";
/// Gauge: device memory in total, bytes. Label `device`.
pub const DEVICE_MEMORY_TOTAL_BYTES: &str = "framebreak_device_memory_total_bytes";
/// Gauge: device temperature, °C. Label `device`.
pub const DEVICE_TEMPERATURE_CELSIUS: &str = "framebreak_device_temperature_celsius";
/// Gauge: units of work running on a device. Label `device`.
pub const DEVICE_IN_FLIGHT: &str = "framebreak_device_in_flight";
/// Counter: device metric samples refused as invalid. Label `device`.
pub const DEVICE_INVALID_SAMPLES_TOTAL: &str = "framebreak_device_invalid_samples_total";
/// Counter: samples the history collector refused (invalid value, too many
/// series). Label `reason`.
pub const TELEMETRY_DROPPED_SAMPLES_TOTAL: &str = "framebreak_telemetry_dropped_samples_total";

/// Every name above, for checks that a name is known.
pub const ALL: &[&str] = &[
    JOB_TRANSITIONS_TOTAL,
    JOBS_FINISHED_TOTAL,
    QUEUE_DEPTH,
    JOBS_IN_FLIGHT,
    REQUEST_DURATION_SECONDS,
    RETRIES_TOTAL,
    BREAKER_STATE,
    RATE_LIMIT_WAIT_SECONDS,
    FRAME_ANALYSIS_SECONDS,
    DEVICE_UTILIZATION_PERCENT,
    DEVICE_MEMORY_USED_BYTES,
    DEVICE_MEMORY_TOTAL_BYTES,
    DEVICE_TEMPERATURE_CELSIUS,
    DEVICE_IN_FLIGHT,
    DEVICE_INVALID_SAMPLES_TOTAL,
    TELEMETRY_DROPPED_SAMPLES_TOTAL,
];

/// Registers a unit and a description for every name with the current
/// recorder (the `# HELP` lines of the Prometheus page).
pub fn describe() {
    describe_counter!(JOB_TRANSITIONS_TOTAL, "Jobs that entered a state");
    describe_counter!(JOBS_FINISHED_TOTAL, "Jobs that finished, by outcome");
    describe_gauge!(QUEUE_DEPTH, "Jobs waiting to be leased");
    describe_gauge!(JOBS_IN_FLIGHT, "Jobs leased and running");
    describe_histogram!(
        REQUEST_DURATION_SECONDS,
        Unit::Seconds,
        "Time of one request to a video API"
    );
    describe_counter!(RETRIES_TOTAL, "Retries scheduled");
    describe_gauge!(
        BREAKER_STATE,
        "Circuit breaker state: 0 closed, 1 half-open, 2 open"
    );
    describe_histogram!(
        RATE_LIMIT_WAIT_SECONDS,
        Unit::Seconds,
        "Time spent waiting for a rate limiter"
    );
    describe_histogram!(
        FRAME_ANALYSIS_SECONDS,
        Unit::Seconds,
        "Defect analysis time per frame"
    );
    describe_gauge!(
        DEVICE_UTILIZATION_PERCENT,
        Unit::Percent,
        "Device compute utilization"
    );
    describe_gauge!(
        DEVICE_MEMORY_USED_BYTES,
        Unit::Bytes,
        "Device memory in use"
    );
    describe_gauge!(
        DEVICE_MEMORY_TOTAL_BYTES,
        Unit::Bytes,
        "Device memory in total"
    );
    describe_gauge!(
        DEVICE_TEMPERATURE_CELSIUS,
        "Device temperature in degrees Celsius"
    );
    describe_gauge!(DEVICE_IN_FLIGHT, "Units of work running on a device");
    describe_counter!(
        DEVICE_INVALID_SAMPLES_TOTAL,
        "Device metric samples refused as invalid"
    );
    describe_counter!(
        TELEMETRY_DROPPED_SAMPLES_TOTAL,
        "Samples the history collector refused"
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_unique_prometheus_names() {
        let mut seen = std::collections::HashSet::new();
        for name in ALL {
            assert!(seen.insert(name), "{name} twice");
            assert!(name.starts_with("framebreak_"));
            assert!(
                name.bytes().all(|b| b.is_ascii_lowercase() || b == b'_'),
                "{name}"
            );
        }
    }
}
