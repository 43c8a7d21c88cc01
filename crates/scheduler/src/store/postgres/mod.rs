//! A store many workers on many machines share: PostgreSQL, leasing with
//! `FOR UPDATE SKIP LOCKED` so concurrent workers never wait on each other's
//! rows, one database holding any number of queues (campaigns, runs).

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use deadpool_postgres::{Manager, ManagerConfig, Object, Pool, RecyclingMethod, Runtime};
use tokio_postgres::NoTls;

use crate::error::{Error, Result};
use crate::job::{Applied, Counts, JobId, Lease, LeaseRequest, NewJob, Page, Update};

use super::JobStore;
use commit::Committer;
use target::Target;

mod commit;
mod ops;
mod rate;
mod schema;
mod spend;
mod target;

pub use rate::PgRateLimiter;
pub use spend::PgSpendLedger;

/// First key of the queue locks' advisory-lock pairs ("fbqu"), the
/// second being the hash of the queue's name.
const QUEUE_LOCK_CLASS: i32 = 0x6662_7175;

/// A queue's exclusive lock, held until dropped (see
/// [`PgStore::try_lock_queue`]).
pub struct QueueLock {
    _client: deadpool_postgres::ClientWrapper,
}

impl fmt::Debug for QueueLock {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("QueueLock")
    }
}

/// Longest queue name accepted, in bytes.
const MAX_QUEUE_LEN: usize = 200;

/// Settings of a [`PgStore`]. Defaults are in the `Default` impl.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PgOptions {
    /// The queue (campaign, run id) every operation of the store is scoped
    /// to (default `"default"`). Non-empty, at most 200 bytes, no control
    /// characters.
    pub queue: String,
    /// Most connections the store opens at once (default 8).
    pub pool_size: usize,
    /// How long to wait for the server to accept a connection, and for a
    /// free pooled connection (default 10 s).
    pub connect_timeout: Duration,
    /// Milliseconds added to this machine's clock as the store reads it
    /// (default 0): how a test plays a machine whose clock is off. Leave it
    /// at 0 otherwise; the store already works on the database's clock.
    pub clock_offset_ms: i64,
    /// Whether connecting creates and upgrades the schema (default true;
    /// needs a role that may create tables). When false, the store only
    /// checks that the database's schema is the version this build works
    /// with and answers [`Error::StoreSchema`] otherwise, never creating or
    /// changing a table: what workers and readers should do, with the
    /// schema made once by [`PgStore::migrate`].
    pub migrate: bool,
}

impl Default for PgOptions {
    fn default() -> Self {
        Self {
            queue: "default".into(),
            pool_size: 8,
            connect_timeout: Duration::from_secs(10),
            clock_offset_ms: 0,
            migrate: true,
        }
    }
}

/// How often the difference between this machine's clock and the
/// database's is measured again.
const SKEW_EVERY: Duration = Duration::from_secs(30);

/// The database's clock minus this machine's, as last measured: every time
/// the scheduler hands the store (when a lease runs out, when a retry is
/// due) is moved onto the database's clock before it is stored or compared,
/// so workers whose clocks disagree still agree on whose lease has run out.
#[derive(Debug, Default)]
struct Skew {
    ms: std::sync::atomic::AtomicI64,
    measured: std::sync::Mutex<Option<std::time::Instant>>,
}

/// The jobs of one queue and their states, as [`PgStore::queues`] lists them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct QueueCounts {
    /// The queue's name.
    pub queue: String,
    /// Its jobs per state.
    pub counts: Counts,
}

/// A [`JobStore`] in a PostgreSQL database, scoped to one queue.
///
/// Any number of workers, in any number of processes on any number of
/// machines, may connect to the same queue: leases are exclusive and fenced
/// exactly as in [`SqliteStore`](crate::SqliteStore), and a dead worker's
/// jobs return when their leases expire. The schema is created and migrated
/// on connect, or only checked when [`PgOptions::migrate`] is false. TLS is not supported yet: connect over a trusted
/// network or a tunnel.
///
/// Updates that arrive while others are being written are committed
/// together (group commit, statements pipelined on one connection), by two
/// tasks spawned on the Tokio runtime that connects: use the store on that
/// runtime (once it shuts down, `apply` answers [`Error::StoreClosed`]).
///
/// The connection string's password never appears in this type's `Debug`
/// output, in its errors or in its logs.
///
/// ```no_run
/// use framebreak_scheduler::{JobStore, NewJob, PgStore};
/// use serde_json::json;
///
/// # async fn run() -> framebreak_scheduler::Result<()> {
/// let store = PgStore::connect("postgres://fb:secret@127.0.0.1:5432/framebreak", "run-42").await?;
/// store.enqueue(vec![NewJob::new("job-1", "api", json!({}))?]).await?;
/// for queue in store.queues().await? {
///     println!("{}: {} pending", queue.queue, queue.counts.pending);
/// }
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct PgStore {
    pool: Pool,
    queue: Arc<str>,
    target: Arc<Target>,
    pool_size: usize,
    committer: Committer,
    clock_offset_ms: i64,
    skew: Arc<Skew>,
}

