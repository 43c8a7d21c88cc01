//! Integration tests of the scheduler, one module per concern:
//!
//! - `conformance`: the store conformance suite on every store;
//! - `engine`: priorities, affinity, breaker waits, pauses, shutdown, bad input;
//! - `properties`: proptest state machines (terminal states, exclusivity,
//!   retry bounds, half-open trials);
//! - `crash`: 10,000 jobs, kill -9 several times, exactly-once submission;
//! - `faults`: 5xx, 429 and timeouts; no retry storm; measured request rate;
//! - `emitted`: the metric names of the contract, seen by a recorder;
//! - `shared_limit`: rate limits taken from a shared limiter;
//! - `postgres` (feature `postgres`): the PostgreSQL store and rate limiter
//!   against a real server (`FRAMEBREAK_TEST_DATABASE_URL`, see scripts/pg).

// The crash and fault tests print what they measured.
#![allow(clippy::print_stderr)]

mod conformance;
mod crash;
mod emitted;
mod engine;
mod faults;
#[cfg(feature = "postgres")]
mod postgres;
mod properties;
mod shared_limit;
mod spend;
mod util;
