//! `PgStore` alone: conformance, queues, migrations, secrets, bad input.

use std::time::Duration;

use framebreak_scheduler::{
    Error, JobStore, LeaseRequest, NewJob, PgOptions, PgStore, Update, conformance,
};
use serde_json::json;

use super::{admin, database_url, fresh_queue};
use crate::util::jobs;

fn request(max: usize, now_ms: u64) -> LeaseRequest {
    LeaseRequest {
        max,
        ttl: Duration::from_secs(10),
        now_ms,
        exclude_backends: vec![],
    }
}

#[tokio::test]
async fn pg_store_conforms() {
    let url = database_url();
    conformance::run_all(|| {
        let url = url.clone();
        async move {
            PgStore::connect(&url, &fresh_queue("conformance"))
                .await
                .unwrap()
        }
    })
    .await;
}

#[tokio::test]
async fn queues_share_a_database_but_nothing_else() {
    let url = database_url();
    let (qa, qb) = (fresh_queue("qa"), fresh_queue("qb"));
    let a = PgStore::connect(&url, &qa).await.unwrap();
    let b = a.with_queue(&qb).unwrap();
    let same = |n| (0..n).map(|i| NewJob::new(format!("j{i}"), "x", json!(i)).unwrap());
    assert_eq!(a.enqueue(same(3).collect()).await.unwrap(), 3);
    assert_eq!(
        b.enqueue(same(5).collect()).await.unwrap(),
        5,
        "the same ids are new in another queue"
    );
    let leased = a.lease(&request(10, 1_000)).await.unwrap();
    assert_eq!(leased.len(), 3, "a queue leases only its own jobs");
    a.apply(vec![Update::Complete {
        lease: leased[0].token.clone(),
        result: json!("a"),
    }])
    .await
    .unwrap();
    assert_eq!(b.counts().await.unwrap().pending, 5);
    assert!(b.finished(None, 10).await.unwrap().records.is_empty());
    let listed = a.queues().await.unwrap();
    let find = |q: &str| listed.iter().find(|c| c.queue == q).map(|c| c.counts);
    let ca = find(&qa).expect("queue a listed");
    assert_eq!((ca.leased, ca.done, ca.total()), (2, 1, 3));
    assert_eq!(find(&qb).expect("queue b listed").pending, 5);
    assert_eq!(a.queue(), qa);
    assert!(
        a.with_queue("")
            .unwrap_err()
            .to_string()
            .contains("pg.queue"),
        "an empty queue name is refused"
    );
}

#[tokio::test]
async fn progress_survives_reconnecting() {
    let url = database_url();
    let queue = fresh_queue("reopen");
    {
        let store = PgStore::connect(&url, &queue).await.unwrap();
        store
            .enqueue(vec![
                NewJob::new("a", "b", json!([1, 2.5, "\u{0}é"])).unwrap(),
            ])
            .await
            .unwrap();
        let lease = store
            .lease(&LeaseRequest {
                ttl: Duration::from_millis(50),
                ..request(1, 1_000)
            })
            .await
            .unwrap()
            .remove(0);
        store
            .apply(vec![
                Update::Begin {
                    lease: lease.token.clone(),
                    now_ms: 1_000,
                },
                Update::Advance {
                    lease: lease.token,
                    step: 1,
                    state: json!({"remote": "r1"}),
                },
            ])
            .await
            .unwrap();
    }
    let store = PgStore::connect(&url, &queue).await.unwrap();
    assert_eq!(store.counts().await.unwrap().leased, 1);
    let lease = store.lease(&request(1, 2_000)).await.unwrap().remove(0);
    assert_eq!(lease.record.step, 1);
    assert_eq!(lease.record.step_state, json!({"remote": "r1"}));
    assert!(!lease.record.intent);
    assert_eq!(lease.record.started_at_ms, Some(1_000));
    assert_eq!(lease.record.job.payload, json!([1, 2.5, "\u{0}é"]));
}