impl fmt::Debug for PgStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PgStore")
            .field("target", &self.target)
            .field("queue", &self.queue)
            .field("pool_size", &self.pool_size)
            .finish_non_exhaustive()
    }
}

impl PgStore {
    /// Connects to `url` (`postgres://user:password@host:port/database` or
    /// `key=value` pairs), migrates the schema if needed, and scopes the
    /// store to `queue`. Default [`PgOptions`] otherwise.
    pub async fn connect(url: &str, queue: &str) -> Result<Self> {
        Self::connect_with(
            url,
            PgOptions {
                queue: queue.to_owned(),
                ..PgOptions::default()
            },
        )
        .await
    }

    /// Connects to the database named by the `DATABASE_URL` environment
    /// variable (the usual place for a connection string that holds a
    /// password: it then never appears on a command line).
    pub async fn from_env(options: PgOptions) -> Result<Self> {
        let url = std::env::var("DATABASE_URL").map_err(|e| Error::InvalidStoreUrl {
            reason: format!("DATABASE_URL: {e}"),
        })?;
        Self::connect_with(&url, options).await
    }

    /// Connects with `options`; see [`connect`](Self::connect).
    pub async fn connect_with(url: &str, options: PgOptions) -> Result<Self> {
        let migrate = options.migrate;
        let (store, mut client) = Self::open(url, options).await?;
        if migrate {
            schema::migrate(&mut client, &store.target).await?;
        } else {
            schema::check(&client, &store.target).await?;
        }
        store.measure_skew(&client).await?;
        Ok(store)
    }

    /// Creates or upgrades the schema of the database at `url` to the
    /// newest version this build knows, as the role the URL names (it must
    /// be allowed to create tables); returns the versions it applied (none
    /// when the schema was current). Safe to run from several processes at
    /// once: they take turns and the later ones find the work done.
    pub async fn migrate(url: &str) -> Result<Vec<i32>> {
        let (store, mut client) = Self::open(
            url,
            PgOptions {
                pool_size: 1,
                ..PgOptions::default()
            },
        )
        .await?;
        schema::migrate(&mut client, &store.target).await
    }

    /// The newest schema version this build knows (what
    /// [`migrate`](Self::migrate) brings a database to).
    #[must_use]
    pub fn schema_version() -> i32 {
        schema::newest()
    }

    /// The pool and its first connection, the schema not yet looked at.
    async fn open(url: &str, options: PgOptions) -> Result<(Self, Object)> {
        check_queue(&options.queue)?;
        if options.pool_size == 0 {
            return Err(Error::config("pg.pool_size", "must be at least 1"));
        }
        let (mut config, target) = Target::parse(url)?;
        config.connect_timeout(options.connect_timeout);
        if config.get_application_name().is_none() {
            config.application_name("framebreak");
        }
        let manager = Manager::from_config(
            config,
            NoTls,
            ManagerConfig {
                recycling_method: RecyclingMethod::Fast,
            },
        );
        let pool = Pool::builder(manager)
            .max_size(options.pool_size)
            .runtime(Runtime::Tokio1)
            .create_timeout(Some(options.connect_timeout))
            .wait_timeout(Some(options.connect_timeout))
            .build()
            .map_err(|e| target.connect_error(&e))?;
        let target = Arc::new(target);
        let store = Self {
            committer: Committer::start(&pool, &target),
            pool,
            queue: options.queue.into(),
            target,
            pool_size: options.pool_size,
            clock_offset_ms: options.clock_offset_ms,
            skew: Arc::default(),
        };
        // At first connect an unreachable server is a failure to connect,
        // not an outage to ride out.
        let client = store.client().await.map_err(|e| match e {
            Error::StoreUnavailable { reason, .. } => Error::StoreConnect {
                target: store.target(),
                reason,
            },
            other => other,
        })?;
        Ok((store, client))
    }

