//! One leased job, driven step by step: admission (lane, backend, rate
//! limit), the intent record, the handler call, and persisting its outcome.

use framebreak_vocab::metrics as names;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use futures::FutureExt;
use tokio_util::sync::CancellationToken;

use crate::error::Error;
use crate::failure::{Failure, FailureCategory};
use crate::handler::{Abandoned, Step, StepContext};
use crate::job::{Applied, JobRecord, JobState, Lease, LeaseToken, Update, now_ms};
use crate::progress::{Event, JobEvent};
use crate::shared::Shared;

/// How a job task ended.
#[derive(Debug)]
pub(crate) enum Exit {
    /// Terminal state persisted.
    Finished(JobState),
    /// Back in the store, to be retried later.
    Retrying,
    /// Back in the store, its step to run again later (`Step::Wait`).
    Waiting,
    /// Given back untouched (drain).
    Released,
    /// The lease was lost: nothing more was written.
    Dropped,
    /// The store failed.
    Store(Error),
    /// The handler panicked; the job was given back.
    Panicked(Error),
}

pub(crate) async fn run_job(shared: Arc<Shared>, lease: Lease) -> Exit {
    let Lease {
        token, mut record, ..
    } = lease;
    let cancel = shared.shutdown.aborting().child_token();
    shared.hold(&token, cancel.clone());
    shared.counters.in_flight.fetch_add(1, Ordering::Relaxed);
    shared.counters.publish_gauges();
    shared.job_event(&record, JobEvent::Leased { step: record.step });
    let driven = std::panic::AssertUnwindSafe(drive(&shared, &token, &mut record, &cancel));
    let exit = match driven.catch_unwind().await {
        Ok(exit) => exit,
        Err(panic) => {
            let message = panic
                .downcast_ref::<&str>()
                .map(|s| (*s).to_owned())
                .or_else(|| panic.downcast_ref::<String>().cloned())
                .unwrap_or_default();
            // The step may have run: its intent stays set for the next run.
            let _ = release(&shared, &token).await;
            Exit::Panicked(Error::HandlerPanicked {
                job: record.job.id.to_string(),
                message,
            })
        }
    };
    shared.unhold(&token);
    shared.counters.in_flight.fetch_sub(1, Ordering::Relaxed);
    match &exit {
        Exit::Finished(state) => {
            shared.counters.finish(*state);
            metrics::counter!(names::JOBS_FINISHED_TOTAL, "outcome" => state.as_str()).increment(1);
            metrics::counter!(names::JOB_TRANSITIONS_TOTAL, "state" => state.as_str()).increment(1);
            let category = record.failure.as_ref().map(|f| f.category);
            shared.job_event(
                &record,
                JobEvent::Finished {
                    state: *state,
                    category,
                },
            );
        }
        Exit::Released => shared.job_event(&record, JobEvent::Released),
        Exit::Store(e) | Exit::Panicked(e) => {
            tracing::error!(job = %record.job.id, error = %e, "job stopped the run")
        }
        Exit::Retrying | Exit::Waiting | Exit::Dropped => {}
    }
    shared.counters.publish_gauges();
    exit
}

/// Applies `updates`; `Err(exit)` when the job must stop here.
async fn persist(shared: &Shared, updates: Vec<Update>) -> Result<(), Exit> {
    match shared.store.apply(updates).await {
        Ok(answers) if answers.iter().all(|a| *a == Applied::Ok) => Ok(()),
        Ok(_) => Err(Exit::Dropped),
        Err(e) => Err(Exit::Store(e)),
    }
}

async fn release(shared: &Shared, token: &LeaseToken) -> Exit {
    give_back(
        shared,
        Update::Release {
            lease: token.clone(),
        },
    )
    .await
}

/// Gives the job back with `update` (a `Release` or an `Unbegin`).
async fn give_back(shared: &Shared, update: Update) -> Exit {
    match persist(shared, vec![update]).await {
        Ok(()) => Exit::Released,
        Err(exit) => exit,
    }
}

