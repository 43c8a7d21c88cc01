//! Every built-in strategy against the conformance suite, plus a property:
//! whatever the snapshot, a selector picks a device from it.

use framebreak_gpu::{
    CapacityWeighted, DeviceId, DeviceSelector, DeviceState, DistributionStrategy, LeastLoaded,
    MetricsSample, RoundRobin, SeededRandom, conformance,
};
use proptest::prelude::*;

const STRATEGIES: [DistributionStrategy; 4] = [
    DistributionStrategy::RoundRobin,
    DistributionStrategy::Random { seed: 42 },
    DistributionStrategy::LeastLoaded,
    DistributionStrategy::CapacityWeighted,
];

#[test]
fn round_robin_conforms() {
    conformance::check_all(&|| Box::new(RoundRobin::new()));
}

#[test]
fn seeded_random_conforms() {
    conformance::check_all(&|| Box::new(SeededRandom::new(7)));
}

#[test]
fn least_loaded_conforms() {
    conformance::check_all(&|| Box::new(LeastLoaded));
}

#[test]
fn capacity_weighted_conforms() {
    conformance::check_all(&|| Box::new(CapacityWeighted::new()));
}

#[test]
fn every_configured_strategy_conforms() {
    for strategy in STRATEGIES {
        conformance::check_all(&|| strategy.build());
    }
}

#[test]
fn wrappers_are_selectors_too() {
    let selector = std::sync::Arc::new(LeastLoaded);
    conformance::check_all(&|| Box::new(selector.clone()));
    conformance::picks_only_known_devices_with_capacity(
        &&LeastLoaded,
        &conformance::mixed_devices(),
    );
}

/// Deliberately broken selectors: each breaks one rule of the suite, and the
/// suite must catch it (a suite that passes everything proves nothing).
#[test]
fn the_suite_fails_broken_selectors() {
    /// Always the first device, switched off or not.
    struct First;
    impl DeviceSelector for First {
        fn select(&self, devices: &[DeviceState]) -> framebreak_gpu::Result<DeviceId> {
            devices
                .first()
                .map(|d| d.id)
                .ok_or(framebreak_gpu::Error::NoDevices)
        }
    }
    /// Never the CPU: some device with capacity is never reached.
    struct NoCpu;
    impl DeviceSelector for NoCpu {
        fn select(&self, devices: &[DeviceState]) -> framebreak_gpu::Result<DeviceId> {
            framebreak_gpu::check_capacities(devices)?;
            devices
                .iter()
                .find(|d| d.id != DeviceId::Cpu && d.capacity > 0.0)
                .or_else(|| devices.iter().find(|d| d.capacity > 0.0))
                .map(|d| d.id)
                .ok_or(framebreak_gpu::Error::NoDevices)
        }
    }
    for (name, make) in [
        (
            "first",
            &(|| Box::new(First) as Box<dyn DeviceSelector>) as &conformance::MakeSelector<'_>,
        ),
        ("no cpu", &|| Box::new(NoCpu) as Box<dyn DeviceSelector>),
    ] {
        let failed = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            conformance::check_all(make);
        }));
        assert!(
            failed.is_err(),
            "the suite passed the broken selector {name:?}"
        );
    }
}

fn device_state() -> impl Strategy<Value = DeviceState> {
    (
        0u32..16,
        prop_oneof![Just(0.0), 0.01f64..100.0],
        0u64..50,
        proptest::option::of((0.0f64..=100.0, 0u64..100, 1u64..100)),
    )
        .prop_map(|(n, capacity, in_flight, metrics)| {
            let mut d = DeviceState::idle(
                if n == 0 {
                    DeviceId::Cpu
                } else {
                    DeviceId::Cuda(n)
                },
                capacity,
            );
            d.in_flight = in_flight;
            d.latest = metrics.map(|(u, used, extra)| MetricsSample {
                memory_used: used,
                memory_total: used + extra,
                utilization_percent: u,
                temperature_celsius: None,
            });
            d
        })
}

proptest! {
    #[test]
    fn selection_never_returns_an_unknown_device(
        devices in prop::collection::vec(device_state(), 1..10),
        picks in 1usize..20,
    ) {
        prop_assume!(devices.iter().any(|d| d.capacity > 0.0));
        for strategy in STRATEGIES {
            let selector = strategy.build();
            for _ in 0..picks {
                let id = selector.select(&devices).unwrap();
                prop_assert!(
                    devices.iter().any(|d| d.id == id && d.capacity > 0.0),
                    "{strategy:?} picked {id} from {devices:?}"
                );
            }
        }
    }
}
