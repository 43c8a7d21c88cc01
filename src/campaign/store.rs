//! Where a campaign's jobs live: SQLite in the run folder (one machine), or
//! PostgreSQL (any number of workers on any number of machines, one queue
//! per run).

use std::sync::Arc;

use framebreak_scheduler::{Counts, JobStore, SqliteStore};

use crate::campaign::{
    CampaignConfig, Error, RunDir, STORE_FILE, StoreProblem, StoreUrl, redact_url,
};

/// The environment variable holding a PostgreSQL connection string, used
/// when the store is given as plain `postgres` (so that the password never
/// sits on a command line or in a file).
pub const DATABASE_URL: &str = "DATABASE_URL";

/// Metadata key under which a PostgreSQL run keeps its configuration, so
/// workers on other machines run it as it was submitted.
const CONFIG_KEY: &str = "campaign.toml";
/// Metadata key set once every variant of a run is enqueued.
const ENQUEUED_KEY: &str = "enqueued";
/// Metadata key naming the run a SQLite store belongs to, so that a store
/// copied or moved into another run's folder is not taken for that run's.
const RUN_ID_KEY: &str = "run_id";

/// A run's job store.
#[derive(Clone)]
pub enum RunStore {
    /// `jobs.sqlite` in the run folder.
    Sqlite(Arc<SqliteStore>),
    /// A queue named after the run in a PostgreSQL database.
    #[cfg(feature = "postgres")]
    Postgres(framebreak_scheduler::PgStore),
    /// A store given in code ([`CampaignBuilder::store`](crate::campaign::CampaignBuilder::store)),
    /// with its spend ledger. It keeps no metadata: the run folder holds
    /// the run's marks, and one process at a time works on it (the folder's
    /// lock).
    Custom {
        /// The jobs.
        jobs: Arc<dyn JobStore>,
        /// The spend ledger.
        ledger: Arc<dyn framebreak_scheduler::SpendLedger>,
    },
}

impl std::fmt::Debug for RunStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Sqlite(s) => f.debug_tuple("Sqlite").field(&s.path()).finish(),
            #[cfg(feature = "postgres")]
            Self::Postgres(p) => f.debug_tuple("Postgres").field(p).finish(),
            Self::Custom { .. } => f.write_str("Custom"),
        }
    }
}

/// Whether `store` names a PostgreSQL database.
#[must_use]
pub fn is_postgres(store: &str) -> bool {
    store == "postgres" || store.starts_with("postgres://") || store.starts_with("postgresql://")
}

/// Removes run `run_id` from the shared store `store` (`postgres://…`, or
/// `postgres` with `DATABASE_URL`): its jobs, its stored configuration and
/// its rate buckets, in one transaction; returns how many jobs it held.
/// What to do with an interrupted submit that will not be finished, or a
/// run no longer wanted. Other runs are untouched; run folders on the
/// machines that worked on it are not (delete them there).
///
/// # Errors
///
/// [`Error::Config`] when `store` is not a PostgreSQL store;
/// [`Error::RunNotFound`] when the store holds no such run;
/// [`Error::RunIdTaken`] while a submit of it is enqueueing;
/// [`Error::Scheduler`] when the database refuses.
pub async fn drop_run(store: &str, run_id: &str) -> Result<u64, Error> {
    let mut config = CampaignConfig::default();
    config.scheduler.store = store.parse()?;
    let attached = RunStore::attach(&config, run_id).await?;
    #[cfg(feature = "postgres")]
    if let RunStore::Postgres(pg) = &attached {
        let counts = pg.counts().await?;
        if counts.total() == 0 && attached.load_config().await?.is_none() {
            return Err(Error::RunNotFound {
                run_id: run_id.to_owned(),
                runs_dir: redact_url(store).into(),
                reason: "the store holds no run with this id".into(),
            });
        }
        let Some(_lock) = pg.try_lock_queue().await? else {
            return Err(Error::RunIdTaken {
                run_id: run_id.to_owned(),
                reason: "a `framebreak submit` of this run is enqueueing it now; stop it first"
                    .into(),
            });
        };
        return Ok(pg.drop_queue().await?);
    }
    drop(attached);
    Err(Error::Config {
        source_name: "scheduler.store".into(),
        reason: "only a PostgreSQL store holds runs to drop".into(),
    })
}

