//! Retries as a policy object: [`RetryPolicy::should_retry`] says whether,
//! [`Backoff`] says how long, [`RetryBudget`] says how much retrying the
//! whole run may do.

use std::sync::Mutex;
use std::time::{Duration, Instant};

use backon::{BackoffBuilder, ExponentialBuilder, FibonacciBuilder};

use crate::failure::{Failure, FailureCategory};

/// How long to wait before retry number `n` (1-based).
#[derive(Clone, Copy, Debug, PartialEq)]
#[non_exhaustive]
pub enum Backoff {
    /// `min · factor^(n-1)`, capped at `max`; with jitter, plus up to the same
    /// again (still capped). Computed by `backon`.
    Exponential {
        /// First delay.
        min: Duration,
        /// Cap.
        max: Duration,
        /// Growth per retry.
        factor: f32,
        /// Add random jitter.
        jitter: bool,
    },
    /// `base + step · (n-1)`, capped at `max`; with jitter, up to `step` more.
    Linear {
        /// First delay.
        base: Duration,
        /// Increment per retry.
        step: Duration,
        /// Cap.
        max: Duration,
        /// Add random jitter.
        jitter: bool,
    },
    /// Fibonacci multiples of `min`, capped at `max`. Computed by `backon`.
    Fibonacci {
        /// First delay.
        min: Duration,
        /// Cap.
        max: Duration,
        /// Add random jitter.
        jitter: bool,
    },
    /// "Decorrelated jitter" (AWS architecture blog): each delay is drawn
    /// from `[base, 3 · previous]`, capped at `max`.
    DecorrelatedJitter {
        /// Smallest delay.
        base: Duration,
        /// Cap.
        max: Duration,
    },
}

impl Default for Backoff {
    /// Exponential from 500 ms, doubling, capped at 60 s, with jitter.
    fn default() -> Self {
        Self::Exponential {
            min: Duration::from_millis(500),
            max: Duration::from_secs(60),
            factor: 2.0,
            jitter: true,
        }
    }
}

impl Backoff {
    /// The delay before retry `retry` (1-based). `seed` makes jitter
    /// reproducible (the scheduler derives it from the job id and attempt).
    #[must_use]
    pub fn delay(&self, retry: u32, seed: u64) -> Duration {
        let n = retry.max(1);
        match *self {
            Self::Exponential {
                min,
                max,
                factor,
                jitter,
            } => {
                let mut b = ExponentialBuilder::new()
                    .with_min_delay(min)
                    .with_max_delay(max)
                    .with_factor(factor.max(1.0))
                    .without_max_times();
                if jitter {
                    b = b.with_jitter().with_jitter_seed(seed);
                }
                b.build().nth(n as usize - 1).unwrap_or(max).min(max)
            }
            Self::Fibonacci { min, max, jitter } => {
                let mut b = FibonacciBuilder::new()
                    .with_min_delay(min)
                    .with_max_delay(max)
                    .without_max_times();
                if jitter {
                    b = b.with_jitter().with_jitter_seed(seed);
                }
                b.build().nth(n as usize - 1).unwrap_or(max).min(max)
            }
            Self::Linear {
                base,
                step,
                max,
                jitter,
            } => {
                let nominal = base.saturating_add(step.saturating_mul(n - 1));
                let extra = if jitter {
                    step.mul_f64(fastrand::Rng::with_seed(seed).f64())
                } else {
                    Duration::ZERO
                };
                nominal.saturating_add(extra).min(max)
            }
            Self::DecorrelatedJitter { base, max } => {
                let mut rng = fastrand::Rng::with_seed(seed);
                let mut previous = base;
                for _ in 0..n {
                    let high = previous.saturating_mul(3).max(base);
                    let span = high.saturating_sub(base);
                    previous = base.saturating_add(span.mul_f64(rng.f64())).min(max);
                }
                previous
            }
        }
    }

