use std::collections::HashMap;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use framebreak_scheduler::{
    BackendConfig, BreakerConfig, BreakerState, Error, Event, Failure, FailureCategory, Handler,
    JobEvent, JobState, JobStore, JobStoreExt, MemoryStore, NewJob, Priority, RateLimit,
    RunOutcome, Scheduler, SqliteStore, Step, StepContext,
};
use futures::StreamExt;
use serde_json::json;

use crate::util::{jobs, quick_retries};

/// Records the order and lane of every call; `steps` steps per job, each
/// taking `delay`, ending early when cancelled.
#[derive(Debug, Default)]
struct Recorder {
    steps: u32,
    delay: Duration,
    calls: Mutex<Vec<(String, u32, usize, bool)>>,
}

#[async_trait]
impl Handler for Recorder {
    async fn step(&self, ctx: StepContext<'_>) -> Result<Step, Failure> {
        self.calls.lock().unwrap().push((
            ctx.job.to_string(),
            ctx.step,
            ctx.lane,
            ctx.possibly_executed,
        ));
        tokio::select! {
            () = tokio::time::sleep(self.delay) => {}
            () = ctx.cancel.cancelled() => return Err(Failure::new(FailureCategory::Cancelled, "aborted")),
        }
        if ctx.step + 1 >= self.steps.max(1) {
            Ok(Step::Done(json!({ "job": ctx.job, "steps": ctx.step + 1 })))
        } else {
            Ok(Step::Next(json!({ "after": ctx.step })))
        }
    }
}

#[tokio::test]
async fn higher_priorities_run_first() {
    let store = Arc::new(MemoryStore::new());
    let mut batch = jobs("n", 3, "b");
    batch.push(
        NewJob::new("low", "b", json!(0))
            .unwrap()
            .priority(Priority::Low),
    );
    batch.push(
        NewJob::new("urgent", "b", json!(0))
            .unwrap()
            .priority(Priority::Urgent),
    );
    batch.push(
        NewJob::new("high", "b", json!(0))
            .unwrap()
            .priority(Priority::High),
    );
    store.enqueue(batch).await.unwrap();
    let handler = Arc::new(Recorder {
        steps: 1,
        ..Recorder::default()
    });
    let scheduler = Scheduler::builder(store.clone(), handler.clone())
        .concurrency(1)
        .build()
        .unwrap();
    assert_eq!(scheduler.run().await.unwrap().outcome, RunOutcome::Drained);
    let order: Vec<String> = handler
        .calls
        .lock()
        .unwrap()
        .iter()
        .map(|c| c.0.clone())
        .collect();
    assert_eq!(order, ["urgent", "high", "n0", "n1", "n2", "low"]);
}

#[tokio::test]
async fn jobs_with_one_affinity_key_share_a_lane() {
    let store = Arc::new(MemoryStore::new());
    let batch: Vec<NewJob> = (0..60)
        .map(|i| {
            NewJob::new(format!("j{i}"), "b", json!(i))
                .unwrap()
                .affinity(format!("prompt-{}", i % 7))
        })
        .collect();
    store.enqueue(batch).await.unwrap();
    let handler = Arc::new(Recorder {
        steps: 2,
        ..Recorder::default()
    });
    let scheduler = Scheduler::builder(store.clone(), handler.clone())
        .concurrency(8)
        .lanes(4)
        .build()
        .unwrap();
    scheduler.run().await.unwrap();
    let mut lane_of_key: HashMap<String, usize> = HashMap::new();
    for (job, _, lane, _) in handler.calls.lock().unwrap().iter() {
        let i: usize = job[1..].parse().unwrap();
        let key = format!("prompt-{}", i % 7);
        assert_eq!(
            *lane_of_key.entry(key).or_insert(*lane),
            *lane,
            "{job} changed lane"
        );
    }
    assert!(
        lane_of_key
            .values()
            .collect::<std::collections::HashSet<_>>()
            .len()
            > 1
    );
}

