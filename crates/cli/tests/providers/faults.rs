//! Which submissions fail and how: by submission number, or drawn from a
//! seed so that a run of many jobs meets every fault in known amounts.

/// What goes wrong with one submission.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Fault {
    /// The job is created, then the socket closes without an answer.
    ResetAfterProcessing,
    /// The job is created; `200` announces a longer body than the half of
    /// the JSON that comes before the socket closes.
    Truncated2xx,
    /// The job is created and no answer ever comes; the exchange ends when
    /// the client gives up (its timeout, or its death).
    HangAfterProcessing,
    /// No job; a complete `500` with the provider's error JSON.
    Server5xx,
    /// No job; `429` with `retry-after: 1`.
    RateLimited,
}

/// Odds of each fault per submission, and of a job failing.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Odds {
    pub(crate) reset: f64,
    pub(crate) truncated: f64,
    pub(crate) server: f64,
    pub(crate) rate_limited: f64,
    pub(crate) job_fails: f64,
}

/// Which submissions (and jobs) fail.
#[derive(Debug, Clone)]
pub(crate) enum Plan {
    /// Faults by submission number (1-based, over the whole mock).
    Schedule(Vec<(usize, Fault)>),
    /// Faults drawn from `seed` for the `n`-th submission of the `i`-th
    /// distinct prompt: the same counts of each fault for any arrival order.
    Seeded { seed: u64, odds: Odds },
}

impl Plan {
    /// The first submission suffers `fault`; nothing else goes wrong.
    pub(crate) fn first_submit(fault: Fault) -> Self {
        Self::Schedule(vec![(1, fault)])
    }

    pub(crate) fn submit_fault(
        &self,
        number: usize,
        prompt_index: usize,
        nth: usize,
    ) -> Option<Fault> {
        match self {
            Self::Schedule(faults) => faults.iter().find(|(n, _)| *n == number).map(|(_, f)| *f),
            Self::Seeded { seed, odds } => {
                let mut x = draw(*seed, prompt_index as u64, nth as u64);
                for (p, fault) in [
                    (odds.reset, Fault::ResetAfterProcessing),
                    (odds.truncated, Fault::Truncated2xx),
                    (odds.server, Fault::Server5xx),
                    (odds.rate_limited, Fault::RateLimited),
                ] {
                    if x < p {
                        return Some(fault);
                    }
                    x -= p;
                }
                None
            }
        }
    }

    pub(crate) fn job_fails(&self, prompt_index: usize) -> bool {
        match self {
            Self::Schedule(_) => false,
            Self::Seeded { seed, odds } => {
                draw(*seed, prompt_index as u64, u64::MAX) < odds.job_fails
            }
        }
    }
}

/// A uniform number in `[0, 1)` from SplitMix64 over the three inputs.
fn draw(seed: u64, a: u64, b: u64) -> f64 {
    let mut z =
        seed ^ a.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ b.wrapping_mul(0xC2B2_AE3D_27D4_EB4F);
    for _ in 0..2 {
        z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^= z >> 31;
    }
    (z >> 11) as f64 / (1u64 << 53) as f64
}

/// The seeded plan of the twenty-job tests deals every fault to the first
/// submissions of twenty prompts, whatever order they arrive in.
#[test]
fn the_seeded_plan_deals_every_fault_among_twenty_prompts() {
    let plan = crate::TWENTY_JOB_PLAN;
    let mut dealt = std::collections::BTreeMap::new();
    for i in 0..20 {
        if let Some(f) = plan.submit_fault(0, i, 0) {
            *dealt.entry(format!("{f:?}")).or_insert(0) += 1;
        }
        if plan.job_fails(i) {
            *dealt.entry("JobFails".to_owned()).or_insert(0) += 1;
        }
    }
    assert_eq!(dealt.len(), 5, "{dealt:?}");
}