    /// This machine's clock, as the scheduler reads it (ms since the epoch).
    fn local_now(&self) -> u64 {
        crate::job::now_ms().saturating_add_signed(self.clock_offset_ms)
    }

    /// Measures the database's clock against this machine's.
    async fn measure_skew(&self, client: &Object) -> Result<()> {
        let before = self.local_now();
        let row = client
            .query_one(
                "SELECT (extract(epoch from clock_timestamp()) * 1000)::bigint",
                &[],
            )
            .await
            .map_err(|err| self.target.store_error("clock", &err))?;
        let after = self.local_now();
        let db: i64 = row.get(0);
        let local = i64::try_from(before / 2 + after / 2).unwrap_or(i64::MAX);
        self.skew.ms.store(
            db.saturating_sub(local),
            std::sync::atomic::Ordering::Relaxed,
        );
        *self
            .skew
            .measured
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = Some(std::time::Instant::now());
        Ok(())
    }

    /// A time of this machine's clock on the database's.
    fn to_db(&self, local_ms: u64) -> u64 {
        let skew = self.skew.ms.load(std::sync::atomic::Ordering::Relaxed);
        local_ms.saturating_add_signed(skew)
    }

    /// A time of the database's clock on this machine's.
    fn to_local(&self, db_ms: u64) -> u64 {
        let skew = self.skew.ms.load(std::sync::atomic::Ordering::Relaxed);
        db_ms.saturating_add_signed(skew.saturating_neg())
    }

    /// `update` with its times on the database's clock.
    fn update_to_db(&self, update: Update) -> Update {
        match update {
            Update::Heartbeat { lease, until_ms } => Update::Heartbeat {
                lease,
                until_ms: self.to_db(until_ms),
            },
            Update::Retry {
                lease,
                failure,
                not_before_ms,
            } => Update::Retry {
                lease,
                failure,
                not_before_ms: self.to_db(not_before_ms),
            },
            Update::Wait {
                lease,
                state,
                not_before_ms,
            } => Update::Wait {
                lease,
                state,
                not_before_ms: self.to_db(not_before_ms),
            },
            other => other,
        }
    }

    /// The same database and connections, scoped to another queue.
    pub fn with_queue(&self, queue: &str) -> Result<Self> {
        check_queue(queue)?;
        Ok(Self {
            queue: queue.into(),
            ..self.clone()
        })
    }

    /// The queue this store is scoped to.
    #[must_use]
    pub fn queue(&self) -> &str {
        &self.queue
    }

    /// Where the store connects, as `user@host:port/database` (no password).
    #[must_use]
    pub fn target(&self) -> String {
        self.target.to_string()
    }

    /// Every queue of the database with its jobs per state, by name.
    pub async fn queues(&self) -> Result<Vec<QueueCounts>> {
        let e = |err: tokio_postgres::Error| self.target.store_error("queues", &err);
        let client = self.client().await?;
        let rows = client
            .query(
                "SELECT queue, state, COUNT(*) FROM framebreak_jobs \
                 GROUP BY queue, state ORDER BY queue",
                &[],
            )
            .await
            .map_err(e)?;
        let mut out: Vec<QueueCounts> = Vec::new();
        for row in rows {
            let queue: String = row.try_get(0).map_err(e)?;
            let (state, n): (i16, i64) = (row.try_get(1).map_err(e)?, row.try_get(2).map_err(e)?);
            if out.last().is_none_or(|q| q.queue != queue) {
                out.push(QueueCounts {
                    queue,
                    counts: Counts::default(),
                });
            }
            if let Some(last) = out.last_mut() {
                ops::add(&mut last.counts, state, n)?;
            }
        }
        Ok(out)
    }

    /// What every queue of the database has committed in its spend ledger
    /// (queues that never held anything are absent).
    pub async fn spend_totals(&self) -> Result<std::collections::BTreeMap<String, u64>> {
        let e = |err: tokio_postgres::Error| self.target.store_error("spend_totals", &err);
        let client = self.client().await?;
        let rows = client
            .query("SELECT queue, committed FROM framebreak_spend_totals", &[])
            .await
            .map_err(e)?;
        rows.iter()
            .map(|r| {
                let committed: i64 = r.try_get(1).map_err(e)?;
                Ok((
                    r.try_get(0).map_err(e)?,
                    u64::try_from(committed).unwrap_or(0),
                ))
            })
            .collect()
    }