/// A submit's hold on its run id in a shared store (see
/// [`RunStore::claim_submit`]), released when dropped.
#[derive(Debug, Default)]
pub(crate) struct SubmitHold {
    #[cfg(feature = "postgres")]
    _lock: Option<framebreak_scheduler::QueueLock>,
}

/// Whether the stored configuration `stored` (redacted TOML) describes the
/// same campaign as `config`, whose redacted TOML is `text`: equal but for
/// where the submitting machine keeps its run folders and how it names the
/// store.
#[cfg(feature = "postgres")]
fn same_campaign(stored: &str, config: &CampaignConfig, text: &str) -> bool {
    let Ok(mut theirs) = crate::campaign::ConfigLoader::new()
        .toml(stored, "the stored configuration")
        .and_then(crate::campaign::ConfigLoader::build)
    else {
        return false;
    };
    theirs.output.runs_dir.clone_from(&config.output.runs_dir);
    theirs.scheduler.store.clone_from(&config.scheduler.store);
    theirs.to_toml_redacted() == text
}

/// [`Error::Config`] unless `store` names a PostgreSQL store: only such a
/// store `does` what the caller needs.
fn require_postgres(store: &str, does: &str) -> Result<(), Error> {
    if is_postgres(store) {
        return Ok(());
    }
    Err(Error::Config {
        source_name: "scheduler.store".into(),
        reason: format!(
            "{:?}: only a PostgreSQL store (postgres://…, or `postgres` with {DATABASE_URL}) {does}",
            redact_url(store)
        ),
    })
}

/// The connection string `store` stands for: itself, or `DATABASE_URL`'s
/// value for `postgres`.
#[cfg(feature = "postgres")]
fn postgres_url(store: &str) -> Result<String, Error> {
    if store == "postgres" {
        std::env::var(DATABASE_URL).map_err(|_| Error::Config {
            source_name: "scheduler.store".into(),
            reason: format!(
                "`postgres` reads the connection string from {DATABASE_URL}, which is not set"
            ),
        })
    } else {
        Ok(store.to_owned())
    }
}

/// Creates or upgrades the framebreak schema of the PostgreSQL store
/// `store` (`postgres://…`, or `postgres` with `DATABASE_URL`); returns the
/// migrations it applied (none when it was current). The role must be
/// allowed to create tables; workers, `status` and `report` then need only
/// read and write rights.
///
/// # Errors
///
/// [`Error::Config`] when `store` is not a PostgreSQL store (or this build
/// has none); [`Error::Scheduler`] when the database refuses.
pub async fn migrate_store(store: &str) -> Result<Vec<i32>, Error> {
    require_postgres(
        store,
        "has a schema to migrate; a run folder's SQLite store makes its own",
    )?;
    #[cfg(feature = "postgres")]
    {
        Ok(framebreak_scheduler::PgStore::migrate(&postgres_url(store)?).await?)
    }
    #[cfg(not(feature = "postgres"))]
    {
        Err(Error::Config {
            source_name: "scheduler.store".into(),
            reason: "this build has no PostgreSQL support (build with the `postgres` feature)"
                .into(),
        })
    }
}

impl RunStore {
    /// Opens the store `config.scheduler.store` names for run `run_id`,
    /// whose folder on this machine is `run_dir`. A PostgreSQL database's
    /// schema is created or upgraded here (the role must be allowed to):
    /// this is how a new run opens its store.
    ///
    /// # Errors
    ///
    /// [`Error`] when it cannot be opened (the message never holds a
    /// password).
    pub async fn open(
        config: &CampaignConfig,
        run_id: &str,
        run_dir: &std::path::Path,
    ) -> Result<Self, Error> {
        Self::open_as(config, run_id, run_dir, true).await
    }

