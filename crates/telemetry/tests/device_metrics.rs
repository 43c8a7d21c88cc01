//! The names contract end to end: the gpu crate writes device gauges through
//! the `metrics` facade, and they arrive in Prometheus, in the histories and
//! in the device alerts under the names in `names`.

use std::time::{Duration, Instant};

use framebreak_gpu::{DeviceId, DeviceInfo, DeviceManager, LeastLoaded, MetricsSample};
use framebreak_telemetry::{AlertRule, AlertState, Collector, Level, SeriesKey, Telemetry, names};

#[tokio::test]
async fn a_hot_full_gpu_raises_alerts_and_shows_on_the_page() {
    let rules = Collector::builder()
        .rule(
            AlertRule::above(
                "gpu-hot",
                SeriesKey::new(names::DEVICE_TEMPERATURE_CELSIUS),
                85.0,
                Level::Critical,
            )
            .unwrap(),
        )
        .rule(
            AlertRule::above(
                "gpu-full",
                SeriesKey::new(names::DEVICE_MEMORY_USED_BYTES),
                70e9,
                Level::Warning,
            )
            .unwrap(),
        );
    let (telemetry, recorder) = Telemetry::builder().collector(rules).build().unwrap();
    let manager = DeviceManager::new([
        DeviceInfo {
            id: DeviceId::Cpu,
            name: "cpu".into(),
            capacity: 1.0,
        },
        DeviceInfo {
            id: DeviceId::Cuda(0),
            name: "gpu".into(),
            capacity: 8.0,
        },
    ]);
    metrics::with_local_recorder(&recorder, || {
        let hot = MetricsSample {
            memory_used: 75_000_000_000,
            memory_total: 80_000_000_000,
            utilization_percent: 97.0,
            temperature_celsius: Some(91.0),
        };
        manager.record(DeviceId::Cuda(0), hot).unwrap();
        // Refused by gpu's validation: counted, never in the histories.
        let bad = MetricsSample {
            utilization_percent: f64::NAN,
            ..hot
        };
        assert!(manager.record(DeviceId::Cuda(0), bad).is_err());
        // The idle CPU wins over the busy GPU.
        let lease = manager.acquire(&LeastLoaded).unwrap();
        assert_eq!(lease.id(), DeviceId::Cpu);
    });

    let page = telemetry.render();
    for line in [
        r#"framebreak_device_temperature_celsius{device="cuda:0"} 91"#,
        r#"framebreak_device_utilization_percent{device="cuda:0"} 97"#,
        r#"framebreak_device_memory_used_bytes{device="cuda:0"} 75000000000"#,
        r#"framebreak_device_invalid_samples_total{device="cuda:0"} 1"#,
        r#"framebreak_device_in_flight{device="cpu"} 0"#,
    ] {
        assert!(page.contains(line), "{line} missing from\n{page}");
    }
    for name in [
        names::DEVICE_TEMPERATURE_CELSIUS,
        names::DEVICE_UTILIZATION_PERCENT,
        names::DEVICE_MEMORY_USED_BYTES,
        names::DEVICE_MEMORY_TOTAL_BYTES,
        names::DEVICE_IN_FLIGHT,
        names::DEVICE_INVALID_SAMPLES_TOTAL,
    ] {
        assert!(page.contains(name), "{name} missing");
    }

    let mut alerts = telemetry.collector().evaluate(Instant::now()).unwrap();
    alerts.sort_by(|a, b| a.rule.cmp(&b.rule));
    assert_eq!(alerts.len(), 2, "{alerts:?}");
    assert_eq!(
        (alerts[0].rule.as_str(), alerts[0].level),
        ("gpu-full", Level::Warning)
    );
    assert_eq!(
        (alerts[1].rule.as_str(), alerts[1].level),
        ("gpu-hot", Level::Critical)
    );
    assert!(
        alerts
            .iter()
            .all(|a| a.state == AlertState::Firing && a.series.contains(r#"device="cuda:0""#))
    );

    let util = SeriesKey::new(names::DEVICE_UTILIZATION_PERCENT).label("device", "cuda:0");
    let agg = telemetry
        .collector()
        .aggregates(&util, Instant::now(), Duration::from_secs(60))
        .unwrap()
        .unwrap();
    assert_eq!((agg.count, agg.mean), (1, 97.0));
    manager.shutdown();
    telemetry.shutdown().await;
}
