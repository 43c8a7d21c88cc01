//! Throughput of the PostgreSQL store with 1, 2 and 4 concurrent consumers,
//! each with its own store (connection pool), and of `SqliteStore` (each
//! consumer its own handle on one file) in the same run for reference.
//!
//! - `store` rows: every job goes enqueue → lease (batches of `batch`) →
//!   `Begin` → `Complete`, one `apply` per update as the scheduler does, the
//!   jobs of a batch in parallel;
//! - `scheduler` rows: the same jobs through `Scheduler`s with a no-op
//!   handler (lease, begin, complete, heartbeats, drain checks);
//! - `lease` rows: leases of one job each, nothing else: lease statements
//!   per second;
//! - last, one consumer's pass over a large queue (`PG_BENCH_LARGE`, default
//!   50,000 jobs), jobs/s per fifth: whether leasing slows down as finished
//!   rows pile up.
//!
//! Needs a server: `eval "$(FRAMEBREAK_PG_DURABLE=1 scripts/pg/start)"`, then
//! `cargo bench -p framebreak-scheduler --features postgres --bench pg_throughput`
//! (`PG_BENCH_JOBS` sets the jobs per run, default 4,000).
#![allow(clippy::print_stdout)]

use std::sync::Arc;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use framebreak_scheduler::{
    Config, Failure, Handler, JobStore, LeaseRequest, NewJob, PgOptions, PgStore, Scheduler,
    SqliteStore, Step, StepContext, Update, now_ms,
};
use futures::future::join_all;
use serde_json::{Value, json};

#[derive(Debug)]
struct NoOp;

#[async_trait]
impl Handler for NoOp {
    async fn step(&self, _ctx: StepContext<'_>) -> Result<Step, Failure> {
        Ok(Step::Done(Value::Null))
    }
}

fn jobs(n: usize) -> Vec<NewJob> {
    (0..n)
        .map(|i| NewJob::new(format!("job-{i:06}"), "noop", json!({ "i": i })).unwrap())
        .collect()
}

/// One consumer: lease a batch, begin and complete its jobs in parallel
/// (unless `lease_only`), until nothing is left to lease. `marks` records
/// when each further fifth of `total` jobs was through.
async fn consume(
    store: Arc<dyn JobStore>,
    batch: usize,
    lease_only: bool,
    total: usize,
    marks: Option<&mut Vec<Instant>>,
) -> usize {
    let mut done = 0;
    let mut marks = marks;
    loop {
        let leases = store
            .lease(&LeaseRequest {
                max: batch,
                ttl: Duration::from_secs(60),
                now_ms: now_ms(),
                exclude_backends: vec![],
            })
            .await
            .unwrap();
        if leases.is_empty() {
            return done;
        }
        let before = done;
        done += leases.len();
        if let Some(marks) = marks.as_deref_mut()
            && done * 5 / total > before * 5 / total
        {
            marks.push(Instant::now());
        }
        if lease_only {
            continue;
        }
        join_all(leases.into_iter().map(|lease| {
            let store = Arc::clone(&store);
            async move {
                store
                    .apply(vec![Update::Begin {
                        lease: lease.token.clone(),
                        now_ms: now_ms(),
                    }])
                    .await
                    .unwrap();
                store
                    .apply(vec![Update::Complete {
                        lease: lease.token,
                        result: Value::Null,
                    }])
                    .await
                    .unwrap();
            }
        }))
        .await;
    }
}

enum Kind {
    Pg(String),
    Sqlite(std::path::PathBuf),
}

