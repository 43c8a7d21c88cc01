//! The built-in selection strategies, and the config enum that names them.

use std::collections::HashMap;
use std::fmt;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

use rand_chacha::ChaCha8Rng;
use rand_core::{RngCore, SeedableRng};
use serde::{Deserialize, Serialize};

use crate::select::{check_capacities, nth_eligible};
use crate::{DeviceId, DeviceSelector, DeviceState, Result};

/// Each device in turn, in slice order, skipping devices of capacity 0.
#[derive(Debug, Default)]
pub struct RoundRobin {
    turn: AtomicUsize,
}

impl RoundRobin {
    /// Starts with the first device.
    pub fn new() -> RoundRobin {
        RoundRobin::default()
    }
}

impl DeviceSelector for RoundRobin {
    fn select(&self, devices: &[DeviceState]) -> Result<DeviceId> {
        let eligible = check_capacities(devices)?;
        let turn = self.turn.fetch_add(1, Ordering::Relaxed);
        Ok(nth_eligible(devices, turn % eligible))
    }
}

/// A device drawn uniformly at random (capacity above 0) from a seeded
/// generator: the same seed and the same snapshots give the same choices.
pub struct SeededRandom {
    rng: Mutex<ChaCha8Rng>,
    seed: u64,
}

impl fmt::Debug for SeededRandom {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SeededRandom")
            .field("seed", &self.seed)
            .finish_non_exhaustive()
    }
}

impl SeededRandom {
    /// A generator seeded with `seed`.
    pub fn new(seed: u64) -> SeededRandom {
        SeededRandom {
            rng: Mutex::new(ChaCha8Rng::seed_from_u64(seed)),
            seed,
        }
    }
}

impl DeviceSelector for SeededRandom {
    fn select(&self, devices: &[DeviceState]) -> Result<DeviceId> {
        let eligible = check_capacities(devices)?;
        let draw = self
            .rng
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .next_u64();
        // Multiply-shift maps a 64-bit draw onto 0..eligible without the
        // bias of `%`.
        let k = ((u128::from(draw) * eligible as u128) >> 64) as usize;
        Ok(nth_eligible(devices, k))
    }
}

/// The device with the least work in flight per unit of capacity; ties go
/// to the lower utilization, then to the most free memory, then to the
/// first in the slice.
#[derive(Debug, Default, Clone, Copy)]
pub struct LeastLoaded;

impl DeviceSelector for LeastLoaded {
    fn select(&self, devices: &[DeviceState]) -> Result<DeviceId> {
        check_capacities(devices)?;
        let key = |d: &DeviceState| {
            let load = d.in_flight as f64 / d.capacity;
            let utilization = d.latest.map_or(0.0, |m| m.utilization_percent);
            let free = d.latest.map_or(u64::MAX, |m| m.memory_free());
            (load, utilization, std::cmp::Reverse(free))
        };
        let best = devices
            .iter()
            .filter(|d| d.capacity > 0.0)
            .min_by(|a, b| {
                let (ka, kb) = (key(a), key(b));
                ka.0.total_cmp(&kb.0)
                    .then(ka.1.total_cmp(&kb.1))
                    .then(ka.2.cmp(&kb.2))
            })
            .expect("check_capacities found an eligible device");
        Ok(best.id)
    }
}

/// Devices in proportion to their capacities, interleaved smoothly (the
/// "smooth weighted round-robin" of nginx): capacities 2 and 1 give
/// A, B, A, A, B, A… and never A, A, A, A, B, B.
#[derive(Debug, Default)]
pub struct CapacityWeighted {
    current: Mutex<HashMap<DeviceId, f64>>,
}

impl CapacityWeighted {
    /// No device has had a turn yet.
    pub fn new() -> CapacityWeighted {
        CapacityWeighted::default()
    }
}

impl DeviceSelector for CapacityWeighted {
    fn select(&self, devices: &[DeviceState]) -> Result<DeviceId> {
        check_capacities(devices)?;
        let mut current = self.current.lock().unwrap_or_else(|p| p.into_inner());
        // Devices that left the snapshot lose their accumulated credit.
        current.retain(|id, _| devices.iter().any(|d| d.id == *id));
        let total: f64 = devices.iter().map(|d| d.capacity).sum();
        let mut best: Option<(DeviceId, f64)> = None;
        for d in devices.iter().filter(|d| d.capacity > 0.0) {
            let credit = current.entry(d.id).or_insert(0.0);
            *credit += d.capacity;
            if best.is_none_or(|(_, c)| *credit > c) {
                best = Some((d.id, *credit));
            }
        }
        let (id, _) = best.expect("check_capacities found an eligible device");
        *current.get_mut(&id).expect("credited above") -= total;
        Ok(id)
    }
}

