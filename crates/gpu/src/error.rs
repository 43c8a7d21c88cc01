//! The crate's one error type.

use crate::DeviceId;

/// Everything that can go wrong while naming, opening, measuring, selecting
/// or splitting work over compute devices.
///
/// Each variant names the input and what is wrong with it, so that a person
/// can fix it from the message alone.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A device name is neither `cpu` nor `cuda:N`.
    #[error("invalid device {input:?}: expected `cpu` or `cuda:N` (for example `cuda:0`)")]
    InvalidDeviceId {
        /// The text as given.
        input: String,
    },

    /// A CUDA device was asked for, but this build has no CUDA support.
    #[error(
        "{device} requested, but framebreak was built without CUDA support: rebuild with `--features cuda` (needs the CUDA toolkit), or use `cpu`"
    )]
    CudaNotCompiled {
        /// The device asked for.
        device: DeviceId,
    },

    /// candle could not open a device.
    #[error("cannot open {device}: {message}")]
    DeviceOpen {
        /// The device asked for.
        device: DeviceId,
        /// What candle reported.
        message: String,
    },

    /// A device id that the manager does not know.
    #[error("unknown device {device}: known devices are {known}")]
    UnknownDevice {
        /// The device named.
        device: DeviceId,
        /// The known devices, comma-separated.
        known: String,
    },

    /// A metric value is NaN or infinite.
    #[error("{device}: {metric} is {value}, not a finite number")]
    NonFiniteMetric {
        /// The device measured.
        device: DeviceId,
        /// Which metric.
        metric: &'static str,
        /// The value as given.
        value: f64,
    },

    /// A utilization outside 0–100 %.
    #[error("{device}: {metric} is {value} %, outside 0–100 %")]
    UtilizationOutOfRange {
        /// The device measured.
        device: DeviceId,
        /// Which metric.
        metric: &'static str,
        /// The value as given.
        value: f64,
    },

    /// More memory used than the device has.
    #[error("{device}: memory used ({used} bytes) is above the total ({total} bytes)")]
    MemoryOverTotal {
        /// The device measured.
        device: DeviceId,
        /// Bytes used, as given.
        used: u64,
        /// Bytes in total, as given.
        total: u64,
    },

    /// A device capacity is negative or not a finite number.
    #[error("capacity of device #{index} is {value}: a capacity must be a finite number ≥ 0")]
    InvalidCapacity {
        /// Position of the device in the list.
        index: usize,
        /// The value as given.
        value: f64,
    },

    /// The capacities add up to zero (or there are no devices), so there is
    /// nothing to apportion work over.
    #[error("total capacity is {total}: at least one device needs a capacity above 0")]
    ZeroTotalCapacity {
        /// The sum of the capacities.
        total: f64,
    },

    /// A selector was given no device to choose from.
    #[error("no device to choose from")]
    NoDevices,

    /// The manager has been shut down.
    #[error("the device manager has been shut down")]
    ShutDown,
}

/// `Result` with this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;
