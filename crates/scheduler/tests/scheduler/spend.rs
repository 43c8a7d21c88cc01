//! The spend ledger's contract, checked on every implementation: holds from
//! many tasks at once (and from two handles of one SQLite file) never take
//! the committed total past the limit, and the total is exactly what the
//! granted holds add up to, less the released ones.

use std::collections::HashMap;
use std::sync::Arc;

use framebreak_scheduler::{Hold, MemoryLedger, SpendLedger, SqliteStore};
use proptest::prelude::*;

/// One job's try: its amount, and whether its paid step then certainly
/// had no effect (its hold is given back).
#[derive(Clone, Debug)]
pub(crate) struct Try {
    pub(crate) job: String,
    pub(crate) amount: u64,
    pub(crate) released: bool,
}

/// Runs `tries` against `ledgers` (round robin), `concurrency` at a time,
/// each job asking twice (a retry), and checks the contract.
pub(crate) async fn check_ledger(
    ledgers: &[Arc<dyn SpendLedger>],
    tries: Vec<Try>,
    limit: u64,
    concurrency: usize,
) {
    let tries = Arc::new(tries);
    let next = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let mut tasks = Vec::new();
    for worker in 0..concurrency {
        let ledger = Arc::clone(&ledgers[worker % ledgers.len()]);
        let (tries, next) = (Arc::clone(&tries), Arc::clone(&next));
        tasks.push(tokio::spawn(async move {
            let mut outcomes = Vec::new();
            loop {
                let i = next.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                let Some(t) = tries.get(i) else { break };
                let first = ledger.hold(&t.job, t.amount, limit).await.unwrap();
                let again = ledger.hold(&t.job, t.amount, limit).await.unwrap();
                if first == Hold::Granted {
                    assert_eq!(again, Hold::AlreadyHeld, "{t:?}");
                }
                for hold in [first, again] {
                    if let Hold::Refused { committed } = hold {
                        assert!(committed + t.amount > limit, "{t:?} refused at {committed}");
                    }
                }
                let total = ledger.committed().await.unwrap();
                assert!(total <= limit, "committed {total} past the limit {limit}");
                // Refused first, the retry may find room another job gave
                // back meanwhile.
                let held = first.is_held() || again.is_held();
                if held && t.released {
                    ledger.release(&t.job).await.unwrap();
                }
                outcomes.push((i, held));
            }
            outcomes
        }));
    }
    let mut kept: HashMap<String, u64> = HashMap::new();
    for task in tasks {
        for (i, held) in task.await.unwrap() {
            let t = &tries[i];
            if held && !t.released {
                kept.insert(t.job.clone(), t.amount);
            }
        }
    }
    let expected: u64 = kept.values().sum();
    for ledger in ledgers {
        assert_eq!(ledger.committed().await.unwrap(), expected);
    }
    assert!(expected <= limit);
}

pub(crate) fn tries() -> impl Strategy<Value = Vec<Try>> {
    prop::collection::vec((1u64..5_000_000, prop::bool::weighted(0.2)), 1..60).prop_map(|v| {
        v.into_iter()
            .enumerate()
            .map(|(i, (amount, released))| Try {
                job: format!("job-{i}"),
                amount,
                released,
            })
            .collect()
    })
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]

    #[test]
    fn concurrent_holds_in_memory_never_pass_the_limit(
        tries in tries(),
        limit in 0u64..60_000_000,
        concurrency in 1usize..16,
    ) {
        runtime().block_on(async {
            let ledger: Arc<dyn SpendLedger> = Arc::new(MemoryLedger::default());
            check_ledger(&[ledger], tries, limit, concurrency).await;
        });
    }

    #[test]
    fn concurrent_holds_in_one_sqlite_file_from_two_handles_never_pass_the_limit(
        tries in tries(),
        limit in 0u64..60_000_000,
        concurrency in 1usize..16,
    ) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("jobs.sqlite");
        runtime().block_on(async {
            let a: Arc<dyn SpendLedger> = Arc::new(SqliteStore::open(&path).unwrap());
            let b: Arc<dyn SpendLedger> = Arc::new(SqliteStore::open(&path).unwrap());
            check_ledger(&[a, b], tries, limit, concurrency).await;
        });
    }
}