/// Which strategy to use, as written in a config file:
/// `strategy = "least_loaded"`, or `strategy = { random = { seed = 7 } }`.
///
/// ```
/// use framebreak_gpu::{DeviceId, DeviceState, DistributionStrategy};
///
/// let strategy: DistributionStrategy = serde_json::from_str(r#""round_robin""#).unwrap();
/// let selector = strategy.build();
/// let devices = [DeviceState::idle(DeviceId::Cpu, 1.0)];
/// assert_eq!(selector.select(&devices)?, DeviceId::Cpu);
/// # Ok::<(), framebreak_gpu::Error>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
#[non_exhaustive]
pub enum DistributionStrategy {
    /// [`RoundRobin`].
    RoundRobin,
    /// [`SeededRandom`].
    Random {
        /// The generator's seed.
        seed: u64,
    },
    /// [`LeastLoaded`]: the default, since it follows the real load.
    #[default]
    LeastLoaded,
    /// [`CapacityWeighted`].
    CapacityWeighted,
}

impl DistributionStrategy {
    /// A fresh selector for this strategy.
    pub fn build(self) -> Box<dyn DeviceSelector> {
        match self {
            DistributionStrategy::RoundRobin => Box::new(RoundRobin::new()),
            DistributionStrategy::Random { seed } => Box::new(SeededRandom::new(seed)),
            DistributionStrategy::LeastLoaded => Box::new(LeastLoaded),
            DistributionStrategy::CapacityWeighted => Box::new(CapacityWeighted::new()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::MetricsSample;

    fn devices() -> Vec<DeviceState> {
        vec![
            DeviceState::idle(DeviceId::Cpu, 1.0),
            DeviceState::idle(DeviceId::Cuda(0), 2.0),
            DeviceState::idle(DeviceId::Cuda(1), 0.0),
        ]
    }

    fn picks(s: &dyn DeviceSelector, n: usize) -> Vec<DeviceId> {
        let d = devices();
        (0..n).map(|_| s.select(&d).unwrap()).collect()
    }

    #[test]
    fn round_robin_cycles_and_skips_zero_capacity() {
        use DeviceId::*;
        assert_eq!(picks(&RoundRobin::new(), 4), [Cpu, Cuda(0), Cpu, Cuda(0)]);
    }

    #[test]
    fn seeded_random_repeats_with_the_seed() {
        let a = picks(&SeededRandom::new(7), 50);
        assert_eq!(a, picks(&SeededRandom::new(7), 50));
        assert!(a.contains(&DeviceId::Cpu) && a.contains(&DeviceId::Cuda(0)));
        assert!(!a.contains(&DeviceId::Cuda(1)));
    }

    #[test]
    fn capacity_weighted_interleaves_in_proportion() {
        use DeviceId::*;
        assert_eq!(
            picks(&CapacityWeighted::new(), 6),
            [Cuda(0), Cpu, Cuda(0), Cuda(0), Cpu, Cuda(0)]
        );
    }

    #[test]
    fn least_loaded_weighs_in_flight_then_utilization_then_free_memory() {
        let mut d = devices();
        d[0].in_flight = 1; // 1 per unit of capacity
        d[1].in_flight = 1; // 0.5 per unit
        assert_eq!(LeastLoaded.select(&d).unwrap(), DeviceId::Cuda(0));
        d[1].in_flight = 2; // tie at 1.0: utilization decides
        d[0].latest = Some(MetricsSample {
            utilization_percent: 90.0,
            memory_total: 10,
            ..Default::default()
        });
        d[1].latest = Some(MetricsSample {
            utilization_percent: 10.0,
            memory_total: 10,
            ..Default::default()
        });
        assert_eq!(LeastLoaded.select(&d).unwrap(), DeviceId::Cuda(0));
        d[0].latest.as_mut().unwrap().utilization_percent = 10.0;
        d[1].latest.as_mut().unwrap().memory_used = 5; // less free memory
        assert_eq!(LeastLoaded.select(&d).unwrap(), DeviceId::Cpu);
    }

    #[test]
    fn strategies_read_from_config() {
        let parse = |s: &str| serde_json::from_str::<DistributionStrategy>(s).unwrap();
        assert_eq!(
            parse(r#""least_loaded""#),
            DistributionStrategy::LeastLoaded
        );
        assert_eq!(
            parse(r#"{"random":{"seed":3}}"#),
            DistributionStrategy::Random { seed: 3 }
        );
        assert!(serde_json::from_str::<DistributionStrategy>(r#""fastest""#).is_err());
        assert_eq!(
            DistributionStrategy::default(),
            DistributionStrategy::LeastLoaded
        );
    }
}