    /// Stores `value` under `key` for this store's queue, replacing what was
    /// there: what an application keeps beside its jobs (a campaign keeps
    /// its configuration here, so workers on other machines run it as it
    /// was submitted).
    pub async fn put_meta(&self, key: &str, value: &str) -> Result<()> {
        let client = self.client().await?;
        client
            .execute(
                "INSERT INTO framebreak_queue_meta (queue, key, value) VALUES ($1, $2, $3) \
                 ON CONFLICT (queue, key) DO UPDATE SET value = EXCLUDED.value, updated_at = now()",
                &[&&*self.queue, &key, &value],
            )
            .await
            .map_err(|err| self.target.store_error("put_meta", &err))?;
        Ok(())
    }

    /// Stores `value` under `key` for this store's queue unless a value is
    /// there already; returns whether it stored it. Of any number of
    /// callers at once, exactly one gets `true`.
    pub async fn put_meta_new(&self, key: &str, value: &str) -> Result<bool> {
        let client = self.client().await?;
        let added = client
            .execute(
                "INSERT INTO framebreak_queue_meta (queue, key, value) VALUES ($1, $2, $3) \
                 ON CONFLICT (queue, key) DO NOTHING",
                &[&&*self.queue, &key, &value],
            )
            .await
            .map_err(|err| self.target.store_error("put_meta_new", &err))?;
        Ok(added == 1)
    }

    /// Takes this queue's exclusive lock, if no other session holds it:
    /// what makes a process the only one filling a queue (a submit) while
    /// others may still work on it. The lock is the database's (a
    /// session-level advisory lock, on a connection taken out of the pool
    /// for it): it is released when the [`QueueLock`] is dropped, and by
    /// the server when the process dies or its connection breaks, so a
    /// killed holder never leaves it taken. `None` when another session
    /// holds it.
    pub async fn try_lock_queue(&self) -> Result<Option<QueueLock>> {
        let client = Object::take(self.client().await?);
        let taken: bool = client
            .query_one(
                "SELECT pg_try_advisory_lock($1, hashtext($2))",
                &[&QUEUE_LOCK_CLASS, &&*self.queue],
            )
            .await
            .and_then(|row| row.try_get(0))
            .map_err(|err| self.target.store_error("lock_queue", &err))?;
        Ok(taken.then(|| QueueLock { _client: client }))
    }

    /// Deletes this store's queue: its jobs, its metadata, its rate
    /// buckets and its spend ledger, in one transaction; returns how many jobs it held. Other
    /// queues are untouched. Workers still on the queue find nothing left
    /// to do (and their updates are answered stale).
    pub async fn drop_queue(&self) -> Result<u64> {
        let e = |err: tokio_postgres::Error| self.target.store_error("drop_queue", &err);
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(e)?;
        let jobs = tx
            .execute(
                "DELETE FROM framebreak_jobs WHERE queue = $1",
                &[&&*self.queue],
            )
            .await
            .map_err(e)?;
        for table in [
            "framebreak_queue_meta",
            "framebreak_rate_buckets",
            "framebreak_spend",
            "framebreak_spend_totals",
        ] {
            tx.execute(
                &format!("DELETE FROM {table} WHERE queue = $1"),
                &[&&*self.queue],
            )
            .await
            .map_err(e)?;
        }
        tx.commit().await.map_err(e)?;
        Ok(jobs)
    }

    /// The value stored under `key` for this store's queue, if any.
    pub async fn meta(&self, key: &str) -> Result<Option<String>> {
        let client = self.client().await?;
        let row = client
            .query_opt(
                "SELECT value FROM framebreak_queue_meta WHERE queue = $1 AND key = $2",
                &[&&*self.queue, &key],
            )
            .await
            .map_err(|err| self.target.store_error("meta", &err))?;
        row.map(|r| r.try_get(0))
            .transpose()
            .map_err(|err| self.target.store_error("meta", &err))
    }

    /// A rate limiter whose buckets live in this database, scoped to this
    /// store's queue: give it to
    /// [`SchedulerBuilder::shared_rate_limiter`](crate::SchedulerBuilder::shared_rate_limiter)
    /// on every worker of the campaign.
    #[must_use]
    pub fn rate_limiter(&self) -> PgRateLimiter {
        PgRateLimiter::new(
            self.pool.clone(),
            Arc::clone(&self.queue),
            Arc::clone(&self.target),
        )
    }

