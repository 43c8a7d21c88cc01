//! What is known about a device: its fixed description and its current state.

use serde::Serialize;

use crate::{DeviceId, DeviceStats, MetricsSample};

/// Default capacity of the CPU: the unit the other capacities are measured in.
pub const CPU_CAPACITY: f64 = 1.0;

/// Default capacity of one CUDA device, relative to the CPU. A rough figure
/// for frame metrics (SSIM, optical flow) on a current GPU against a few CPU
/// cores; set measured capacities with
/// [`DeviceManager::set_capacity`](crate::DeviceManager::set_capacity).
pub const CUDA_CAPACITY: f64 = 8.0;

/// A device as discovered: what it is and how much work it should take.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DeviceInfo {
    /// `cpu` or `cuda:N`.
    pub id: DeviceId,
    /// A human name (`NVIDIA H100 80GB HBM3`, `CPU (16 threads)`).
    pub name: String,
    /// Relative share of work (≥ 0); see [`CPU_CAPACITY`].
    pub capacity: f64,
}

/// A device as a [`DeviceSelector`](crate::DeviceSelector) sees it at the
/// moment of choosing: cheap to copy, one consistent snapshot.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct DeviceState {
    /// `cpu` or `cuda:N`.
    pub id: DeviceId,
    /// Relative share of work (≥ 0).
    pub capacity: f64,
    /// Units of work handed to this device and not yet finished.
    pub in_flight: u64,
    /// The last valid sample, if any.
    pub latest: Option<MetricsSample>,
    /// Aggregates of every valid sample.
    pub stats: DeviceStats,
}

impl DeviceState {
    /// A state with no work and no metrics yet.
    pub fn idle(id: DeviceId, capacity: f64) -> DeviceState {
        DeviceState {
            id,
            capacity,
            in_flight: 0,
            latest: None,
            stats: DeviceStats::default(),
        }
    }
}
