//! Compute devices for framebreak's defect analysis: which ones there are,
//! how loaded they are, and which one takes the next unit of work.
//!
//! - **Discovery** ([`Probe`]): the CPU always; CUDA devices through candle
//!   when built with the `cuda` feature (off by default); memory,
//!   utilization and temperature through NVML, loaded at run time, so a
//!   machine without the NVIDIA driver reports "no CUDA devices"
//!   ([`CudaStatus`]) instead of failing. Without the feature, `cuda:N` is
//!   [`Error::CudaNotCompiled`], which says how to build with it.
//! - **Metrics** ([`MetricsSample`], [`DeviceStats`]): validated before they
//!   count: NaN, utilization outside 0–100 %, memory used above total and
//!   unknown devices are typed errors.
//! - **Selection** ([`DeviceSelector`]): [`RoundRobin`], [`SeededRandom`],
//!   [`LeastLoaded`], [`CapacityWeighted`], named in config by
//!   [`DistributionStrategy`]; every one passes the [`conformance`] suite.
//! - **Splitting** ([`split_by_capacity`]): N units over devices in
//!   proportion to capacity, summing to N exactly.
//! - **Managing** ([`DeviceManager`]): one thread-safe view of the devices
//!   that hands out [`Lease`]s (work in flight) and candle devices, and
//!   shuts down cleanly while others still record.
//!
//! Metrics go out through the `metrics` facade (`framebreak_device_*`
//! gauges, labelled by `device`); `framebreak-telemetry` exports them.
//!
//! # Example
//!
//! ```
//! use framebreak_gpu::{DeviceManager, DistributionStrategy, Probe, split_by_capacity};
//!
//! let probe = Probe::new();
//! let found = probe.discover();
//! println!("{}", found.cuda); // "no CUDA device available: …" on a CPU-only build
//!
//! let manager = DeviceManager::new(found.devices);
//! manager.poll(&probe)?;
//! let selector = DistributionStrategy::LeastLoaded.build();
//! let lease = manager.acquire(&selector)?;
//! let device: candle_core::Device = lease.candle_device()?;
//! let frame = candle_core::Tensor::zeros((3, 4, 4), candle_core::DType::F32, &device).unwrap();
//! assert_eq!(frame.dims(), [3, 4, 4]);
//!
//! let capacities: Vec<f64> = manager.snapshot()?.iter().map(|d| d.capacity).collect();
//! assert_eq!(split_by_capacity(100, &capacities)?.iter().sum::<u64>(), 100);
//! # Ok::<(), framebreak_gpu::Error>(())
//! ```
#![warn(missing_docs)]

pub mod conformance;
mod device;
mod discover;
mod error;
mod id;
mod manager;
mod sample;
mod select;
mod split;
mod strategies;

pub use device::{CPU_CAPACITY, CUDA_CAPACITY, DeviceInfo, DeviceState};
pub use discover::{CUDA_COMPILED, CudaStatus, Discovery, Probe, candle_device};
pub use error::{Error, Result};
pub use id::DeviceId;
pub use manager::{DeviceManager, Lease};
pub use sample::{DeviceStats, MetricsSample};
pub use select::{DeviceSelector, check_capacities};
pub use split::split_by_capacity;
pub use strategies::{
    CapacityWeighted, DistributionStrategy, LeastLoaded, RoundRobin, SeededRandom,
};
