//! The metric names framebreak emits, for every crate to use and for
//! dashboards and alert rules to rely on.
//!
//! The names are defined once, in `framebreak_vocab::metrics`, and
//! re-exported here. Library crates do not depend on this crate: they write
//! those constants through the `metrics` facade (`metrics::counter!(...)`),
//! and a test of `framebreak-vocab` fails when a crate emits a name the list
//! does not have. Units follow Prometheus conventions (`_seconds`, `_bytes`,
//! `_total` for counters). [`describe`] registers a description and unit for
//! each with the installed recorder.

use metrics::{Unit, describe_counter, describe_gauge, describe_histogram};

pub use framebreak_vocab::metrics::*;

/// Registers a unit and a description for every name with the current
/// recorder (the `# HELP` lines of the Prometheus page).
pub fn describe() {
    describe_counter!(JOB_TRANSITIONS_TOTAL, "Jobs that entered a state");
    describe_counter!(JOBS_FINISHED_TOTAL, "Jobs that finished, by outcome");
    describe_gauge!(QUEUE_DEPTH, "Jobs waiting to be leased");
    describe_gauge!(JOBS_IN_FLIGHT, "Jobs leased and running");
    describe_counter!(STEPS_TOTAL, "Steps of jobs that returned");
    describe_histogram!(
        STEP_DURATION_SECONDS,
        Unit::Seconds,
        "Time of one step of one job"
    );
    describe_counter!(STEP_FAILURES_TOTAL, "Steps that failed, by category");
    describe_counter!(SUBMITTED_TOTAL, "Submissions sent to a video API");
    describe_counter!(
        ADOPTED_TOTAL,
        "Submissions found at the provider after a crash and adopted"
    );
    describe_counter!(
        CANCELLED_AT_PROVIDER_TOTAL,
        "Generations cancelled at the provider"
    );
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
