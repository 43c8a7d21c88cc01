//! The [`DeviceSelector`] trait and the wrappers that make any reference to a
//! selector a selector.

use crate::{DeviceId, DeviceState, Error, Result};

/// Picks the device for the next unit of work (one video's analysis).
///
/// A selector sees one consistent snapshot of every device's state (its
/// capacity, the work in flight on it, its latest validated metrics) and
/// returns the id of one of them. It must:
///
/// - return the id of a device **in the slice**, never another;
/// - never return a device whose capacity is 0 (a device switched off);
/// - return [`Error::NoDevices`] for an empty slice,
///   [`Error::ZeroTotalCapacity`] when every capacity is 0, and
///   [`Error::InvalidCapacity`] for a negative or non-finite capacity;
/// - be callable from many threads at once (`&self`; strategies that keep
///   a turn or a random generator use interior mutability).
///
/// [`conformance`](crate::conformance) checks all of this; every strategy
/// here runs it, and so should yours.
///
/// # Example
///
/// ```
/// use framebreak_gpu::{DeviceId, DeviceSelector, DeviceState, Result};
///
/// /// Always the CPU: for reproducing a result without a GPU.
/// struct CpuOnly;
///
/// impl DeviceSelector for CpuOnly {
///     fn select(&self, devices: &[DeviceState]) -> Result<DeviceId> {
///         framebreak_gpu::check_capacities(devices)?;
///         devices
///             .iter()
///             .find(|d| d.id == DeviceId::Cpu && d.capacity > 0.0)
///             .map(|d| d.id)
///             .ok_or(framebreak_gpu::Error::NoDevices)
///     }
/// }
///
/// let devices = [DeviceState::idle(DeviceId::Cpu, 1.0), DeviceState::idle(DeviceId::Cuda(0), 8.0)];
/// assert_eq!(CpuOnly.select(&devices)?, DeviceId::Cpu);
/// # Ok::<(), framebreak_gpu::Error>(())
/// ```
#[auto_impl::auto_impl(&, Box, Arc)]
pub trait DeviceSelector: Send + Sync {
    /// The device for the next unit of work.
    fn select(&self, devices: &[DeviceState]) -> Result<DeviceId>;
}

// Fails to compile if `DeviceSelector` stops being object-safe.
const _: fn(Box<dyn DeviceSelector>) = |_| {};

/// Checks a snapshot the way every selector must: not empty, capacities
/// finite and ≥ 0, at least one above 0. Returns how many devices are
/// eligible (capacity above 0).
pub fn check_capacities(devices: &[DeviceState]) -> Result<usize> {
    if devices.is_empty() {
        return Err(Error::NoDevices);
    }
    let mut eligible = 0;
    let mut total = 0.0;
    for (index, d) in devices.iter().enumerate() {
        if !d.capacity.is_finite() || d.capacity < 0.0 {
            return Err(Error::InvalidCapacity {
                index,
                value: d.capacity,
            });
        }
        if d.capacity > 0.0 {
            eligible += 1;
        }
        total += d.capacity;
    }
    if eligible == 0 {
        return Err(Error::ZeroTotalCapacity { total });
    }
    Ok(eligible)
}

/// The `k`-th device (from 0) whose capacity is above 0.
pub(crate) fn nth_eligible(devices: &[DeviceState], k: usize) -> DeviceId {
    devices
        .iter()
        .filter(|d| d.capacity > 0.0)
        .nth(k)
        .map(|d| d.id)
        .expect("k is below the eligible count from check_capacities")
}
