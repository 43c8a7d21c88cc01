//! Fault injection and latency, shared by both faces: what goes wrong, how
//! often, and how long a generation takes.

use std::str::FromStr;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use crate::Error;

/// How often each fault happens (probabilities in [0, 1]); all zero by
/// default.
///
/// Parsed from `key=value` pairs separated by commas, e.g.
/// `rate_limited=0.1,retry_after=7s,server_error=0.05,rps=50,burst=10`.
///
/// ```
/// use std::time::Duration;
/// use framebreak_sim::Faults;
///
/// let f: Faults = "rate_limited=0.2,retry_after=7s,truncated=0.1,rps=100,burst=20".parse()?;
/// assert_eq!(f.retry_after, Some(Duration::from_secs(7)));
/// assert_eq!(f.rate_limit, Some((100.0, 20)));
/// assert!("hang=2".parse::<Faults>().is_err());
/// # Ok::<(), framebreak_sim::Error>(())
/// ```
#[derive(Clone, Debug, Default, PartialEq)]
#[non_exhaustive]
pub struct Faults {
    /// Submissions answered 429 (`rate_limited`).
    pub rate_limited: f64,
    /// The wait a 429 asks for (`retry_after`); none sends no header.
    pub retry_after: Option<Duration>,
    /// Submissions answered 500 (`server_error`).
    pub server_error: f64,
    /// Submissions never answered (`hang`): the client's timeout fires.
    pub hang: f64,
    /// Prompts refused by the content policy (`content_policy`).
    pub content_policy: f64,
    /// Submissions answered 200 with a body that is not JSON (`malformed`).
    pub malformed: f64,
    /// Jobs whose generation fails (`failed`).
    pub failed: f64,
    /// Jobs that stay queued for ever (`stay_queued`).
    pub stay_queued: f64,
    /// Downloads that break off half way (`truncated`).
    pub truncated: f64,
    /// Downloads sent slowly (`slow`), at `slow_bps` bytes per second.
    pub slow: f64,
    /// Speed of a slow download (`slow_bps`, default 64 KiB/s).
    pub slow_bps: u64,
    /// A token bucket on submissions: `(rps, burst)`; over it, 429.
    pub rate_limit: Option<(f64, u32)>,
}

impl Faults {
    /// No faults.
    #[must_use]
    pub fn none() -> Self {
        Self {
            slow_bps: 64 << 10,
            ..Self::default()
        }
    }
}

/// Parses `250ms`, `2s`, `1.5s`, `0`.
///
/// # Errors
///
/// [`Error::Faults`] naming the text.
pub fn parse_duration(text: &str) -> Result<Duration, Error> {
    let bad = |reason: &str| Error::Faults {
        spec: text.to_owned(),
        reason: reason.to_owned(),
    };
    let t = text.trim();
    let (num, scale) = if let Some(n) = t.strip_suffix("ms") {
        (n, 1e-3)
    } else if let Some(n) = t.strip_suffix('s') {
        (n, 1.0)
    } else if t == "0" {
        (t, 1.0)
    } else {
        return Err(bad("a duration needs a unit: ms or s"));
    };
    let v: f64 = num.trim().parse().map_err(|_| bad("not a number"))?;
    if !(v.is_finite() && v >= 0.0 && v * scale < 86_400.0) {
        return Err(bad("a duration must be between 0 and a day"));
    }
    Ok(Duration::from_secs_f64(v * scale))
}

impl FromStr for Faults {
    type Err = Error;

    fn from_str(spec: &str) -> Result<Self, Error> {
        let bad = |reason: String| Error::Faults {
            spec: spec.to_owned(),
            reason,
        };
        let mut f = Faults::none();
        let (mut rps, mut burst) = (None, None);
        for pair in spec.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let (key, value) = pair
                .split_once('=')
                .ok_or_else(|| bad(format!("`{pair}` is not key=value")))?;
            let prob = || -> Result<f64, Error> {
                let p: f64 = value
                    .parse()
                    .map_err(|_| bad(format!("`{key}`: `{value}` is not a number")))?;
                if (0.0..=1.0).contains(&p) {
                    Ok(p)
                } else {
                    Err(bad(format!("`{key}` = {p} is not a probability in [0, 1]")))
                }
            };
            match key {
                "rate_limited" => f.rate_limited = prob()?,
                "server_error" => f.server_error = prob()?,
                "hang" => f.hang = prob()?,
                "content_policy" => f.content_policy = prob()?,
                "malformed" => f.malformed = prob()?,
                "failed" => f.failed = prob()?,
                "stay_queued" => f.stay_queued = prob()?,
                "truncated" => f.truncated = prob()?,
                "slow" => f.slow = prob()?,
                "retry_after" => {
                    let d = parse_duration(value).map_err(|e| match e {
                        Error::Faults { reason, .. } => bad(format!("`retry_after`: {reason}")),
                        other => other,
                    })?;
                    f.retry_after = Some(d);
                }
                "slow_bps" => {
                    f.slow_bps = value.parse().ok().filter(|v| *v > 0).ok_or_else(|| {
                        bad(format!("`slow_bps`: `{value}` is not a positive integer"))
                    })?;
                }
                "rps" => {
                    rps = Some(
                        value
                            .parse::<f64>()
                            .ok()
                            .filter(|v| v.is_finite() && *v > 0.0)
                            .ok_or_else(|| {
                                bad(format!("`rps`: `{value}` is not a positive rate"))
                            })?,
                    )
                }
                "burst" => {
                    burst = Some(
                        value
                            .parse::<u32>()
                            .ok()
                            .filter(|v| *v > 0)
                            .ok_or_else(|| {
                                bad(format!("`burst`: `{value}` is not a positive integer"))
                            })?,
                    )
                }
                other => {
                    return Err(bad(format!(
                        "unknown fault `{other}` (expected rate_limited, retry_after, server_error, hang, content_policy, malformed, failed, stay_queued, truncated, slow, slow_bps, rps, burst)"
                    )));
                }
            }
        }
        match (rps, burst) {
            (Some(r), b) => f.rate_limit = Some((r, b.unwrap_or_else(|| r.ceil().max(1.0) as u32))),
            (None, Some(_)) => return Err(bad("`burst` needs `rps`".into())),
            (None, None) => {}
        }
        Ok(f)
    }
}

