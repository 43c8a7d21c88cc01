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
    /// A file of the run folder cannot be read or written.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
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
