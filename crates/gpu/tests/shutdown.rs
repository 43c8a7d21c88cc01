//! Recording, leasing and shutting down at the same time: no panic, no
//! deadlock, a consistent view until the end, nothing left after it.

use std::sync::Barrier;
use std::thread;

use framebreak_gpu::{DeviceId, DeviceInfo, DeviceManager, Error, LeastLoaded, MetricsSample};

#[test]
fn recording_while_shutting_down_never_panics_or_tears() {
    for _round in 0..20 {
        let manager = DeviceManager::new((0..4).map(|n| DeviceInfo {
            id: DeviceId::Cuda(n),
            name: format!("gpu {n}"),
            capacity: 1.0,
        }));
        let start = Barrier::new(9);
        thread::scope(|s| {
            for t in 0..8u32 {
                let (manager, start) = (&manager, &start);
                s.spawn(move || {
                    start.wait();
                    for i in 0..500u64 {
                        let sample = MetricsSample {
                            memory_used: i,
                            memory_total: 1000,
                            utilization_percent: (i % 100) as f64,
                            temperature_celsius: Some(40.0),
                        };
                        let recorded = manager.record(DeviceId::Cuda(t % 4), sample);
                        let leased = manager.acquire(&LeastLoaded);
                        match (recorded, leased) {
                            (Ok(()), Ok(_lease)) => {}
                            (Err(Error::ShutDown), _) | (_, Err(Error::ShutDown)) => {}
                            (r, l) => panic!("unexpected {r:?} / {l:?}"),
                        }
                        if let Ok(snapshot) = manager.snapshot() {
                            // A snapshot is never half of an update.
                            for d in &snapshot {
                                assert_eq!(d.latest.is_some(), d.stats.samples > 0);
                                if let Some(l) = d.latest {
                                    assert!(l.memory_used <= l.memory_total);
                                }
                            }
                        }
                    }
                });
            }
            start.wait();
            thread::yield_now();
            let last = manager.shutdown();
            assert!(last.len() == 4 || last.is_empty());
        });
        assert!(manager.is_shut_down());
        assert!(matches!(manager.snapshot(), Err(Error::ShutDown)));
    }
}
