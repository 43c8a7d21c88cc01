use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use framebreak_scheduler::{
    Admission, Backoff, Breaker, BreakerConfig, BreakerState, Failure, FailureCategory, Handler,
    JobState, JobStore, JobStoreExt, MemoryStore, NewJob, RunOutcome, Scheduler, Step, StepContext,
};
use futures::StreamExt;
use proptest::prelude::*;
use serde_json::json;

use crate::util::{Exclusive, quick_retries};

#[derive(Clone, Copy, Debug)]
enum Outcome {
    Ok,
    Retryable,
    Fatal,
    Cancel,
}

fn outcome() -> impl Strategy<Value = Outcome> {
    prop_oneof![
        6 => Just(Outcome::Ok),
        3 => Just(Outcome::Retryable),
        1 => Just(Outcome::Fatal),
        1 => Just(Outcome::Cancel),
    ]
}

/// Plays each job's script of outcomes, one per call.
#[derive(Debug)]
struct Scripted {
    steps: HashMap<String, u32>,
    scripts: HashMap<String, Vec<Outcome>>,
    calls: std::sync::Mutex<HashMap<String, usize>>,
    exclusive: Exclusive,
}

#[async_trait]
impl Handler for Scripted {
    async fn step(&self, ctx: StepContext<'_>) -> Result<Step, Failure> {
        let id = ctx.job.as_str();
        self.exclusive.enter(id);
        let call = {
            let mut calls = self.calls.lock().unwrap();
            let n = calls.entry(id.to_owned()).or_insert(0);
            *n += 1;
            *n - 1
        };
        tokio::task::yield_now().await;
        let outcome = self.scripts[id].get(call).copied().unwrap_or(Outcome::Ok);
        self.exclusive.leave(id);
        match outcome {
            Outcome::Ok if ctx.step + 1 >= self.steps[id] => Ok(Step::Done(json!(call))),
            Outcome::Ok => Ok(Step::Next(json!(ctx.step))),
            Outcome::Retryable => Err(Failure::new(FailureCategory::Server, "503")),
            Outcome::Fatal => Err(Failure::new(FailureCategory::BadRequest, "400")),
            Outcome::Cancel => Err(Failure::new(FailureCategory::Cancelled, "cancel")),
        }
    }
}

/// The terminal state a script must end in under `max_attempts`.
fn expected(steps: u32, script: &[Outcome], max_attempts: u32) -> JobState {
    let (mut step, mut failures) = (0, 0);
    for outcome in script.iter().copied().chain(std::iter::repeat(Outcome::Ok)) {
        match outcome {
            Outcome::Ok => {
                step += 1;
                if step == steps {
                    return JobState::Done;
                }
            }
            Outcome::Fatal => return JobState::Failed,
            Outcome::Cancel => return JobState::Cancelled,
            Outcome::Retryable => {
                failures += 1;
                if failures >= max_attempts {
                    return JobState::Failed;
                }
            }
        }
    }
    unreachable!("the chained iterator is endless")
}