async fn drive(
    shared: &Arc<Shared>,
    token: &LeaseToken,
    record: &mut JobRecord,
    cancel: &CancellationToken,
) -> Exit {
    let gate = shared.gate(&record.job.backend);
    let lane = shared.lane_of(record);
    let draining = shared.shutdown.draining();
    loop {
        let admitted = tokio::select! {
            biased;
            () = cancel.cancelled() => return release(shared, token).await,
            () = draining.cancelled() => None,
            admitted = async {
                let permit = shared.lanes[lane].acquire().await;
                let ticket = gate.admit(|t| shared.breaker_event(&gate.name, t)).await;
                (permit, ticket)
            } => Some(admitted),
        };
        let Some((permit, ticket)) = admitted else {
            return release(shared, token).await;
        };
        let possibly_executed = record.intent;
        if !record.intent {
            let now = now_ms();
            let begin = Update::Begin {
                lease: token.clone(),
                now_ms: now,
            };
            if let Err(exit) = persist(shared, vec![begin]).await {
                return exit;
            }
            record.intent = true;
            record.started_at_ms.get_or_insert(now);
        }
        // The rate-limit token comes last, right before the call, so the
        // backend sees requests spaced as the bucket spaced them.
        let limited = tokio::select! {
            biased;
            () = cancel.cancelled() => false,
            () = draining.cancelled() => false,
            () = async {
                if shared.handler.rate_limited(record.step) {
                    for key in shared.rate_keys(&gate) {
                        let waited = Instant::now();
                        shared.limiters.acquire(key).await;
                        metrics::histogram!(names::RATE_LIMIT_WAIT_SECONDS, "key" => key.to_owned())
                            .record(waited.elapsed().as_secs_f64());
                    }
                }
            } => true,
        };
        if !limited {
            // The step was never called: clear the intent this lease set, so
            // the next run does not take it for possibly executed. An intent
            // from an earlier run (a crash mid-call) stays.
            if possibly_executed {
                return release(shared, token).await;
            }
            let unbegin = Update::Unbegin {
                lease: token.clone(),
            };
            return give_back(shared, unbegin).await;
        }
        let key = format!("{}:{}", record.job.id, record.step);
        let ctx = StepContext {
            job: &record.job.id,
            backend: &record.job.backend,
            payload: &record.job.payload,
            step: record.step,
            state: &record.step_state,
            attempt: record.attempts,
            idempotency_key: &key,
            possibly_executed,
            first_attempt_ms: record.started_at_ms,
            lane,
            cancel,
        };
        let started = Instant::now();
        let interruptible = shared.handler.interruptible(record.step);
        let outcome = tokio::select! {
            biased;
            () = cancel.cancelled() => return release(shared, token).await,
            () = draining.cancelled(), if interruptible => return release(shared, token).await,
            outcome = shared.handler.step(ctx) => outcome,
        };
        metrics::histogram!(names::STEP_DURATION_SECONDS).record(started.elapsed().as_secs_f64());
        let (transition, limit) = ticket.finish(outcome.as_ref().err().map(|f| f.category));
        drop(permit);
        if let Some(t) = transition {
            shared.breaker_event(&gate.name, t);
        }
        if let Some(limit) = limit {
            shared.emit(|| Event::ConcurrencyAdapted {
                backend: gate.name.clone(),
                limit,
            });
        }
        let step = match outcome {
            Ok(step) => step,
            Err(failure) => return on_failure(shared, token, record, failure, cancel).await,
        };
        shared.counters.steps.fetch_add(1, Ordering::Relaxed);
        metrics::counter!(names::STEPS_TOTAL).increment(1);
        shared.budget.deposit();
        match step {
            Step::Done(result) => {
                let update = Update::Complete {
                    lease: token.clone(),
                    result: result.clone(),
                };
                if let Err(exit) = persist(shared, vec![update]).await {
                    return exit;
                }
                record.result = Some(result);
                record.intent = false;
                return Exit::Finished(JobState::Done);
            }
            Step::Wait { state, after } => {
                let update = Update::Wait {
                    lease: token.clone(),
                    state: state.clone(),
                    not_before_ms: now_ms().saturating_add(crate::job::ms(after)),
                };
                if let Err(exit) = persist(shared, vec![update]).await {
                    return exit;
                }
                record.step_state = state;
                record.intent = false;
                shared.job_event(record, JobEvent::Waiting { after });
                return Exit::Waiting;
            }
            Step::Next(state) => {
                let next = record.step + 1;
                let drain = draining.is_cancelled();
                let mut updates = vec![Update::Advance {
                    lease: token.clone(),
                    step: next,
                    state: state.clone(),
                }];
                if drain {
                    updates.push(Update::Release {
                        lease: token.clone(),
                    });
                }
                if let Err(exit) = persist(shared, updates).await {
                    return exit;
                }
                record.step = next;
                record.step_state = state;
                record.intent = false;
                shared.job_event(record, JobEvent::Advanced { step: next });
                if drain {
                    return Exit::Released;
                }
            }
        }
    }
}