    /// Opens the shared store `config.scheduler.store` names, scoped to run
    /// `run_id`, to work on or read a run submitted before: the database's
    /// schema is only checked, never created or changed (a worker's role
    /// needs no right to create tables, and a wrong database is refused
    /// untouched).
    ///
    /// # Errors
    ///
    /// [`Error::Config`] when the store is not a PostgreSQL one;
    /// [`Error::Scheduler`] when it cannot be opened or its schema is not
    /// this build's ([`framebreak_scheduler::Error::StoreSchema`]).
    pub async fn attach(config: &CampaignConfig, run_id: &str) -> Result<Self, Error> {
        let store = config.scheduler.store.as_str();
        require_postgres(store, "holds runs by id")?;
        Self::postgres(store, run_id, false).await
    }

    async fn open_as(
        config: &CampaignConfig,
        run_id: &str,
        run_dir: &std::path::Path,
        migrate: bool,
    ) -> Result<Self, Error> {
        match &config.scheduler.store {
            StoreUrl::Sqlite => Ok(Self::Sqlite(Arc::new(SqliteStore::open(
                run_dir.join(STORE_FILE),
            )?))),
            StoreUrl::Postgres(url) => Self::postgres(url, run_id, migrate).await,
        }
    }

    /// Opens the store of an existing run (to resume it or to read it),
    /// refusing a SQLite store that cannot be the run's: missing or of 0
    /// bytes, or holding no jobs, once the run folder says jobs were
    /// enqueued; one that says it belongs to another run; or one with fewer
    /// jobs done than the run folder recorded (it lost its newest writes). Opening such
    /// a file would create an empty store and take the run for one.
    ///
    /// # Errors
    ///
    /// [`Error::StoreLost`] saying what is wrong and how to recover; as
    /// [`RunStore::open`] otherwise.
    pub async fn open_existing(config: &CampaignConfig, run: &RunDir) -> Result<Self, Error> {
        if let Some(name) = &config.in_code.store {
            return Err(Error::Config {
                source_name: format!("run {:?}", run.id()),
                reason: format!(
                    "its jobs are in a job store given in code ({name:?}); open it with \
                     `Campaign::builder(…).store(…).open(…)` and that store"
                ),
            });
        }
        let is_sqlite = !config.scheduler.store.is_postgres();
        let path = run.path().join(STORE_FILE);
        let lost = |problem| Error::StoreLost {
            run_id: run.id().to_owned(),
            path: path.clone(),
            problem,
        };
        let enqueued = run.enqueued().filter(|&n| n > 0);
        if is_sqlite && let Some(enqueued) = enqueued {
            match std::fs::metadata(&path) {
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                    return Err(lost(StoreProblem::Missing { enqueued }));
                }
                Ok(m) if m.len() == 0 => return Err(lost(StoreProblem::Empty { enqueued })),
                _ => {}
            }
        }
        let store = Self::open_as(config, run.id(), run.path(), false).await?;
        let Self::Sqlite(sqlite) = &store else {
            return Ok(store);
        };
        if let Some(owner) = sqlite.meta(RUN_ID_KEY).await?
            && owner != run.id()
        {
            return Err(lost(StoreProblem::OtherRun { owner }));
        }
        let marked = store.enqueued().await?.filter(|&n| n > 0);
        let counts = sqlite.counts().await?;
        if let Some(enqueued) = enqueued.or(marked)
            && counts.total() == 0
        {
            return Err(lost(StoreProblem::Empty { enqueued }));
        }
        if let Some(marked) = run.done_mark()
            && counts.done < marked
        {
            return Err(lost(StoreProblem::LostWrites {
                done: counts.done,
                marked,
            }));
        }
        Ok(store)
    }

    /// Records in a SQLite store the run it belongs to, unless it says so
    /// already (a shared store's queue is named after its run).
    pub(crate) async fn claim(&self, run_id: &str) -> Result<(), Error> {
        if matches!(self, Self::Sqlite(_)) && self.meta(RUN_ID_KEY).await?.is_none() {
            self.put_meta(RUN_ID_KEY, run_id).await?;
        }
        Ok(())
    }

    #[cfg(feature = "postgres")]
    async fn postgres(store: &str, run_id: &str, migrate: bool) -> Result<Self, Error> {
        let url = postgres_url(store)?;
        let options = framebreak_scheduler::PgOptions {
            queue: run_id.to_owned(),
            migrate,
            ..framebreak_scheduler::PgOptions::default()
        };
        Ok(Self::Postgres(
            framebreak_scheduler::PgStore::connect_with(&url, options).await?,
        ))
    }

    #[cfg(not(feature = "postgres"))]
    async fn postgres(_store: &str, _run_id: &str, _migrate: bool) -> Result<Self, Error> {
        Err(Error::Config {
            source_name: "scheduler.store".into(),
            reason: "this build has no PostgreSQL support (build with the `postgres` feature)"
                .into(),
        })
    }

    /// The store, for the scheduler.
    #[must_use]
    pub fn jobs(&self) -> Arc<dyn JobStore> {
        match self {
            Self::Sqlite(s) => s.clone(),
            #[cfg(feature = "postgres")]
            Self::Postgres(p) => Arc::new(p.clone()),
            Self::Custom { jobs, .. } => jobs.clone(),
        }
    }

    /// The run's spend ledger, beside its jobs (every worker of a shared
    /// store holds from the same total).
    #[must_use]
    pub fn ledger(&self) -> Arc<dyn framebreak_scheduler::SpendLedger> {
        match self {
            Self::Sqlite(s) => s.clone(),
            #[cfg(feature = "postgres")]
            Self::Postgres(p) => Arc::new(p.spend_ledger()),
            Self::Custom { ledger, .. } => ledger.clone(),
        }
    }

    /// What each run of the store has committed in its spend ledger: all
    /// the queues of a PostgreSQL database, or the one run of a SQLite
    /// file (runs that never held anything are absent).
    ///
    /// # Errors
    ///
    /// [`Error::Scheduler`] when the store fails.
    pub async fn spend_by_run(
        &self,
        this_run: &str,
    ) -> Result<std::collections::BTreeMap<String, crate::cost::Usd>, Error> {
        let totals = match self {
            Self::Sqlite(s) => {
                use framebreak_scheduler::SpendLedger;
                let committed = s.committed().await?;
                std::iter::once((this_run.to_owned(), committed))
                    .filter(|(_, c)| *c > 0)
                    .collect()
            }
            #[cfg(feature = "postgres")]
            Self::Postgres(p) => p.spend_totals().await?,
            Self::Custom { ledger, .. } => {
                let committed = ledger.committed().await?;
                std::iter::once((this_run.to_owned(), committed))
                    .filter(|(_, c)| *c > 0)
                    .collect()
            }
        };
        Ok(totals
            .into_iter()
            .map(|(run, micros)| (run, crate::cost::Usd::from_micros(micros)))
            .collect())
    }

    /// Every run the store holds with its jobs per state: all the queues of
    /// a PostgreSQL database, or the one run of a SQLite file.
    ///
    /// # Errors
    ///
    /// [`Error::Scheduler`] when the store fails.
    pub async fn runs(&self, this_run: &str) -> Result<Vec<(String, Counts)>, Error> {
        match self {
            Self::Sqlite(s) => Ok(vec![(this_run.to_owned(), s.counts().await?)]),
            #[cfg(feature = "postgres")]
            Self::Postgres(p) => Ok(p
                .queues()
                .await?
                .into_iter()
                .map(|q| (q.queue, q.counts))
                .collect()),
            Self::Custom { jobs, .. } => Ok(vec![(this_run.to_owned(), jobs.counts().await?)]),
        }
    }

    /// Whether many workers share it (and it, not the run folder, holds the
    /// run's marks).
    #[must_use]
    pub fn is_shared(&self) -> bool {
        match self {
            Self::Sqlite(_) | Self::Custom { .. } => false,
            #[cfg(feature = "postgres")]
            Self::Postgres(_) => true,
        }
    }

    /// The store's metadata value under `key` for the run.
    async fn meta(&self, key: &str) -> Result<Option<String>, Error> {
        match self {
            Self::Sqlite(s) => Ok(s.meta(key).await?),
            #[cfg(feature = "postgres")]
            Self::Postgres(p) => Ok(p.meta(key).await?),
            Self::Custom { .. } => Ok(None),
        }
    }

    /// Sets the store's metadata value for the run.
    async fn put_meta(&self, key: &str, value: &str) -> Result<(), Error> {
        match self {
            Self::Sqlite(s) => Ok(s.put_meta(key, value).await?),
            #[cfg(feature = "postgres")]
            Self::Postgres(p) => Ok(p.put_meta(key, value).await?),
            Self::Custom { .. } => Ok(()),
        }
    }

    /// Claims run `run_id` in the store for a new run (or submit) of
    /// `config`, and keeps the configuration there. A SQLite store is the
    /// run folder's own, just made. In a shared store the claim is atomic:
    /// of two submits of one id at once, one gets it; it holds the run's
    /// lock until the returned [`SubmitHold`] is dropped (the database
    /// drops it if the process dies), so that a submit interrupted part-way
    /// can be finished by the same submit run again, from any machine.
    ///
    /// # Errors
    ///
    /// [`Error::RunIdTaken`] when another submit of the id is running, the
    /// store holds it submitted already, or holds an unfinished submit of
    /// it with another configuration.
    pub(crate) async fn claim_submit(
        &self,
        run_id: &str,
        config: &CampaignConfig,
    ) -> Result<SubmitHold, Error> {
        let text = config.to_toml_redacted();
        match self {
            Self::Sqlite(_) | Self::Custom { .. } => {
                self.save_config(&text).await?;
                Ok(SubmitHold::default())
            }
            #[cfg(feature = "postgres")]
            Self::Postgres(pg) => {
                let taken = |reason: &str| Error::RunIdTaken {
                    run_id: run_id.to_owned(),
                    reason: reason.to_owned(),
                };
                let Some(lock) = pg.try_lock_queue().await? else {
                    return Err(taken(
                        "another `framebreak submit` of this run id is enqueueing it now",
                    ));
                };
                if !pg.put_meta_new(CONFIG_KEY, &text).await? {
                    if self.enqueued().await?.is_some() {
                        return Err(taken(
                            "the store already holds a submitted run with this id; choose \
                             another --run-id, or start workers on it",
                        ));
                    }
                    let stored = self.load_config().await?.unwrap_or_default();
                    if !same_campaign(&stored, config, &text) {
                        return Err(taken(&format!(
                            "the store holds an unfinished submit of this run id with another \
                             configuration; submit it again with the same settings to finish \
                             it, or remove it with `framebreak db drop-run {run_id}`"
                        )));
                    }
                    tracing::info!(run_id, "finishing an interrupted submit");
                }
                Ok(SubmitHold { _lock: Some(lock) })
            }
        }
    }

    /// Keeps the run's configuration in the store.
    pub(crate) async fn save_config(&self, text: &str) -> Result<(), Error> {
        self.put_meta(CONFIG_KEY, text).await
    }

    /// The configuration the store keeps for the run, if any.
    pub(crate) async fn load_config(&self) -> Result<Option<String>, Error> {
        self.meta(CONFIG_KEY).await
    }

    /// Records in the store that every variant is enqueued.
    pub(crate) async fn mark_enqueued(&self, count: u64) -> Result<(), Error> {
        self.put_meta(ENQUEUED_KEY, &count.to_string()).await
    }

    /// Whether the store says every variant is enqueued.
    pub(crate) async fn enqueued(&self) -> Result<Option<u64>, Error> {
        Ok(self.meta(ENQUEUED_KEY).await?.and_then(|v| v.parse().ok()))
    }
}
