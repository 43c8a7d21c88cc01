//! The embedded default store: one SQLite file in WAL mode, written by a
//! dedicated thread that commits whatever requests queued up meanwhile in one
//! transaction (group commit), so thousands of in-flight jobs share each
//! fsync and the async runtime never blocks on SQLite.

use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::thread::JoinHandle;
use std::time::Duration;

use async_trait::async_trait;
use rusqlite::{Connection, Transaction, TransactionBehavior};
use tokio::sync::oneshot;

use crate::error::{Error, Result};
use crate::job::{Applied, Counts, JobId, Lease, LeaseRequest, NewJob, Page, Update};

use super::JobStore;
use ops::run;

mod ops;

/// How hard SQLite works to make a commit durable.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Synchronous {
    /// Commits survive a crash of the process (not of the machine). The
    /// default: it is what WAL mode is designed for.
    #[default]
    Normal,
    /// Commits also survive power loss, at the cost of an fsync per commit.
    Full,
}

/// Settings of a [`SqliteStore`]. Defaults are in the `Default` impl.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SqliteOptions {
    /// Durability level (default [`Synchronous::Normal`]).
    pub synchronous: Synchronous,
    /// Most requests folded into one transaction (default 4,096).
    pub max_batch: usize,
    /// How long to wait for another process holding the write lock (default 5 s).
    pub busy_timeout: Duration,
}

impl Default for SqliteOptions {
    fn default() -> Self {
        Self {
            synchronous: Synchronous::Normal,
            max_batch: 4096,
            busy_timeout: Duration::from_secs(5),
        }
    }
}

/// A [`JobStore`] in one SQLite file.
///
/// Several processes may share the file (SQLite's locks keep leasing
/// exclusive); each process runs one writer thread.
#[derive(Debug)]
pub struct SqliteStore {
    path: PathBuf,
    tx: Option<mpsc::Sender<Request>>,
    thread: Option<JoinHandle<()>>,
}

pub(super) enum Op {
    Enqueue(Vec<NewJob>),
    Lease(LeaseRequest),
    Apply(Vec<Update>),
    Counts,
    Finished(Option<u64>, usize),
    Requeue(Vec<JobId>),
    ReleaseLeases,
    Meta(String),
    PutMeta(String, String),
    Hold(String, u64, u64),
    ReleaseHold(String),
    Committed,
}

pub(super) enum Answer {
    Added(u64),
    Leases(Vec<Lease>),
    Applied(Vec<Applied>),
    Counts(Counts),
    Page(Page),
    Meta(Option<String>),
    Held(crate::spend::Hold),
}

