//! The device manager: one consistent, thread-safe view of every device's
//! capacity, work in flight and metrics.

use framebreak_vocab::metrics as names;
use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, Mutex, RwLock, RwLockReadGuard, RwLockWriteGuard};

use crate::{
    DeviceId, DeviceInfo, DeviceSelector, DeviceState, Error, MetricsSample, Probe, Result,
    candle_device,
};

/// Holds the devices and their live state; hands out [`Lease`]s.
///
/// Cloning is cheap and shares the same state. Every method is safe to call
/// from many threads at once, also while another thread calls
/// [`shutdown`](DeviceManager::shutdown): after it, calls return
/// [`Error::ShutDown`] (or do nothing, for a [`Lease`] dropped late) and never
/// panic or see half of an update.
///
/// ```
/// use framebreak_gpu::{DeviceId, DeviceManager, LeastLoaded, MetricsSample};
///
/// let manager = DeviceManager::discover();
/// let lease = manager.acquire(&LeastLoaded)?;
/// assert_eq!(lease.id(), DeviceId::Cpu); // the only device on a machine without CUDA
/// let device = lease.candle_device()?; // where this unit of work puts its tensors
/// assert!(device.is_cpu());
/// manager.record(DeviceId::Cpu, MetricsSample { utilization_percent: 40.0, ..Default::default() })?;
/// drop(lease);
/// manager.shutdown();
/// # Ok::<(), framebreak_gpu::Error>(())
/// ```
#[derive(Clone)]
pub struct DeviceManager {
    shared: Arc<Shared>,
}

struct Shared {
    // None once shut down.
    state: RwLock<Option<Vec<DeviceState>>>,
    opened: Mutex<HashMap<DeviceId, candle_core::Device>>,
}

impl fmt::Debug for DeviceManager {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DeviceManager")
            .field("devices", &*self.read())
            .finish_non_exhaustive()
    }
}

impl DeviceManager {
    /// A manager over these devices, each idle, at its capacity.
    pub fn new(devices: impl IntoIterator<Item = DeviceInfo>) -> DeviceManager {
        let states = devices
            .into_iter()
            .map(|d| DeviceState::idle(d.id, d.capacity))
            .collect();
        DeviceManager {
            shared: Arc::new(Shared {
                state: RwLock::new(Some(states)),
                opened: Mutex::new(HashMap::new()),
            }),
        }
    }

    /// A manager over the devices a fresh [`Probe`] finds.
    pub fn discover() -> DeviceManager {
        DeviceManager::new(Probe::new().discover().devices)
    }