    /// The smallest and largest delay this backoff can give for retry `retry`
    /// (before a backend's retry-after, which may only lengthen it).
    #[must_use]
    pub fn bounds(&self, retry: u32) -> (Duration, Duration) {
        let n = retry.max(1);
        match *self {
            Self::Exponential { min, max, .. } | Self::Fibonacci { min, max, .. } => {
                (min.min(max), max)
            }
            Self::Linear {
                base, step, max, ..
            } => {
                let nominal = base.saturating_add(step.saturating_mul(n - 1)).min(max);
                (nominal, max)
            }
            Self::DecorrelatedJitter { base, max } => (base.min(max), max),
        }
    }
}

/// Limits on retrying one category of failure.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct RetryRule {
    /// Most tries of a job in all (the first one included); a job whose
    /// failure count reaches it fails.
    pub max_attempts: u32,
    /// No retry is scheduled later than this after the job's first attempt.
    pub max_elapsed: Option<Duration>,
    /// How long to wait.
    pub backoff: Backoff,
}

impl Default for RetryRule {
    /// 8 attempts, 30 minutes, [`Backoff::default`].
    fn default() -> Self {
        Self {
            max_attempts: 8,
            max_elapsed: Some(Duration::from_secs(30 * 60)),
            backoff: Backoff::default(),
        }
    }
}

/// Why a failure is not retried.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum GiveUp {
    /// The category is not retryable.
    NotRetryable,
    /// The rule's `max_attempts` is reached.
    Attempts,
    /// The retry would come after the rule's `max_elapsed`.
    Elapsed,
}

/// Whether and when to retry a failed step. Defaults: [`RetryRule::default`]
/// for every retryable category.
#[derive(Clone, Debug, PartialEq)]
pub struct RetryPolicy {
    rules: [RetryRule; FailureCategory::ALL.len()],
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self::uniform(RetryRule::default())
    }
}

impl RetryPolicy {
    /// The same rule for every category.
    #[must_use]
    pub fn uniform(rule: RetryRule) -> Self {
        Self {
            rules: [rule; FailureCategory::ALL.len()],
        }
    }

    /// Replaces the rule of one category.
    #[must_use]
    pub fn with_rule(mut self, category: FailureCategory, rule: RetryRule) -> Self {
        self.rules[category.index()] = rule;
        self
    }

    /// The rule of `category`.
    #[must_use]
    pub fn rule(&self, category: FailureCategory) -> &RetryRule {
        &self.rules[category.index()]
    }

    /// Whether to retry after `failure`, the job's failure number `failures`
    /// (1-based), `elapsed` after its first attempt.
    pub fn should_retry(
        &self,
        failure: &Failure,
        failures: u32,
        elapsed: Duration,
    ) -> Result<(), GiveUp> {
        if !failure.is_retryable() {
            return Err(GiveUp::NotRetryable);
        }
        let rule = self.rule(failure.category);
        if failure.counts_as_attempt() && failures >= rule.max_attempts {
            return Err(GiveUp::Attempts);
        }
        match rule.max_elapsed {
            Some(max) if elapsed.saturating_add(self.delay(failure, failures, 0)) > max => {
                Err(GiveUp::Elapsed)
            }
            _ => Ok(()),
        }
    }

    /// How long to wait before retrying after failure number `failures`: the
    /// backoff, or the backend's retry-after when that is longer.
    #[must_use]
    pub fn delay(&self, failure: &Failure, failures: u32, seed: u64) -> Duration {
        let backoff = self.rule(failure.category).backoff.delay(failures, seed);
        failure
            .retry_after
            .map_or(backoff, |after| after.max(backoff))
    }
}

