//! A circuit breaker per backend, as a plain state machine (the scheduler
//! wraps it; tests drive it with explicit instants).
//!
//! closed → open after `consecutive_failures` failures in a row, or a failure
//! rate at or over `failure_rate` across `window` (with at least `min_calls`)
//! → half-open after `cool_down`, admitting at most `half_open_trials` trial
//! jobs → closed after `success_threshold` trial successes, or open again on
//! any trial failure. Open means jobs wait; nothing is failed by the breaker.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// Longest history kept for the failure-rate window.
const MAX_WINDOW_CALLS: usize = 4096;

/// Breaker thresholds. Defaults are in the `Default` impl.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct BreakerConfig {
    /// Open after this many failures in a row (default 5).
    pub consecutive_failures: u32,
    /// Open when failures / calls over `window` reach this (default 0.5);
    /// `None` disables the rate rule.
    pub failure_rate: Option<f64>,
    /// The rate window (default 10 s).
    pub window: Duration,
    /// Fewest calls in the window before the rate rule applies (default 20).
    pub min_calls: u32,
    /// How long to stay open (default 5 s).
    pub cool_down: Duration,
    /// Most trial jobs admitted in one half-open period (default 3).
    pub half_open_trials: u32,
    /// Trial successes that close the breaker (default 2; at most
    /// `half_open_trials`).
    pub success_threshold: u32,
}

impl Default for BreakerConfig {
    fn default() -> Self {
        Self {
            consecutive_failures: 5,
            failure_rate: Some(0.5),
            window: Duration::from_secs(10),
            min_calls: 20,
            cool_down: Duration::from_secs(5),
            half_open_trials: 3,
            success_threshold: 2,
        }
    }
}

impl BreakerConfig {
    /// Checks the thresholds fit together.
    pub fn validate(&self) -> Result<()> {
        if self.consecutive_failures == 0 {
            return Err(Error::config(
                "breaker.consecutive_failures",
                "must be at least 1",
            ));
        }
        if self.half_open_trials == 0 {
            return Err(Error::config(
                "breaker.half_open_trials",
                "must be at least 1",
            ));
        }
        if self.success_threshold == 0 || self.success_threshold > self.half_open_trials {
            return Err(Error::config(
                "breaker.success_threshold",
                format!(
                    "must be between 1 and half_open_trials ({})",
                    self.half_open_trials
                ),
            ));
        }
        if let Some(rate) = self.failure_rate
            && !(rate > 0.0 && rate <= 1.0)
        {
            return Err(Error::config(
                "breaker.failure_rate",
                format!("{rate} is not in (0, 1]"),
            ));
        }
        Ok(())
    }
}

/// Where a breaker stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BreakerState {
    /// Jobs flow.
    Closed,
    /// Jobs wait for the cool-down.
    Open,
    /// A few trial jobs probe the backend.
    HalfOpen,
}

impl BreakerState {
    /// The value of the breaker-state gauge
    /// (`framebreak_vocab::metrics::BREAKER_STATE`): 0 closed, 1 half-open,
    /// 2 open.
    #[must_use]
    pub const fn gauge(self) -> f64 {
        match self {
            Self::Closed => 0.0,
            Self::HalfOpen => 1.0,
            Self::Open => 2.0,
        }
    }
}

/// A state change.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Transition {
    /// Before.
    pub from: BreakerState,
    /// After.
    pub to: BreakerState,
}

/// Permission to send one job, to hand back with its outcome.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Pass {
    /// Whether this is a half-open trial.
    pub trial: bool,
    /// The state period it was given in; outcomes of older periods are late
    /// and change nothing.
    pub period: u64,
}

/// The answer to "may a job go to the backend now?".
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Admission {
    /// Go.
    Admitted(Pass),
    /// Wait; ask again after the duration, or sooner when an outcome is
    /// recorded (`None`: only then).
    Wait(Option<Duration>),
}

/// The breaker state machine.
#[derive(Debug)]
pub struct Breaker {
    config: BreakerConfig,
    state: BreakerState,
    consecutive: u32,
    opened_at: Option<Instant>,
    period: u64,
    trials_admitted: u32,
    trial_successes: u32,
    calls: VecDeque<(Instant, bool)>,
    failures_in_window: usize,
}

impl Breaker {
    /// A closed breaker.
    #[must_use]
    pub fn new(config: BreakerConfig) -> Self {
        Self {
            config,
            state: BreakerState::Closed,
            consecutive: 0,
            opened_at: None,
            period: 0,
            trials_admitted: 0,
            trial_successes: 0,
            calls: VecDeque::new(),
            failures_in_window: 0,
        }
    }

    /// The current state (without applying a due cool-down).
    #[must_use]
    pub fn state(&self) -> BreakerState {
        self.state
    }

    /// Trials admitted and not released in the current half-open period.
    #[must_use]
    pub fn trials_admitted(&self) -> u32 {
        self.trials_admitted
    }

    /// The configuration.
    #[must_use]
    pub fn config(&self) -> &BreakerConfig {
        &self.config
    }

    fn go(&mut self, to: BreakerState, now: Instant) -> Option<Transition> {
        let from = self.state;
        if from == to {
            return None;
        }
        self.state = to;
        self.period += 1;
        self.trials_admitted = 0;
        self.trial_successes = 0;
        match to {
            BreakerState::Open => self.opened_at = Some(now),
            BreakerState::Closed => {
                self.consecutive = 0;
                self.calls.clear();
                self.failures_in_window = 0;
            }
            BreakerState::HalfOpen => {}
        }
        Some(Transition { from, to })
    }

