//! The conformance suite every [`JobStore`] must pass.
//!
//! Each function takes a fresh, empty store and panics with a message naming
//! the broken rule. A store's tests call them all, e.g.:
//!
//! ```
//! use framebreak_scheduler::{MemoryStore, conformance};
//!
//! # tokio::runtime::Runtime::new().unwrap().block_on(async {
//! conformance::run_all(|| async { MemoryStore::new() }).await;
//! # });
//! ```
//!
//! `PgStore` (feature `postgres`) runs the same functions, each on a fresh
//! queue of a real server. [`spend`] is the suite of spend ledgers,
//! [`rate`] that of shared rate limiters.
#![allow(clippy::missing_panics_doc)]

pub mod rate;
pub mod spend;

use std::future::Future;
use std::time::Duration;

use serde_json::json;

use crate::failure::{Failure, FailureCategory};
use crate::job::{Applied, JobState, Lease, LeaseRequest, NewJob, Priority, Update};
use crate::store::{JobStore, JobStoreExt};

const T0: u64 = 1_000_000;
const TTL: Duration = Duration::from_secs(10);

fn job(id: &str) -> NewJob {
    NewJob::new(id, "b", json!({ "id": id })).expect("valid test id")
}

fn request(max: usize, now_ms: u64) -> LeaseRequest {
    LeaseRequest {
        max,
        ttl: TTL,
        now_ms,
        exclude_backends: Vec::new(),
    }
}

async fn lease_one(store: &dyn JobStore, now_ms: u64) -> Lease {
    let mut leases = store.lease(&request(1, now_ms)).await.expect("lease");
    assert_eq!(leases.len(), 1, "expected one runnable job at {now_ms}");
    leases.remove(0)
}

async fn ok(store: &dyn JobStore, update: Update) {
    let what = format!("{update:?}");
    assert_eq!(
        store.apply_one(update).await.expect("apply"),
        Applied::Ok,
        "{what}"
    );
}

/// Enqueueing an id twice stores it once; new jobs are pending at step 0.
pub async fn enqueue_is_idempotent(store: &dyn JobStore) {
    assert_eq!(store.enqueue(vec![job("a"), job("b")]).await.unwrap(), 2);
    assert_eq!(
        store
            .enqueue(vec![job("b"), job("c"), job("c")])
            .await
            .unwrap(),
        1
    );
    let counts = store.counts().await.unwrap();
    assert_eq!((counts.pending, counts.total()), (3, 3), "{counts:?}");
    let lease = lease_one(store, T0).await;
    assert_eq!(lease.record.step, 0);
    assert_eq!(lease.record.step_state, serde_json::Value::Null);
    assert!(!lease.record.intent);
    assert_eq!(lease.record.job.payload, json!({ "id": "a" }));
}

/// Higher priorities first, insertion order within one; excluded backends
/// and jobs not yet due are skipped.
pub async fn lease_order_and_filters(store: &dyn JobStore) {
    let jobs = vec![
        job("low").priority(Priority::Low),
        job("n1"),
        job("urgent").priority(Priority::Urgent),
        job("n2"),
        NewJob::new("other", "elsewhere", json!(null))
            .unwrap()
            .priority(Priority::Urgent),
    ];
    store.enqueue(jobs).await.unwrap();
    let mut req = request(10, T0);
    req.exclude_backends = vec!["elsewhere".into()];
    let ids: Vec<String> = store
        .lease(&req)
        .await
        .unwrap()
        .into_iter()
        .map(|l| l.record.job.id.to_string())
        .collect();
    assert_eq!(ids, ["urgent", "n1", "n2", "low"]);
    assert_eq!(
        store.lease(&req).await.unwrap().len(),
        0,
        "leased jobs must not be leased again"
    );
}