async fn on_failure(
    shared: &Shared,
    token: &LeaseToken,
    record: &mut JobRecord,
    failure: Failure,
    cancel: &CancellationToken,
) -> Exit {
    let category = failure.category;
    shared.counters.failures[category.index()].fetch_add(1, Ordering::Relaxed);
    metrics::counter!(names::STEP_FAILURES_TOTAL, "category" => category.as_str()).increment(1);
    tracing::debug!(job = %record.job.id, step = record.step, %failure, "step failed");
    let policy = &shared.config.retry;
    let failures = record.attempts + u32::from(failure.counts_as_attempt());
    let seed = seed(record, failures);
    if category == FailureCategory::RateLimited {
        let pause = failure
            .retry_after
            .unwrap_or_else(|| policy.rule(category).backoff.delay(1, seed));
        let key = failure
            .rate_limit_key
            .clone()
            .unwrap_or_else(|| record.job.backend.clone());
        if shared.limiters.pause(&key, Instant::now() + pause) {
            tracing::info!(%key, ?pause, "rate limited: pausing the key for everyone");
            shared.emit(|| Event::RateLimitPaused {
                key: key.clone(),
                pause,
            });
        }
    }
    let elapsed = Duration::from_millis(
        record
            .started_at_ms
            .map_or(0, |start| now_ms().saturating_sub(start)),
    );
    if policy.should_retry(&failure, failures, elapsed).is_err() {
        let state = Update::terminal_state_of(&failure);
        let update = Update::Fail {
            lease: token.clone(),
            failure: failure.clone(),
        };
        if let Err(exit) = persist(shared, vec![update]).await {
            return exit;
        }
        record.attempts = failures;
        shared
            .handler
            .abandoned(Abandoned {
                job: &record.job.id,
                backend: &record.job.backend,
                payload: &record.job.payload,
                step: record.step,
                state: &record.step_state,
                failure: &failure,
            })
            .await;
        record.failure = Some(failure);
        return Exit::Finished(state);
    }
    // The budget caps how much retrying the whole run does: while it is
    // empty the job holds its slot, which slows intake instead of
    // multiplying traffic.
    let draining = shared.shutdown.draining();
    while !shared.budget.withdraw() {
        let wait = shared.budget.refill_wait().mul_f64(1.0 + fastrand::f64());
        tokio::select! {
            biased;
            () = cancel.cancelled() => return release(shared, token).await,
            () = draining.cancelled() => return release(shared, token).await,
            () = tokio::time::sleep(wait) => {}
        }
    }
    let delay = policy.delay(&failure, failures, seed);
    let update = Update::Retry {
        lease: token.clone(),
        failure: failure.clone(),
        not_before_ms: now_ms().saturating_add(crate::job::ms(delay)),
    };
    if let Err(exit) = persist(shared, vec![update]).await {
        return exit;
    }
    shared.counters.retries.fetch_add(1, Ordering::Relaxed);
    metrics::counter!(names::RETRIES_TOTAL, "backend" => record.job.backend.clone()).increment(1);
    shared.job_event(record, JobEvent::Retrying { category, delay });
    Exit::Retrying
}

/// A jitter seed that differs per job and per attempt but is reproducible.
fn seed(record: &JobRecord, failures: u32) -> u64 {
    crate::shared::fnv1a(record.job.id.as_str().as_bytes()) ^ u64::from(failures).rotate_left(32)
}
