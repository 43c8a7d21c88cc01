//! The crate's one public error type.

use std::path::PathBuf;

/// Everything that can go wrong in the scheduler itself (a job's own failures
/// are [`Failure`](crate::Failure)s, not errors: they are recorded, not raised).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A store could not be opened at `path`.
    #[error("cannot open job store at {path}: {reason}")]
    StoreOpen {
        /// The file the store lives in.
        path: PathBuf,
        /// What the database said.
        reason: String,
    },
    /// A database server could not be reached or refused the login. `target`
    /// is `user@host:port/database`: the password is never part of it (nor of
    /// `reason`).
    #[error("cannot connect to the job store at {target}: {reason}")]
    StoreConnect {
        /// Where the store was looked for, without the password.
        target: String,
        /// Why it failed.
        reason: String,
    },
    /// A store's connection string could not be parsed; it is not repeated
    /// here because it may hold a password.
    #[error("invalid job store connection string: {reason}")]
    InvalidStoreUrl {
        /// What is wrong with it.
        reason: String,
    },
    /// A store operation failed; nothing that was committed before is lost.
    #[error("job store operation `{operation}` failed: {reason}")]
    Store {
        /// The operation (`enqueue`, `lease`, `apply`, …).
        operation: &'static str,
        /// What the database said.
        reason: String,
    },
    /// The store's server could not be reached, or dropped the connection
    /// while the operation ran: the kind of failure that passes once the
    /// server is back (a restart, a network cut). A write answered this way
    /// may or may not have been committed; the scheduler retries it for up
    /// to its `store_outage` setting (every write is fenced or idempotent,
    /// so a second try of a committed write changes nothing) and returns
    /// this error only once the store has stayed away that long.
    #[error("job store operation `{operation}` failed: the store is unreachable: {reason}")]
    StoreUnavailable {
        /// The operation (`enqueue`, `lease`, `apply`, …).
        operation: &'static str,
        /// What the database or the network said.
        reason: String,
    },
    /// The database's framebreak schema is not the version this build
    /// works with: absent or older (`found` < `expected`: migrate it, with
    /// [`PgStore::migrate`](crate::PgStore::migrate) or `framebreak db
    /// migrate`), or newer (upgrade this build). A store that only checks
    /// the schema never creates or changes a table.
    #[error("{}", schema_message(target, *found, *expected))]
    StoreSchema {
        /// Where the store was looked for, without the password.
        target: String,
        /// The newest migration the database records (0: none, no schema).
        found: i32,
        /// The newest this build knows.
        expected: i32,
    },
    /// The store's worker is gone (its thread panicked or the store was dropped).
    #[error("job store `{store}` is closed")]
    StoreClosed {
        /// Which store.
        store: &'static str,
    },
    /// A stored row could not be read back as a job.
    #[error("job `{job}` in the store is corrupt: {reason}")]
    Corrupt {
        /// The job id.
        job: String,
        /// What is wrong with it.
        reason: String,
    },
    /// A job given to the scheduler is invalid.
    #[error("invalid job `{job}`: {reason}")]
    InvalidJob {
        /// The job id as given.
        job: String,
        /// What is wrong with it.
        reason: String,
    },
    /// A handler panicked while running a step of `job`; the run stopped and
    /// the job was given back with its step marked as possibly executed.
    #[error("the handler panicked on job `{job}`: {message}")]
    HandlerPanicked {
        /// The job.
        job: String,
        /// The panic message.
        message: String,
    },
    /// A configuration value is out of range.
    #[error("invalid scheduler setting `{setting}`: {reason}")]
    InvalidConfig {
        /// The setting's name.
        setting: &'static str,
        /// Why it was refused.
        reason: String,
    },
}

fn schema_message(target: &str, found: i32, expected: i32) -> String {
    if found > expected {
        format!(
            "the job store at {target} has schema version {found}, newer than this build \
             knows ({expected}); upgrade framebreak on this machine"
        )
    } else if found == 0 {
        format!(
            "the job store at {target} has no framebreak schema (this build needs version \
             {expected}); create it with `framebreak db migrate --store …` (or \
             PgStore::migrate), as a role that may create tables; is this the right database?"
        )
    } else {
        format!(
            "the job store at {target} has schema version {found}, this build needs \
             {expected}; upgrade it with `framebreak db migrate --store …` (or \
             PgStore::migrate), as a role that may alter tables"
        )
    }
}

/// `Result` with this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// Whether the failure may pass by itself (the store is unreachable for
    /// now, [`Error::StoreUnavailable`]) so that trying again later makes
    /// sense. Every other error is permanent: trying again gives the same
    /// answer.
    #[must_use]
    pub fn is_transient(&self) -> bool {
        matches!(self, Self::StoreUnavailable { .. })
    }

    pub(crate) fn store(operation: &'static str, err: impl std::fmt::Display) -> Self {
        Self::Store {
            operation,
            reason: err.to_string(),
        }
    }

    pub(crate) fn config(setting: &'static str, reason: impl Into<String>) -> Self {
        Self::InvalidConfig {
            setting,
            reason: reason.into(),
        }
    }
}