/// How much retrying a run may do: a token bucket filled by successes
/// (`ratio` tokens each) and by time (`min_per_second`), emptied by retries
/// (one each), holding at most `capacity`. A storm of failures drains it and
/// further retries are deferred until it refills, so failures cannot multiply
/// traffic beyond `successes · ratio + min_per_second · seconds + capacity`.
#[derive(Debug)]
pub struct RetryBudget {
    ratio: f64,
    min_per_second: f64,
    capacity: f64,
    state: Mutex<(f64, Instant)>,
}

impl Default for RetryBudget {
    /// 20 % of successes, 10 retries per second, capacity 100.
    fn default() -> Self {
        Self::new(0.2, 10.0, 100.0)
    }
}

impl RetryBudget {
    /// A full budget.
    #[must_use]
    pub fn new(ratio: f64, min_per_second: f64, capacity: f64) -> Self {
        let capacity = capacity.max(1.0);
        Self {
            ratio: ratio.max(0.0),
            min_per_second: min_per_second.max(0.0),
            capacity,
            state: Mutex::new((capacity, Instant::now())),
        }
    }

    fn with_state<T>(&self, f: impl FnOnce(&mut f64) -> T) -> T {
        let mut guard = self
            .state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let (tokens, last) = &mut *guard;
        let now = Instant::now();
        *tokens = (*tokens + now.duration_since(*last).as_secs_f64() * self.min_per_second)
            .min(self.capacity);
        *last = now;
        f(tokens)
    }

    /// Records a success.
    pub fn deposit(&self) {
        self.with_state(|t| *t = (*t + self.ratio).min(self.capacity));
    }

    /// Takes one retry from the budget; `false` when it is empty.
    pub fn withdraw(&self) -> bool {
        self.with_state(|t| {
            if *t >= 1.0 {
                *t -= 1.0;
                true
            } else {
                false
            }
        })
    }

    /// Roughly how long until the budget holds a retry again.
    #[must_use]
    pub fn refill_wait(&self) -> Duration {
        if self.min_per_second > 0.0 {
            Duration::from_secs_f64(1.0 / self.min_per_second)
        } else {
            Duration::from_secs(1)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn give_up_reasons() {
        let policy = RetryPolicy::uniform(RetryRule {
            max_attempts: 3,
            max_elapsed: Some(Duration::from_secs(10)),
            backoff: Backoff::Linear {
                base: Duration::from_secs(1),
                step: Duration::ZERO,
                max: Duration::from_secs(1),
                jitter: false,
            },
        });
        let server = Failure::new(FailureCategory::Server, "500");
        assert_eq!(policy.should_retry(&server, 1, Duration::ZERO), Ok(()));
        assert_eq!(
            policy.should_retry(&server, 3, Duration::ZERO),
            Err(GiveUp::Attempts)
        );
        assert_eq!(
            policy.should_retry(
                &server,
                1,
                Duration::from_secs(9) + Duration::from_millis(1)
            ),
            Err(GiveUp::Elapsed)
        );
        let auth = Failure::new(FailureCategory::Auth, "401");
        assert_eq!(
            policy.should_retry(&auth, 1, Duration::ZERO),
            Err(GiveUp::NotRetryable)
        );
    }

    #[test]
    fn retry_after_lengthens_but_never_shortens() {
        let policy = RetryPolicy::default();
        let f =
            Failure::new(FailureCategory::RateLimited, "429").retry_after(Duration::from_secs(120));
        assert_eq!(policy.delay(&f, 1, 7), Duration::from_secs(120));
        let f = Failure::new(FailureCategory::RateLimited, "429").retry_after(Duration::ZERO);
        assert!(policy.delay(&f, 1, 7) >= Duration::from_millis(500));
    }

    #[test]
    fn budget_drains_and_refills_with_successes() {
        let budget = RetryBudget::new(0.5, 0.0, 2.0);
        assert!(budget.withdraw());
        assert!(budget.withdraw());
        assert!(!budget.withdraw());
        budget.deposit();
        budget.deposit();
        assert!(budget.withdraw());
        assert!(!budget.withdraw());
    }
}
