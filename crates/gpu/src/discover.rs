//! Finding devices and measuring them: the CPU always, CUDA devices through
//! candle (with the `cuda` feature), metrics through NVML loaded at run time.

use std::fmt;
use std::sync::Mutex;

use nvml_wrapper::Nvml;
use nvml_wrapper::enum_wrappers::device::TemperatureSensor;
use serde::Serialize;

use crate::{CPU_CAPACITY, CUDA_CAPACITY, DeviceId, DeviceInfo, Error, MetricsSample, Result};

/// Whether this build can compute on CUDA devices (the `cuda` feature).
pub const CUDA_COMPILED: bool = cfg!(feature = "cuda");

/// Why there are or are not CUDA devices to use.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "state", rename_all = "snake_case")]
#[non_exhaustive]
pub enum CudaStatus {
    /// CUDA devices were found and opened.
    Available {
        /// How many.
        count: u32,
    },
    /// This build has no CUDA support; `driver_devices` is how many GPUs the
    /// NVIDIA driver reports anyway (0 without a driver).
    NotCompiled {
        /// GPUs NVML sees.
        driver_devices: u32,
    },
    /// Built with CUDA, but no device could be found or opened.
    NoDevices {
        /// What NVML or candle said.
        reason: String,
    },
}

impl fmt::Display for CudaStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CudaStatus::Available { count } => write!(f, "{count} CUDA device(s) available"),
            CudaStatus::NotCompiled { driver_devices: 0 } => f.write_str(
                "no CUDA device available: this build has no CUDA support (rebuild with `--features cuda`) and no NVIDIA driver was found",
            ),
            CudaStatus::NotCompiled { driver_devices } => write!(
                f,
                "no CUDA device available: the NVIDIA driver sees {driver_devices} GPU(s), but this build has no CUDA support (rebuild with `--features cuda`)"
            ),
            CudaStatus::NoDevices { reason } => write!(f, "no CUDA device available: {reason}"),
        }
    }
}

/// The devices found, the CPU first.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Discovery {
    /// Usable devices: the CPU, then CUDA devices by ordinal.
    pub devices: Vec<DeviceInfo>,
    /// Why there are (or are not) CUDA devices among them.
    pub cuda: CudaStatus,
}

/// Opens the candle device for `id`: the device [`DeviceSelector`]s choose
/// is the device tensors go to.
///
/// Without the `cuda` feature, `cuda:N` is [`Error::CudaNotCompiled`],
/// which says how to build with it.
///
/// ```
/// use framebreak_gpu::{DeviceId, candle_device};
///
/// assert!(candle_device(DeviceId::Cpu)?.is_cpu());
/// # Ok::<(), framebreak_gpu::Error>(())
/// ```
///
/// [`DeviceSelector`]: crate::DeviceSelector
pub fn candle_device(id: DeviceId) -> Result<candle_core::Device> {
    match id {
        DeviceId::Cpu => Ok(candle_core::Device::Cpu),
        DeviceId::Cuda(_) if !CUDA_COMPILED => Err(Error::CudaNotCompiled { device: id }),
        DeviceId::Cuda(n) => {
            candle_core::Device::new_cuda(n as usize).map_err(|e| Error::DeviceOpen {
                device: id,
                message: e.to_string(),
            })
        }
    }
}

/// Finds devices and samples their metrics.
///
/// NVML (`libnvidia-ml.so`) is loaded when the probe is made; without the
/// driver the probe still works: the CPU is measured from `/proc` and CUDA
/// devices have no metrics.
pub struct Probe {
    nvml: std::result::Result<Nvml, String>,
    cpu_last: Mutex<Option<CpuTimes>>,
}

impl fmt::Debug for Probe {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Probe")
            .field("nvml", &self.nvml.as_ref().map(|_| "loaded"))
            .finish_non_exhaustive()
    }
}

impl Default for Probe {
    fn default() -> Self {
        Probe::new()
    }
}

