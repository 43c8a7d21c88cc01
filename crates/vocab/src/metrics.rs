//! The name of every metric framebreak emits, for the crates that emit them
//! and for the dashboards and alert rules that read them.
//!
//! Crates write these constants through the `metrics` facade
//! (`metrics::counter!(metrics::RETRIES_TOTAL, …)`), never a literal: this
//! crate's `emitted_names` test reads the workspace's sources and fails on a
//! metric macro called with a literal name, or on a name here that no crate
//! emits. Units follow Prometheus conventions (`_seconds`, `_bytes`,
//! `_total` for counters). `framebreak-telemetry` registers a description
//! and unit for each.

/// Counter: jobs that entered a state. Label `state`: `submitted`,
/// `generating`, `downloaded`, `analyzed` (the campaign's steps), `done`,
/// `failed`, `cancelled` (the scheduler's ends).
pub const JOB_TRANSITIONS_TOTAL: &str = "framebreak_job_transitions_total";
/// Counter: jobs that finished. Label `outcome`: `done`, `failed`,
/// `cancelled`. The failure-rate alert divides `outcome="failed"` by all.
pub const JOBS_FINISHED_TOTAL: &str = "framebreak_jobs_finished_total";
/// Gauge: jobs waiting to be leased, as this process counts them.
pub const QUEUE_DEPTH: &str = "framebreak_queue_depth";
/// Gauge: jobs leased and running in this process.
pub const JOBS_IN_FLIGHT: &str = "framebreak_jobs_in_flight";
/// Counter: steps of jobs that returned (done, next step or waiting).
pub const STEPS_TOTAL: &str = "framebreak_steps_total";
/// Histogram: time of one step of one job, in seconds.
pub const STEP_DURATION_SECONDS: &str = "framebreak_step_duration_seconds";
/// Counter: steps that failed. Label `category` (a
/// [`FailureCategory`](crate::FailureCategory) name).
pub const STEP_FAILURES_TOTAL: &str = "framebreak_step_failures_total";
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
/// `key` (the rate-limit key, by default the backend).
pub const RATE_LIMIT_WAIT_SECONDS: &str = "framebreak_rate_limit_wait_seconds";
/// Counter: submissions a campaign sent to a video API.
pub const SUBMITTED_TOTAL: &str = "framebreak_submitted_total";
/// Counter: submissions found at the provider after a crash and adopted
/// instead of being sent again.
pub const ADOPTED_TOTAL: &str = "framebreak_adopted_total";
/// Counter: generations cancelled at the provider (a job cancelled while
/// its video was being made).
pub const CANCELLED_AT_PROVIDER_TOTAL: &str = "framebreak_cancelled_at_provider_total";
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
    STEPS_TOTAL,
    STEP_DURATION_SECONDS,
    STEP_FAILURES_TOTAL,
    REQUEST_DURATION_SECONDS,
    RETRIES_TOTAL,
    BREAKER_STATE,
    RATE_LIMIT_WAIT_SECONDS,
    SUBMITTED_TOTAL,
    ADOPTED_TOTAL,
    CANCELLED_AT_PROVIDER_TOTAL,
    FRAME_ANALYSIS_SECONDS,
    DEVICE_UTILIZATION_PERCENT,
    DEVICE_MEMORY_USED_BYTES,
    DEVICE_MEMORY_TOTAL_BYTES,
    DEVICE_TEMPERATURE_CELSIUS,
    DEVICE_IN_FLIGHT,
    DEVICE_INVALID_SAMPLES_TOTAL,
    TELEMETRY_DROPPED_SAMPLES_TOTAL,
];