/// Fails the first `failures` calls with a server error, then succeeds.
#[derive(Debug)]
struct Flaky {
    failures: u32,
    calls: AtomicU32,
}

#[async_trait]
impl Handler for Flaky {
    async fn step(&self, _ctx: StepContext<'_>) -> Result<Step, Failure> {
        if self.calls.fetch_add(1, Ordering::SeqCst) < self.failures {
            return Err(Failure::new(FailureCategory::Server, "503"));
        }
        Ok(Step::Done(json!("ok")))
    }
}

#[tokio::test]
async fn an_open_breaker_makes_jobs_wait_not_fail() {
    let store = Arc::new(MemoryStore::new());
    store.enqueue(jobs("j", 20, "api")).await.unwrap();
    let breaker = BreakerConfig {
        consecutive_failures: 3,
        failure_rate: None,
        cool_down: Duration::from_millis(100),
        half_open_trials: 1,
        success_threshold: 1,
        ..BreakerConfig::default()
    };
    let scheduler = Scheduler::builder(
        store.clone(),
        Flaky {
            failures: 6,
            calls: AtomicU32::new(0),
        },
    )
    .concurrency(1)
    .backend(
        "api",
        BackendConfig {
            breaker,
            ..BackendConfig::default()
        },
    )
    .retry(quick_retries(10))
    .build()
    .unwrap();
    let mut events = scheduler.subscribe();
    let summary = scheduler.run().await.unwrap();
    assert_eq!(summary.snapshot.counts.done, 20, "{:?}", summary.snapshot);
    let mut changes = Vec::new();
    while let Ok(event) = events.try_recv() {
        if let Event::Breaker { from, to, .. } = event {
            changes.push((from, to));
        }
    }
    use BreakerState::{Closed, HalfOpen, Open};
    // 3 failures open it; the trial fails (4th) and reopens it; 2 more
    // failures only happen as trials after each cool-down... the sequence
    // always starts closed → open → half-open and ends half-open → closed.
    assert_eq!(changes.first(), Some(&(Closed, Open)), "{changes:?}");
    assert_eq!(changes.get(1), Some(&(Open, HalfOpen)), "{changes:?}");
    assert_eq!(changes.last(), Some(&(HalfOpen, Closed)), "{changes:?}");
}

/// Answers 429 with a retry-after once, then succeeds.
#[derive(Debug, Default)]
struct LimitedOnce {
    calls: Mutex<Vec<std::time::Instant>>,
}

#[async_trait]
impl Handler for LimitedOnce {
    async fn step(&self, _ctx: StepContext<'_>) -> Result<Step, Failure> {
        let mut calls = self.calls.lock().unwrap();
        calls.push(std::time::Instant::now());
        if calls.len() == 1 {
            return Err(Failure::new(FailureCategory::RateLimited, "429")
                .retry_after(Duration::from_millis(200)));
        }
        Ok(Step::Done(json!("ok")))
    }
}

#[tokio::test]
async fn a_rate_limited_answer_pauses_the_key_for_everyone() {
    let store = Arc::new(MemoryStore::new());
    store.enqueue(jobs("j", 5, "api")).await.unwrap();
    let handler = Arc::new(LimitedOnce::default());
    let scheduler = Scheduler::builder(store.clone(), handler.clone())
        .concurrency(1)
        .rate_limit("api", RateLimit::per_second(1000).unwrap().burst(10))
        .retry(quick_retries(3))
        .build()
        .unwrap();
    let mut events = scheduler.subscribe();
    scheduler.run().await.unwrap();
    let calls = handler.calls.lock().unwrap();
    assert_eq!(calls.len(), 6);
    assert!(
        calls[1] - calls[0] >= Duration::from_millis(200),
        "the next job waited out the pause"
    );
    let mut paused = false;
    while let Ok(event) = events.try_recv() {
        paused |= matches!(event, Event::RateLimitPaused { ref key, pause } if key == "api" && pause == Duration::from_millis(200));
    }
    assert!(paused);
}