async fn open(kind: &Kind, queue: &str) -> Arc<dyn JobStore> {
    match kind {
        Kind::Pg(url) => Arc::new(
            PgStore::connect_with(
                url,
                PgOptions {
                    queue: queue.to_owned(),
                    pool_size: 16,
                    ..PgOptions::default()
                },
            )
            .await
            .unwrap(),
        ),
        Kind::Sqlite(dir) => Arc::new(SqliteStore::open(dir.join(format!("{queue}.db"))).unwrap()),
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Mode {
    /// Leases only: lease statements per second (batch 1).
    Lease,
    /// Lease, begin, complete through the store.
    Store,
    /// Through `Scheduler`s.
    Scheduler,
}

/// Jobs per second through `consumers` store-level consumers (or schedulers).
async fn run(kind: &Kind, n: usize, consumers: usize, batch: usize, mode: Mode) -> f64 {
    let scheduler = mode == Mode::Scheduler;
    let queue = format!(
        "bench-{}-{}-{consumers}-{batch}-{scheduler}",
        std::process::id(),
        now_ms()
    );
    let intake = open(kind, &queue).await;
    intake.enqueue(jobs(n)).await.unwrap();
    let mut stores = Vec::new();
    for _ in 0..consumers {
        stores.push(open(kind, &queue).await);
    }
    let start = Instant::now();
    let done: usize = if scheduler {
        let runs = stores.into_iter().map(|store| async move {
            let s = Scheduler::builder(store, NoOp)
                .config(Config {
                    concurrency: 256,
                    lease_batch: batch,
                    poll_interval: Duration::from_millis(5),
                    ..Config::default()
                })
                .build()
                .unwrap();
            s.run().await.unwrap().snapshot.counts.done as usize
        });
        join_all(runs).await;
        intake.counts().await.unwrap().done as usize
    } else {
        let lease_only = mode == Mode::Lease;
        join_all(
            stores
                .into_iter()
                .map(|s| consume(s, batch, lease_only, n, None)),
        )
        .await
        .into_iter()
        .sum()
    };
    let elapsed = start.elapsed().as_secs_f64();
    assert_eq!(done, n, "every job handed out once");
    let counts = intake.counts().await.unwrap();
    if mode == Mode::Lease {
        assert_eq!(counts.leased as usize, n);
    } else {
        assert_eq!(counts.done as usize, n);
    }
    n as f64 / elapsed
}

/// Jobs per second in each fifth of one consumer's pass over a queue of
/// `n`: whether leasing slows down as done rows pile up behind it.
async fn fifths(kind: &Kind, n: usize) -> Vec<f64> {
    let queue = format!("bench-large-{}-{}", std::process::id(), now_ms());
    let store = open(kind, &queue).await;
    for chunk in jobs(n).chunks(10_000) {
        store.enqueue(chunk.to_vec()).await.unwrap();
    }
    let mut marks = vec![Instant::now()];
    consume(Arc::clone(&store), 64, false, n, Some(&mut marks)).await;
    marks
        .windows(2)
        .map(|w| (n as f64 / 5.0) / (w[1] - w[0]).as_secs_f64())
        .collect()
}

async fn server_settings(url: &str) -> String {
    let (client, connection) = tokio_postgres::connect(url, tokio_postgres::NoTls)
        .await
        .unwrap();
    tokio::spawn(connection);
    let mut out = Vec::new();
    for name in ["server_version", "fsync", "synchronous_commit"] {
        let row = client
            .query_one(&format!("SHOW {name}"), &[])
            .await
            .unwrap();
        out.push(format!("{name}={}", row.get::<_, String>(0)));
    }
    out.join(", ")
}

fn main() {
    let url = std::env::var("FRAMEBREAK_TEST_DATABASE_URL").unwrap_or_else(|_| {
        panic!(
            "FRAMEBREAK_TEST_DATABASE_URL is not set: run \
             `eval \"$(FRAMEBREAK_PG_DURABLE=1 scripts/pg/start)\"` first"
        )
    });
    let n: usize = std::env::var("PG_BENCH_JOBS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(4_000);
    let large: usize = std::env::var("PG_BENCH_LARGE")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(50_000);
    let dir = tempfile::tempdir().unwrap();
    let runtime = framebreak_testkit::runtime();
    runtime.block_on(async {
        println!("PostgreSQL: {}", server_settings(&url).await);
        println!("{n} jobs per run; jobs/s (ratio to 1 consumer of the same store)");
        println!(
            "{:<10} {:<10} {:>6} {:>10} {:>10} {:>10}",
            "mode", "store", "batch", "1", "2", "4"
        );
        for (mode, batch) in [
            (Mode::Lease, 1),
            (Mode::Store, 1),
            (Mode::Store, 64),
            (Mode::Scheduler, 64),
        ] {
            let label = match mode {
                Mode::Lease => "lease",
                Mode::Store => "store",
                Mode::Scheduler => "scheduler",
            };
            for (name, kind) in [
                ("postgres", Kind::Pg(url.clone())),
                ("sqlite", Kind::Sqlite(dir.path().to_path_buf())),
            ] {
                let mut rates = Vec::new();
                for consumers in [1, 2, 4] {
                    rates.push(run(&kind, n, consumers, batch, mode).await);
                }
                let cell = |r: f64| format!("{r:.0} ({:.2}x)", r / rates[0]);
                println!(
                    "{label:<10} {name:<10} {batch:>6} {:>10} {:>16} {:>16}",
                    format!("{:.0}", rates[0]),
                    cell(rates[1]),
                    cell(rates[2])
                );
            }
        }
        println!("one consumer, batch 64, over a queue of {large} jobs: jobs/s per fifth");
        for (name, kind) in [
            ("postgres", Kind::Pg(url.clone())),
            ("sqlite", Kind::Sqlite(dir.path().to_path_buf())),
        ] {
            let rates = fifths(&kind, large).await;
            let cells: Vec<String> = rates.iter().map(|r| format!("{r:>8.0}")).collect();
            println!("{name:<10} {}", cells.join(" "));
        }
    });
}