/// A live lease is exclusive; an expired one is handed out again with a new
/// fence, and the old holder's updates are refused.
pub async fn leases_are_exclusive_and_fenced(store: &dyn JobStore) {
    store.enqueue(vec![job("x")]).await.unwrap();
    let first = lease_one(store, T0).await;
    let ttl_ms = TTL.as_millis() as u64;
    assert!(
        store
            .lease(&request(5, T0 + ttl_ms - 1))
            .await
            .unwrap()
            .is_empty()
    );
    ok(
        store,
        Update::Heartbeat {
            lease: first.token.clone(),
            until_ms: T0 + 2 * ttl_ms,
        },
    )
    .await;
    assert!(
        store
            .lease(&request(5, T0 + ttl_ms + 1))
            .await
            .unwrap()
            .is_empty(),
        "a heartbeat must extend the lease"
    );
    let second = lease_one(store, T0 + 2 * ttl_ms).await;
    assert_ne!(first.token.fence, second.token.fence);
    let stale = store
        .apply(vec![
            Update::Complete {
                lease: first.token.clone(),
                result: json!(1),
            },
            Update::Heartbeat {
                lease: first.token.clone(),
                until_ms: u64::MAX / 2,
            },
        ])
        .await
        .unwrap();
    assert_eq!(stale, [Applied::Stale, Applied::Stale]);
    ok(
        store,
        Update::Complete {
            lease: second.token,
            result: json!(2),
        },
    )
    .await;
    let page = store.finished(None, 10).await.unwrap();
    assert_eq!(page.records[0].result, Some(json!(2)));
}

/// Steps, their state and the intent flag persist; a released job comes
/// back at its persisted step with its intent; an unbegun one without.
pub async fn steps_and_intent_persist(store: &dyn JobStore) {
    store.enqueue(vec![job("s")]).await.unwrap();
    let lease = lease_one(store, T0).await;
    ok(
        store,
        Update::Begin {
            lease: lease.token.clone(),
            now_ms: T0,
        },
    )
    .await;
    ok(
        store,
        Update::Advance {
            lease: lease.token.clone(),
            step: 1,
            state: json!({"remote": 7}),
        },
    )
    .await;
    ok(
        store,
        Update::Begin {
            lease: lease.token.clone(),
            now_ms: T0 + 5,
        },
    )
    .await;
    ok(
        store,
        Update::Release {
            lease: lease.token.clone(),
        },
    )
    .await;
    let again = lease_one(store, T0 + 1).await;
    assert_eq!(again.record.step, 1);
    assert_eq!(again.record.step_state, json!({"remote": 7}));
    assert!(
        again.record.intent,
        "a begun, unfinished step must keep its intent"
    );
    assert_eq!(
        again.record.started_at_ms,
        Some(T0),
        "the first start is kept"
    );
    assert_eq!(
        store
            .apply_one(Update::Release { lease: lease.token })
            .await
            .unwrap(),
        Applied::Stale,
        "a released lease is no longer current"
    );

    // A step begun but never called (shutdown while it waited for a rate
    // token) is given back with its intent cleared; its step and state kept.
    ok(
        store,
        Update::Begin {
            lease: again.token.clone(),
            now_ms: T0 + 6,
        },
    )
    .await;
    ok(
        store,
        Update::Unbegin {
            lease: again.token.clone(),
        },
    )
    .await;
    let third = lease_one(store, T0 + 2).await;
    assert_eq!(third.record.step, 1);
    assert_eq!(third.record.step_state, json!({"remote": 7}));
    assert!(!third.record.intent, "an unbegun step has no intent");
    assert_eq!(
        store
            .apply_one(Update::Unbegin { lease: again.token })
            .await
            .unwrap(),
        Applied::Stale,
        "an unbegun lease is no longer current"
    );
}

/// A retry counts an attempt, keeps the intent and waits for `not_before`.
pub async fn retry_waits_and_counts(store: &dyn JobStore) {
    store.enqueue(vec![job("r")]).await.unwrap();
    let lease = lease_one(store, T0).await;
    ok(
        store,
        Update::Begin {
            lease: lease.token.clone(),
            now_ms: T0,
        },
    )
    .await;
    let failure = Failure::new(FailureCategory::Server, "503");
    ok(
        store,
        Update::Retry {
            lease: lease.token,
            failure: failure.clone(),
            not_before_ms: T0 + 500,
        },
    )
    .await;
    assert!(
        store.lease(&request(1, T0 + 499)).await.unwrap().is_empty(),
        "not before not_before"
    );
    let again = lease_one(store, T0 + 500).await;
    assert_eq!(again.record.attempts, 1);
    assert_eq!(again.record.failure, Some(failure));
    assert!(again.record.intent);
}

