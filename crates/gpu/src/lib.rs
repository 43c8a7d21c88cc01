//! Compute device discovery (CPU, CUDA via candle, NVML metrics), validated device metrics, selection strategies and capacity splits.
#![warn(missing_docs)]
