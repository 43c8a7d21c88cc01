//! Admission to one backend: its concurrency limit (optionally adapted by
//! AIMD on rate-limited answers) and its circuit breaker, under one lock so
//! the two decisions are taken together.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::sync::Notify;

use crate::breaker::{Admission, Breaker, BreakerState, Pass, Transition};
use crate::config::{Aimd, BackendConfig};
use crate::failure::FailureCategory;
use crate::progress::{BackendStatus, Health};

/// How long a waiting job sleeps before asking again when nothing wakes it.
const RECHECK: Duration = Duration::from_millis(250);

#[derive(Debug)]
struct State {
    breaker: Breaker,
    in_flight: usize,
    limit: f64,
    seen_outcome: bool,
    recent_failure: Option<Instant>,
}

/// One backend's gate.
#[derive(Debug)]
pub(crate) struct Gate {
    pub(crate) name: String,
    pub(crate) config: BackendConfig,
    state: Mutex<State>,
    notify: Notify,
}

/// An admitted call: [`Ticket::finish`] it with its outcome; dropping it
/// unfinished (the job was cancelled) gives the slot back without one.
#[derive(Debug)]
#[must_use]
pub(crate) struct Ticket {
    gate: Arc<Gate>,
    pass: Pass,
    finished: bool,
}

impl Ticket {
    /// The call ended with `failure` (`None`: success). Returns a breaker
    /// transition and the new adaptive limit when it changed.
    pub(crate) fn finish(
        mut self,
        failure: Option<FailureCategory>,
    ) -> (Option<Transition>, Option<usize>) {
        self.finished = true;
        self.gate.finish(self.pass, failure)
    }
}

impl Drop for Ticket {
    fn drop(&mut self) {
        if !self.finished {
            self.gate.release(self.pass);
        }
    }
}

impl Gate {
    pub(crate) fn new(name: String, config: BackendConfig) -> Self {
        Self {
            state: Mutex::new(State {
                breaker: Breaker::new(config.breaker),
                in_flight: 0,
                limit: config.max_in_flight as f64,
                seen_outcome: false,
                recent_failure: None,
            }),
            name,
            config,
            notify: Notify::new(),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Whether the dispatcher should lease more of this backend's jobs now.
    pub(crate) fn accepts_more(&self, now: Instant) -> bool {
        let s = self.lock();
        !s.breaker.blocks(now) && (s.in_flight as f64) < s.limit.floor().max(1.0)
    }

    /// Waits for room and for the breaker; reports a breaker transition.
    pub(crate) async fn admit(self: &Arc<Self>, on_transition: impl Fn(Transition)) -> Ticket {
        loop {
            let notified = self.notify.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            let wait = {
                let mut s = self.lock();
                if (s.in_flight as f64) < s.limit.floor().max(1.0) {
                    let (admission, transition) = s.breaker.try_admit(Instant::now());
                    if let Some(t) = transition {
                        on_transition(t);
                    }
                    match admission {
                        Admission::Admitted(pass) => {
                            s.in_flight += 1;
                            return Ticket {
                                gate: Arc::clone(self),
                                pass,
                                finished: false,
                            };
                        }
                        Admission::Wait(wait) => wait.unwrap_or(RECHECK).min(RECHECK),
                    }
                } else {
                    RECHECK
                }
            };
            let _ = tokio::time::timeout(wait, notified).await;
        }
    }

    fn release(&self, pass: Pass) {
        let mut s = self.lock();
        s.in_flight -= 1;
        s.breaker.release(pass);
        drop(s);
        self.notify.notify_waiters();
    }

    fn finish(
        &self,
        pass: Pass,
        failure: Option<FailureCategory>,
    ) -> (Option<Transition>, Option<usize>) {
        let now = Instant::now();
        let mut s = self.lock();
        s.in_flight -= 1;
        s.seen_outcome = true;
        let healthy = failure.is_none_or(|c| !c.counts_against_backend());
        if !healthy {
            s.recent_failure = Some(now);
        }
        let transition = s.breaker.record(now, healthy, pass);
        let before = s.limit as usize;
        if let Some(aimd) = self.config.aimd {
            s.limit = adapt(aimd, s.limit, failure == Some(FailureCategory::RateLimited));
        }
        let after = s.limit as usize;
        drop(s);
        self.notify.notify_waiters();
        (transition, (after != before).then_some(after))
    }

    pub(crate) fn status(&self, stopped: bool, paused: bool) -> BackendStatus {
        let s = self.lock();
        let limit = (s.limit.floor() as usize).max(1);
        let recently_failed = s
            .recent_failure
            .is_some_and(|t| t.elapsed() < self.config.breaker.window);
        let health = if stopped {
            Health::Stopped
        } else if s.breaker.state() != BreakerState::Closed || paused || recently_failed {
            Health::Degraded
        } else if !s.seen_outcome {
            Health::Starting
        } else if s.in_flight >= limit {
            Health::Busy
        } else {
            Health::Ready
        };
        BackendStatus {
            name: self.name.clone(),
            breaker: s.breaker.state(),
            health,
            in_flight: s.in_flight,
            limit,
        }
    }
}

/// Additive increase (one slot per `limit` successes), multiplicative
/// decrease on a rate-limited answer, within `[min, max]`.
fn adapt(aimd: Aimd, limit: f64, rate_limited: bool) -> f64 {
    let next = if rate_limited {
        limit * aimd.decrease
    } else {
        limit + 1.0 / limit.max(1.0)
    };
    next.clamp(aimd.min as f64, aimd.max as f64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn aimd_halves_on_429_and_creeps_back() {
        let aimd = Aimd {
            min: 2,
            max: 64,
            decrease: 0.5,
        };
        let mut limit = 64.0;
        limit = adapt(aimd, limit, true);
        assert_eq!(limit, 32.0);
        for _ in 0..32 {
            limit = adapt(aimd, limit, false);
        }
        assert!((limit - 33.0).abs() < 0.1, "{limit}");
        for _ in 0..20 {
            limit = adapt(aimd, limit, true);
        }
        assert_eq!(limit, 2.0);
    }
}
