//! Several schedulers, each with its own connection pool, on one queue: the
//! way workers on several machines share a campaign.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use framebreak_scheduler::{
    Config, Failure, Handler, JobStore, PgOptions, PgStore, RateLimit, RunOutcome, Scheduler,
    SharedRateLimiter, Snapshot, Step, StepContext, Summary,
};
use serde_json::json;

use super::{database_url, fresh_queue};
use crate::util::jobs;

/// Counts the calls per job and when each call came.
#[derive(Debug, Default)]
struct Tally {
    calls: Mutex<HashMap<String, u32>>,
    times: Mutex<Vec<Instant>>,
}

#[async_trait]
impl Handler for Tally {
    async fn step(&self, ctx: StepContext<'_>) -> Result<Step, Failure> {
        self.times.lock().unwrap().push(Instant::now());
        *self
            .calls
            .lock()
            .unwrap()
            .entry(ctx.job.to_string())
            .or_insert(0) += 1;
        tokio::time::sleep(Duration::from_millis(1)).await;
        Ok(Step::Done(json!(ctx.job)))
    }
}

/// Counts the asks of the limiter it wraps.
#[derive(Debug)]
struct Counted<L> {
    inner: L,
    asks: Arc<AtomicU64>,
}

#[async_trait]
impl<L: SharedRateLimiter> SharedRateLimiter for Counted<L> {
    async fn try_acquire(
        &self,
        key: &str,
        limit: &RateLimit,
    ) -> framebreak_scheduler::Result<Duration> {
        self.asks.fetch_add(1, Ordering::Relaxed);
        self.inner.try_acquire(key, limit).await
    }
}

async fn worker_store(url: &str, queue: &str) -> PgStore {
    PgStore::connect_with(
        url,
        PgOptions {
            queue: queue.to_owned(),
            pool_size: 4,
            ..PgOptions::default()
        },
    )
    .await
    .unwrap()
}

fn small_batches() -> Config {
    Config {
        concurrency: 32,
        lease_batch: 16,
        poll_interval: Duration::from_millis(10),
        ..Config::default()
    }
}

/// Enqueues `n` jobs in `queue` (through `url`) and starts four
/// schedulers on it, each with its own store connected to `worker_url`:
/// each ends with its run's result and last snapshot.
async fn start_workers(
    url: &str,
    worker_url: &str,
    queue: &str,
    n: usize,
    tally: &Arc<Tally>,
    config: &Config,
) -> Vec<tokio::task::JoinHandle<(framebreak_scheduler::Result<Summary>, Snapshot)>> {
    worker_store(url, queue)
        .await
        .enqueue(jobs("j", n, "api"))
        .await
        .unwrap();
    let mut runs = Vec::new();
    for _ in 0..4 {
        let store = worker_store(worker_url, queue).await;
        let scheduler = Scheduler::builder(store, Arc::clone(tally))
            .config(config.clone())
            .build()
            .unwrap();
        runs.push(tokio::spawn(async move {
            (scheduler.run().await, scheduler.snapshot())
        }));
    }
    runs
}

#[tokio::test]
async fn four_workers_run_every_job_exactly_once() {
    let url = database_url();
    let queue = fresh_queue("four-workers");
    let n = 600;
    let tally = Arc::new(Tally::default());
    let runs = start_workers(&url, &url, &queue, n, &tally, &small_batches()).await;
    for run in runs {
        assert_eq!(run.await.unwrap().0.unwrap().outcome, RunOutcome::Drained);
    }
    let calls = tally.calls.lock().unwrap().clone();
    assert_eq!(calls.len(), n, "every job ran");
    let repeated: Vec<_> = calls.iter().filter(|(_, c)| **c != 1).collect();
    assert!(repeated.is_empty(), "jobs run more than once: {repeated:?}");
    let counts = worker_store(&url, &queue).await.counts().await.unwrap();
    assert_eq!((counts.done, counts.total()), (n as u64, n as u64));
}