#[tokio::test]
async fn non_retryable_failures_end_the_job_in_their_state() {
    #[derive(Debug)]
    struct Refuse;
    #[async_trait]
    impl Handler for Refuse {
        async fn step(&self, ctx: StepContext<'_>) -> Result<Step, Failure> {
            let category = if ctx.job.as_str() == "c" {
                FailureCategory::Cancelled
            } else {
                FailureCategory::ContentPolicy
            };
            Err(Failure::new(category, "no"))
        }
    }
    let store = Arc::new(MemoryStore::new());
    store
        .enqueue(vec![
            NewJob::new("c", "b", json!(0)).unwrap(),
            NewJob::new("p", "b", json!(0)).unwrap(),
        ])
        .await
        .unwrap();
    let summary = Scheduler::builder(store.clone(), Refuse)
        .build()
        .unwrap()
        .run()
        .await
        .unwrap();
    assert_eq!(summary.snapshot.retries, 0);
    let records: Vec<_> = store.results(10).collect().await;
    let states: Vec<_> = records.into_iter().map(|r| r.unwrap().state).collect();
    assert_eq!(states, [JobState::Cancelled, JobState::Failed]);
}

#[tokio::test]
async fn a_first_cancel_drains_and_a_rerun_resumes_at_the_persisted_step() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("jobs.db");
    let handler = Arc::new(Recorder {
        steps: 3,
        delay: Duration::from_millis(30),
        ..Recorder::default()
    });
    {
        let store = SqliteStore::open(&path).unwrap();
        store.enqueue(jobs("j", 40, "b")).await.unwrap();
        let scheduler = Scheduler::builder(store, handler.clone())
            .concurrency(8)
            .build()
            .unwrap();
        let shutdown = scheduler.shutdown();
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(100)).await;
            shutdown.trigger();
        });
        let summary = scheduler.run().await.unwrap();
        assert_eq!(summary.outcome, RunOutcome::Stopped);
        let counts = scheduler.store().counts().await.unwrap();
        assert_eq!(counts.leased, 0, "a drain gives every job back: {counts:?}");
        assert!(counts.pending > 0);
    }
    let store = SqliteStore::open(&path).unwrap();
    let summary = Scheduler::builder(store, handler.clone())
        .concurrency(8)
        .build()
        .unwrap()
        .run()
        .await
        .unwrap();
    assert_eq!(summary.outcome, RunOutcome::Drained);
    assert_eq!(summary.snapshot.counts.done, 40);
    let calls = handler.calls.lock().unwrap();
    let mut per_step: HashMap<(String, u32), u32> = HashMap::new();
    for (job, step, _, possibly) in calls.iter() {
        *per_step.entry((job.clone(), *step)).or_insert(0) += 1;
        assert!(!possibly, "a drained run leaves no step half-done");
    }
    assert_eq!(per_step.len(), 120);
    assert!(per_step.values().all(|n| *n == 1), "no step ran twice");
}

/// Step 0 waits a minute (a slow remote generation being polled) and says
/// it may be stopped part-way; step 1 finishes.
#[derive(Debug, Default)]
struct Waiting {
    calls: std::sync::Mutex<Vec<(String, u32, bool)>>,
}

#[async_trait]
impl Handler for Waiting {
    async fn step(&self, ctx: StepContext<'_>) -> Result<Step, Failure> {
        self.calls
            .lock()
            .unwrap()
            .push((ctx.job.to_string(), ctx.step, ctx.possibly_executed));
        if ctx.step == 0 && ctx.attempt == 0 && !ctx.possibly_executed {
            tokio::time::sleep(Duration::from_secs(60)).await;
        }
        Ok(if ctx.step == 0 {
            Step::Next(serde_json::json!({"polled": true}))
        } else {
            Step::Done(serde_json::json!({}))
        })
    }

    fn interruptible(&self, step: u32) -> bool {
        step == 0
    }
}