/// A wait replaces the step's state, keeps the step, counts no attempt,
/// clears the intent, gives the lease back and holds the job until
/// `not_before`.
pub async fn a_wait_keeps_the_step_and_waits(store: &dyn JobStore) {
    store.enqueue(vec![job("w")]).await.unwrap();
    let lease = lease_one(store, T0).await;
    ok(
        store,
        Update::Advance {
            lease: lease.token.clone(),
            step: 1,
            state: json!({"remote": "gen_1"}),
        },
    )
    .await;
    ok(
        store,
        Update::Begin {
            lease: lease.token.clone(),
            now_ms: T0,
        },
    )
    .await;
    let state = json!({"remote": "gen_1", "polls": 1});
    ok(
        store,
        Update::Wait {
            lease: lease.token.clone(),
            state: state.clone(),
            not_before_ms: T0 + 700,
        },
    )
    .await;
    assert_eq!(store.counts().await.unwrap().pending, 1, "not leased");
    assert!(
        store.lease(&request(1, T0 + 699)).await.unwrap().is_empty(),
        "not before not_before"
    );
    let again = lease_one(store, T0 + 700).await;
    assert_eq!(again.record.step, 1, "the same step");
    assert_eq!(again.record.step_state, state);
    assert_eq!(again.record.attempts, 0, "no attempt counted");
    assert!(!again.record.intent, "the step's effect is done");
    assert!(again.token.fence > lease.token.fence, "a new lease");
}

/// Complete and fail are terminal; `cancelled` failures end cancelled;
/// counts and pages see them.
pub async fn terminal_states_and_counts(store: &dyn JobStore) {
    store
        .enqueue(vec![job("d"), job("f"), job("c"), job("p")])
        .await
        .unwrap();
    let d = lease_one(store, T0).await;
    let f = lease_one(store, T0).await;
    let c = lease_one(store, T0).await;
    ok(
        store,
        Update::Complete {
            lease: d.token.clone(),
            result: json!("ok"),
        },
    )
    .await;
    ok(
        store,
        Update::Fail {
            lease: f.token,
            failure: Failure::new(FailureCategory::Auth, "401"),
        },
    )
    .await;
    ok(
        store,
        Update::Fail {
            lease: c.token,
            failure: Failure::new(FailureCategory::Cancelled, "user"),
        },
    )
    .await;
    assert_eq!(
        store
            .apply_one(Update::Release { lease: d.token })
            .await
            .unwrap(),
        Applied::Stale,
        "a finished job cannot be reopened"
    );
    let counts = store.counts().await.unwrap();
    assert_eq!(
        (
            counts.pending,
            counts.leased,
            counts.done,
            counts.failed,
            counts.cancelled
        ),
        (1, 0, 1, 1, 1),
        "{counts:?}"
    );
    let states: Vec<JobState> = store
        .finished(None, 10)
        .await
        .unwrap()
        .records
        .iter()
        .map(|r| r.state)
        .collect();
    assert_eq!(
        states,
        [JobState::Done, JobState::Failed, JobState::Cancelled]
    );
}

/// Finished jobs page in insertion order without gaps or repeats.
pub async fn results_page_in_order(store: &dyn JobStore) {
    let n = 25;
    store
        .enqueue((0..n).map(|i| job(&format!("j{i:02}"))).collect())
        .await
        .unwrap();
    for lease in store.lease(&request(n, T0)).await.unwrap() {
        let result = json!(lease.record.job.id.as_str());
        ok(
            store,
            Update::Complete {
                lease: lease.token,
                result,
            },
        )
        .await;
    }
    let mut seen = Vec::new();
    let mut after = None;
    loop {
        let page = store.finished(after, 7).await.unwrap();
        assert!(page.records.len() <= 7);
        seen.extend(page.records.iter().map(|r| r.job.id.to_string()));
        match page.next {
            Some(cursor) => after = Some(cursor),
            None => break,
        }
    }
    let expected: Vec<String> = (0..n).map(|i| format!("j{i:02}")).collect();
    assert_eq!(seen, expected);
    use futures::StreamExt;
    let streamed: Vec<_> = store.results(4).collect().await;
    assert_eq!(streamed.len(), n);
}

