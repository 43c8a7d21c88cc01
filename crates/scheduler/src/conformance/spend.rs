//! The conformance suite every [`SpendLedger`] must pass.
//!
//! `fresh` makes handles of one fresh, empty ledger (several handles: the
//! workers of one run, each with its own connection); each check panics
//! with a message naming the broken rule.
//!
//! ```
//! use std::sync::Arc;
//! use framebreak_scheduler::{MemoryLedger, SpendLedger, conformance};
//!
//! # tokio::runtime::Builder::new_multi_thread().enable_all().build().unwrap().block_on(async {
//! conformance::spend::run_all(|| async {
//!     let one: Arc<dyn SpendLedger> = Arc::new(MemoryLedger::default());
//!     vec![one.clone(), one]
//! })
//! .await;
//! # });
//! ```

use std::collections::HashMap;
use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use crate::spend::{Hold, SpendLedger};

/// Holds, repeats, refusals and releases, one call at a time.
pub async fn holds_are_kept_once_and_refused_past_the_limit(ledger: &dyn SpendLedger) {
    assert_eq!(
        ledger.committed().await.unwrap(),
        0,
        "a fresh ledger holds nothing"
    );
    assert_eq!(ledger.hold("a", 600, 1_000).await.unwrap(), Hold::Granted);
    assert_eq!(
        ledger.hold("a", 600, 1_000).await.unwrap(),
        Hold::AlreadyHeld,
        "a job holds once"
    );
    assert_eq!(
        ledger.hold("b", 401, 1_000).await.unwrap(),
        Hold::Refused { committed: 600 },
        "past the limit: refused, with the committed total"
    );
    assert_eq!(
        ledger.hold("b", 400, 1_000).await.unwrap(),
        Hold::Granted,
        "up to the limit"
    );
    assert_eq!(ledger.committed().await.unwrap(), 1_000);
    ledger.release("a").await.unwrap();
    ledger.release("a").await.unwrap();
    ledger.release("never-held").await.unwrap();
    assert_eq!(
        ledger.committed().await.unwrap(),
        400,
        "a release gives back once"
    );
    assert_eq!(
        ledger.hold("a", 600, 1_000).await.unwrap(),
        Hold::Granted,
        "a released job may hold again"
    );
    assert_eq!(
        ledger.hold("c", 1, 0).await.unwrap(),
        Hold::Refused { committed: 1_000 },
        "a lower limit refuses"
    );
    assert_eq!(
        ledger.hold("z", 0, 1_000).await.unwrap(),
        Hold::Granted,
        "nothing fits"
    );
}

/// Many jobs from every handle at once, each asking twice, some released:
/// the committed total never passes the limit and ends equal to the holds
/// kept. Amounts and releases come from `seed`.
pub async fn concurrent_holds_never_pass_the_limit(ledgers: &[Arc<dyn SpendLedger>], seed: u64) {
    let mut rng = fastrand::Rng::with_seed(seed);
    let limit = 20_000_000 + rng.u64(..20_000_000);
    let tries: Arc<Vec<(String, u64, bool)>> = Arc::new(
        (0..200)
            .map(|i| (format!("job-{i}"), rng.u64(1..1_000_000), rng.u8(..5) == 0))
            .collect(),
    );
    let next = Arc::new(AtomicUsize::new(0));
    let tasks: Vec<_> = (0..16)
        .map(|worker| {
            let ledger = Arc::clone(&ledgers[worker % ledgers.len()]);
            let (tries, next) = (Arc::clone(&tries), Arc::clone(&next));
            tokio::spawn(async move {
                let mut kept = Vec::new();
                loop {
                    let i = next.fetch_add(1, Ordering::SeqCst);
                    let Some((job, amount, release)) = tries.get(i) else {
                        break;
                    };
                    let first = ledger.hold(job, *amount, limit).await.unwrap();
                    let again = ledger.hold(job, *amount, limit).await.unwrap();
                    if first == Hold::Granted {
                        assert_eq!(again, Hold::AlreadyHeld, "{job} held twice");
                    }
                    let total = ledger.committed().await.unwrap();
                    assert!(
                        total <= limit,
                        "committed {total} is past the limit {limit}"
                    );
                    let held = first.is_held() || again.is_held();
                    if held && *release {
                        ledger.release(job).await.unwrap();
                    } else if held {
                        kept.push((job.clone(), *amount));
                    }
                }
                kept
            })
        })
        .collect();
    let mut kept: HashMap<String, u64> = HashMap::new();
    for task in tasks {
        kept.extend(task.await.expect("a ledger call panicked"));
    }
    let expected: u64 = kept.values().sum();
    for ledger in ledgers {
        assert_eq!(
            ledger.committed().await.unwrap(),
            expected,
            "the committed total is not the sum of the holds kept"
        );
    }
    assert!(expected <= limit);
}

/// Runs every check, each on a fresh ledger from `fresh`.
pub async fn run_all<F, Fut>(mut fresh: F)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Vec<Arc<dyn SpendLedger>>>,
{
    let one = fresh().await;
    holds_are_kept_once_and_refused_past_the_limit(one[0].as_ref()).await;
    for seed in 1..=3 {
        concurrent_holds_never_pass_the_limit(&fresh().await, seed).await;
    }
}
