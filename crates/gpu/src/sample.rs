//! Device metrics: raw samples, validation, and the aggregates that only
//! valid samples enter.

use serde::Serialize;

use crate::{DeviceId, Error, Result};

/// One measurement of a device, as a probe (NVML, `/proc`) or a caller
/// reports it. Nothing is trusted until [`MetricsSample::validate`] passes.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize)]
pub struct MetricsSample {
    /// Bytes of device memory in use.
    pub memory_used: u64,
    /// Bytes of device memory in total.
    pub memory_total: u64,
    /// Compute utilization over the probe's last period, in percent (0–100).
    pub utilization_percent: f64,
    /// Temperature in °C, when the device has a sensor.
    pub temperature_celsius: Option<f64>,
}

impl MetricsSample {
    /// Checks the sample for `device`: finite numbers, utilization within
    /// 0–100 %, memory used not above the total.
    ///
    /// ```
    /// use framebreak_gpu::{DeviceId, Error, MetricsSample};
    ///
    /// let bad = MetricsSample { utilization_percent: 130.0, ..Default::default() };
    /// assert!(matches!(bad.validate(DeviceId::Cuda(0)), Err(Error::UtilizationOutOfRange { .. })));
    /// ```
    pub fn validate(&self, device: DeviceId) -> Result<()> {
        finite(device, "utilization", self.utilization_percent)?;
        if !(0.0..=100.0).contains(&self.utilization_percent) {
            return Err(Error::UtilizationOutOfRange {
                device,
                metric: "utilization",
                value: self.utilization_percent,
            });
        }
        if let Some(t) = self.temperature_celsius {
            finite(device, "temperature", t)?;
        }
        if self.memory_used > self.memory_total {
            return Err(Error::MemoryOverTotal {
                device,
                used: self.memory_used,
                total: self.memory_total,
            });
        }
        Ok(())
    }

    /// Bytes of memory free.
    pub fn memory_free(&self) -> u64 {
        self.memory_total - self.memory_used.min(self.memory_total)
    }

    /// Fraction of memory in use, 0–1 (0 when the total is unknown).
    pub fn memory_fraction(&self) -> f64 {
        if self.memory_total == 0 {
            0.0
        } else {
            self.memory_used as f64 / self.memory_total as f64
        }
    }
}

fn finite(device: DeviceId, metric: &'static str, value: f64) -> Result<()> {
    if value.is_finite() {
        Ok(())
    } else {
        Err(Error::NonFiniteMetric {
            device,
            metric,
            value,
        })
    }
}

/// Running aggregates of a device's valid samples: constant memory however
/// many samples arrive.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize)]
pub struct DeviceStats {
    /// Valid samples recorded.
    pub samples: u64,
    /// Mean utilization over those samples, in percent.
    pub mean_utilization_percent: f64,
    /// Highest memory in use seen, in bytes.
    pub peak_memory_used: u64,
    /// Highest temperature seen, in °C.
    pub max_temperature_celsius: Option<f64>,
}

impl DeviceStats {
    /// Folds one sample in. The caller has validated it.
    pub(crate) fn add(&mut self, s: &MetricsSample) {
        self.samples += 1;
        // Incremental mean: no growing sum to lose precision over long runs.
        self.mean_utilization_percent +=
            (s.utilization_percent - self.mean_utilization_percent) / self.samples as f64;
        self.peak_memory_used = self.peak_memory_used.max(s.memory_used);
        if let Some(t) = s.temperature_celsius {
            self.max_temperature_celsius =
                Some(self.max_temperature_celsius.map_or(t, |m| m.max(t)));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const GPU: DeviceId = DeviceId::Cuda(0);

    fn ok() -> MetricsSample {
        MetricsSample {
            memory_used: 10,
            memory_total: 100,
            utilization_percent: 50.0,
            temperature_celsius: Some(60.0),
        }
    }

    #[test]
    fn accepts_a_plausible_sample() {
        ok().validate(GPU).unwrap();
        MetricsSample {
            utilization_percent: 0.0,
            temperature_celsius: None,
            ..ok()
        }
        .validate(GPU)
        .unwrap();
        MetricsSample {
            utilization_percent: 100.0,
            memory_used: 100,
            ..ok()
        }
        .validate(GPU)
        .unwrap();
    }

    #[test]
    fn rejects_non_finite_values() {
        for v in [f64::NAN, f64::INFINITY, f64::NEG_INFINITY] {
            let e = MetricsSample {
                utilization_percent: v,
                ..ok()
            }
            .validate(GPU)
            .unwrap_err();
            assert!(
                matches!(
                    e,
                    Error::NonFiniteMetric {
                        metric: "utilization",
                        ..
                    }
                ),
                "{e}"
            );
            let e = MetricsSample {
                temperature_celsius: Some(v),
                ..ok()
            }
            .validate(GPU)
            .unwrap_err();
            assert!(
                matches!(
                    e,
                    Error::NonFiniteMetric {
                        metric: "temperature",
                        ..
                    }
                ),
                "{e}"
            );
            assert!(e.to_string().starts_with("cuda:0: temperature"), "{e}");
        }
    }

    #[test]
    fn rejects_utilization_outside_0_to_100() {
        for v in [-0.1, 100.5, -50.0, 1e9] {
            let e = MetricsSample {
                utilization_percent: v,
                ..ok()
            }
            .validate(GPU)
            .unwrap_err();
            assert!(
                matches!(e, Error::UtilizationOutOfRange { value, .. } if value == v),
                "{e}"
            );
        }
    }

    #[test]
    fn rejects_memory_used_above_total() {
        let e = MetricsSample {
            memory_used: 101,
            ..ok()
        }
        .validate(GPU)
        .unwrap_err();
        assert!(
            matches!(
                e,
                Error::MemoryOverTotal {
                    used: 101,
                    total: 100,
                    ..
                }
            ),
            "{e}"
        );
    }

    #[test]
    fn stats_fold_mean_and_peaks() {
        let mut stats = DeviceStats::default();
        stats.add(&ok());
        stats.add(&MetricsSample {
            utilization_percent: 100.0,
            memory_used: 90,
            temperature_celsius: Some(70.0),
            ..ok()
        });
        assert_eq!(stats.samples, 2);
        assert!((stats.mean_utilization_percent - 75.0).abs() < 1e-12);
        assert_eq!(stats.peak_memory_used, 90);
        assert_eq!(stats.max_temperature_celsius, Some(70.0));
    }
}