impl Probe {
    /// Loads NVML if the driver is there.
    pub fn new() -> Probe {
        let nvml = Nvml::init().map_err(|e| format!("NVIDIA driver not found (NVML: {e})"));
        if let Err(reason) = &nvml {
            tracing::debug!(%reason, "no NVML; CUDA devices will have no metrics");
        }
        Probe {
            nvml,
            cpu_last: Mutex::new(None),
        }
    }

    /// The CPU, and the CUDA devices this build can use.
    pub fn discover(&self) -> Discovery {
        let mut devices = vec![cpu_info()];
        let driver_devices = self
            .nvml
            .as_ref()
            .ok()
            .and_then(|n| n.device_count().ok())
            .unwrap_or(0);
        if !CUDA_COMPILED {
            return Discovery {
                devices,
                cuda: CudaStatus::NotCompiled { driver_devices },
            };
        }
        // Without NVML, probe ordinals until candle refuses one.
        let limit = if self.nvml.is_ok() {
            driver_devices
        } else {
            64
        };
        let mut last_error = None;
        for n in 0..limit {
            match candle_device(DeviceId::Cuda(n)) {
                Ok(_) => devices.push(DeviceInfo {
                    id: DeviceId::Cuda(n),
                    name: self.cuda_name(n),
                    capacity: CUDA_CAPACITY,
                }),
                Err(e) => {
                    last_error = Some(e.to_string());
                    break;
                }
            }
        }
        let count = (devices.len() - 1) as u32;
        let cuda = if count > 0 {
            CudaStatus::Available { count }
        } else {
            let reason = match (&self.nvml, last_error) {
                (_, Some(e)) => e,
                (Err(e), None) => e.clone(),
                (Ok(_), None) => "the NVIDIA driver reports no GPU".to_owned(),
            };
            CudaStatus::NoDevices { reason }
        };
        Discovery { devices, cuda }
    }

    fn cuda_name(&self, n: u32) -> String {
        self.nvml
            .as_ref()
            .ok()
            .and_then(|nvml| nvml.device_by_index(n).ok()?.name().ok())
            .unwrap_or_else(|| format!("CUDA device {n}"))
    }

    /// Measures `id` now. `Ok(None)` when there is nothing to measure with
    /// (no NVML for a GPU, no `/proc` for the CPU). The sample is validated.
    pub fn sample(&self, id: DeviceId) -> Result<Option<MetricsSample>> {
        let sample = match id {
            DeviceId::Cpu => self.sample_cpu(),
            DeviceId::Cuda(n) => self.sample_cuda(n),
        };
        if let Some(s) = &sample {
            s.validate(id)?;
        }
        Ok(sample)
    }

    fn sample_cuda(&self, n: u32) -> Option<MetricsSample> {
        let nvml = self.nvml.as_ref().ok()?;
        let device = nvml.device_by_index(n).ok()?;
        let memory = device.memory_info().ok()?;
        let utilization = device.utilization_rates().ok().map_or(0, |u| u.gpu);
        Some(MetricsSample {
            memory_used: memory.used,
            memory_total: memory.total,
            utilization_percent: f64::from(utilization),
            temperature_celsius: device
                .temperature(TemperatureSensor::Gpu)
                .ok()
                .map(f64::from),
        })
    }

    fn sample_cpu(&self) -> Option<MetricsSample> {
        let (memory_total, memory_available) = meminfo()?;
        let now = CpuTimes::read()?;
        let mut last = self.cpu_last.lock().unwrap_or_else(|p| p.into_inner());
        // The first sample covers the time since boot; later ones the time
        // since the previous sample.
        let utilization = now.utilization_since(last.unwrap_or_default());
        *last = Some(now);
        Some(MetricsSample {
            memory_used: memory_total.saturating_sub(memory_available),
            memory_total,
            utilization_percent: utilization,
            temperature_celsius: None,
        })
    }
}