/// A retry keeps the intent unless the failure says the step had no effect;
/// a 429 is not counted as an attempt; a failed job put back by
/// [`JobStore::requeue_failed`] is pending afresh (no attempts, failure or
/// intent), and jobs in other states are left alone.
pub async fn retries_keep_intent_and_failed_jobs_requeue(store: &dyn JobStore) {
    store.enqueue(vec![job("r"), job("done")]).await.unwrap();
    // An attempt that may have had its effect: the intent stays.
    let lease = lease_one(store, T0).await;
    ok(
        store,
        Update::Begin {
            lease: lease.token.clone(),
            now_ms: T0,
        },
    )
    .await;
    let maybe = Failure::new(FailureCategory::Timeout, "lost answer");
    ok(
        store,
        Update::Retry {
            lease: lease.token,
            failure: maybe,
            not_before_ms: T0,
        },
    )
    .await;
    let lease = lease_one(store, T0 + 1).await;
    assert!(
        lease.record.intent,
        "a retry after a possibly executed step keeps the intent"
    );
    assert_eq!(lease.record.attempts, 1);
    // A 429 that certainly did nothing: intent cleared, not an attempt.
    let refused = Failure::new(FailureCategory::RateLimited, "429").no_effect();
    ok(
        store,
        Update::Retry {
            lease: lease.token,
            failure: refused,
            not_before_ms: T0 + 1,
        },
    )
    .await;
    let lease = lease_one(store, T0 + 2).await;
    assert!(
        !lease.record.intent,
        "a no-effect failure clears the intent"
    );
    assert_eq!(lease.record.attempts, 1, "a 429 is not an attempt");
    ok(
        store,
        Update::Begin {
            lease: lease.token.clone(),
            now_ms: T0 + 2,
        },
    )
    .await;
    let unknown = Failure::new(FailureCategory::UnknownSubmission, "cannot tell").permanent();
    ok(
        store,
        Update::Fail {
            lease: lease.token,
            failure: unknown,
        },
    )
    .await;
    let other = lease_one(store, T0 + 3).await;
    ok(
        store,
        Update::Complete {
            lease: other.token,
            result: json!(1),
        },
    )
    .await;
    assert_eq!(store.counts().await.unwrap().failed, 1);

    let ids = ["r", "done", "nope"]
        .into_iter()
        .map(|id| crate::JobId::new(id).unwrap())
        .collect();
    assert_eq!(
        store.requeue_failed(ids).await.unwrap(),
        1,
        "only the failed job moves"
    );
    let counts = store.counts().await.unwrap();
    assert_eq!(
        (counts.pending, counts.failed, counts.done),
        (1, 0, 1),
        "{counts:?}"
    );
    let lease = lease_one(store, T0 + 4).await;
    assert_eq!(lease.record.job.id.as_str(), "r");
    assert!(!lease.record.intent, "a requeued job runs its step afresh");
    assert_eq!(lease.record.attempts, 0);
    assert_eq!(lease.record.failure, None);
}

/// Runs every check, each on a fresh store from `fresh`.
pub async fn run_all<S, F, Fut>(mut fresh: F)
where
    S: JobStore,
    F: FnMut() -> Fut,
    Fut: Future<Output = S>,
{
    enqueue_is_idempotent(&fresh().await).await;
    lease_order_and_filters(&fresh().await).await;
    leases_are_exclusive_and_fenced(&fresh().await).await;
    steps_and_intent_persist(&fresh().await).await;
    retry_waits_and_counts(&fresh().await).await;
    a_wait_keeps_the_step_and_waits(&fresh().await).await;
    terminal_states_and_counts(&fresh().await).await;
    results_page_in_order(&fresh().await).await;
    retries_keep_intent_and_failed_jobs_requeue(&fresh().await).await;
}