struct Request {
    op: Op,
    reply: oneshot::Sender<Result<Answer>>,
}

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS jobs (
    seq INTEGER PRIMARY KEY,
    id TEXT NOT NULL UNIQUE,
    backend TEXT NOT NULL,
    priority INTEGER NOT NULL,
    affinity TEXT,
    payload TEXT NOT NULL,
    state INTEGER NOT NULL DEFAULT 0,
    step INTEGER NOT NULL DEFAULT 0,
    step_state TEXT NOT NULL DEFAULT 'null',
    intent INTEGER NOT NULL DEFAULT 0,
    attempts INTEGER NOT NULL DEFAULT 0,
    started_at INTEGER,
    result TEXT,
    failure TEXT,
    fence INTEGER NOT NULL DEFAULT 0,
    lease_expires INTEGER NOT NULL DEFAULT 0,
    not_before INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS jobs_pending ON jobs(priority DESC, seq) WHERE state = 0;
CREATE INDEX IF NOT EXISTS jobs_leased ON jobs(lease_expires) WHERE state = 1;
CREATE TABLE IF NOT EXISTS meta (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS spend (
    job TEXT PRIMARY KEY,
    amount INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS spend_total (
    one INTEGER PRIMARY KEY CHECK (one = 1),
    committed INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS job_counts (
    state INTEGER PRIMARY KEY,
    n INTEGER NOT NULL
);
CREATE TRIGGER IF NOT EXISTS job_counts_insert AFTER INSERT ON jobs BEGIN
    INSERT INTO job_counts (state, n) VALUES (new.state, 1)
        ON CONFLICT (state) DO UPDATE SET n = n + 1;
END;
CREATE TRIGGER IF NOT EXISTS job_counts_update AFTER UPDATE OF state ON jobs
WHEN old.state != new.state BEGIN
    UPDATE job_counts SET n = n - 1 WHERE state = old.state;
    INSERT INTO job_counts (state, n) VALUES (new.state, 1)
        ON CONFLICT (state) DO UPDATE SET n = n + 1;
END;
CREATE TRIGGER IF NOT EXISTS job_counts_delete AFTER DELETE ON jobs BEGIN
    UPDATE job_counts SET n = n - 1 WHERE state = old.state;
END;
";

/// Whether the store's file already keeps `job_counts` (stores made before
/// it did are counted once when opened).
const HAS_COUNTS: &str =
    "SELECT EXISTS (SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'job_counts')";

/// The count of jobs per state, from the jobs themselves, into the
/// `job_counts` the schema just made: run once, when a store made before it
/// existed is opened.
const RECOUNT: &str =
    "INSERT INTO job_counts (state, n) SELECT state, COUNT(*) FROM jobs GROUP BY state";

impl SqliteStore {
    /// Opens (creating if needed) the store at `path` with default options.
    pub fn open(path: impl AsRef<Path>) -> Result<Self> {
        Self::open_with(path, SqliteOptions::default())
    }

    /// Opens (creating if needed) the store at `path`.
    pub fn open_with(path: impl AsRef<Path>, options: SqliteOptions) -> Result<Self> {
        let path = path.as_ref().to_path_buf();
        let open_err = |e: rusqlite::Error| Error::StoreOpen {
            path: path.clone(),
            reason: e.to_string(),
        };
        let mut conn = Connection::open(&path).map_err(open_err)?;
        conn.busy_timeout(options.busy_timeout).map_err(open_err)?;
        let sync = match options.synchronous {
            Synchronous::Normal => "NORMAL",
            Synchronous::Full => "FULL",
        };
        conn.execute_batch(&format!(
            "PRAGMA journal_mode = WAL; PRAGMA synchronous = {sync};"
        ))
        .map_err(open_err)?;
        // The schema, and the per-state counts of a store made before they
        // were kept, in one transaction: no job changes state in between.
        let tx = conn
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
            .map_err(open_err)?;
        let counted: bool = tx
            .query_row(HAS_COUNTS, [], |r| r.get(0))
            .map_err(open_err)?;
        tx.execute_batch(SCHEMA).map_err(open_err)?;
        if !counted {
            tx.execute_batch(RECOUNT).map_err(open_err)?;
        }
        tx.commit().map_err(open_err)?;
        let (tx, rx) = mpsc::channel();
        let max_batch = options.max_batch.max(1);
        let thread = std::thread::Builder::new()
            .name("framebreak-sqlite".into())
            .spawn(move || writer(conn, &rx, max_batch))
            .map_err(|e| Error::StoreOpen {
                path: path.clone(),
                reason: format!("cannot start the writer thread: {e}"),
            })?;
        Ok(Self {
            path,
            tx: Some(tx),
            thread: Some(thread),
        })
    }

    /// The file the store lives in.
    #[must_use]
    pub fn path(&self) -> &Path {
        &self.path
    }

    async fn call(&self, op: Op) -> Result<Answer> {
        let closed = Error::StoreClosed { store: "sqlite" };
        let (reply, answer) = oneshot::channel();
        let tx = self
            .tx
            .as_ref()
            .ok_or(Error::StoreClosed { store: "sqlite" })?;
        tx.send(Request { op, reply })
            .map_err(|_| Error::StoreClosed { store: "sqlite" })?;
        answer.await.map_err(|_| closed)?
    }
}

impl Drop for SqliteStore {
    fn drop(&mut self) {
        // Closing the channel ends the writer after its current batch; joining
        // makes sure the file is closed when the store is gone.
        drop(self.tx.take());
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

fn writer(mut conn: Connection, rx: &mpsc::Receiver<Request>, max_batch: usize) {
    while let Ok(first) = rx.recv() {
        let mut batch = vec![first];
        while batch.len() < max_batch {
            match rx.try_recv() {
                Ok(request) => batch.push(request),
                Err(_) => break,
            }
        }
        let mut answers = Vec::with_capacity(batch.len());
        let committed = (|| -> rusqlite::Result<()> {
            let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
            for request in &batch {
                answers.push(run_isolated(&tx, &request.op));
            }
            tx.commit()
        })();
        match committed {
            Ok(()) => {
                for (request, answer) in batch.into_iter().zip(answers) {
                    let _ = request.reply.send(answer);
                }
            }
            Err(e) => {
                // On some errors (a full disk, an I/O error) SQLite rolls the
                // whole transaction back by itself, and the commit then
                // only says there is no transaction: the failed statement's
                // error says why.
                let reason = match answers.iter().find_map(|a| a.as_ref().err()) {
                    Some(cause) => format!("{e} (rolled back after: {cause})"),
                    None => e.to_string(),
                };
                for request in batch {
                    let _ = request.reply.send(Err(Error::store("commit", &reason)));
                }
            }
        }
    }
}

/// Runs one request inside a savepoint, so a failing request leaves no half
/// of itself in the shared transaction.
fn run_isolated(tx: &Transaction<'_>, op: &Op) -> Result<Answer> {
    let name = op_name(op);
    tx.execute_batch("SAVEPOINT request")
        .map_err(|e| Error::store(name, e))?;
    match run(tx, op) {
        Ok(answer) => {
            tx.execute_batch("RELEASE request")
                .map_err(|e| Error::store(name, e))?;
            Ok(answer)
        }
        Err(e) => {
            let _ = tx.execute_batch("ROLLBACK TO request; RELEASE request");
            Err(e)
        }
    }
}

pub(super) fn op_name(op: &Op) -> &'static str {
    match op {
        Op::Enqueue(_) => "enqueue",
        Op::Lease(_) => "lease",
        Op::Apply(_) => "apply",
        Op::Counts => "counts",
        Op::Finished(..) => "finished",
        Op::Requeue(_) => "requeue_failed",
        Op::ReleaseLeases => "release_leases",
        Op::Meta(_) => "meta",
        Op::PutMeta(..) => "put_meta",
        Op::Hold(..) => "spend_hold",
        Op::ReleaseHold(_) => "spend_release",
        Op::Committed => "spend_committed",
    }
}

impl SqliteStore {
    /// Puts every leased job back in the queue at once, keeping its intent
    /// (a step that was running may have had its effect). For a process
    /// that knows every lease holder is dead (it holds the run's lock, and
    /// nothing else uses this file): their leases would otherwise have to
    /// expire first. Returns how many jobs were released.
    ///
    /// # Errors
    ///
    /// [`Error::Store`] when the database fails.
    pub async fn release_leases(&self) -> Result<u64> {
        match self.call(Op::ReleaseLeases).await? {
            Answer::Added(n) => Ok(n),
            _ => Err(Error::store("release_leases", "mismatched answer")),
        }
    }

    /// Sets the metadata value under `key` (what the file's owner keeps
    /// beside its jobs: the run it belongs to, how many jobs it was given),
    /// as `PgStore::put_meta` does for a queue.
    ///
    /// # Errors
    ///
    /// [`Error::Store`] when the database fails.
    pub async fn put_meta(&self, key: &str, value: &str) -> Result<()> {
        match self
            .call(Op::PutMeta(key.to_owned(), value.to_owned()))
            .await?
        {
            Answer::Meta(_) => Ok(()),
            _ => Err(Error::store("put_meta", "mismatched answer")),
        }
    }

    /// The metadata value under `key`, if one was set.
    ///
    /// # Errors
    ///
    /// [`Error::Store`] when the database fails.
    pub async fn meta(&self, key: &str) -> Result<Option<String>> {
        match self.call(Op::Meta(key.to_owned())).await? {
            Answer::Meta(value) => Ok(value),
            _ => Err(Error::store("meta", "mismatched answer")),
        }
    }
}

/// The file's spend ledger: one hold per job, in the same database file as
/// the jobs, written by the same thread (so every hold is atomic among the
/// process's callers) in a write transaction (so among processes).
#[async_trait]
impl crate::spend::SpendLedger for SqliteStore {
    async fn hold(&self, job: &str, amount: u64, limit: u64) -> Result<crate::spend::Hold> {
        match self.call(Op::Hold(job.to_owned(), amount, limit)).await? {
            Answer::Held(hold) => Ok(hold),
            _ => Err(Error::store("spend_hold", "mismatched answer")),
        }
    }

    async fn release(&self, job: &str) -> Result<()> {
        match self.call(Op::ReleaseHold(job.to_owned())).await? {
            Answer::Added(_) => Ok(()),
            _ => Err(Error::store("spend_release", "mismatched answer")),
        }
    }

    async fn committed(&self) -> Result<u64> {
        match self.call(Op::Committed).await? {
            Answer::Added(n) => Ok(n),
            _ => Err(Error::store("spend_committed", "mismatched answer")),
        }
    }
}

#[async_trait]
impl JobStore for SqliteStore {
    async fn enqueue(&self, jobs: Vec<NewJob>) -> Result<u64> {
        match self.call(Op::Enqueue(jobs)).await? {
            Answer::Added(n) => Ok(n),
            _ => Err(Error::store("enqueue", "mismatched answer")),
        }
    }

    async fn lease(&self, request: &LeaseRequest) -> Result<Vec<Lease>> {
        match self.call(Op::Lease(request.clone())).await? {
            Answer::Leases(l) => Ok(l),
            _ => Err(Error::store("lease", "mismatched answer")),
        }
    }

    async fn apply(&self, updates: Vec<Update>) -> Result<Vec<Applied>> {
        match self.call(Op::Apply(updates)).await? {
            Answer::Applied(a) => Ok(a),
            _ => Err(Error::store("apply", "mismatched answer")),
        }
    }

    async fn counts(&self) -> Result<Counts> {
        match self.call(Op::Counts).await? {
            Answer::Counts(c) => Ok(c),
            _ => Err(Error::store("counts", "mismatched answer")),
        }
    }

    async fn finished(&self, after: Option<u64>, limit: usize) -> Result<Page> {
        match self.call(Op::Finished(after, limit)).await? {
            Answer::Page(p) => Ok(p),
            _ => Err(Error::store("finished", "mismatched answer")),
        }
    }

    async fn requeue_failed(&self, ids: Vec<JobId>) -> Result<u64> {
        match self.call(Op::Requeue(ids)).await? {
            Answer::Added(n) => Ok(n),
            _ => Err(Error::store("requeue_failed", "mismatched answer")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn metadata_is_kept_beside_the_jobs_and_survives_reopening() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("jobs.sqlite");
        {
            let store = SqliteStore::open(&path).unwrap();
            assert_eq!(store.meta("run_id").await.unwrap(), None);
            store.put_meta("run_id", "r1").await.unwrap();
            store.put_meta("run_id", "r2").await.unwrap();
        }
        let store = SqliteStore::open(&path).unwrap();
        assert_eq!(store.meta("run_id").await.unwrap().as_deref(), Some("r2"));
    }

    /// Counts come from `job_counts`, kept by triggers; a store made before
    /// that table existed is counted once when opened.
    #[tokio::test]
    async fn counts_are_kept_by_triggers_and_older_stores_are_counted_on_open() {
        use crate::{JobStore, LeaseRequest, NewJob};
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("jobs.sqlite");
        let jobs = |ids: &[&str]| {
            ids.iter()
                .map(|id| NewJob::new(*id, "b", serde_json::json!({})).unwrap())
                .collect::<Vec<_>>()
        };
        {
            let store = SqliteStore::open(&path).unwrap();
            assert_eq!(store.enqueue(jobs(&["a", "b", "c"])).await.unwrap(), 3);
            // Enqueued again: ignored, not counted twice.
            assert_eq!(store.enqueue(jobs(&["a", "d"])).await.unwrap(), 1);
            let leased = store
                .lease(&LeaseRequest {
                    max: 2,
                    ttl: std::time::Duration::from_secs(60),
                    now_ms: 1_000,
                    exclude_backends: vec![],
                })
                .await
                .unwrap();
            assert_eq!(leased.len(), 2);
            let counts = store.counts().await.unwrap();
            assert_eq!((counts.pending, counts.leased, counts.total()), (2, 2, 4));
            assert_eq!(store.release_leases().await.unwrap(), 2);
            let counts = store.counts().await.unwrap();
            assert_eq!((counts.pending, counts.leased), (4, 0));
        }
        // The file as an older build left it: no counts table, no triggers.
        {
            let conn = Connection::open(&path).unwrap();
            conn.execute_batch(
                "DROP TRIGGER job_counts_insert; DROP TRIGGER job_counts_update;
                 DROP TRIGGER job_counts_delete; DROP TABLE job_counts;
                 UPDATE jobs SET state = 2 WHERE id = 'a';",
            )
            .unwrap();
        }
        let store = SqliteStore::open(&path).unwrap();
        let counts = store.counts().await.unwrap();
        assert_eq!((counts.pending, counts.done, counts.total()), (3, 1, 4));
        assert_eq!(store.enqueue(jobs(&["e"])).await.unwrap(), 1);
        assert_eq!(store.counts().await.unwrap().pending, 4);
    }
}