#[tokio::test]
async fn a_sqlite_ledger_survives_reopening() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("jobs.sqlite");
    {
        let store = SqliteStore::open(&path).unwrap();
        assert_eq!(store.hold("a", 700, 1_000).await.unwrap(), Hold::Granted);
        assert_eq!(store.hold("b", 200, 1_000).await.unwrap(), Hold::Granted);
        store.release("b").await.unwrap();
        // Releasing a job with no hold changes nothing.
        store.release("c").await.unwrap();
    }
    let store = SqliteStore::open(&path).unwrap();
    assert_eq!(store.committed().await.unwrap(), 700);
    assert_eq!(
        store.hold("a", 700, 1_000).await.unwrap(),
        Hold::AlreadyHeld
    );
    assert_eq!(
        store.hold("d", 301, 1_000).await.unwrap(),
        Hold::Refused { committed: 700 }
    );
    // Amounts past what the file can hold are refused, never wrapped.
    assert!(matches!(
        store.hold("e", u64::MAX, u64::MAX).await.unwrap(),
        Hold::Refused { .. }
    ));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_in_memory_and_sqlite_ledgers_pass_the_conformance_suite() {
    framebreak_scheduler::conformance::spend::run_all(|| async {
        let one: Arc<dyn SpendLedger> = Arc::new(MemoryLedger::default());
        vec![one]
    })
    .await;
    let dirs = std::sync::Mutex::new(Vec::new());
    framebreak_scheduler::conformance::spend::run_all(|| {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("jobs.sqlite");
        dirs.lock().unwrap().push(dir);
        async move {
            // Two handles of one file: two processes of one run.
            let a: Arc<dyn SpendLedger> = Arc::new(SqliteStore::open(&path).unwrap());
            let b: Arc<dyn SpendLedger> = Arc::new(SqliteStore::open(&path).unwrap());
            vec![a, b]
        }
    })
    .await;
}

/// Checks the total, then holds: two holds can both pass the check.
#[derive(Debug, Default)]
struct CheckThenHold(std::sync::Mutex<HashMap<String, u64>>);

#[async_trait::async_trait]
impl SpendLedger for CheckThenHold {
    async fn hold(&self, job: &str, amount: u64, limit: u64) -> framebreak_scheduler::Result<Hold> {
        let committed = self.committed().await?;
        tokio::task::yield_now().await;
        let mut holds = self.0.lock().unwrap();
        if holds.contains_key(job) {
            return Ok(Hold::AlreadyHeld);
        }
        if committed + amount > limit {
            return Ok(Hold::Refused { committed });
        }
        holds.insert(job.to_owned(), amount);
        Ok(Hold::Granted)
    }

    async fn release(&self, job: &str) -> framebreak_scheduler::Result<()> {
        self.0.lock().unwrap().remove(job);
        Ok(())
    }

    async fn committed(&self) -> framebreak_scheduler::Result<u64> {
        Ok(self.0.lock().unwrap().values().sum())
    }
}

/// The suite catches a ledger whose holds are not atomic.
#[tokio::test(flavor = "current_thread")]
async fn a_ledger_that_checks_then_holds_fails_the_suite() {
    let racy: Arc<dyn SpendLedger> = Arc::new(CheckThenHold::default());
    // It keeps the rules one call at a time…
    framebreak_scheduler::conformance::spend::holds_are_kept_once_and_refused_past_the_limit(
        racy.as_ref(),
    )
    .await;
    // …and passes the limit when workers hold at once.
    let racy: Arc<dyn SpendLedger> = Arc::new(CheckThenHold::default());
    let outcome = tokio::spawn(async move {
        framebreak_scheduler::conformance::spend::concurrent_holds_never_pass_the_limit(&[racy], 1)
            .await;
    })
    .await;
    assert!(
        outcome.is_err_and(|e| e.is_panic()),
        "the suite passed a racy ledger"
    );
}