#[tokio::test]
async fn a_first_cancel_stops_an_interruptible_step_at_once_and_the_rerun_repeats_it() {
    let store = Arc::new(MemoryStore::new());
    store.enqueue(jobs("j", 3, "b")).await.unwrap();
    let handler = Arc::new(Waiting::default());
    let scheduler = Scheduler::builder(store.clone(), handler.clone())
        .concurrency(3)
        .build()
        .unwrap();
    let shutdown = scheduler.shutdown();
    tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(100)).await;
        shutdown.trigger();
    });
    // One trigger only: a step that is not interruptible would hold the run
    // until the drain deadline (30 s), this one until its minute is up.
    let summary = tokio::time::timeout(Duration::from_secs(20), scheduler.run())
        .await
        .expect("the first trigger stops the waiting steps")
        .unwrap();
    assert_eq!(summary.outcome, RunOutcome::Stopped);
    let counts = store.counts().await.unwrap();
    assert_eq!((counts.pending, counts.leased, counts.done), (3, 0, 0));
    let summary = Scheduler::builder(store.clone(), handler.clone())
        .concurrency(3)
        .build()
        .unwrap()
        .run()
        .await
        .unwrap();
    assert_eq!(summary.snapshot.counts.done, 3);
    let calls = handler.calls.lock().unwrap();
    for j in 0..3 {
        let job = format!("j{j}");
        let of_job: Vec<_> = calls
            .iter()
            .filter(|c| c.0 == job)
            .map(|c| (c.1, c.2))
            .collect();
        // Stopped part-way, repeated flagged as possibly executed, then on.
        assert_eq!(of_job, vec![(0, false), (0, true), (1, false)], "{job}");
    }
}

#[tokio::test]
async fn a_second_cancel_aborts_at_once_and_the_step_is_flagged_on_rerun() {
    let store = Arc::new(MemoryStore::new());
    store.enqueue(jobs("j", 4, "b")).await.unwrap();
    let slow = Arc::new(Recorder {
        steps: 1,
        delay: Duration::from_secs(60),
        ..Recorder::default()
    });
    let scheduler = Scheduler::builder(store.clone(), slow.clone())
        .concurrency(4)
        .build()
        .unwrap();
    let shutdown = scheduler.shutdown();
    tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(100)).await;
        shutdown.trigger();
        tokio::time::sleep(Duration::from_millis(50)).await;
        shutdown.trigger();
    });
    let started = std::time::Instant::now();
    let summary = scheduler.run().await.unwrap();
    assert_eq!(summary.outcome, RunOutcome::Aborted);
    assert!(started.elapsed() < Duration::from_secs(5));
    let counts = store.counts().await.unwrap();
    assert_eq!(
        (counts.pending, counts.leased),
        (4, 0),
        "aborted jobs are given back"
    );
    let quick = Arc::new(Recorder {
        steps: 1,
        ..Recorder::default()
    });
    Scheduler::builder(store.clone(), quick.clone())
        .build()
        .unwrap()
        .run()
        .await
        .unwrap();
    assert!(
        quick.calls.lock().unwrap().iter().all(|c| c.3),
        "every interrupted step is possibly executed"
    );
    assert_eq!(store.counts().await.unwrap().done, 4);
}

#[tokio::test]
async fn intake_streams_jobs_through_a_bounded_queue() {
    let store = Arc::new(MemoryStore::new());
    let handler = Arc::new(Recorder {
        steps: 1,
        ..Recorder::default()
    });
    let scheduler = Arc::new(
        Scheduler::builder(store.clone(), handler)
            .concurrency(16)
            .intake(8)
            .build()
            .unwrap(),
    );
    let intake = scheduler.intake().unwrap();
    assert!(scheduler.intake().is_none());
    let producer = tokio::spawn(async move {
        for job in jobs("s", 500, "b").into_iter().chain(jobs("s", 10, "b")) {
            intake.send(job).await.unwrap();
        }
    });
    let summary = scheduler.run().await.unwrap();
    producer.await.unwrap();
    assert_eq!(summary.outcome, RunOutcome::Drained);
    assert_eq!(
        store.counts().await.unwrap().done,
        500,
        "re-sent ids are ignored"
    );
}