    /// This queue's spend ledger (see [`SpendLedger`](crate::SpendLedger)),
    /// in the database beside the jobs: every worker of the run holds from
    /// the same total.
    #[must_use]
    pub fn spend_ledger(&self) -> PgSpendLedger {
        PgSpendLedger {
            pool: self.pool.clone(),
            queue: Arc::clone(&self.queue),
            target: Arc::clone(&self.target),
        }
    }

    async fn client(&self) -> Result<Object> {
        self.pool
            .get()
            .await
            .map_err(|e| self.target.pool_error(&e))
    }
}

fn check_queue(queue: &str) -> Result<()> {
    let reason = if queue.is_empty() {
        "the queue name is empty".to_owned()
    } else if queue.len() > MAX_QUEUE_LEN {
        format!(
            "the queue name is {} bytes, over {MAX_QUEUE_LEN}",
            queue.len()
        )
    } else if queue.chars().any(char::is_control) {
        "the queue name contains a control character".to_owned()
    } else {
        return Ok(());
    };
    Err(Error::config("pg.queue", reason))
}

#[async_trait]
impl JobStore for PgStore {
    async fn enqueue(&self, jobs: Vec<NewJob>) -> Result<u64> {
        let e = |err: tokio_postgres::Error| self.target.store_error("enqueue", &err);
        let mut client = self.client().await?;
        if jobs.len() <= 1 {
            return ops::enqueue(&client, &self.queue, &jobs, &self.target).await;
        }
        // Several chunks commit together or not at all.
        let tx = client.transaction().await.map_err(e)?;
        let added = ops::enqueue(&tx, &self.queue, &jobs, &self.target).await?;
        tx.commit().await.map_err(e)?;
        Ok(added)
    }

    async fn lease(&self, request: &LeaseRequest) -> Result<Vec<Lease>> {
        let e = |err: tokio_postgres::Error| self.target.store_error("lease", &err);
        let mut client = self.client().await?;
        let stale = self
            .skew
            .measured
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .is_none_or(|at| at.elapsed() >= SKEW_EVERY);
        if stale {
            self.measure_skew(&client).await?;
        }
        // Whose lease has run out, and which retry is due, by the
        // database's clock.
        let request = LeaseRequest {
            now_ms: self.to_db(request.now_ms),
            ..request.clone()
        };
        // In a transaction so that a row that cannot be read back (corrupt)
        // is not left leased to nobody: the error rolls the lease back.
        let tx = client.transaction().await.map_err(e)?;
        let mut leases = ops::lease(&tx, &self.queue, &request, &self.target).await?;
        tx.commit().await.map_err(e)?;
        for lease in &mut leases {
            lease.expires_at_ms = self.to_local(lease.expires_at_ms);
        }
        Ok(leases)
    }

    async fn apply(&self, updates: Vec<Update>) -> Result<Vec<Applied>> {
        if updates.is_empty() {
            return Ok(Vec::new());
        }
        let updates: Vec<Update> = updates.into_iter().map(|u| self.update_to_db(u)).collect();
        let beats: Option<Vec<_>> = updates
            .iter()
            .map(|u| match u {
                Update::Heartbeat { lease, until_ms } => {
                    Some((lease.job.as_str(), lease.fence, *until_ms))
                }
                _ => None,
            })
            .collect();
        match beats {
            Some(beats) if beats.len() > 1 => {
                let client = self.client().await?;
                ops::heartbeats(&client, &self.queue, &beats, &self.target).await
            }
            _ => self.committer.apply(Arc::clone(&self.queue), updates).await,
        }
    }

    async fn counts(&self) -> Result<Counts> {
        let client = self.client().await?;
        ops::counts(&client, &self.queue, &self.target).await
    }

    async fn finished(&self, after: Option<u64>, limit: usize) -> Result<Page> {
        let client = self.client().await?;
        ops::finished(&client, &self.queue, after, limit, &self.target).await
    }

    async fn requeue_failed(&self, ids: Vec<JobId>) -> Result<u64> {
        let client = self.client().await?;
        let e = |err: tokio_postgres::Error| self.target.store_error("requeue_failed", &err);
        let ids: Vec<&str> = ids.iter().map(JobId::as_str).collect();
        client
            .execute(
                "UPDATE framebreak_jobs SET state = 0, attempts = 0, failure = NULL, \
                 intent = FALSE, not_before = 0 \
                 WHERE queue = $1 AND id = ANY($2) AND state IN (3, 4)",
                &[&&*self.queue, &ids],
            )
            .await
            .map_err(e)
    }
}
