//! framebreak's observability: Prometheus metrics exporter, bounded histories with percentiles, alert rules and tracing setup.
#![warn(missing_docs)]
