use framebreak_scheduler::{MemoryStore, SqliteStore, conformance};

#[tokio::test]
async fn memory_store_conforms() {
    conformance::run_all(|| async { MemoryStore::new() }).await;
}

#[tokio::test]
async fn sqlite_store_conforms() {
    let dir = tempfile::tempdir().unwrap();
    let mut n = 0;
    conformance::run_all(|| {
        n += 1;
        let path = dir.path().join(format!("store-{n}.db"));
        async move { SqliteStore::open(path).unwrap() }
    })
    .await;
}

#[tokio::test]
async fn sqlite_store_keeps_everything_across_reopen() {
    use framebreak_scheduler::{JobStore, LeaseRequest, NewJob, Update};
    use serde_json::json;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("jobs.db");
    {
        let store = SqliteStore::open(&path).unwrap();
        store
            .enqueue(vec![NewJob::new("a", "b", json!([1, 2])).unwrap()])
            .await
            .unwrap();
        let lease = store
            .lease(&LeaseRequest {
                max: 1,
                ttl: std::time::Duration::from_millis(50),
                now_ms: 1_000,
                exclude_backends: vec![],
            })
            .await
            .unwrap()
            .remove(0);
        let state = json!({"remote": "r1"});
        store
            .apply(vec![
                Update::Begin {
                    lease: lease.token.clone(),
                    now_ms: 1_000,
                },
                Update::Advance {
                    lease: lease.token,
                    step: 1,
                    state,
                },
            ])
            .await
            .unwrap();
    }
    let store = SqliteStore::open(&path).unwrap();
    assert_eq!(store.counts().await.unwrap().leased, 1);
    let lease = store
        .lease(&LeaseRequest {
            max: 1,
            ttl: std::time::Duration::from_secs(1),
            now_ms: 2_000,
            exclude_backends: vec![],
        })
        .await
        .unwrap()
        .remove(0);
    assert_eq!(lease.record.step, 1);
    assert_eq!(lease.record.step_state, json!({"remote": "r1"}));
    assert!(!lease.record.intent);
    assert_eq!(lease.record.job.payload, json!([1, 2]));
}

#[test]
fn sqlite_store_names_the_path_it_cannot_open() {
    let err = SqliteStore::open("/nonexistent-dir/for/sure/jobs.db").unwrap_err();
    assert!(
        err.to_string()
            .contains("/nonexistent-dir/for/sure/jobs.db"),
        "{err}"
    );
}

#[tokio::test]
async fn sqlite_store_reports_a_corrupt_row_by_job() {
    use framebreak_scheduler::{Error, JobStore, LeaseRequest};
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("jobs.db");
    drop(SqliteStore::open(&path).unwrap());
    let conn = rusqlite::Connection::open(&path).unwrap();
    conn.execute(
        "INSERT INTO jobs (id, backend, priority, payload) VALUES ('broken', 'b', 1, '{not json')",
        [],
    )
    .unwrap();
    drop(conn);
    let store = SqliteStore::open(&path).unwrap();
    let err = store
        .lease(&LeaseRequest {
            max: 1,
            ttl: std::time::Duration::from_secs(1),
            now_ms: 1,
            exclude_backends: vec![],
        })
        .await
        .unwrap_err();
    assert!(
        matches!(&err, Error::Corrupt { job, .. } if job == "broken"),
        "{err}"
    );
    // The failed lease was rolled back: the row is untouched.
    assert_eq!(store.counts().await.unwrap().pending, 1);
}

