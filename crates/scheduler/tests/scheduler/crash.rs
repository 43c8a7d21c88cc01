//! 10,000 jobs against a fake backend that lives in this (parent) process
//! and counts submissions; the scheduler runs in a child process (this test
//! binary re-executed) that is killed with SIGKILL at random moments and
//! restarted, until a run finishes. Then every job must be done once and the
//! backend must have seen each job submitted exactly once.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use framebreak_scheduler::{
    Failure, FailureCategory, Handler, JobState, JobStore, JobStoreExt, NewJob, RunOutcome,
    Scheduler, SqliteStore, Step, StepContext,
};
use futures::StreamExt;
use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};

const JOBS: usize = 10_000;
const KILLS: usize = 6;
const CHILD_ENV: &str = "FRAMEBREAK_SCHEDULER_CRASH_CHILD";

/// What the fake backend saw.
#[derive(Debug, Default)]
struct Seen {
    /// Submit requests per idempotency key.
    submits: HashMap<String, u32>,
    /// Submit requests that said they might be repeats.
    flagged_submits: u32,
    /// Look-ups by key.
    lookups: u32,
    /// Polls.
    polls: u32,
}

async fn serve(listener: TcpListener, seen: Arc<Mutex<Seen>>) {
    loop {
        let Ok((socket, _)) = listener.accept().await else {
            return;
        };
        let seen = Arc::clone(&seen);
        tokio::spawn(async move {
            let (read, mut write) = socket.into_split();
            let mut lines = BufReader::new(read).lines();
            while let Ok(Some(line)) = lines.next_line().await {
                let request: Value = serde_json::from_str(&line).unwrap();
                let key = request["key"].as_str().unwrap_or_default().to_owned();
                let answer = {
                    let mut seen = seen.lock().unwrap();
                    match request["op"].as_str() {
                        Some("submit") => {
                            *seen.submits.entry(key.clone()).or_insert(0) += 1;
                            seen.flagged_submits += u32::from(request["retry"] == json!(true));
                            json!({ "remote": format!("r-{key}") })
                        }
                        Some("lookup") => {
                            seen.lookups += 1;
                            let found = seen.submits.contains_key(&key);
                            json!({ "remote": found.then(|| format!("r-{key}")) })
                        }
                        _ => {
                            seen.polls += 1;
                            json!({ "output": format!("video-of-{}", request["remote"].as_str().unwrap_or("?")) })
                        }
                    }
                };
                if write
                    .write_all(format!("{answer}\n").as_bytes())
                    .await
                    .is_err()
                {
                    return;
                }
            }
        });
    }
}

/// The child's handler: step 0 submits (or, when the step may already have
/// happened, looks the submission up first), step 1 polls.
#[derive(Debug)]
struct Remote {
    addr: String,
    pool: Mutex<Vec<BufReader<TcpStream>>>,
}

impl Remote {
    async fn call(&self, request: Value) -> Result<Value, Failure> {
        let pooled = self.pool.lock().unwrap().pop();
        let mut conn = match pooled {
            Some(c) => c,
            None => BufReader::new(
                TcpStream::connect(&self.addr)
                    .await
                    .map_err(|e| Failure::new(FailureCategory::Connection, e.to_string()))?,
            ),
        };
        let io = |e: std::io::Error| Failure::new(FailureCategory::Connection, e.to_string());
        conn.get_mut()
            .write_all(format!("{request}\n").as_bytes())
            .await
            .map_err(io)?;
        let mut line = String::new();
        conn.read_line(&mut line).await.map_err(io)?;
        let answer = serde_json::from_str(&line)
            .map_err(|e| Failure::new(FailureCategory::Decode, e.to_string()))?;
        self.pool.lock().unwrap().push(conn);
        Ok(answer)
    }
}

