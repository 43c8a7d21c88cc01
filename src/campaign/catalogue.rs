//! The catalogue of runs: every run of a folder of run folders, or of a
//! PostgreSQL store, with where its jobs stand and what it committed.

use std::path::Path;

use framebreak_scheduler::Counts;

use crate::campaign::{
    CampaignConfig, Error, RunDir, RunStore, StoreUrl, is_postgres, unknown_submissions,
};
use crate::cost::Usd;

/// One run in the catalogue.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunStatus {
    /// Its id.
    pub run: String,
    /// Its jobs per state.
    pub counts: Counts,
    /// Its jobs ended `unknown_submission` (the provider may have made and
    /// may bill each); `None` where they were not counted (every run of a
    /// PostgreSQL store at once).
    pub unknown_submissions: Option<u64>,
    /// What it committed in its spend ledger, if it ever held anything.
    pub spent: Option<Usd>,
}

/// The runs `store` holds, or those in `runs_dir` when `store` is not a
/// PostgreSQL one; only run `run` when given. Run folders whose
/// configuration cannot be read, those of PostgreSQL runs and those whose
/// jobs are in a store given in code are skipped when listing a folder; a
/// run asked for by id is opened or refused.
///
/// # Errors
///
/// [`Error::RunNotFound`] when `run` is not there; [`Error::StoreLost`]
/// when a run's store is missing, empty or another run's; [`Error::Config`]
/// for a store that is neither SQLite nor PostgreSQL.
pub async fn runs(
    runs_dir: &Path,
    store: Option<&str>,
    run: Option<&str>,
) -> Result<Vec<RunStatus>, Error> {
    if let Some(store) = store.filter(|s| is_postgres(s)) {
        return shared_runs(store, run).await;
    }
    if let Some(run) = run {
        let dir = RunDir::open(runs_dir, run)?;
        let mut config = dir.load_config()?;
        if let Some(store) = store {
            config.scheduler.store = store.parse()?;
        }
        return Ok(vec![local_run(&config, &dir).await?]);
    }
    let mut names: Vec<String> = std::fs::read_dir(runs_dir)
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    let mut out = Vec::new();
    for name in names {
        let Ok(dir) = RunDir::open(runs_dir, &name) else {
            continue;
        };
        let Ok(config) = dir.load_config() else {
            continue;
        };
        // A PostgreSQL run is listed from its database; one whose jobs are
        // in a store given in code, only by the program holding it.
        if config.scheduler.store.is_postgres() || config.in_code.store.is_some() {
            continue;
        }
        out.push(local_run(&config, &dir).await?);
    }
    Ok(out)
}

/// Every run (every queue) of a PostgreSQL store, or run `run`.
async fn shared_runs(store: &str, run: Option<&str>) -> Result<Vec<RunStatus>, Error> {
    let mut config = CampaignConfig::default();
    config.scheduler.store = store.parse::<StoreUrl>()?;
    let this = run.unwrap_or("default");
    let shared = RunStore::attach(&config, this).await?;
    let unknown = match run {
        Some(_) => Some(unknown_submissions(shared.jobs().as_ref()).await?),
        None => None,
    };
    let spend = shared.spend_by_run(this).await?;
    Ok(shared
        .runs(this)
        .await?
        .into_iter()
        .filter(|(queue, _)| run.is_none_or(|r| r == queue))
        .map(|(queue, counts)| RunStatus {
            spent: spend.get(&queue).copied(),
            run: queue,
            counts,
            unknown_submissions: unknown,
        })
        .collect())
}

/// One run of a run folder.
async fn local_run(config: &CampaignConfig, dir: &RunDir) -> Result<RunStatus, Error> {
    let store = RunStore::open_existing(config, dir).await?;
    let jobs = store.jobs();
    Ok(RunStatus {
        run: dir.id().to_owned(),
        counts: jobs.counts().await?,
        unknown_submissions: Some(unknown_submissions(jobs.as_ref()).await?),
        spent: store.spend_by_run(dir.id()).await?.remove(dir.id()),
    })
}
