//! Where a campaign's jobs live: SQLite in the run folder (one machine), or
//! PostgreSQL (any number of workers on any number of machines, one queue
//! per run).

use std::sync::Arc;

use framebreak_scheduler::{Counts, JobStore, SqliteStore};

use crate::campaign::{CampaignConfig, Error, RunDir, STORE_FILE, StoreProblem, redact_url};

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
}

impl std::fmt::Debug for RunStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Sqlite(s) => f.debug_tuple("Sqlite").field(&s.path()).finish(),
            #[cfg(feature = "postgres")]
            Self::Postgres(p) => f.debug_tuple("Postgres").field(p).finish(),
        }
    }
}

/// Whether `store` names a PostgreSQL database.
#[must_use]
pub fn is_postgres(store: &str) -> bool {
    store == "postgres" || store.starts_with("postgres://") || store.starts_with("postgresql://")
}

impl RunStore {
    /// Opens the store `config.scheduler.store` names for run `run_id`,
    /// whose folder on this machine is `run_dir`.
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
        let store = config.scheduler.store.as_str();
        if store == "sqlite" {
            return Ok(Self::Sqlite(Arc::new(SqliteStore::open(
                run_dir.join(STORE_FILE),
            )?)));
        }
        if is_postgres(store) {
            return Self::postgres(store, run_id).await;
        }
        Err(Error::Config {
            source_name: "scheduler.store".into(),
            reason: format!(
                "{:?} is not a store: use `sqlite`, `postgres://…`, or `postgres` with {DATABASE_URL} set",
                redact_url(store)
            ),
        })
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
        let is_sqlite = config.scheduler.store == "sqlite";
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
        let store = Self::open(config, run.id(), run.path()).await?;
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
    async fn postgres(store: &str, run_id: &str) -> Result<Self, Error> {
        let url = if store == "postgres" {
            std::env::var(DATABASE_URL).map_err(|_| Error::Config {
                source_name: "scheduler.store".into(),
                reason: format!(
                    "`postgres` reads the connection string from {DATABASE_URL}, which is not set"
                ),
            })?
        } else {
            store.to_owned()
        };
        Ok(Self::Postgres(
            framebreak_scheduler::PgStore::connect(&url, run_id).await?,
        ))
    }

    #[cfg(not(feature = "postgres"))]
    async fn postgres(_store: &str, _run_id: &str) -> Result<Self, Error> {
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
        }
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
        }
    }

    /// Whether many workers share it.
    #[must_use]
    pub fn is_shared(&self) -> bool {
        !matches!(self, Self::Sqlite(_))
    }

    /// The store's metadata value under `key` for the run.
    async fn meta(&self, key: &str) -> Result<Option<String>, Error> {
        match self {
            Self::Sqlite(s) => Ok(s.meta(key).await?),
            #[cfg(feature = "postgres")]
            Self::Postgres(p) => Ok(p.meta(key).await?),
        }
    }

    /// Sets the store's metadata value for the run.
    async fn put_meta(&self, key: &str, value: &str) -> Result<(), Error> {
        match self {
            Self::Sqlite(s) => Ok(s.put_meta(key, value).await?),
            #[cfg(feature = "postgres")]
            Self::Postgres(p) => Ok(p.put_meta(key, value).await?),
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
