//! The one error type of a campaign.

use std::path::PathBuf;

/// What can go wrong setting up, running or reading a campaign.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A configuration value (or file) is wrong.
    #[error("{source_name}: {reason}")]
    Config {
        /// The key, file or variable at fault.
        source_name: String,
        /// What is wrong with it.
        reason: String,
    },
    /// No run with this id in the runs folder.
    #[error("no run {run_id:?} in {}: {reason}", runs_dir.display())]
    RunNotFound {
        /// The id asked for.
        run_id: String,
        /// Where it was looked for.
        runs_dir: PathBuf,
        /// What was missing.
        reason: String,
    },
    /// A run's job store cannot be the run's: it is missing, empty, another
    /// run's, or behind the reports already written. Reading it would take
    /// the run for an empty one and overwrite its reports with nothing.
    #[error("run {run_id}: its job store {} {problem}; {}", path.display(), problem.remedy(run_id))]
    StoreLost {
        /// The run.
        run_id: String,
        /// The store's file.
        path: PathBuf,
        /// What is wrong with it.
        problem: StoreProblem,
    },
    /// A shared store's run whose submit has not finished: it is still
    /// enqueueing, or it was interrupted. Working on it would finish the
    /// jobs that got in and report the run complete.
    #[error(
        "run {run_id}: its submit has not finished (it is enqueueing now, or it was \
         interrupted): wait for it, run the same `framebreak submit --run-id {run_id} …` \
         again to finish it, or remove the run with `framebreak db drop-run {run_id}`"
    )]
    SubmitUnfinished {
        /// The run.
        run_id: String,
    },
    /// A run id a new submit cannot have: another submit of it is running,
    /// or the store holds it already (submitted, or interrupted with
    /// another configuration).
    #[error("run id {run_id:?}: {reason}")]
    RunIdTaken {
        /// The id asked for.
        run_id: String,
        /// Why it cannot be used, and what to do.
        reason: String,
    },
    /// A file of the run folder cannot be read or written.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// The run's shared video store ([`crate::campaign::VideoStore`]) cannot
    /// be reached, written or read.
    #[error("video store {url}: {reason}")]
    Videos {
        /// The store's URL, as configured (it holds no credential).
        url: String,
        /// What failed.
        reason: String,
    },
    /// A finished job's record that no report row can be made of.
    #[error(transparent)]
    UnreadableRow(#[from] crate::row::UnreadableRow),
    /// A report could not be made or written.
    #[error(transparent)]
    Report(#[from] crate::report::Error),
    /// The prompts or the trap catalogue.
    #[error(transparent)]
    Variants(#[from] framebreak_variants::Error),
    /// The job store or the scheduler.
    #[error(transparent)]
    Scheduler(#[from] framebreak_scheduler::Error),
    /// The backend's configuration (a missing key, a bad URL).
    #[error(transparent)]
    Client(#[from] framebreak_client::Error),
    /// The simulated model.
    #[error(transparent)]
    Sim(#[from] framebreak_sim::Error),
    /// The compute devices.
    #[error(transparent)]
    Gpu(#[from] framebreak_gpu::Error),
}

impl Error {
    pub(crate) fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Self::Io {
            path: path.into(),
            source,
        }
    }
}

/// What is wrong with a run's job store ([`Error::StoreLost`]).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum StoreProblem {
    /// The file is gone, though the run folder says jobs were enqueued.
    Missing {
        /// Jobs the run folder says were enqueued.
        enqueued: u64,
    },
    /// The file is there but holds nothing (0 bytes, or no jobs), though
    /// the run folder says jobs were enqueued.
    Empty {
        /// Jobs the run folder says were enqueued.
        enqueued: u64,
    },
    /// The store says it belongs to another run.
    OtherRun {
        /// The run it belongs to.
        owner: String,
    },
    /// The store has fewer done jobs than the run folder recorded it had:
    /// its newest writes are gone (a `-wal` file deleted or replaced after a
    /// kill, a copy from a backup).
    LostWrites {
        /// Done jobs in the store.
        done: u64,
        /// Done jobs the run folder's `done` file recorded.
        marked: u64,
    },
    /// The store has fewer jobs (or fewer done ones) than the rows of the
    /// reports already written from it (`results.jsonl`).
    Behind {
        /// Jobs (or done jobs) in the store.
        store: u64,
        /// Rows (or done rows) in `results.jsonl`.
        reported: u64,
    },
}

impl std::fmt::Display for StoreProblem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Missing { enqueued } => write!(
                f,
                "is missing, though the run folder says {enqueued} jobs were enqueued"
            ),
            Self::Empty { enqueued } => write!(
                f,
                "holds no jobs, though the run folder says {enqueued} were enqueued"
            ),
            Self::OtherRun { owner } => write!(f, "belongs to run {owner}"),
            Self::LostWrites { done, marked } => write!(
                f,
                "has {done} jobs done, though the run folder recorded {marked}: it lost its \
                 newest writes (a jobs.sqlite-wal deleted or replaced after a kill?); resuming \
                 would run up to {} finished jobs again, and pay for them again",
                marked - done
            ),
            Self::Behind { store, reported } => write!(
                f,
                "is behind the reports already written: {store} jobs against {reported} rows \
                 of results.jsonl (done ones, or all); they are not overwritten"
            ),
        }
    }
}

impl StoreProblem {
    /// How to recover, for the error message.
    fn remedy(&self, run_id: &str) -> String {
        match self {
            Self::OtherRun { owner } => format!(
                "put run {owner}'s store back in its own folder and run {run_id}'s here; nothing was changed"
            ),
            Self::LostWrites { .. } => format!(
                "nothing was changed: put the run's jobs.sqlite-wal back if you still have it; to \
                 run those jobs again knowingly, delete the run folder's `done` file and resume \
                 {run_id}"
            ),
            Self::Behind { .. } => format!(
                "put the run's jobs.sqlite (with its jobs.sqlite-wal, if any) back from a backup, \
                 or write the reports elsewhere with `framebreak report {run_id} -o FILE`"
            ),
            _ => format!(
                "nothing was changed and the reports in the run folder are kept: put the run's \
                 jobs.sqlite (with its jobs.sqlite-wal, if any) back from a backup, or start a \
                 new run with `framebreak run` (run {run_id} cannot go on without its store)"
            ),
        }
    }
}