#[tokio::test]
async fn events_and_snapshots_tell_the_story() {
    let store = Arc::new(MemoryStore::new());
    store.enqueue(jobs("j", 10, "b")).await.unwrap();
    let scheduler = Scheduler::builder(
        store,
        Recorder {
            steps: 2,
            ..Recorder::default()
        },
    )
    .build()
    .unwrap();
    let mut events = scheduler.subscribe();
    let summary = scheduler.run().await.unwrap();
    let s = &summary.snapshot;
    assert_eq!(
        (
            s.counts.done,
            s.counts.pending,
            s.steps,
            s.finished,
            s.in_flight
        ),
        (10, 0, 20, 10, 0)
    );
    assert!(s.rate > 0.0);
    assert_eq!(s.backends.len(), 1);
    let mut finished = 0;
    while let Ok(event) = events.try_recv() {
        if let Event::Job {
            event:
                JobEvent::Finished {
                    state: JobState::Done,
                    ..
                },
            ..
        } = event
        {
            finished += 1;
        }
    }
    assert_eq!(finished, 10);
}

#[test]
fn bad_settings_are_refused_by_name() {
    let store = MemoryStore::new();
    for (n, lanes) in [(0, 1), (10_001, 1), (4, 5)] {
        let err = Scheduler::builder(MemoryStore::new(), Recorder::default())
            .concurrency(n)
            .lanes(lanes)
            .build()
            .unwrap_err();
        assert!(matches!(err, Error::InvalidConfig { .. }), "{err}");
    }
    let err = Scheduler::builder(store, Recorder::default())
        .backend(
            "b",
            BackendConfig {
                max_in_flight: 0,
                ..BackendConfig::default()
            },
        )
        .build()
        .unwrap_err();
    assert!(err.to_string().contains("max_in_flight"), "{err}");
}

#[tokio::test]
async fn a_panicking_handler_stops_the_run_with_the_job_named() {
    #[derive(Debug)]
    struct Panics;
    #[async_trait]
    impl Handler for Panics {
        async fn step(&self, ctx: StepContext<'_>) -> Result<Step, Failure> {
            if ctx.job.as_str() == "j3" {
                panic!("bug in step {}", ctx.step);
            }
            Ok(Step::Done(json!(null)))
        }
    }
    let store = Arc::new(MemoryStore::new());
    store.enqueue(jobs("j", 5, "b")).await.unwrap();
    let err = Scheduler::builder(store.clone(), Panics)
        .concurrency(1)
        .build()
        .unwrap()
        .run()
        .await
        .unwrap_err();
    assert!(
        matches!(&err, Error::HandlerPanicked { job, message } if job == "j3" && message == "bug in step 0"),
        "{err}"
    );
    let counts = store.counts().await.unwrap();
    assert_eq!(
        (counts.done, counts.pending, counts.leased),
        (3, 2, 0),
        "{counts:?}"
    );
}

#[tokio::test]
async fn aimd_shrinks_concurrency_on_429_and_grows_it_back() {
    #[derive(Debug, Default)]
    struct Busy {
        calls: AtomicU32,
    }
    #[async_trait]
    impl Handler for Busy {
        async fn step(&self, _ctx: StepContext<'_>) -> Result<Step, Failure> {
            if self.calls.fetch_add(1, Ordering::SeqCst) % 10 == 3 {
                return Err(Failure::new(FailureCategory::RateLimited, "429")
                    .retry_after(Duration::from_millis(1)));
            }
            tokio::time::sleep(Duration::from_millis(1)).await;
            Ok(Step::Done(json!(null)))
        }
    }
    let store = Arc::new(MemoryStore::new());
    store.enqueue(jobs("a", 200, "api")).await.unwrap();
    let aimd = framebreak_scheduler::Aimd {
        min: 1,
        max: 16,
        decrease: 0.5,
    };
    let scheduler = Scheduler::builder(store.clone(), Busy::default())
        .concurrency(32)
        .backend(
            "api",
            BackendConfig {
                max_in_flight: 16,
                aimd: Some(aimd),
                ..BackendConfig::default()
            },
        )
        .retry(quick_retries(10))
        .retry_budget(1.0, 1000.0, 1000.0)
        .build()
        .unwrap();
    let mut events = scheduler.subscribe();
    let summary = scheduler.run().await.unwrap();
    assert_eq!(summary.snapshot.counts.done, 200);
    let mut limits = Vec::new();
    while let Ok(event) = events.try_recv() {
        if let Event::ConcurrencyAdapted { limit, .. } = event {
            limits.push(limit);
        }
    }
    assert!(limits.iter().all(|l| (1..=16).contains(l)), "{limits:?}");
    assert!(
        limits.windows(2).any(|w| w[1] < w[0]),
        "decreased: {limits:?}"
    );
    assert!(
        limits.windows(2).any(|w| w[1] > w[0]),
        "increased: {limits:?}"
    );
}

