//! Alert rules: each condition fires and resolves once, alerts reach every
//! subscriber, and rules that cannot work are typed errors.

use std::time::{Duration, Instant};

use framebreak_telemetry::{
    Alert, AlertRule, AlertState, Collector, Error, Level, SeriesKey, names,
};
use futures::StreamExt;

fn finished(outcome: &str) -> SeriesKey {
    SeriesKey::new(names::JOBS_FINISHED_TOTAL).label("outcome", outcome)
}

fn secs(s: u64) -> Duration {
    Duration::from_secs(s)
}

#[test]
fn failure_rate_fires_over_the_threshold_within_the_window() {
    let rule = AlertRule::failure_rate(
        "failures",
        finished("failed"),
        SeriesKey::new(names::JOBS_FINISHED_TOTAL),
        0.5,
        secs(60),
        4,
        Level::Critical,
    )
    .unwrap();
    let c = Collector::builder().rule(rule).build().unwrap();
    let t0 = Instant::now();
    c.record_at(&finished("failed"), t0, 1.0).unwrap();
    c.record_at(&finished("failed"), t0, 1.0).unwrap();
    // 2 of 2 failed, but fewer than min_events outcomes: quiet.
    assert!(c.evaluate(t0).unwrap().is_empty());
    c.record_at(&finished("failed"), t0, 1.0).unwrap();
    c.record_at(&finished("done"), t0, 1.0).unwrap();
    let alerts = c.evaluate(t0).unwrap();
    assert_eq!(alerts.len(), 1);
    assert_eq!(
        (alerts[0].level, alerts[0].state),
        (Level::Critical, AlertState::Firing)
    );
    assert!((alerts[0].value - 0.75).abs() < 1e-12, "{:?}", alerts[0]);
    assert!(
        alerts[0].message.contains("75.0 % of 4 outcomes failed"),
        "{}",
        alerts[0].message
    );
    // Still firing: no repeat.
    assert!(c.evaluate(t0 + secs(1)).unwrap().is_empty());
    // Once the failures leave the window and successes arrive, it resolves.
    for _ in 0..4 {
        c.record_at(&finished("done"), t0 + secs(100), 1.0).unwrap();
    }
    let alerts = c.evaluate(t0 + secs(100)).unwrap();
    assert_eq!(
        (alerts[0].level, alerts[0].state),
        (Level::Info, AlertState::Resolved)
    );
}

#[test]
fn a_saturated_queue_fires_only_after_lasting_longer_than_t() {
    let queue = SeriesKey::new(names::QUEUE_DEPTH);
    let rule =
        AlertRule::saturated("queue-full", queue.clone(), 100.0, secs(30), Level::Warning).unwrap();
    let c = Collector::builder().rule(rule).build().unwrap();
    let t0 = Instant::now();
    c.record_at(&queue, t0, 150.0).unwrap();
    c.record_at(&queue, t0 + secs(10), 120.0).unwrap();
    assert!(
        c.evaluate(t0 + secs(30)).unwrap().is_empty(),
        "30 s is not longer than 30 s"
    );
    let alerts = c.evaluate(t0 + secs(31)).unwrap();
    assert_eq!(alerts.len(), 1);
    assert_eq!(alerts[0].rule, "queue-full");
    // A dip below the limit restarts the clock and resolves the alert.
    c.record_at(&queue, t0 + secs(40), 10.0).unwrap();
    c.record_at(&queue, t0 + secs(41), 200.0).unwrap();
    let alerts = c.evaluate(t0 + secs(60)).unwrap();
    assert_eq!(alerts[0].state, AlertState::Resolved);
    assert_eq!(
        c.evaluate(t0 + secs(72)).unwrap()[0].state,
        AlertState::Firing
    );
}