    // A panic elsewhere while holding the lock cannot leave the state half
    // written (every update below is a plain assignment after validation),
    // so a poisoned lock is still a consistent one.
    fn read(&self) -> RwLockReadGuard<'_, Option<Vec<DeviceState>>> {
        self.shared.state.read().unwrap_or_else(|p| p.into_inner())
    }

    fn write(&self) -> RwLockWriteGuard<'_, Option<Vec<DeviceState>>> {
        self.shared.state.write().unwrap_or_else(|p| p.into_inner())
    }

    /// One consistent snapshot of every device.
    pub fn snapshot(&self) -> Result<Vec<DeviceState>> {
        self.read().clone().ok_or(Error::ShutDown)
    }

    /// Records a sample for `id`. An invalid sample is an error and changes
    /// nothing: it never enters the latest value or the aggregates.
    pub fn record(&self, id: DeviceId, sample: MetricsSample) -> Result<()> {
        sample.validate(id).inspect_err(|_| {
            metrics::counter!(names::DEVICE_INVALID_SAMPLES_TOTAL, "device" => id.to_string())
                .increment(1);
        })?;
        let mut guard = self.write();
        let device = find(guard.as_mut().ok_or(Error::ShutDown)?, id)?;
        device.latest = Some(sample);
        device.stats.add(&sample);
        drop(guard);
        let label = id.to_string();
        metrics::gauge!(names::DEVICE_UTILIZATION_PERCENT, "device" => label.clone())
            .set(sample.utilization_percent);
        metrics::gauge!(names::DEVICE_MEMORY_USED_BYTES, "device" => label.clone())
            .set(sample.memory_used as f64);
        metrics::gauge!(names::DEVICE_MEMORY_TOTAL_BYTES, "device" => label.clone())
            .set(sample.memory_total as f64);
        if let Some(t) = sample.temperature_celsius {
            metrics::gauge!(names::DEVICE_TEMPERATURE_CELSIUS, "device" => label).set(t);
        }
        Ok(())
    }

    /// Samples every device with `probe` and records what it measures.
    pub fn poll(&self, probe: &Probe) -> Result<()> {
        for device in self.snapshot()? {
            if let Some(sample) = probe.sample(device.id)? {
                self.record(device.id, sample)?;
            }
        }
        Ok(())
    }

    /// Sets the relative capacity of `id` (finite, ≥ 0; 0 switches it off).
    pub fn set_capacity(&self, id: DeviceId, capacity: f64) -> Result<()> {
        let mut guard = self.write();
        let devices = guard.as_mut().ok_or(Error::ShutDown)?;
        if !capacity.is_finite() || capacity < 0.0 {
            let index = devices
                .iter()
                .position(|d| d.id == id)
                .unwrap_or(devices.len());
            return Err(Error::InvalidCapacity {
                index,
                value: capacity,
            });
        }
        find(devices, id)?.capacity = capacity;
        Ok(())
    }

    /// Chooses a device with `selector` and counts one unit of work in flight
    /// on it until the [`Lease`] is dropped. Choosing and counting happen
    /// under one lock, so concurrent callers see each other's work.
    pub fn acquire(&self, selector: &dyn DeviceSelector) -> Result<Lease> {
        let mut guard = self.write();
        let devices = guard.as_mut().ok_or(Error::ShutDown)?;
        let id = selector.select(devices)?;
        let device = find(devices, id)?;
        device.in_flight += 1;
        let in_flight = device.in_flight;
        drop(guard);
        metrics::gauge!(names::DEVICE_IN_FLIGHT, "device" => id.to_string()).set(in_flight as f64);
        Ok(Lease {
            id,
            manager: self.clone(),
        })
    }

    /// Drops every device, lease count and opened candle device. Later calls
    /// return [`Error::ShutDown`]. Returns the final states.
    pub fn shutdown(&self) -> Vec<DeviceState> {
        let last = self.write().take().unwrap_or_default();
        self.shared
            .opened
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clear();
        last
    }

    /// Whether [`shutdown`](DeviceManager::shutdown) has run.
    pub fn is_shut_down(&self) -> bool {
        self.read().is_none()
    }

    fn candle_device(&self, id: DeviceId) -> Result<candle_core::Device> {
        if self.is_shut_down() {
            return Err(Error::ShutDown);
        }
        let mut opened = self.shared.opened.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(device) = opened.get(&id) {
            return Ok(device.clone());
        }
        // Opening a CUDA device creates a context: once per device, not per
        // unit of work.
        let device = candle_device(id)?;
        opened.insert(id, device.clone());
        Ok(device)
    }

    fn release(&self, id: DeviceId) {
        let mut guard = self.write();
        // After shutdown there is nothing left to release.
        if let Some(device) = guard
            .as_mut()
            .and_then(|d| d.iter_mut().find(|d| d.id == id))
        {
            device.in_flight = device.in_flight.saturating_sub(1);
            let in_flight = device.in_flight;
            drop(guard);
            metrics::gauge!(names::DEVICE_IN_FLIGHT, "device" => id.to_string())
                .set(in_flight as f64);
        }
    }
}

fn find(devices: &mut [DeviceState], id: DeviceId) -> Result<&mut DeviceState> {
    match devices.iter().position(|d| d.id == id) {
        Some(i) => Ok(&mut devices[i]),
        None => Err(Error::UnknownDevice {
            device: id,
            known: devices
                .iter()
                .map(|d| d.id.to_string())
                .collect::<Vec<_>>()
                .join(", "),
        }),
    }
}

/// One unit of work's claim on a device: counted in flight until dropped.
#[derive(Debug)]
#[must_use = "the work is counted in flight only while the lease lives"]
pub struct Lease {
    id: DeviceId,
    manager: DeviceManager,
}

impl Lease {
    /// The device chosen.
    pub fn id(&self) -> DeviceId {
        self.id
    }

    /// The candle device for the chosen device, opened once and shared.
    pub fn candle_device(&self) -> Result<candle_core::Device> {
        self.manager.candle_device(self.id)
    }
}