/// Step 0 succeeds; step 1 fails with `failure` every time. Counts the
/// step-1 calls and records every `abandoned` call.
#[derive(Debug)]
struct FailsAtOne {
    failure: Failure,
    calls: AtomicU32,
    abandoned: Mutex<Vec<(String, u32, serde_json::Value, FailureCategory)>>,
}

#[async_trait]
impl Handler for FailsAtOne {
    async fn step(&self, ctx: StepContext<'_>) -> Result<Step, Failure> {
        if ctx.step == 0 {
            return Ok(Step::Next(json!({ "remote": ctx.job.as_str() })));
        }
        self.calls.fetch_add(1, Ordering::SeqCst);
        Err(self.failure.clone())
    }

    async fn abandoned(&self, job: framebreak_scheduler::Abandoned<'_>) {
        self.abandoned.lock().unwrap().push((
            job.job.to_string(),
            job.step,
            job.state.clone(),
            job.failure.category,
        ));
    }
}

async fn run_fails_at_one(failure: Failure) -> Arc<FailsAtOne> {
    let store = Arc::new(MemoryStore::new());
    store.enqueue(jobs("j", 1, "b")).await.unwrap();
    let handler = Arc::new(FailsAtOne {
        failure,
        calls: AtomicU32::new(0),
        abandoned: Mutex::new(Vec::new()),
    });
    let scheduler = Scheduler::builder(store.clone(), handler.clone())
        .retry(quick_retries(3))
        .build()
        .unwrap();
    assert_eq!(scheduler.run().await.unwrap().outcome, RunOutcome::Drained);
    assert_eq!(store.counts().await.unwrap().failed, 1);
    handler
}

#[tokio::test]
async fn a_job_that_fails_for_good_is_handed_back_once_to_be_abandoned() {
    let handler = run_fails_at_one(Failure::new(FailureCategory::Server, "boom")).await;
    assert_eq!(
        handler.calls.load(Ordering::SeqCst),
        3,
        "retried up to the rule"
    );
    let abandoned = handler.abandoned.lock().unwrap().clone();
    assert_eq!(abandoned.len(), 1, "{abandoned:?}");
    let (job, step, state, category) = &abandoned[0];
    assert_eq!(
        (job.as_str(), *step, *category),
        ("j0", 1, FailureCategory::Server)
    );
    assert_eq!(state["remote"], "j0", "the state the failed step was given");
}