#[tokio::test]
async fn a_corrupt_row_is_named_and_its_lease_rolled_back() {
    let url = database_url();
    let queue = fresh_queue("corrupt");
    let store = PgStore::connect(&url, &queue).await.unwrap();
    admin(&url)
        .await
        .execute(
            "INSERT INTO framebreak_jobs (queue, id, backend, priority, payload) \
             VALUES ($1, 'broken', 'b', 1, '{not json')",
            &[&queue],
        )
        .await
        .unwrap();
    let err = store.lease(&request(1, 1)).await.unwrap_err();
    assert!(
        matches!(&err, Error::Corrupt { job, .. } if job == "broken"),
        "{err}"
    );
    assert_eq!(
        store.counts().await.unwrap().pending,
        1,
        "the failed lease left the row untouched"
    );
}

/// The connection string of a new, empty database on the test server.
async fn fresh_database(url: &str, name: &str) -> String {
    admin(url)
        .await
        .batch_execute(&format!("CREATE DATABASE \"{name}\""))
        .await
        .unwrap();
    let config: tokio_postgres::Config = url.parse().unwrap();
    let host = match &config.get_hosts()[0] {
        tokio_postgres::config::Host::Tcp(h) => h.clone(),
        tokio_postgres::config::Host::Unix(p) => p.display().to_string(),
    };
    let port = config.get_ports().first().copied().unwrap_or(5432);
    let user = config.get_user().unwrap_or("postgres");
    let password = config
        .get_password()
        .map(|p| format!(" password={}", String::from_utf8_lossy(p)))
        .unwrap_or_default();
    format!("host={host} port={port} user={user} dbname={name}{password}")
}