fn cpu_info() -> DeviceInfo {
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    DeviceInfo {
        id: DeviceId::Cpu,
        name: format!("CPU ({threads} threads)"),
        capacity: CPU_CAPACITY,
    }
}

/// `MemTotal` and `MemAvailable` from `/proc/meminfo`, in bytes.
fn meminfo() -> Option<(u64, u64)> {
    let text = std::fs::read_to_string("/proc/meminfo").ok()?;
    let field = |name: &str| -> Option<u64> {
        let line = text.lines().find(|l| l.starts_with(name))?;
        let kib: u64 = line[name.len()..]
            .trim()
            .trim_end_matches("kB")
            .trim()
            .parse()
            .ok()?;
        Some(kib * 1024)
    };
    Some((field("MemTotal:")?, field("MemAvailable:")?))
}

/// Busy and total jiffies of all CPUs, from the first line of `/proc/stat`.
#[derive(Debug, Clone, Copy, Default)]
struct CpuTimes {
    busy: u64,
    total: u64,
}

impl CpuTimes {
    fn read() -> Option<CpuTimes> {
        let text = std::fs::read_to_string("/proc/stat").ok()?;
        let fields: Vec<u64> = text
            .lines()
            .next()?
            .strip_prefix("cpu ")?
            .split_whitespace()
            .map(|f| f.parse().ok())
            .collect::<Option<_>>()?;
        let total: u64 = fields.iter().sum();
        // idle and iowait are the 4th and 5th fields.
        let idle = fields.get(3).copied().unwrap_or(0) + fields.get(4).copied().unwrap_or(0);
        Some(CpuTimes {
            busy: total.saturating_sub(idle),
            total,
        })
    }

    fn utilization_since(self, earlier: CpuTimes) -> f64 {
        let total = self.total.saturating_sub(earlier.total);
        if total == 0 {
            return 0.0;
        }
        let busy = self.busy.saturating_sub(earlier.busy).min(total);
        100.0 * busy as f64 / total as f64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cpu_is_always_found_first() {
        let found = Probe::new().discover();
        assert_eq!(found.devices[0].id, DeviceId::Cpu);
        assert!(found.devices[0].name.starts_with("CPU ("));
    }

    #[cfg(not(feature = "cuda"))]
    #[test]
    fn without_the_feature_cuda_is_a_clear_error() {
        let err = candle_device(DeviceId::Cuda(0)).unwrap_err();
        assert!(matches!(
            err,
            Error::CudaNotCompiled {
                device: DeviceId::Cuda(0)
            }
        ));
        assert!(err.to_string().contains("--features cuda"), "{err}");
        let found = Probe::new().discover();
        assert_eq!(found.devices.len(), 1);
        assert!(matches!(found.cuda, CudaStatus::NotCompiled { .. }));
        assert!(
            found
                .cuda
                .to_string()
                .starts_with("no CUDA device available")
        );
    }

    #[test]
    fn cpu_samples_are_valid_on_linux() {
        let probe = Probe::new();
        let first = probe.sample(DeviceId::Cpu).unwrap();
        let second = probe.sample(DeviceId::Cpu).unwrap();
        if cfg!(target_os = "linux") {
            let s = second.unwrap();
            assert!(s.memory_total > 0 && s.memory_used <= s.memory_total);
            assert!(first.is_some());
        }
    }

    #[test]
    fn a_gpu_without_nvml_has_no_metrics_rather_than_an_error() {
        let probe = Probe::new();
        if probe.nvml.is_err() {
            assert_eq!(probe.sample(DeviceId::Cuda(0)).unwrap(), None);
        }
    }

    #[test]
    fn cpu_utilization_is_a_share_of_elapsed_time() {
        let a = CpuTimes {
            busy: 100,
            total: 400,
        };
        let b = CpuTimes {
            busy: 150,
            total: 500,
        };
        assert!((b.utilization_since(a) - 50.0).abs() < 1e-12);
        assert_eq!(a.utilization_since(a), 0.0);
    }
}
