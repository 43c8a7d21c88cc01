//! The scheduler emits the names of `framebreak_vocab::metrics` it promises:
//! a recorder that keeps every name registered sees them during a run with
//! a retry and a failure.

use std::collections::BTreeSet;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use framebreak_scheduler::{
    Failure, FailureCategory, Handler, JobStore, MemoryStore, RunOutcome, Scheduler, Step,
    StepContext,
};
use framebreak_vocab::metrics as names;
use metrics::{Counter, Gauge, Histogram, Key, KeyName, Metadata, Recorder, SharedString, Unit};
use serde_json::json;

use crate::util::{jobs, quick_retries};

/// Keeps the name of every metric registered with it; records nothing else.
#[derive(Default)]
struct Names(Mutex<BTreeSet<String>>);

impl Names {
    fn saw(&self, key: &Key) {
        self.0.lock().unwrap().insert(key.name().to_owned());
    }
}

impl Recorder for Names {
    fn describe_counter(&self, _: KeyName, _: Option<Unit>, _: SharedString) {}
    fn describe_gauge(&self, _: KeyName, _: Option<Unit>, _: SharedString) {}
    fn describe_histogram(&self, _: KeyName, _: Option<Unit>, _: SharedString) {}
    fn register_counter(&self, key: &Key, _: &Metadata<'_>) -> Counter {
        self.saw(key);
        Counter::noop()
    }
    fn register_gauge(&self, key: &Key, _: &Metadata<'_>) -> Gauge {
        self.saw(key);
        Gauge::noop()
    }
    fn register_histogram(&self, key: &Key, _: &Metadata<'_>) -> Histogram {
        self.saw(key);
        Histogram::noop()
    }
}

/// Fails job 0 for good, fails every other job once (a retry), then
/// finishes it in two steps.
#[derive(Debug, Default)]
struct FailOnce(AtomicU32);

#[async_trait]
impl Handler for FailOnce {
    async fn step(&self, ctx: StepContext<'_>) -> Result<Step, Failure> {
        if ctx.payload["i"] == 0 {
            return Err(Failure::new(FailureCategory::BadRequest, "refused"));
        }
        if ctx.attempt == 0 {
            self.0.fetch_add(1, Ordering::SeqCst);
            return Err(Failure::new(FailureCategory::Server, "502"));
        }
        Ok(if ctx.step == 0 {
            Step::Next(json!(null))
        } else {
            Step::Done(json!(1))
        })
    }
}

#[test]
fn a_run_emits_the_scheduler_metrics_of_the_contract() {
    let recorder = Names::default();
    // One thread: the local recorder sees every task of the run.
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let outcome = metrics::with_local_recorder(&recorder, || {
        runtime.block_on(async {
            let store = Arc::new(MemoryStore::new());
            store.enqueue(jobs("m", 4, "api")).await.unwrap();
            let handler = Arc::new(FailOnce::default());
            let scheduler = Scheduler::builder(store.clone() as Arc<dyn JobStore>, handler.clone())
                .retry(quick_retries(3))
                .build()
                .unwrap();
            let summary = scheduler.run().await.unwrap();
            assert!(handler.0.load(Ordering::SeqCst) >= 3, "retries happened");
            summary.outcome
        })
    });
    assert_eq!(outcome, RunOutcome::Drained);
    let seen = recorder.0.lock().unwrap().clone();
    for name in [
        names::JOBS_FINISHED_TOTAL,
        names::JOB_TRANSITIONS_TOTAL,
        names::JOBS_IN_FLIGHT,
        names::QUEUE_DEPTH,
        names::STEPS_TOTAL,
        names::STEP_DURATION_SECONDS,
        names::STEP_FAILURES_TOTAL,
        names::RETRIES_TOTAL,
    ] {
        assert!(seen.contains(name), "{name} not emitted; saw {seen:?}");
    }
    for name in &seen {
        assert!(
            names::ALL.contains(&name.as_str()),
            "{name} is not in the contract"
        );
    }
}