#[tokio::test]
async fn four_workers_share_one_rate_limit() {
    let url = database_url();
    let queue = fresh_queue("shared-rate");
    let (rate, burst, n) = (40.0, 2_u32, 120);
    worker_store(&url, &queue)
        .await
        .enqueue(jobs("j", n, "api"))
        .await
        .unwrap();
    let limit = RateLimit::per_second(rate as u32).unwrap().burst(burst);
    let tally = Arc::new(Tally::default());
    let asks = Arc::new(AtomicU64::new(0));
    let mut runs = Vec::new();
    for _ in 0..4 {
        let store = worker_store(&url, &queue).await;
        let scheduler = Scheduler::builder(store.clone(), Arc::clone(&tally))
            .config(small_batches())
            .rate_limit("api", limit)
            .shared_rate_limiter(Counted {
                inner: store.rate_limiter(),
                asks: Arc::clone(&asks),
            })
            .build()
            .unwrap();
        runs.push(tokio::spawn(async move { scheduler.run().await }));
    }
    for run in runs {
        run.await.unwrap().unwrap();
    }
    let mut times = tally.times.lock().unwrap().clone();
    times.sort();
    assert_eq!(times.len(), n);
    let span = (times[n - 1] - times[0]).as_secs_f64();
    let observed = (n as f64 - f64::from(burst)) / span;
    let asks = asks.load(Ordering::Relaxed);
    eprintln!(
        "shared rate limit: 4 workers, limit {rate}/s burst {burst}: {n} calls in {span:.2} s, \
         {observed:.1}/s after the burst; {asks} asks of the limiter"
    );
    // One asker per key and worker: about one ask per worker per token
    // (≈ 550 here), not one per waiting job (4 x 32 jobs polled ≈ 7,000
    // times without it).
    assert!(asks <= 8 * n as u64, "{asks} asks for {n} tokens: a herd");
    // In every window, at most the burst plus what the window refills (one
    // call of slack: the calls are timed here, the tokens on the server).
    let mut worst = 0.0_f64;
    for i in 0..n {
        for j in i..n {
            let window = (times[j] - times[i]).as_secs_f64();
            let excess = (j - i + 1) as f64 - (f64::from(burst) + rate * window);
            worst = worst.max(excess);
        }
    }
    assert!(
        worst <= 1.0,
        "some window saw {worst:.2} calls over the limit (4 workers would allow 4x without sharing)"
    );
    assert!(
        observed <= rate * 1.05,
        "observed {observed:.1}/s over the limit of {rate}/s"
    );
}

#[tokio::test]
async fn a_dead_workers_jobs_return_to_the_others() {
    let url = database_url();
    let queue = fresh_queue("dead-worker");
    let n = 200;
    worker_store(&url, &queue)
        .await
        .enqueue(jobs("j", n, "api"))
        .await
        .unwrap();
    let config = Config {
        lease_ttl: Duration::from_millis(300),
        ..small_batches()
    };
    // The first worker leases a batch and is gone mid-step (its run is
    // dropped: no release, no heartbeat, as after SIGKILL).
    let stuck = Arc::new(Stuck::default());
    let doomed = Scheduler::builder(worker_store(&url, &queue).await, Arc::clone(&stuck))
        .config(config.clone())
        .build()
        .unwrap();
    let _ = tokio::time::timeout(Duration::from_millis(200), doomed.run()).await;
    let held = stuck.started.lock().unwrap().len();
    assert!(held > 0, "the doomed worker held jobs when it died");
    let tally = Arc::new(Tally::default());
    let survivor = Scheduler::builder(worker_store(&url, &queue).await, Arc::clone(&tally))
        .config(config)
        .build()
        .unwrap();
    let start = Instant::now();
    assert_eq!(survivor.run().await.unwrap().outcome, RunOutcome::Drained);
    let counts = worker_store(&url, &queue).await.counts().await.unwrap();
    assert_eq!(counts.done, n as u64, "{counts:?}");
    assert_eq!(tally.calls.lock().unwrap().len(), n);
    eprintln!(
        "dead worker: {held} jobs held by it came back after its 300 ms leases; all {n} done in {:?}",
        start.elapsed()
    );
}

/// Starts every step and never finishes it.
#[derive(Debug, Default)]
struct Stuck {
    started: Mutex<Vec<String>>,
}

#[async_trait]
impl Handler for Stuck {
    async fn step(&self, ctx: StepContext<'_>) -> Result<Step, Failure> {
        self.started.lock().unwrap().push(ctx.job.to_string());
        std::future::pending().await
    }
}

/// Terminates every session named `application_name` on the server (as
/// a restart or a failover does, mid-statement): how many it ended.
async fn terminate(url: &str, application_name: &str) -> u64 {
    let row = super::admin(url)
        .await
        .query_one(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity \
             WHERE application_name = $1",
            &[&application_name],
        )
        .await
        .unwrap();
    u64::try_from(row.get::<_, i64>(0)).unwrap()
}

