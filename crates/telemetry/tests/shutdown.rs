//! Many tasks record while another shuts the collector down: no panic, no
//! deadlock, no task left behind.

use std::time::{Duration, Instant};

use framebreak_telemetry::{AlertRule, Collector, Error, Level, SeriesKey, names};
use futures::StreamExt;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn recording_while_shutting_down_neither_panics_nor_deadlocks_nor_leaks() {
    let runtime = tokio::runtime::Handle::current();
    for round in 0..10u32 {
        let queue = SeriesKey::new(names::QUEUE_DEPTH);
        let collector = Collector::builder()
            .capacity(64)
            .rule(AlertRule::above("deep", queue.clone(), 50.0, Level::Warning).unwrap())
            .build()
            .unwrap();
        collector.spawn_evaluator(Duration::from_millis(1)).unwrap();
        let mut alerts = collector.subscribe().unwrap();
        let listener = tokio::spawn(async move {
            let mut n = 0;
            while alerts.next().await.is_some() {
                n += 1;
            }
            n
        });
        let recorders: Vec<_> = (0..16u32)
            .map(|t| {
                let collector = collector.clone();
                let key = queue.clone().label("worker", t.to_string());
                tokio::spawn(async move {
                    let mut recorded = 0u32;
                    for i in 0..2_000u32 {
                        match collector.record(&key, f64::from(i % 100)) {
                            Ok(()) => recorded += 1,
                            Err(Error::ShutDown) => break,
                            Err(e) => panic!("unexpected {e}"),
                        }
                        if let Ok(Some(a)) =
                            collector.aggregates(&key, Instant::now(), Duration::from_secs(1))
                        {
                            // Never a torn view: the ring is within capacity.
                            assert!(a.window_count <= 64 && a.count >= a.window_count as u64);
                        }
                        if i % 64 == 0 {
                            tokio::task::yield_now().await;
                        }
                    }
                    recorded
                })
            })
            .collect();
        let stopper = {
            let collector = collector.clone();
            tokio::spawn(async move {
                tokio::time::sleep(Duration::from_micros(200 * u64::from(round))).await;
                collector.shutdown().await;
            })
        };
        let all = async {
            for r in recorders {
                r.await.expect("recorder task panicked");
            }
            stopper.await.expect("stopper panicked");
            listener.await.expect("listener panicked")
        };
        tokio::time::timeout(Duration::from_secs(20), all)
            .await
            .expect("deadlock: tasks did not finish");
        assert!(collector.is_shut_down());
        assert!(matches!(collector.series_count(), Err(Error::ShutDown)));
        assert!(matches!(
            collector.record(&queue, 1.0),
            Err(Error::ShutDown)
        ));
        assert!(matches!(
            collector.spawn_evaluator(Duration::from_millis(1)),
            Err(Error::ShutDown)
        ));
    }
    // Every task ended: evaluators, listeners, recorders. A task is counted
    // until it is released, a moment after its JoinHandle resolves, so give
    // the runtime a bounded moment to release the last ones.
    let deadline = Instant::now() + Duration::from_secs(5);
    while runtime.metrics().num_alive_tasks() > 0 && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(runtime.metrics().num_alive_tasks(), 0, "tasks leaked");
}
