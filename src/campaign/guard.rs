//! Stopping early: a provider that refuses every submission for a reason no
//! retry fixes (a wrong key, a request it never accepts) stops the campaign
//! within a few jobs, instead of failing all of them.

use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};

use framebreak_scheduler::{FailureCategory, Shutdown};

/// Consecutive `auth` refusals that stop a campaign.
pub(crate) const AUTH_REFUSALS: u32 = 3;
/// Consecutive `bad_request` refusals, before any submission was accepted,
/// that stop a campaign.
pub(crate) const BAD_REQUEST_REFUSALS: u32 = 5;

/// Watches submissions and triggers the campaign's shutdown on a burst of
/// refusals.
///
/// `auth` counts at any time (a key revoked mid-run); `bad_request` only
/// while no submission of the run was accepted (once one was, the request
/// is valid and a refusal is about one prompt). Any accepted submission
/// resets the count; other failures (5xx, 429) leave it alone.
#[derive(Debug)]
pub(crate) struct SubmitGuard {
    shutdown: Shutdown,
    /// The environment variable holding the key, for the message.
    key_var: Option<&'static str>,
    refusals: AtomicU32,
    accepted: AtomicBool,
    stopped: Mutex<Option<String>>,
    /// Whether the stop is the budget's.
    budget: AtomicBool,
}

impl SubmitGuard {
    pub(crate) fn new(shutdown: Shutdown, key_var: Option<&'static str>) -> Self {
        Self {
            shutdown,
            key_var,
            refusals: AtomicU32::new(0),
            accepted: AtomicBool::new(false),
            stopped: Mutex::new(None),
            budget: AtomicBool::new(false),
        }
    }

    /// A submission was accepted.
    pub(crate) fn accepted(&self) {
        self.accepted.store(true, Ordering::Relaxed);
        self.refusals.store(0, Ordering::Relaxed);
    }

    /// A submission was refused with `category` and `message`.
    pub(crate) fn refused(&self, category: FailureCategory, message: &str) {
        let limit = match category {
            FailureCategory::Auth => AUTH_REFUSALS,
            FailureCategory::BadRequest if !self.accepted.load(Ordering::Relaxed) => {
                BAD_REQUEST_REFUSALS
            }
            _ => return,
        };
        let n = self.refusals.fetch_add(1, Ordering::Relaxed) + 1;
        if n < limit {
            return;
        }
        let mut stopped = self.reason();
        if stopped.is_some() {
            return;
        }
        let advice = match (category, self.key_var) {
            (FailureCategory::Auth, Some(var)) => {
                format!("check the key in {var} (the environment or .env)")
            }
            (FailureCategory::Auth, None) => "check the backend's key".to_owned(),
            _ => "check the request settings (model, size, duration) against the provider's"
                .to_owned(),
        };
        *stopped = Some(format!(
            "the provider refused {n} submissions in a row ({category}), the last with: {message}; \
             {advice}, then `framebreak resume RUN --retry-failed {category}`"
        ));
        tracing::warn!(%category, refusals = n, "stopping the campaign: the provider refuses every submission");
        self.shutdown.trigger();
    }

    /// The budget would be passed by the next submission: records why
    /// (once). No job is submitted past it (each ends cancelled), so the run
    /// ends once the jobs it paid for are done.
    pub(crate) fn budget_reached(&self, why: String) {
        let mut stopped = self.reason();
        if stopped.is_some() {
            return;
        }
        tracing::warn!(%why, "stopping the campaign: its budget is reached");
        *stopped = Some(why);
        self.budget.store(true, Ordering::Relaxed);
    }

    /// Whether the campaign stopped at its budget.
    pub(crate) fn stopped_at_budget(&self) -> bool {
        self.budget.load(Ordering::Relaxed)
    }

    fn reason(&self) -> std::sync::MutexGuard<'_, Option<String>> {
        self.stopped
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Why the campaign was stopped, if it was.
    pub(crate) fn stopped(&self) -> Option<String> {
        self.stopped
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn three_auth_refusals_stop_and_name_the_variable() {
        let shutdown = Shutdown::new();
        let g = SubmitGuard::new(shutdown.clone(), Some("OPENAI_API_KEY"));
        g.refused(FailureCategory::Auth, "HTTP 401");
        g.refused(FailureCategory::Server, "HTTP 500");
        g.refused(FailureCategory::Auth, "HTTP 401");
        assert!(!shutdown.draining().is_cancelled());
        g.refused(FailureCategory::Auth, "HTTP 401: invalid key");
        assert!(shutdown.draining().is_cancelled());
        let why = g.stopped().unwrap();
        assert!(why.contains("OPENAI_API_KEY"), "{why}");
        assert!(why.contains("--retry-failed auth"), "{why}");
    }

    #[test]
    fn an_accepted_submission_resets_and_bad_requests_count_only_before_one() {
        let shutdown = Shutdown::new();
        let g = SubmitGuard::new(shutdown.clone(), None);
        g.refused(FailureCategory::Auth, "401");
        g.refused(FailureCategory::Auth, "401");
        g.accepted();
        g.refused(FailureCategory::Auth, "401");
        for _ in 0..10 {
            g.refused(FailureCategory::BadRequest, "a prompt it refuses");
        }
        assert!(!shutdown.draining().is_cancelled(), "{:?}", g.stopped());
        let fresh = SubmitGuard::new(shutdown.clone(), None);
        for _ in 0..BAD_REQUEST_REFUSALS {
            fresh.refused(FailureCategory::BadRequest, "size must be one of …");
        }
        assert!(shutdown.draining().is_cancelled());
    }
}