#[async_trait]
impl Handler for Remote {
    async fn step(&self, ctx: StepContext<'_>) -> Result<Step, Failure> {
        let key = ctx.idempotency_key;
        match ctx.step {
            0 => {
                if ctx.possibly_executed {
                    let found = self.call(json!({ "op": "lookup", "key": key })).await?;
                    if let Some(remote) = found["remote"].as_str() {
                        return Ok(Step::Next(json!({ "remote": remote })));
                    }
                }
                let answer = self
                    .call(json!({ "op": "submit", "key": key, "retry": ctx.possibly_executed }))
                    .await?;
                Ok(Step::Next(json!({ "remote": answer["remote"] })))
            }
            _ => {
                let answer = self
                    .call(json!({ "op": "poll", "remote": ctx.state["remote"] }))
                    .await?;
                Ok(Step::Done(answer["output"].clone()))
            }
        }
    }
}

/// The child process: enqueue everything (idempotent), run to the end.
#[test]
#[ignore = "the child process of crash::kill_9_and_resume_10k_jobs; run by it"]
fn child_entry() {
    let Ok(config) = std::env::var(CHILD_ENV) else {
        return;
    };
    let (addr, db) = config.split_once('|').unwrap();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let store = Arc::new(SqliteStore::open(db).unwrap());
        let jobs =
            (0..JOBS).map(|i| NewJob::new(format!("job-{i:05}"), "remote", json!(i)).unwrap());
        store
            .enqueue_stream(futures::stream::iter(jobs), 1000)
            .await
            .unwrap();
        let handler = Remote {
            addr: addr.to_owned(),
            pool: Mutex::new(Vec::new()),
        };
        let scheduler = Scheduler::builder(store, handler)
            .concurrency(256)
            .lease_ttl(Duration::from_millis(600))
            .build()
            .unwrap();
        let summary = scheduler.run().await.unwrap();
        assert_eq!(summary.outcome, RunOutcome::Drained);
    });
    std::process::exit(0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_and_resume_10k_jobs() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("crash.db");
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    let seen = Arc::new(Mutex::new(Seen::default()));
    tokio::spawn(serve(listener, Arc::clone(&seen)));
    let seed = fastrand::u64(..);
    let mut rng = fastrand::Rng::with_seed(seed);
    let started = Instant::now();
    let exe = std::env::current_exe().unwrap();
    let spawn = || {
        tokio::process::Command::new(&exe)
            .args(["--ignored", "--exact", "crash::child_entry", "--nocapture"])
            .env(CHILD_ENV, format!("{addr}|{}", db.display()))
            .stdout(std::process::Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .unwrap()
    };
    let mut kills = 0;
    for _ in 0..KILLS {
        let mut child = spawn();
        let after = Duration::from_millis(rng.u64(50..400));
        tokio::select! {
            status = child.wait() => {
                assert!(status.unwrap().success(), "child failed before being killed (seed {seed})");
                break;
            }
            () = tokio::time::sleep(after) => {
                child.kill().await.unwrap();
                kills += 1;
            }
        }
    }
    assert!(
        kills >= 1,
        "no run was killed: they finished too fast to test anything (seed {seed})"
    );
    let status = tokio::time::timeout(Duration::from_secs(120), spawn().wait())
        .await
        .unwrap()
        .unwrap();
    assert!(status.success(), "the final run failed (seed {seed})");

    let store = SqliteStore::open(&db).unwrap();
    let counts = store.counts().await.unwrap();
    assert_eq!(
        (counts.done, counts.total()),
        (JOBS as u64, JOBS as u64),
        "{counts:?} (seed {seed})"
    );
    let records: Vec<_> = store.results(1000).collect().await;
    assert_eq!(records.len(), JOBS);
    for record in records {
        let record = record.unwrap();
        assert_eq!(record.state, JobState::Done);
        let key = format!("{}:0", record.job.id);
        assert_eq!(record.result, Some(json!(format!("video-of-r-{key}"))));
    }
    let seen = seen.lock().unwrap();
    assert_eq!(
        seen.submits.len(),
        JOBS,
        "every job was submitted (seed {seed})"
    );
    let repeated: Vec<_> = seen.submits.iter().filter(|(_, n)| **n != 1).collect();
    assert!(
        repeated.is_empty(),
        "submitted more than once: {repeated:?} (seed {seed})"
    );
    eprintln!(
        "crash test: seed {seed}, {kills} kills, {} look-ups after crashes, {} flagged submits, {} polls, {:.1} s",
        seen.lookups,
        seen.flagged_submits,
        seen.polls,
        started.elapsed().as_secs_f64()
    );
}