impl Drop for Lease {
    fn drop(&mut self) {
        self.manager.release(self.id);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{CPU_CAPACITY, LeastLoaded, RoundRobin};

    fn manager() -> DeviceManager {
        DeviceManager::new([
            DeviceInfo {
                id: DeviceId::Cpu,
                name: "cpu".into(),
                capacity: CPU_CAPACITY,
            },
            DeviceInfo {
                id: DeviceId::Cuda(0),
                name: "fake gpu".into(),
                capacity: 4.0,
            },
        ])
    }

    fn sample(utilization: f64) -> MetricsSample {
        MetricsSample {
            memory_used: 1,
            memory_total: 10,
            utilization_percent: utilization,
            temperature_celsius: Some(50.0),
        }
    }

    #[test]
    fn invalid_samples_never_enter_the_aggregates() {
        let m = manager();
        m.record(DeviceId::Cuda(0), sample(20.0)).unwrap();
        for bad in [f64::NAN, 101.0, -1.0] {
            assert!(m.record(DeviceId::Cuda(0), sample(bad)).is_err());
        }
        let over = MetricsSample {
            memory_used: 11,
            ..sample(5.0)
        };
        assert!(matches!(
            m.record(DeviceId::Cuda(0), over),
            Err(Error::MemoryOverTotal { .. })
        ));
        let state = m.snapshot().unwrap()[1];
        assert_eq!(state.stats.samples, 1);
        assert_eq!(state.latest, Some(sample(20.0)));
        assert_eq!(state.stats.mean_utilization_percent, 20.0);
    }

    #[test]
    fn unknown_devices_are_typed_errors() {
        let m = manager();
        let e = m.record(DeviceId::Cuda(5), sample(1.0)).unwrap_err();
        assert!(
            matches!(
                e,
                Error::UnknownDevice {
                    device: DeviceId::Cuda(5),
                    ..
                }
            ),
            "{e}"
        );
        assert!(e.to_string().contains("cpu, cuda:0"), "{e}");
        assert!(matches!(
            m.set_capacity(DeviceId::Cuda(5), 1.0),
            Err(Error::UnknownDevice { .. })
        ));
        assert!(matches!(
            m.set_capacity(DeviceId::Cpu, -2.0),
            Err(Error::InvalidCapacity { index: 0, .. })
        ));
    }

    #[test]
    fn leases_count_work_in_flight() {
        let m = manager();
        let a = m.acquire(&LeastLoaded).unwrap(); // a tie: the first device
        let b = m.acquire(&LeastLoaded).unwrap(); // cpu 1/1 busy, gpu 0/4
        let c = m.acquire(&LeastLoaded).unwrap(); // gpu 1/4 is still less
        assert_eq!(
            [a.id(), b.id(), c.id()],
            [DeviceId::Cpu, DeviceId::Cuda(0), DeviceId::Cuda(0)]
        );
        let in_flight = |m: &DeviceManager| {
            m.snapshot()
                .unwrap()
                .iter()
                .map(|d| d.in_flight)
                .collect::<Vec<_>>()
        };
        assert_eq!(in_flight(&m), [1, 2]);
        drop(b);
        assert_eq!(in_flight(&m), [1, 1]);
        drop((a, c));
        assert_eq!(in_flight(&m), [0, 0]);
    }

    #[test]
    fn shutdown_clears_everything_and_later_calls_fail_cleanly() {
        let m = manager();
        let lease = m.acquire(&RoundRobin::new()).unwrap();
        assert!(lease.candle_device().unwrap().is_cpu());
        let last = m.shutdown();
        assert_eq!(last.len(), 2);
        assert!(m.is_shut_down());
        assert!(matches!(m.snapshot(), Err(Error::ShutDown)));
        assert!(matches!(
            m.record(DeviceId::Cpu, sample(1.0)),
            Err(Error::ShutDown)
        ));
        assert!(matches!(m.acquire(&LeastLoaded), Err(Error::ShutDown)));
        assert!(matches!(lease.candle_device(), Err(Error::ShutDown)));
        drop(lease); // releasing after shutdown is a no-op, not a panic
        assert!(m.shared.opened.lock().unwrap().is_empty());
    }
}