#[tokio::test]
async fn a_dead_processs_leases_are_released_at_once_keeping_their_intent() {
    use framebreak_scheduler::{JobStore, LeaseRequest, NewJob, Update};
    use serde_json::json;
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(dir.path().join("jobs.db")).unwrap();
    store
        .enqueue(vec![
            NewJob::new("a", "b", json!(1)).unwrap(),
            NewJob::new("b", "b", json!(2)).unwrap(),
        ])
        .await
        .unwrap();
    let hour = std::time::Duration::from_secs(3600);
    let request = |now_ms| LeaseRequest {
        max: 1,
        ttl: hour,
        now_ms,
        exclude_backends: vec![],
    };
    let lease = store.lease(&request(1_000)).await.unwrap().remove(0);
    store
        .apply(vec![Update::Begin {
            lease: lease.token.clone(),
            now_ms: 1_000,
        }])
        .await
        .unwrap();
    assert_eq!(store.release_leases().await.unwrap(), 1);
    // Both runnable long before the hour is up; the begun one kept its intent.
    let again = store
        .lease(&LeaseRequest {
            max: 2,
            ..request(2_000)
        })
        .await
        .unwrap();
    assert_eq!(again.len(), 2);
    let a = again
        .iter()
        .find(|l| l.record.job.id.as_str() == "a")
        .unwrap();
    assert!(
        a.record.intent,
        "a step that may have run stays possibly executed"
    );
    // The dead holder's token no longer applies.
    let stale = store
        .apply(vec![Update::Complete {
            lease: lease.token,
            result: json!(0),
        }])
        .await
        .unwrap();
    assert_eq!(stale, [framebreak_scheduler::Applied::Stale]);
}

/// A store that breaks one rule of the suite, over a correct one.
#[derive(Debug)]
enum Broken {
    /// Says every job it is given is new, also one it already holds: a
    /// resumed run would count its jobs twice.
    CountsEveryEnqueue(MemoryStore),
    /// Says a stale lease's update was written: a worker whose lease
    /// expired would go on (and submit again) beside the job's new holder.
    HidesStaleLeases(MemoryStore),
}

impl Broken {
    fn inner(&self) -> &MemoryStore {
        match self {
            Self::CountsEveryEnqueue(s) | Self::HidesStaleLeases(s) => s,
        }
    }
}

#[async_trait::async_trait]
impl framebreak_scheduler::JobStore for Broken {
    async fn enqueue(
        &self,
        jobs: Vec<framebreak_scheduler::NewJob>,
    ) -> framebreak_scheduler::Result<u64> {
        let given = jobs.len() as u64;
        let added = self.inner().enqueue(jobs).await?;
        Ok(match self {
            Self::CountsEveryEnqueue(_) => given,
            Self::HidesStaleLeases(_) => added,
        })
    }
    async fn lease(
        &self,
        request: &framebreak_scheduler::LeaseRequest,
    ) -> framebreak_scheduler::Result<Vec<framebreak_scheduler::Lease>> {
        self.inner().lease(request).await
    }
    async fn apply(
        &self,
        updates: Vec<framebreak_scheduler::Update>,
    ) -> framebreak_scheduler::Result<Vec<framebreak_scheduler::Applied>> {
        let applied = self.inner().apply(updates).await?;
        Ok(match self {
            Self::HidesStaleLeases(_) => applied
                .into_iter()
                .map(|_| framebreak_scheduler::Applied::Ok)
                .collect(),
            Self::CountsEveryEnqueue(_) => applied,
        })
    }
    async fn counts(&self) -> framebreak_scheduler::Result<framebreak_scheduler::Counts> {
        self.inner().counts().await
    }
    async fn finished(
        &self,
        after: Option<u64>,
        limit: usize,
    ) -> framebreak_scheduler::Result<framebreak_scheduler::Page> {
        self.inner().finished(after, limit).await
    }
    async fn requeue_failed(
        &self,
        ids: Vec<framebreak_scheduler::JobId>,
    ) -> framebreak_scheduler::Result<u64> {
        self.inner().requeue_failed(ids).await
    }
}

/// The suite fails each broken store (and passes the correct store under
/// it, above): it can catch a failure.
#[tokio::test]
async fn the_suite_fails_a_store_that_breaks_a_rule() {
    let broken: [fn() -> Broken; 2] = [
        || Broken::CountsEveryEnqueue(MemoryStore::new()),
        || Broken::HidesStaleLeases(MemoryStore::new()),
    ];
    for make in broken {
        let name = format!("{:?}", make());
        let outcome = tokio::spawn(async move {
            conformance::run_all(|| async move { make() }).await;
        })
        .await;
        assert!(
            outcome.is_err_and(|e| e.is_panic()),
            "the suite passed {name}"
        );
    }
}