#[tokio::test]
async fn workers_ride_out_connections_cut_under_them() {
    let url = database_url();
    let queue = fresh_queue("cut");
    let app = format!("fb-cut-{}", std::process::id());
    let (relay, control) = Relay::to(&url).await;
    let worker_url = format!("{}?application_name={app}", relay.url(&url));
    let n = 400;
    let tally = Arc::new(Tally::default());
    let config = Config {
        concurrency: 8,
        lease_batch: 4,
        poll_interval: Duration::from_millis(10),
        lease_ttl: Duration::from_secs(2),
        store_outage: Duration::from_secs(60),
        ..Config::default()
    };
    let runs = start_workers(&url, &worker_url, &queue, n, &tally, &config).await;
    // Once the run is going: every session is terminated by the server,
    // then the server cannot be reached for 1 s (connections dropped,
    // new ones refused), as in a restart.
    while tally.calls.lock().unwrap().len() < 40 {
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    let cut = terminate(&url, &app).await;
    control.send(Some(Duration::from_secs(1))).unwrap();
    let mut outages = 0;
    for run in runs {
        let (summary, snapshot) = run.await.unwrap();
        let summary = summary.expect("a worker gave up on a store that came back");
        assert_eq!(summary.outcome, RunOutcome::Drained);
        assert_eq!(snapshot.store_outage, None, "the outage is over");
        outages += snapshot.store_outages;
    }
    assert!(
        tally.calls.lock().unwrap().len() < n || outages > 0,
        "the run ended before the outage: the test proved nothing"
    );
    assert!(
        outages > 0,
        "{cut} sessions cut but no worker saw an outage"
    );
    let counts = worker_store(&url, &queue).await.counts().await.unwrap();
    assert_eq!((counts.done, counts.total()), (n as u64, n as u64));
    let calls = tally.calls.lock().unwrap().clone();
    assert_eq!(calls.len(), n, "every job ran");
    drop(relay);
    eprintln!(
        "{cut} sessions terminated, then 1 s unreachable; {outages} outages ridden out; {} steps for {n} jobs",
        calls.values().sum::<u32>()
    );
}

/// A TCP relay to the test server that can be shut for good: the
/// listener closes and every relayed connection drops, so the store meets
/// "connection refused", a server that went away and stays away.
struct Relay {
    addr: std::net::SocketAddr,
    _tasks: tokio::task::JoinSet<()>,
}

/// What a relay is told: `Some(d)`: drop every relayed connection and
/// refuse new ones for `d` (a server restarting); `None`: shut for good.
type RelayControl = tokio::sync::mpsc::UnboundedSender<Option<Duration>>;

impl Relay {
    async fn to(url: &str) -> (Self, RelayControl) {
        let upstream = url
            .split('@')
            .nth(1)
            .and_then(|r| r.split('/').next())
            .expect("host:port in the test URL")
            .to_owned();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (control, mut commands) = tokio::sync::mpsc::unbounded_channel::<Option<Duration>>();
        let mut tasks = tokio::task::JoinSet::new();
        tasks.spawn(async move {
            let mut conns = tokio::task::JoinSet::new();
            let mut down_until = Instant::now();
            loop {
                tokio::select! {
                    command = commands.recv() => match command {
                        Some(Some(down)) => {
                            conns.abort_all();
                            down_until = Instant::now() + down;
                        }
                        _ => break,
                    },
                    Ok((mut down, _)) = listener.accept() => {
                        if Instant::now() < down_until {
                            drop(down);
                            continue;
                        }
                        let upstream = upstream.clone();
                        conns.spawn(async move {
                            if let Ok(mut up) = tokio::net::TcpStream::connect(&upstream).await {
                                let _ = tokio::io::copy_bidirectional(&mut down, &mut up).await;
                            }
                        });
                    }
                }
            }
            conns.abort_all();
        });
        (
            Self {
                addr,
                _tasks: tasks,
            },
            control,
        )
    }

    /// `url` with its host and port replaced by the relay's.
    fn url(&self, url: &str) -> String {
        url.replacen(
            url.split('@')
                .nth(1)
                .and_then(|r| r.split('/').next())
                .unwrap(),
            &self.addr.to_string(),
            1,
        )
    }
}

#[tokio::test]
async fn a_worker_gives_up_once_the_store_stays_away_past_its_bound() {
    let url = database_url();
    let queue = fresh_queue("gone");
    worker_store(&url, &queue)
        .await
        .enqueue(jobs("j", 200, "api"))
        .await
        .unwrap();
    let (relay, shut) = Relay::to(&url).await;
    let relayed = relay.url(&url);
    let store = worker_store(&relayed, &queue).await;
    let tally = Arc::new(Tally::default());
    let scheduler = Scheduler::builder(store, Arc::clone(&tally))
        .config(Config {
            concurrency: 2,
            poll_interval: Duration::from_millis(10),
            store_outage: Duration::from_secs(1),
            ..Config::default()
        })
        .build()
        .unwrap();
    let run = tokio::spawn(async move { scheduler.run().await });
    while tally.calls.lock().unwrap().len() < 5 {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    // The server goes away for good, as far as the worker can tell.
    let gone = Instant::now();
    shut.send(None).unwrap();
    let result = tokio::time::timeout(Duration::from_secs(60), run)
        .await
        .expect("the worker must give up within its bound, not hang")
        .unwrap();
    drop(relay);
    let err = result.expect_err("the worker must give up");
    assert!(
        matches!(err, framebreak_scheduler::Error::StoreUnavailable { .. }),
        "{err:?}"
    );
    assert!(err.is_transient());
    let text = err.to_string();
    assert!(
        text.contains("store_outage") && text.contains("unreachable"),
        "{text}"
    );
    let waited = gone.elapsed();
    assert!(
        waited >= Duration::from_secs(1),
        "gave up after {waited:?}, before its 1 s bound"
    );
    let counts = worker_store(&url, &queue).await.counts().await.unwrap();
    assert!(
        counts.unfinished() > 0,
        "the store was gone: jobs remain for another worker"
    );
}