#[tokio::test]
async fn concurrent_first_connects_migrate_once_and_newer_schemas_are_refused() {
    let url = database_url();
    let name = fresh_queue("migrate").replace('-', "_");
    let db = fresh_database(&url, &name).await;
    // Eight workers start at once on an empty database.
    let connects = (0..8).map(|i| {
        let db = db.clone();
        tokio::spawn(async move { PgStore::connect(&db, &format!("w{i}")).await })
    });
    for store in futures::future::join_all(connects).await {
        store.unwrap().expect("every worker connects");
    }
    let client = admin(&db).await;
    let versions: Vec<(i32, i64)> = client
        .query(
            "SELECT version, COUNT(*) OVER (PARTITION BY version) \
             FROM framebreak_schema_migrations ORDER BY version",
            &[],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect();
    assert_eq!(
        versions,
        [(1, 1), (2, 1), (3, 1), (4, 1)],
        "each migration ran exactly once"
    );
    // Connecting again changes nothing.
    PgStore::connect(&db, "again").await.unwrap();
    let n: i64 = client
        .query_one("SELECT COUNT(*) FROM framebreak_schema_migrations", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(n, i64::from(PgStore::schema_version()));
    // A database migrated by a newer build is refused, not misread.
    client
        .execute(
            "INSERT INTO framebreak_schema_migrations (version, name) VALUES (99, 'future')",
            &[],
        )
        .await
        .unwrap();
    let err = PgStore::connect(&db, "old-build").await.unwrap_err();
    assert!(
        err.to_string().contains("version 99") && err.to_string().contains("upgrade"),
        "{err}"
    );
    drop(client);
    admin(&url)
        .await
        .batch_execute(&format!("DROP DATABASE \"{name}\" WITH (FORCE)"))
        .await
        .unwrap();
}

/// The framebreak tables a database holds.
async fn framebreak_tables(client: &tokio_postgres::Client) -> Vec<String> {
    client
        .query(
            "SELECT tablename::text FROM pg_tables WHERE tablename LIKE 'framebreak%' ORDER BY 1",
            &[],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect()
}

fn check_only(queue: &str) -> PgOptions {
    PgOptions {
        queue: queue.to_owned(),
        migrate: false,
        ..PgOptions::default()
    }
}

/// A check-only store on `db` is refused as holding schema version `found`
/// of this build's newest; the error's text.
async fn refused_schema(db: &str, found: i32) -> String {
    let err = PgStore::connect_with(db, check_only("q"))
        .await
        .unwrap_err();
    assert!(
        matches!(err, Error::StoreSchema { found: f, expected, .. }
            if f == found && expected == PgStore::schema_version()),
        "{err:?}"
    );
    err.to_string()
}

#[tokio::test]
async fn a_store_that_only_checks_refuses_a_database_without_the_schema_and_creates_nothing() {
    let url = database_url();
    let name = fresh_queue("check").replace('-', "_");
    let db = fresh_database(&url, &name).await;
    let client = admin(&db).await;

    // A wrong (empty) database: refused, and left as it was.
    let text = refused_schema(&db, 0).await;
    assert!(
        text.contains("no framebreak schema")
            && text.contains("framebreak db migrate")
            && text.contains(&format!("/{name}")),
        "{text}"
    );
    assert!(
        framebreak_tables(&client).await.is_empty(),
        "a check created tables"
    );

    // Migrating is explicit, once; a second time does nothing.
    assert_eq!(PgStore::migrate(&db).await.unwrap(), [1, 2, 3, 4]);
    assert_eq!(PgStore::migrate(&db).await.unwrap(), Vec::<i32>::new());
    assert_eq!(PgStore::schema_version(), 4);
    let store = PgStore::connect_with(&db, check_only("q")).await.unwrap();
    store.enqueue(jobs("j", 2, "api")).await.unwrap();
    assert_eq!(store.counts().await.unwrap().pending, 2);

    // An older schema is named with what to run.
    client
        .batch_execute("DELETE FROM framebreak_schema_migrations WHERE version = 4")
        .await
        .unwrap();
    let text = refused_schema(&db, 3).await;
    assert!(
        text.contains("upgrade it with `framebreak db migrate"),
        "{text}"
    );
    drop((client, store));
    admin(&url)
        .await
        .batch_execute(&format!("DROP DATABASE \"{name}\" WITH (FORCE)"))
        .await
        .unwrap();
}

#[tokio::test]
async fn a_role_without_create_runs_a_worker_on_a_migrated_database() {
    let url = database_url();
    let name = fresh_queue("rw").replace('-', "_");
    let db = fresh_database(&url, &name).await;
    PgStore::migrate(&db).await.unwrap();
    // A role that may read and write framebreak's rows and nothing more.
    let role = format!("{name}_worker");
    admin(&db)
        .await
        .batch_execute(&format!(
            "CREATE ROLE \"{role}\" LOGIN; \
             REVOKE CREATE ON SCHEMA public FROM PUBLIC; \
             GRANT USAGE ON SCHEMA public TO \"{role}\"; \
             GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO \"{role}\"; \
             GRANT USAGE ON ALL SEQUENCES IN SCHEMA public TO \"{role}\""
        ))
        .await
        .unwrap();
    let as_worker = db.replace(" user=postgres", &format!(" user={role}"));
    assert_ne!(as_worker, db, "the test URL names its user");

    let store = PgStore::connect_with(&as_worker, check_only("q"))
        .await
        .unwrap();
    store.enqueue(jobs("j", 3, "api")).await.unwrap();
    let leases = store
        .lease(&LeaseRequest {
            max: 3,
            ttl: Duration::from_secs(30),
            now_ms: framebreak_scheduler::now_ms(),
            exclude_backends: vec![],
        })
        .await
        .unwrap();
    let done = store
        .apply(
            leases
                .iter()
                .map(|l| Update::Complete {
                    lease: l.token.clone(),
                    result: json!("ok"),
                })
                .collect(),
        )
        .await
        .unwrap();
    assert_eq!(done.len(), 3);
    assert_eq!(store.counts().await.unwrap().done, 3);
    // The same role cannot make the schema: migrating needs CREATE.
    let other = fresh_queue("rw2").replace('-', "_");
    let empty = fresh_database(&url, &other).await;
    admin(&empty)
        .await
        .batch_execute(&format!(
            "REVOKE CREATE ON SCHEMA public FROM PUBLIC; GRANT USAGE ON SCHEMA public TO \"{role}\""
        ))
        .await
        .unwrap();
    let err = PgStore::migrate(&empty.replace(" user=postgres", &format!(" user={role}")))
        .await
        .unwrap_err();
    assert!(err.to_string().contains("permission denied"), "{err}");
    drop(store);
    let admin_client = admin(&url).await;
    // One statement each: DROP DATABASE cannot run in a transaction block.
    for statement in [
        format!("DROP DATABASE \"{name}\" WITH (FORCE)"),
        format!("DROP DATABASE \"{other}\" WITH (FORCE)"),
        format!("DROP ROLE \"{role}\""),
    ] {
        admin_client.batch_execute(&statement).await.unwrap();
    }
}

/// A port on 127.0.0.1 that nothing listens on.
fn closed_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap().port()
}

#[tokio::test]
async fn connection_refused_names_host_and_port_but_never_the_password() {
    let port = closed_port();
    let url = format!("postgres://fb:Sup3rSecretPw@127.0.0.1:{port}/campaigns");
    let err = PgStore::connect_with(
        &url,
        PgOptions {
            connect_timeout: Duration::from_secs(2),
            ..PgOptions::default()
        },
    )
    .await
    .unwrap_err();
    let text = format!("{err} {err:?}");
    assert!(
        matches!(&err, Error::StoreConnect { target, .. } if *target == format!("fb@127.0.0.1:{port}/campaigns")),
        "{err:?}"
    );
    assert!(text.contains("refused"), "{text}");
    assert!(!text.contains("Sup3rSecretPw"), "{text}");
}

#[tokio::test]
async fn the_password_stays_out_of_debug_and_server_errors() {
    let url = database_url();
    let config: tokio_postgres::Config = url.parse().unwrap();
    let tokio_postgres::config::Host::Tcp(host) = &config.get_hosts()[0] else {
        panic!("the test server listens on TCP");
    };
    let port = config.get_ports().first().copied().unwrap_or(5432);
    let user = config.get_user().unwrap_or("postgres");
    // The test server trusts loopback, so any password logs in.
    let with_password = format!("postgres://{user}:Sup3rSecretPw@{host}:{port}/postgres");
    let store = PgStore::connect(&with_password, &fresh_queue("secret"))
        .await
        .unwrap();
    let shown = format!("{store:?} {:?} {}", store.rate_limiter(), store.target());
    assert!(!shown.contains("Sup3rSecretPw"), "{shown}");
    assert!(shown.contains(&format!("{host}:{port}")), "{shown}");
    // A server-side refusal (no such database) does not echo it either.
    let missing = format!("postgres://{user}:Sup3rSecretPw@{host}:{port}/no_such_db_Sup3rSecretPw");
    let err = PgStore::connect(&missing, "q").await.unwrap_err();
    let text = format!("{err} {err:?}");
    assert!(matches!(err, Error::StoreConnect { .. }), "{text}");
    assert!(text.contains("does not exist"), "{text}");
    assert!(!text.contains("Sup3rSecretPw"), "{text}");
}

#[tokio::test]
async fn bad_settings_are_refused_by_name() {
    let url = database_url();
    for (options, setting) in [
        (
            PgOptions {
                queue: String::new(),
                ..PgOptions::default()
            },
            "pg.queue",
        ),
        (
            PgOptions {
                queue: "a\nb".into(),
                ..PgOptions::default()
            },
            "pg.queue",
        ),
        (
            PgOptions {
                queue: "q".repeat(201),
                ..PgOptions::default()
            },
            "pg.queue",
        ),
        (
            PgOptions {
                pool_size: 0,
                ..PgOptions::default()
            },
            "pg.pool_size",
        ),
    ] {
        let err = PgStore::connect_with(&url, options).await.unwrap_err();
        assert!(
            matches!(&err, Error::InvalidConfig { setting: s, .. } if *s == setting),
            "{err}"
        );
    }
    let err = PgStore::connect("postgres://u:pw@127.0.0.1:notaport/db", "q")
        .await
        .unwrap_err();
    assert!(matches!(err, Error::InvalidStoreUrl { .. }), "{err}");
}

#[tokio::test]
async fn the_rate_bucket_starts_full_refuses_with_a_wait_and_refills() {
    use framebreak_scheduler::{RateLimit, SharedRateLimiter};
    let store = PgStore::connect(&database_url(), &fresh_queue("bucket"))
        .await
        .unwrap();
    let limiter = store.rate_limiter();
    let limit = RateLimit::per_second(20).unwrap().burst(3);
    for _ in 0..3 {
        assert_eq!(
            limiter.try_acquire("k", &limit).await.unwrap(),
            Duration::ZERO
        );
    }
    let wait = limiter.try_acquire("k", &limit).await.unwrap();
    assert!(
        wait > Duration::ZERO && wait <= Duration::from_millis(50),
        "a refusal says how long until the next token (1/20 s at most): {wait:?}"
    );
    assert_eq!(
        limiter.try_acquire("other", &limit).await.unwrap(),
        Duration::ZERO,
        "keys have buckets of their own"
    );
    tokio::time::sleep(wait + Duration::from_millis(5)).await;
    assert_eq!(
        limiter.try_acquire("k", &limit).await.unwrap(),
        Duration::ZERO,
        "the bucket refilled after the wait it announced"
    );
}

#[tokio::test]
async fn heartbeats_in_one_call_are_answered_each_in_order() {
    let store = PgStore::connect(&database_url(), &fresh_queue("beats"))
        .await
        .unwrap();
    store
        .enqueue(
            (0..3)
                .map(|i| NewJob::new(format!("h{i}"), "b", json!(i)).unwrap())
                .collect(),
        )
        .await
        .unwrap();
    let leases = store.lease(&request(3, 1_000)).await.unwrap();
    // h1's lease expires and is taken again: its old token is stale.
    store
        .apply(vec![Update::Heartbeat {
            lease: leases[0].token.clone(),
            until_ms: 100_000,
        }])
        .await
        .unwrap();
    store
        .apply(vec![Update::Heartbeat {
            lease: leases[2].token.clone(),
            until_ms: 100_000,
        }])
        .await
        .unwrap();
    let retaken = store.lease(&request(3, 50_000)).await.unwrap();
    assert_eq!(retaken.len(), 1);
    assert_eq!(retaken[0].token.job, leases[1].token.job);
    let answers = store
        .apply(
            leases
                .iter()
                .map(|l| Update::Heartbeat {
                    lease: l.token.clone(),
                    until_ms: 200_000,
                })
                .collect(),
        )
        .await
        .unwrap();
    assert_eq!(
        answers,
        [
            framebreak_scheduler::Applied::Ok,
            framebreak_scheduler::Applied::Stale,
            framebreak_scheduler::Applied::Ok
        ]
    );
    let expired: Vec<_> = store
        .lease(&request(3, 150_000))
        .await
        .unwrap()
        .into_iter()
        .map(|l| l.token.job.to_string())
        .collect();
    assert_eq!(
        expired,
        ["h1"],
        "the batch renewed h0 and h2, not the stale h1 (whose new lease ran out)"
    );
}

#[tokio::test]
async fn queue_metadata_is_kept_per_queue_and_replaced_by_key() {
    let url = database_url();
    let a = PgStore::connect(&url, &fresh_queue("meta-a"))
        .await
        .unwrap();
    let b = a.with_queue(&fresh_queue("meta-b")).unwrap();
    assert_eq!(a.meta("config").await.unwrap(), None);
    a.put_meta("config", "x = 1").await.unwrap();
    a.put_meta("config", "x = 2").await.unwrap();
    b.put_meta("config", "y").await.unwrap();
    assert_eq!(a.meta("config").await.unwrap().as_deref(), Some("x = 2"));
    assert_eq!(b.meta("config").await.unwrap().as_deref(), Some("y"));
    // Another connection (another worker) reads the same.
    let again = PgStore::connect(&url, a.queue()).await.unwrap();
    assert_eq!(
        again.meta("config").await.unwrap().as_deref(),
        Some("x = 2")
    );
    assert_eq!(again.meta("other").await.unwrap(), None);
}

#[tokio::test]
async fn concurrent_applies_share_commits_and_keep_their_own_order_and_answers() {
    use std::sync::Arc;
    let store = Arc::new(
        PgStore::connect(&database_url(), &fresh_queue("group"))
            .await
            .unwrap(),
    );
    let n = 200;
    store
        .enqueue(
            (0..n)
                .map(|i| NewJob::new(format!("g{i:03}"), "b", json!(i)).unwrap())
                .collect(),
        )
        .await
        .unwrap();
    let leases = store.lease(&request(n, 1_000)).await.unwrap();
    assert_eq!(leases.len(), n);
    // Every job's updates in one call, all calls at once, with a stale
    // token's call beside each: they land in shared transactions.
    let calls = leases.iter().flat_map(|lease| {
        let fresh = lease.token.clone();
        let stale = framebreak_scheduler::LeaseToken {
            fence: fresh.fence + 1,
            ..fresh.clone()
        };
        let store_a = Arc::clone(&store);
        let store_b = Arc::clone(&store);
        [
            tokio::spawn(async move {
                store_a
                    .apply(vec![
                        Update::Begin {
                            lease: fresh.clone(),
                            now_ms: 1_000,
                        },
                        Update::Advance {
                            lease: fresh.clone(),
                            step: 1,
                            state: json!({"s": 1}),
                        },
                        Update::Complete {
                            lease: fresh,
                            result: json!("done"),
                        },
                    ])
                    .await
            }),
            tokio::spawn(
                async move { store_b.apply(vec![Update::Release { lease: stale }]).await },
            ),
        ]
    });
    use framebreak_scheduler::Applied::{Ok as Applied, Stale};
    for (i, answer) in futures::future::join_all(calls)
        .await
        .into_iter()
        .enumerate()
    {
        let answer = answer.unwrap().unwrap();
        if i % 2 == 0 {
            assert_eq!(answer, [Applied, Applied, Applied], "call {i}");
        } else {
            assert_eq!(answer, [Stale], "call {i}");
        }
    }
    let page = store.finished(None, n).await.unwrap();
    assert_eq!(page.records.len(), n);
    for record in &page.records {
        assert_eq!(
            (
                record.step,
                &record.result,
                record.intent,
                record.started_at_ms
            ),
            (1, &Some(json!("done")), false, Some(1_000)),
            "{}",
            record.job.id
        );
    }
}

/// Problem 3 of #26: a worker whose clock was 45 s fast took live workers'
/// jobs away. Leases run out by the database's clock, whatever each
/// worker's says.
#[tokio::test]
async fn leases_run_out_by_the_databases_clock_not_a_workers() {
    let url = database_url();
    let queue = fresh_queue("clock");
    let store = |offset: i64| {
        let (url, queue) = (url.clone(), queue.clone());
        async move {
            PgStore::connect_with(
                &url,
                PgOptions {
                    queue,
                    clock_offset_ms: offset,
                    ..PgOptions::default()
                },
            )
            .await
            .unwrap()
        }
    };
    let now = framebreak_scheduler::now_ms;
    let (right, fast) = (store(0).await, store(45_000).await);
    right
        .enqueue(vec![
            NewJob::new("a", "b", json!(1)).unwrap(),
            NewJob::new("c", "b", json!(2)).unwrap(),
        ])
        .await
        .unwrap();
    let ttl = Duration::from_secs(30);
    let held = right
        .lease(&LeaseRequest {
            ttl,
            ..request(1, now())
        })
        .await
        .unwrap();
    assert_eq!(held.len(), 1);
    // The fast worker sees the live lease as live: it gets only the free job.
    let got = fast
        .lease(&LeaseRequest {
            ttl: Duration::from_secs(10),
            ..request(2, now() + 45_000)
        })
        .await
        .unwrap();
    assert_eq!(got.len(), 1, "{got:?}");
    assert_ne!(got[0].record.job.id, held[0].record.job.id);
    // Its lease is handed back on its own clock…
    let left = got[0].expires_at_ms.saturating_sub(now() + 45_000);
    assert!((9_000..=10_000).contains(&left), "{left}");
    // …and runs out after 10 s of the database's clock, not 55.
    let later = right.lease(&request(2, now() + 15_000)).await.unwrap();
    assert_eq!(later.len(), 1, "{later:?}");
    assert_eq!(later[0].record.job.id, got[0].record.job.id);
}

/// Four stores of one queue (four workers' connections) hold from one
/// total: the ledger's contract, with the same random tries as the
/// in-memory and SQLite ledgers; another queue's ledger is its own, and
/// dropping the queue drops its ledger.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn workers_of_one_queue_hold_from_one_total_and_never_pass_the_limit() {
    use framebreak_scheduler::{Hold, SpendLedger};
    use proptest::strategy::{Strategy, ValueTree};
    use proptest::test_runner::TestRunner;
    use std::sync::Arc;

    let url = database_url();
    let mut runner = TestRunner::deterministic();
    for round in 0..4 {
        let queue = fresh_queue("spend");
        let mut ledgers: Vec<Arc<dyn SpendLedger>> = Vec::new();
        for _ in 0..4 {
            let store = PgStore::connect(&url, &queue).await.unwrap();
            ledgers.push(Arc::new(store.spend_ledger()));
        }
        let tries = crate::spend::tries()
            .new_tree(&mut runner)
            .unwrap()
            .current();
        let limit = 10_000_000 + round * 7_000_000;
        crate::spend::check_ledger(&ledgers, tries, limit, 16).await;
    }
    // The conformance suite, each check on a fresh queue seen by four
    // connections.
    framebreak_scheduler::conformance::spend::run_all(|| {
        let url = url.clone();
        async move {
            let queue = fresh_queue("spend-suite");
            let mut ledgers: Vec<Arc<dyn SpendLedger>> = Vec::new();
            for _ in 0..4 {
                let store = PgStore::connect(&url, &queue).await.unwrap();
                ledgers.push(Arc::new(store.spend_ledger()));
            }
            ledgers
        }
    })
    .await;
    let queue = fresh_queue("spend-own");
    let store = PgStore::connect(&url, &queue).await.unwrap();
    let ledger = store.spend_ledger();
    assert_eq!(ledger.hold("a", 5, 10).await.unwrap(), Hold::Granted);
    let other = PgStore::connect(&url, &fresh_queue("spend-other"))
        .await
        .unwrap();
    assert_eq!(other.spend_ledger().committed().await.unwrap(), 0);
    store.drop_queue().await.unwrap();
    assert_eq!(ledger.committed().await.unwrap(), 0);
    assert_eq!(ledger.hold("a", 10, 10).await.unwrap(), Hold::Granted);
}

/// PostgreSQL's shared rate limiter passes the limiter conformance suite,
/// four connections to one queue asking at once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_pg_rate_limiter_passes_the_conformance_suite() {
    use framebreak_scheduler::SharedRateLimiter;
    use std::sync::Arc;

    let url = database_url();
    let queue = fresh_queue("rate-suite");
    let mut limiters: Vec<Arc<dyn SharedRateLimiter>> = Vec::new();
    for _ in 0..4 {
        let store = PgStore::connect(&url, &queue).await.unwrap();
        limiters.push(Arc::new(store.rate_limiter()));
    }
    framebreak_scheduler::conformance::rate::run_all(limiters, "pg").await;
}
