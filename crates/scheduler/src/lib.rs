//! A durable, resumable, rate-limited job engine: job stores, leases, retries, circuit breakers, priorities and progress, for any long-running remote work.
#![warn(missing_docs)]