const MAX_ATTEMPTS: u32 = 4;

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    /// Two schedulers share one store: every job ends in exactly the terminal
    /// state its script implies, and no job is ever run by two at once.
    #[test]
    fn every_job_ends_in_exactly_one_terminal_state(
        jobs in prop::collection::vec((1u32..4, prop::collection::vec(outcome(), 0..8)), 1..30),
        concurrency in 1usize..6,
    ) {
        let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
        runtime.block_on(async {
            let store = Arc::new(MemoryStore::new());
            let handler = Arc::new(Scripted {
                steps: jobs.iter().enumerate().map(|(i, (s, _))| (format!("j{i}"), *s)).collect(),
                scripts: jobs.iter().enumerate().map(|(i, (_, o))| (format!("j{i}"), o.clone())).collect(),
                calls: Default::default(),
                exclusive: Exclusive::default(),
            });
            let new: Vec<NewJob> = (0..jobs.len()).map(|i| NewJob::new(format!("j{i}"), "b", json!(i)).unwrap()).collect();
            store.enqueue(new).await.unwrap();
            let build = || Scheduler::builder(store.clone(), handler.clone())
                .concurrency(concurrency)
                .retry(quick_retries(MAX_ATTEMPTS))
                .retry_budget(1.0, 1000.0, 1000.0)
                .build()
                .unwrap();
            let (a, b) = (build(), build());
            let (ra, rb) = tokio::join!(a.run(), b.run());
            assert_eq!(ra.unwrap().outcome, RunOutcome::Drained);
            assert_eq!(rb.unwrap().outcome, RunOutcome::Drained);
            let records: Vec<_> = store.results(7).collect().await;
            assert_eq!(records.len(), jobs.len(), "each job finished exactly once");
            let mut seen = std::collections::HashSet::new();
            for record in records {
                let record = record.unwrap();
                assert!(seen.insert(record.job.id.to_string()), "{} finished twice", record.job.id);
                let i: usize = record.job.id.as_str()[1..].parse().unwrap();
                let (steps, script) = &jobs[i];
                assert_eq!(record.state, expected(*steps, script, MAX_ATTEMPTS), "{record:?}");
            }
            assert_eq!(store.counts().await.unwrap().unfinished(), 0);
            assert!(handler.exclusive.overlaps.lock().unwrap().is_empty(), "a job ran twice at once");
        });
    }

    /// Every backoff policy stays within its bounds.
    #[test]
    fn retry_delays_stay_within_policy_bounds(
        kind in 0u8..4,
        min_ms in 1u64..2_000,
        span_ms in 0u64..60_000,
        factor in 1.0f32..4.0,
        jitter in any::<bool>(),
        retry in 1u32..40,
        seed in any::<u64>(),
    ) {
        let (min, max) = (Duration::from_millis(min_ms), Duration::from_millis(min_ms + span_ms));
        let backoff = match kind {
            0 => Backoff::Exponential { min, max, factor, jitter },
            1 => Backoff::Linear { base: min, step: Duration::from_millis(span_ms / 10), max, jitter },
            2 => Backoff::Fibonacci { min, max, jitter },
            _ => Backoff::DecorrelatedJitter { base: min, max },
        };
        let delay = backoff.delay(retry, seed);
        let (low, high) = backoff.bounds(retry);
        prop_assert!(delay >= low && delay <= high, "{backoff:?} retry {retry}: {delay:?} not in {low:?}..={high:?}");
        if let Backoff::Exponential { .. } = backoff {
            // Without jitter the delay is exactly the capped geometric term
            // (to f32 precision); with jitter at most twice that, capped.
            let nominal = min.as_secs_f64() * f64::from(factor).powi(retry as i32 - 1);
            let nominal = nominal.min(max.as_secs_f64());
            let d = delay.as_secs_f64();
            prop_assert!(d >= nominal * 0.999 - 1e-6, "{d} < {nominal}");
            prop_assert!(d <= (2.0 * nominal).min(max.as_secs_f64()) * 1.001 + 1e-6);
        }
    }

    /// Whatever happens, a half-open breaker never has more trials out than
    /// allowed, and never admits a non-trial while not closed.
    #[test]
    fn breaker_never_admits_more_than_the_allowed_trials(
        trials in 1u32..5,
        ops in prop::collection::vec(0u8..5, 1..300),
    ) {
        let config = BreakerConfig {
            consecutive_failures: 2,
            failure_rate: Some(0.5),
            min_calls: 4,
            window: Duration::from_millis(500),
            cool_down: Duration::from_millis(100),
            half_open_trials: trials,
            success_threshold: trials.min(2),
        };
        let mut breaker = Breaker::new(config);
        let mut now = Instant::now();
        let mut out = Vec::new();
        let mut trials_this_period = 0u32;
        for op in ops {
            match op {
                0 | 1 => {
                    let before = breaker.state();
                    let (admission, transition) = breaker.try_admit(now);
                    if let Some(t) = transition {
                        prop_assert_eq!(t.to, BreakerState::HalfOpen);
                        trials_this_period = 0;
                    }
                    match admission {
                        Admission::Admitted(pass) if pass.trial => {
                            trials_this_period += 1;
                            out.push(pass);
                        }
                        Admission::Admitted(pass) => {
                            prop_assert_eq!(before, BreakerState::Closed);
                            out.push(pass);
                        }
                        Admission::Wait(_) => prop_assert_ne!(breaker.state(), BreakerState::Closed),
                    }
                }
                2 | 3 => {
                    if !out.is_empty() {
                        // Outcomes arrive in any order, late ones included.
                        let pass = out.swap_remove(usize::from(op) * 7 % out.len());
                        let before = breaker.state();
                        if let Some(t) = breaker.record(now, op == 2, pass) {
                            prop_assert_eq!(t.from, before);
                        }
                        if breaker.state() != BreakerState::HalfOpen {
                            trials_this_period = 0;
                        }
                    }
                }
                _ => now += Duration::from_millis(40),
            }
            if breaker.state() == BreakerState::HalfOpen {
                prop_assert!(trials_this_period <= trials, "{trials_this_period} trials > {trials}");
                prop_assert!(breaker.trials_admitted() <= trials);
            }
        }
    }
}