#[test]
fn a_hot_or_full_device_fires_per_device() {
    let temp = SeriesKey::new(names::DEVICE_TEMPERATURE_CELSIUS);
    let c = Collector::builder()
        .rule(AlertRule::above("gpu-hot", temp.clone(), 85.0, Level::Critical).unwrap())
        .rule(
            AlertRule::above(
                "gpu-full",
                SeriesKey::new(names::DEVICE_MEMORY_USED_BYTES),
                70e9,
                Level::Warning,
            )
            .unwrap(),
        )
        .build()
        .unwrap();
    let now = Instant::now();
    c.record_at(&temp.clone().label("device", "cuda:0"), now, 90.0)
        .unwrap();
    c.record_at(&temp.clone().label("device", "cuda:1"), now, 60.0)
        .unwrap();
    c.record_at(
        &SeriesKey::new(names::DEVICE_MEMORY_USED_BYTES).label("device", "cuda:1"),
        now,
        75e9,
    )
    .unwrap();
    let mut alerts: Vec<Alert> = c.evaluate(now).unwrap();
    alerts.sort_by(|a, b| a.series.cmp(&b.series));
    assert_eq!(alerts.len(), 2, "{alerts:?}");
    assert_eq!(
        alerts[0].series,
        r#"framebreak_device_memory_used_bytes{device="cuda:1"}"#
    );
    assert_eq!(
        alerts[1].series,
        r#"framebreak_device_temperature_celsius{device="cuda:0"}"#
    );
    assert_eq!(
        alerts[1].to_string(),
        format!(
            "[critical] gpu-hot FIRING: {} is 90 (limit 85)",
            alerts[1].series
        )
    );
}

#[tokio::test]
async fn every_subscriber_gets_every_alert_and_streams_end_at_shutdown() {
    let temp = SeriesKey::new(names::DEVICE_TEMPERATURE_CELSIUS);
    let c = Collector::builder()
        .rule(AlertRule::above("hot", temp.clone(), 80.0, Level::Warning).unwrap())
        .build()
        .unwrap();
    let (mut a, mut b) = (c.subscribe().unwrap(), c.subscribe().unwrap());
    c.record(&temp, 99.0).unwrap();
    c.evaluate(Instant::now()).unwrap();
    assert_eq!(a.next().await.unwrap().rule, "hot");
    assert_eq!(b.next().await.unwrap().rule, "hot");
    c.shutdown().await;
    assert!(a.next().await.is_none());
    assert!(b.next().await.is_none());
    assert!(matches!(c.subscribe(), Err(Error::ShutDown)));
}

#[test]
fn rules_that_cannot_work_are_typed_errors() {
    let k = SeriesKey::new("x");
    for threshold in [-0.1, 1.5, f64::NAN] {
        let e = AlertRule::failure_rate(
            "r",
            k.clone(),
            k.clone(),
            threshold,
            secs(1),
            1,
            Level::Warning,
        )
        .unwrap_err();
        assert!(
            matches!(e, Error::InvalidRule { ref rule, .. } if rule == "r"),
            "{e}"
        );
    }
    let e = AlertRule::failure_rate(
        "r",
        k.clone(),
        k.clone(),
        0.5,
        Duration::ZERO,
        1,
        Level::Warning,
    )
    .unwrap_err();
    assert!(e.to_string().contains("window is zero"), "{e}");
    for limit in [f64::NAN, f64::INFINITY] {
        assert!(matches!(
            AlertRule::above("r", k.clone(), limit, Level::Info),
            Err(Error::InvalidRule { .. })
        ));
        assert!(matches!(
            AlertRule::saturated("r", k.clone(), limit, secs(1), Level::Info),
            Err(Error::InvalidRule { .. })
        ));
    }
}

#[test]
fn collector_settings_and_runaway_labels_are_typed_errors() {
    assert!(matches!(
        Collector::builder().capacity(0).build(),
        Err(Error::ZeroCapacity)
    ));
    assert!(matches!(
        Collector::builder().max_series(0).build(),
        Err(Error::InvalidConfig {
            setting: "max_series",
            ..
        })
    ));
    assert!(matches!(
        Collector::builder().scale(f64::NAN).build(),
        Err(Error::InvalidConfig {
            setting: "scale",
            ..
        })
    ));
    let c = Collector::builder().max_series(2).build().unwrap();
    for id in 0..2 {
        c.record(&SeriesKey::new("m").label("id", id.to_string()), 1.0)
            .unwrap();
    }
    let e = c
        .record(&SeriesKey::new("m").label("id", "2"), 1.0)
        .unwrap_err();
    assert!(matches!(e, Error::TooManySeries { limit: 2, .. }), "{e}");
    c.record(&SeriesKey::new("m").label("id", "1"), 1.0)
        .unwrap(); // known series still record
}
