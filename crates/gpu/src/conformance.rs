//! The conformance suite every [`DeviceSelector`] runs.
//!
//! Each function panics, with a message naming the rule, when the selector
//! breaks it; call them from a test. [`check_all`] runs them all:
//!
//! ```
//! use framebreak_gpu::{RoundRobin, conformance};
//!
//! conformance::check_all(&|| Box::new(RoundRobin::new()));
//! ```

use std::thread;

use crate::{DeviceId, DeviceSelector, DeviceState, Error, MetricsSample};

/// Makes a fresh selector for each check.
pub type MakeSelector<'a> = dyn Fn() -> Box<dyn DeviceSelector> + 'a;

/// Runs every check below on fresh selectors from `make`.
pub fn check_all(make: &MakeSelector<'_>) {
    rejects_an_empty_snapshot(&*make());
    rejects_zero_total_capacity(&*make());
    rejects_invalid_capacities(&*make());
    picks_only_known_devices_with_capacity(&*make(), &mixed_devices());
    reaches_every_device_with_capacity(&*make());
    is_safe_to_share_between_threads(&*make());
}

/// A snapshot with a CPU, busy and idle GPUs, and a switched-off GPU.
pub fn mixed_devices() -> Vec<DeviceState> {
    let mut devices = vec![
        DeviceState::idle(DeviceId::Cpu, 1.0),
        DeviceState::idle(DeviceId::Cuda(0), 8.0),
        DeviceState::idle(DeviceId::Cuda(1), 0.0),
        DeviceState::idle(DeviceId::Cuda(2), 4.0),
    ];
    devices[1].in_flight = 3;
    devices[1].latest = Some(MetricsSample {
        memory_used: 6 << 30,
        memory_total: 8 << 30,
        utilization_percent: 85.0,
        temperature_celsius: Some(71.0),
    });
    devices
}

/// An empty snapshot is [`Error::NoDevices`].
pub fn rejects_an_empty_snapshot(selector: &dyn DeviceSelector) {
    let result = selector.select(&[]);
    assert!(
        matches!(result, Err(Error::NoDevices)),
        "empty snapshot gave {result:?}"
    );
}

/// Capacities that add up to 0 are [`Error::ZeroTotalCapacity`].
pub fn rejects_zero_total_capacity(selector: &dyn DeviceSelector) {
    let devices = [
        DeviceState::idle(DeviceId::Cpu, 0.0),
        DeviceState::idle(DeviceId::Cuda(0), 0.0),
    ];
    let result = selector.select(&devices);
    assert!(
        matches!(result, Err(Error::ZeroTotalCapacity { .. })),
        "all-zero capacities gave {result:?}"
    );
}

/// A negative or non-finite capacity is [`Error::InvalidCapacity`].
pub fn rejects_invalid_capacities(selector: &dyn DeviceSelector) {
    for bad in [-1.0, f64::NAN, f64::INFINITY] {
        let devices = [
            DeviceState::idle(DeviceId::Cpu, 1.0),
            DeviceState::idle(DeviceId::Cuda(0), bad),
        ];
        let result = selector.select(&devices);
        assert!(
            matches!(result, Err(Error::InvalidCapacity { index: 1, .. })),
            "capacity {bad} gave {result:?}"
        );
    }
}

/// Over many picks, every choice is a device of `devices` whose capacity is
/// above 0.
pub fn picks_only_known_devices_with_capacity(
    selector: &dyn DeviceSelector,
    devices: &[DeviceState],
) {
    for _ in 0..64 {
        let id = selector.select(devices).expect("a valid snapshot");
        let chosen = devices.iter().find(|d| d.id == id);
        assert!(
            chosen.is_some(),
            "picked {id}, which is not in the snapshot"
        );
        assert!(
            chosen.is_some_and(|d| d.capacity > 0.0),
            "picked {id}, whose capacity is 0"
        );
    }
}

/// With equal, idle devices, every one of them is picked within a few rounds:
/// no strategy starves a device for good.
pub fn reaches_every_device_with_capacity(selector: &dyn DeviceSelector) {
    let mut devices: Vec<DeviceState> = (0..4)
        .map(|n| DeviceState::idle(DeviceId::Cuda(n), 1.0))
        .collect();
    let mut seen = [false; 4];
    for _ in 0..256 {
        let id = selector.select(&devices).expect("a valid snapshot");
        let DeviceId::Cuda(n) = id else {
            panic!("picked {id}, not in the snapshot")
        };
        seen[n as usize] = true;
        // Feed the work back, as the manager would, so load-based
        // strategies move on.
        devices[n as usize].in_flight += 1;
    }
    assert!(
        seen.iter().all(|&s| s),
        "some device was never picked: {seen:?}"
    );
}

/// Eight threads pick at once from one selector without panicking or
/// picking an unknown device.
pub fn is_safe_to_share_between_threads(selector: &dyn DeviceSelector) {
    let devices = mixed_devices();
    thread::scope(|s| {
        for _ in 0..8 {
            s.spawn(|| picks_only_known_devices_with_capacity(selector, &devices));
        }
    });
}