    /// Whether a job asking now would have to wait (without changing state).
    #[must_use]
    pub fn blocks(&self, now: Instant) -> bool {
        match self.state {
            BreakerState::Closed => false,
            BreakerState::Open => self
                .opened_at
                .is_some_and(|t| now.saturating_duration_since(t) < self.config.cool_down),
            BreakerState::HalfOpen => self.trials_admitted >= self.config.half_open_trials,
        }
    }

    /// Asks to send one job; may move open → half-open when the cool-down is over.
    pub fn try_admit(&mut self, now: Instant) -> (Admission, Option<Transition>) {
        let mut transition = None;
        if self.state == BreakerState::Open {
            let since = self
                .opened_at
                .map_or(Duration::MAX, |t| now.saturating_duration_since(t));
            if since < self.config.cool_down {
                return (Admission::Wait(Some(self.config.cool_down - since)), None);
            }
            transition = self.go(BreakerState::HalfOpen, now);
        }
        let pass = |trial| {
            Admission::Admitted(Pass {
                trial,
                period: self.period,
            })
        };
        let admission = match self.state {
            BreakerState::Closed => pass(false),
            BreakerState::HalfOpen if self.trials_admitted < self.config.half_open_trials => {
                self.trials_admitted += 1;
                pass(true)
            }
            _ => Admission::Wait(None),
        };
        (admission, transition)
    }

    /// Gives back an admission whose job produced no outcome about the
    /// backend (cancelled before or during the call).
    pub fn release(&mut self, pass: Pass) {
        if pass.trial && pass.period == self.period && self.state == BreakerState::HalfOpen {
            self.trials_admitted = self.trials_admitted.saturating_sub(1);
        }
    }

    /// Records the outcome of an admitted job.
    pub fn record(&mut self, now: Instant, success: bool, pass: Pass) -> Option<Transition> {
        if pass.period != self.period && pass.trial {
            return None;
        }
        match self.state {
            BreakerState::HalfOpen if pass.trial => {
                if success {
                    self.trial_successes += 1;
                    if self.trial_successes >= self.config.success_threshold {
                        return self.go(BreakerState::Closed, now);
                    }
                    None
                } else {
                    self.go(BreakerState::Open, now)
                }
            }
            BreakerState::Closed => {
                self.consecutive = if success { 0 } else { self.consecutive + 1 };
                self.push_call(now, success);
                if self.consecutive >= self.config.consecutive_failures || self.rate_exceeded() {
                    return self.go(BreakerState::Open, now);
                }
                None
            }
            // Late outcomes of jobs admitted before the last change say
            // nothing about the current period.
            _ => None,
        }
    }

    fn push_call(&mut self, now: Instant, success: bool) {
        self.calls.push_back((now, success));
        self.failures_in_window += usize::from(!success);
        while let Some(&(t, ok)) = self.calls.front() {
            let expired = now.saturating_duration_since(t) > self.config.window;
            if expired || self.calls.len() > MAX_WINDOW_CALLS {
                self.calls.pop_front();
                self.failures_in_window -= usize::from(!ok);
            } else {
                break;
            }
        }
    }

    fn rate_exceeded(&self) -> bool {
        let Some(rate) = self.config.failure_rate else {
            return false;
        };
        let n = self.calls.len();
        n >= self.config.min_calls as usize
            && n > 0
            && self.failures_in_window as f64 / n as f64 >= rate
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config() -> BreakerConfig {
        BreakerConfig {
            consecutive_failures: 3,
            failure_rate: None,
            cool_down: Duration::from_secs(1),
            half_open_trials: 2,
            success_threshold: 2,
            ..BreakerConfig::default()
        }
    }

    #[test]
    fn full_cycle() {
        let t0 = Instant::now();
        let mut b = Breaker::new(config());
        let closed = Pass {
            trial: false,
            period: 0,
        };
        for _ in 0..2 {
            assert_eq!(b.record(t0, false, closed), None);
        }
        let open = b.record(t0, false, closed).unwrap();
        assert_eq!(
            (open.from, open.to),
            (BreakerState::Closed, BreakerState::Open)
        );
        assert!(matches!(b.try_admit(t0).0, Admission::Wait(Some(_))));
        let later = t0 + Duration::from_secs(1);
        let (a, t) = b.try_admit(later);
        let trial = Pass {
            trial: true,
            period: 2,
        };
        assert_eq!(a, Admission::Admitted(trial));
        assert_eq!(t.unwrap().to, BreakerState::HalfOpen);
        assert_eq!(b.try_admit(later).0, Admission::Admitted(trial));
        assert_eq!(b.try_admit(later).0, Admission::Wait(None));
        assert_eq!(
            b.record(
                later,
                true,
                Pass {
                    trial: true,
                    period: 1
                }
            ),
            None,
            "late trials are ignored"
        );
        assert_eq!(b.record(later, true, trial), None);
        assert_eq!(
            b.record(later, true, trial).unwrap().to,
            BreakerState::Closed
        );
    }

    #[test]
    fn failure_rate_opens() {
        let t0 = Instant::now();
        let mut b = Breaker::new(BreakerConfig {
            consecutive_failures: 100,
            failure_rate: Some(0.5),
            min_calls: 4,
            ..config()
        });
        let p = Pass {
            trial: false,
            period: 0,
        };
        assert_eq!(b.record(t0, false, p), None);
        assert_eq!(b.record(t0, true, p), None);
        assert_eq!(b.record(t0, false, p), None);
        assert_eq!(b.record(t0, true, p).unwrap().to, BreakerState::Open);
    }

    #[test]
    fn bad_configs_are_refused() {
        let bad = BreakerConfig {
            success_threshold: 5,
            ..config()
        };
        assert!(
            bad.validate()
                .unwrap_err()
                .to_string()
                .contains("success_threshold")
        );
        let bad = BreakerConfig {
            failure_rate: Some(1.5),
            ..config()
        };
        assert!(bad.validate().is_err());
    }
}