/// How long jobs take.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Latency {
    /// Least time from submission to completion.
    pub generate: Duration,
    /// Polls a job answers `queued` before it runs.
    pub queued_polls: u32,
    /// Polls a job answers `in_progress` before it may complete.
    pub running_polls: u32,
    /// The `openai-poll-after-ms` hint sent with unfinished statuses.
    pub poll_after: Duration,
}

impl Default for Latency {
    /// Small: 20 ms of generation, no forced polls, a 50 ms hint.
    fn default() -> Self {
        Self {
            generate: Duration::from_millis(20),
            queued_polls: 0,
            running_polls: 0,
            poll_after: Duration::from_millis(50),
        }
    }
}

impl Latency {
    /// No waiting at all: a job completes as soon as its clip exists.
    #[must_use]
    pub fn none() -> Self {
        Self {
            generate: Duration::ZERO,
            queued_polls: 0,
            running_polls: 0,
            poll_after: Duration::ZERO,
        }
    }

    /// Sets the generation time.
    #[must_use]
    pub fn generate(mut self, d: Duration) -> Self {
        self.generate = d;
        self
    }

    /// Forces `queued` then `running` answers for that many polls.
    #[must_use]
    pub fn polls(mut self, queued: u32, running: u32) -> Self {
        self.queued_polls = queued;
        self.running_polls = running;
        self
    }
}

/// A fixed stream of draws (splitmix64 over a counter), so that a run's
/// faults are reproducible.
#[derive(Debug, Default)]
pub(crate) struct Dice(AtomicU64);

impl Dice {
    pub(crate) fn roll(&self, p: f64) -> bool {
        if p <= 0.0 {
            return false;
        }
        let n = self.0.fetch_add(1, Ordering::Relaxed);
        let mut z = n.wrapping_add(1).wrapping_mul(0x9e37_79b9_7f4a_7c15);
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^= z >> 31;
        ((z >> 11) as f64 / (1u64 << 53) as f64) < p
    }
}

/// A token bucket: `rate` tokens a second, at most `burst` saved.
#[derive(Debug)]
pub(crate) struct Bucket {
    rate: f64,
    burst: f64,
    state: Mutex<(f64, Instant)>,
}

impl Bucket {
    pub(crate) fn new(rate: f64, burst: u32) -> Self {
        Self {
            rate,
            burst: f64::from(burst),
            state: Mutex::new((f64::from(burst), Instant::now())),
        }
    }

    /// Takes a token, or says how long until one is there.
    pub(crate) fn take(&self) -> Result<(), Duration> {
        let mut s = self.state.lock().expect("bucket lock");
        let now = Instant::now();
        s.0 = (s.0 + now.duration_since(s.1).as_secs_f64() * self.rate).min(self.burst);
        s.1 = now;
        if s.0 >= 1.0 {
            s.0 -= 1.0;
            Ok(())
        } else {
            Err(Duration::from_secs_f64((1.0 - s.0) / self.rate))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bad_specs_are_refused_naming_the_key() {
        for (spec, needle) in [
            ("hang=1.5", "`hang`"),
            ("wobble=0.1", "unknown fault `wobble`"),
            ("rps=-1", "`rps`"),
            ("burst=3", "needs `rps`"),
            ("retry_after=7", "unit"),
            ("truncated", "key=value"),
        ] {
            let err = spec.parse::<Faults>().unwrap_err().to_string();
            assert!(err.contains(needle) && err.contains(spec), "{err}");
        }
        assert_eq!("".parse::<Faults>().unwrap(), Faults::none());
        assert_eq!(parse_duration("250ms").unwrap(), Duration::from_millis(250));
    }

    #[test]
    fn dice_follow_their_probability() {
        let d = Dice::default();
        let hits = (0..10_000).filter(|_| d.roll(0.3)).count();
        assert!((2_800..3_200).contains(&hits), "{hits}");
        assert!(!d.roll(0.0) && d.roll(1.0));
    }

    #[test]
    fn the_bucket_lets_a_burst_through_then_asks_to_wait() {
        let b = Bucket::new(10.0, 3);
        assert!((0..3).all(|_| b.take().is_ok()));
        let wait = b.take().unwrap_err();
        assert!(
            wait > Duration::ZERO && wait <= Duration::from_millis(100),
            "{wait:?}"
        );
    }
}