#[tokio::test]
async fn a_permanent_failure_is_not_retried_whatever_its_category() {
    let handler = run_fails_at_one(
        Failure::new(FailureCategory::Server, "the provider failed it").permanent(),
    )
    .await;
    assert_eq!(handler.calls.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn rate_limits_do_not_use_up_attempts() {
    #[derive(Debug)]
    struct LimitedThenDone(AtomicU32);
    #[async_trait]
    impl Handler for LimitedThenDone {
        async fn step(&self, _ctx: StepContext<'_>) -> Result<Step, Failure> {
            // Five 429s, more than the two attempts allowed, then success.
            if self.0.fetch_add(1, Ordering::SeqCst) < 5 {
                return Err(Failure::new(FailureCategory::RateLimited, "429")
                    .retry_after(Duration::from_millis(1))
                    .no_effect());
            }
            Ok(Step::Done(json!(1)))
        }
    }
    let store = Arc::new(MemoryStore::new());
    store.enqueue(jobs("j", 1, "b")).await.unwrap();
    let handler = Arc::new(LimitedThenDone(AtomicU32::new(0)));
    let scheduler = Scheduler::builder(store.clone(), handler.clone())
        .retry(quick_retries(2))
        .build()
        .unwrap();
    assert_eq!(scheduler.run().await.unwrap().outcome, RunOutcome::Drained);
    assert_eq!(store.counts().await.unwrap().done, 1);
    assert_eq!(handler.0.load(Ordering::SeqCst), 6);
}

/// Submits on step 0, then polls a "remote generation" that takes
/// `generation` from the job's submission, answering `Step::Wait` until it
/// is done; counts the jobs submitted and not yet done.
#[derive(Debug)]
struct Remote {
    generation: Duration,
    submitted: Mutex<HashMap<String, std::time::Instant>>,
    waiting_now: AtomicU32,
    waiting_max: AtomicU32,
    polls: AtomicU32,
}

#[async_trait]
impl Handler for Remote {
    async fn step(&self, ctx: StepContext<'_>) -> Result<Step, Failure> {
        let job = ctx.job.to_string();
        if ctx.step == 0 {
            self.submitted
                .lock()
                .unwrap()
                .insert(job, std::time::Instant::now());
            let now = self.waiting_now.fetch_add(1, Ordering::SeqCst) + 1;
            self.waiting_max.fetch_max(now, Ordering::SeqCst);
            return Ok(Step::Next(json!({ "polls": 0 })));
        }
        self.polls.fetch_add(1, Ordering::SeqCst);
        let since = self.submitted.lock().unwrap()[&job];
        let polls = ctx.state["polls"].as_u64().unwrap();
        if since.elapsed() >= self.generation {
            self.waiting_now.fetch_sub(1, Ordering::SeqCst);
            return Ok(Step::Done(json!({ "polls": polls + 1 })));
        }
        Ok(Step::Wait {
            state: json!({ "polls": polls + 1 }),
            after: Duration::from_millis(100),
        })
    }
}

/// Jobs waiting on a remote result hold no slot: with a concurrency of 10,
/// hundreds of the 1,000 jobs are submitted and waiting at once (held slots
/// would cap that at 10),
/// every job is polled more than once through the store (its poll count
/// persisted in its state), and each finishes once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn jobs_waiting_on_a_remote_result_hold_no_slot() {
    for store in [
        Arc::new(MemoryStore::new()) as Arc<dyn JobStore>,
        Arc::new(SqliteStore::open(tempfile::tempdir().unwrap().keep().join("w.sqlite")).unwrap()),
    ] {
        store.enqueue(jobs("w", 1_000, "api")).await.unwrap();
        let handler = Arc::new(Remote {
            generation: Duration::from_millis(1_500),
            submitted: Mutex::default(),
            waiting_now: AtomicU32::new(0),
            waiting_max: AtomicU32::new(0),
            polls: AtomicU32::new(0),
        });
        let scheduler = Scheduler::builder(store.clone(), handler.clone())
            .concurrency(10)
            .build()
            .unwrap();
        let summary = scheduler.run().await.unwrap();
        assert_eq!(summary.outcome, RunOutcome::Drained);
        assert_eq!(store.counts().await.unwrap().done, 1_000);
        // Held slots would cap it at 10.
        let most = handler.waiting_max.load(Ordering::SeqCst);
        assert!(
            most >= 100,
            "at most {most} jobs were waiting at once with 10 slots: slots were held"
        );
        let mut results = store.results(100);
        while let Some(record) = results.next().await {
            let record = record.unwrap();
            assert!(record.result.unwrap()["polls"].as_u64().unwrap() >= 2);
            assert_eq!(record.attempts, 0, "waiting is not failing");
        }
        assert!(handler.polls.load(Ordering::SeqCst) >= 2_000);
    }
}
