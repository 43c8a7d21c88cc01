//! `framebreak submit`, `worker` and `status`: one campaign shared by many
//! workers on many machines through a PostgreSQL store.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use framebreak::campaign::{Campaign, is_postgres, redact_url};
use framebreak::cost::Usd;

use crate::campaign_args::CampaignArgs;
use crate::exit::Usage;
use crate::run::{self, Role, RunFlags};
use crate::runtime;

#[derive(Debug, clap::Args)]
pub(crate) struct SubmitArgs {
    #[command(flatten)]
    campaign: CampaignArgs,

    /// The id of the new run (default: the time and 4 random hex digits).
    #[arg(long, value_name = "ID")]
    run_id: Option<String>,
}

#[derive(Debug, clap::Args)]
pub(crate) struct WorkerArgs {
    /// The run to work on (as `framebreak submit` printed it).
    #[arg(long, value_name = "RUN")]
    run: String,

    /// The shared store: `postgres://…`, or `postgres` with DATABASE_URL.
    #[arg(long, value_name = "STORE", default_value = "postgres")]
    store: String,

    /// This machine's analysis device: auto, cpu or cuda:N (else
    /// FRAMEBREAK_ANALYSIS__DEVICE, else the run's).
    #[arg(long, value_name = "DEVICE")]
    device: Option<String>,

    /// Jobs this worker keeps in flight (else
    /// FRAMEBREAK_SCHEDULER__CONCURRENCY, else the run's).
    #[arg(short = 'c', long, value_name = "N")]
    concurrency: Option<usize>,

    /// Videos this worker analyses at once (else
    /// FRAMEBREAK_ANALYSIS__WORKERS, else the run's).
    #[arg(long, value_name = "N")]
    analysis_workers: Option<usize>,

    /// Seconds this worker waits out an unreachable database (a restart, a
    /// cut connection) before it gives up (else
    /// FRAMEBREAK_SCHEDULER__STORE_OUTAGE_SECS, else the run's; default 120).
    #[arg(long, value_name = "SECS")]
    store_outage: Option<u64>,

    /// Where this machine keeps its copy of the run (its videos).
    #[arg(long, value_name = "DIR", default_value = "runs")]
    runs_dir: PathBuf,

    #[command(flatten)]
    flags: RunFlags,
}

#[derive(Debug, clap::Args)]
pub(crate) struct DbArgs {
    #[command(subcommand)]
    command: DbCommand,
}

#[derive(Debug, clap::Subcommand)]
enum DbCommand {
    /// Create or upgrade framebreak's tables in a PostgreSQL database, as a
    /// role that may create them. `submit` does the same; workers, `status`
    /// and `report` never create or change a table, they only check that
    /// the schema is this build's.
    Migrate {
        /// The database: `postgres://…`, or `postgres` with DATABASE_URL.
        #[arg(long, value_name = "STORE", default_value = "postgres")]
        store: String,
    },
    /// Remove a run from the shared store: its jobs, its configuration and
    /// its rate buckets (an interrupted submit that will not be finished,
    /// or a run no longer wanted). Run folders on the machines that worked
    /// on it stay; delete them there.
    DropRun {
        /// The run id.
        #[arg(value_name = "RUN")]
        run: String,
        /// The database: `postgres://…`, or `postgres` with DATABASE_URL.
        #[arg(long, value_name = "STORE", default_value = "postgres")]
        store: String,
    },
}

#[derive(Debug, clap::Args)]
pub(crate) struct StatusArgs {
    /// A run id; every run of the store when absent.
    #[arg(value_name = "RUN")]
    run: Option<String>,

    /// The store: `postgres://…` or `postgres` (DATABASE_URL); the run
    /// folder's SQLite store when absent.
    #[arg(long, value_name = "STORE")]
    store: Option<String>,

    /// The folder of run folders.
    #[arg(long, value_name = "DIR", default_value = "runs")]
    runs_dir: PathBuf,

    /// One JSON object per run instead of a table.
    #[arg(long)]
    json: bool,
}

pub(crate) fn submit(args: SubmitArgs) -> anyhow::Result<()> {
    let config = args.campaign.load()?;
    if !config.scheduler.store.is_postgres() {
        return Err(Usage(
            "framebreak submit needs a shared store: --store postgres://… (or `postgres` with DATABASE_URL); \
             for one machine, `framebreak run` does it all"
                .into(),
        )
        .into());
    }
    let store = config.scheduler.store.clone();
    runtime()?.block_on(async {
        let campaign = match &args.run_id {
            Some(id) => Campaign::create_with_id(config, id).await?,
            None => Campaign::create(config).await?,
        };
        let enqueued = campaign.enqueue().await?;
        let id = campaign.run_dir().id();
        let shown = store.to_string();
        eprintln!(
            "framebreak: run {id}: {} jobs enqueued ({} controls) in {shown}",
            enqueued.added, enqueued.controls
        );
        eprintln!("framebreak: start workers with `framebreak worker --run {id} --store {shown}`");
        let mut out = std::io::stdout().lock();
        writeln!(out, "{id}")
            .and_then(|()| out.flush())
            .context("writing the run id")?;
        Ok(())
    })
}

/// The settings that belong to the machine a worker runs on, as variables:
/// a worker honours these (when their flag is absent) and no other
/// `FRAMEBREAK_SECTION__KEY`, since it runs the configuration its run was
/// submitted with.
const WORKER_VARS: [&str; 4] = [
    DEVICE_VAR,
    CONCURRENCY_VAR,
    ANALYSIS_WORKERS_VAR,
    STORE_OUTAGE_VAR,
];
const DEVICE_VAR: &str = "FRAMEBREAK_ANALYSIS__DEVICE";
const CONCURRENCY_VAR: &str = "FRAMEBREAK_SCHEDULER__CONCURRENCY";
const ANALYSIS_WORKERS_VAR: &str = "FRAMEBREAK_ANALYSIS__WORKERS";
const STORE_OUTAGE_VAR: &str = "FRAMEBREAK_SCHEDULER__STORE_OUTAGE_SECS";

/// A whole number from variable `name`, if it is set.
fn env_count(name: &str) -> Result<Option<usize>, Usage> {
    match std::env::var(name) {
        Ok(v) => v
            .trim()
            .parse()
            .map(Some)
            .map_err(|_| Usage(format!("{name}={v:?}: expected a whole number"))),
        Err(_) => Ok(None),
    }
}

pub(crate) fn worker(args: WorkerArgs) -> anyhow::Result<ExitCode> {
    if !is_postgres(&args.store) {
        return Err(Usage(format!(
            "--store {:?}: workers share a PostgreSQL store (postgres://… or `postgres` with DATABASE_URL)",
            redact_url(&args.store)
        ))
        .into());
    }
    let device = match args
        .device
        .clone()
        .map(|d| ("--device", d))
        .or_else(|| std::env::var(DEVICE_VAR).ok().map(|d| (DEVICE_VAR, d)))
    {
        Some((source, text)) => Some(
            text.parse::<framebreak::campaign::DeviceChoice>()
                .map_err(|e| Usage(format!("{source}: {e}")))?,
        ),
        None => None,
    };
    let concurrency = match args.concurrency {
        Some(n) => Some(n),
        None => env_count(CONCURRENCY_VAR)?,
    };
    let analysis_workers = match args.analysis_workers {
        Some(n) => Some(n),
        None => env_count(ANALYSIS_WORKERS_VAR)?,
    };
    let store_outage = match args.store_outage {
        Some(n) => Some(n),
        None => env_count(STORE_OUTAGE_VAR)?.map(|n| n as u64),
    };
    for (name, _) in std::env::vars() {
        if name.starts_with("FRAMEBREAK_")
            && name.contains("__")
            && !WORKER_VARS.contains(&name.as_str())
        {
            eprintln!(
                "framebreak: {name} is ignored: a worker runs the configuration its run was \
                 submitted with; its own settings are {}",
                WORKER_VARS.join(", ")
            );
        }
    }
    let make = async {
        Ok(Campaign::join(&args.store, &args.run, |c| {
            c.output.runs_dir = args.runs_dir.clone();
            if let Some(d) = device {
                c.analysis.device = d;
            }
            if let Some(n) = concurrency {
                c.scheduler.concurrency = n;
            }
            if analysis_workers.is_some() {
                c.analysis.workers = analysis_workers;
            }
            if let Some(secs) = store_outage {
                c.scheduler.store_outage_secs = secs;
            }
        })
        .await?)
    };
    run::drive(make, &args.flags, &[], Role::Worker)
}

pub(crate) fn db(args: DbArgs) -> anyhow::Result<()> {
    let store = match &args.command {
        DbCommand::Migrate { store } | DbCommand::DropRun { store, .. } => store,
    };
    if !is_postgres(store) {
        return Err(Usage(format!(
            "--store {:?}: only a PostgreSQL store (postgres://… or `postgres` with \
             DATABASE_URL) has a schema and runs by id",
            redact_url(store)
        ))
        .into());
    }
    match args.command {
        DbCommand::DropRun { run, store } => {
            let jobs = runtime()?.block_on(framebreak::campaign::drop_run(&store, &run))?;
            eprintln!(
                "framebreak: removed run {run} ({jobs} jobs) from {}",
                redact_url(&store)
            );
            Ok(())
        }
        DbCommand::Migrate { store } => {
            let applied = runtime()?.block_on(framebreak::campaign::migrate_store(&store))?;
            let shown = redact_url(&store);
            let version = framebreak::scheduler::PgStore::schema_version();
            if applied.is_empty() {
                eprintln!("framebreak: {shown} is at schema version {version}: nothing to do");
            } else {
                let list: Vec<String> = applied.iter().map(i32::to_string).collect();
                eprintln!(
                    "framebreak: {shown}: applied migration(s) {}; schema version {version}",
                    list.join(", ")
                );
            }
            Ok(())
        }
    }
}

#[allow(clippy::print_stdout)]
pub(crate) fn status(args: StatusArgs) -> anyhow::Result<()> {
    runtime()?.block_on(async {
        let runs =
            framebreak::campaign::runs(&args.runs_dir, args.store.as_deref(), args.run.as_deref())
                .await?;
        if let Some(run) = &args.run
            && runs.is_empty()
        {
            return Err(Usage(format!("no run {run:?} in that store")).into());
        }
        let mut out = std::io::stdout().lock();
        if args.json {
            for r in &runs {
                writeln!(
                    out,
                    "{}",
                    serde_json::json!({
                        "run": r.run,
                        "counts": r.counts,
                        "unknown_submission": r.unknown_submissions,
                        "spent_usd": r.spent.map(Usd::dollars),
                    })
                )?;
            }
        } else {
            writeln!(
                out,
                "{:<28} {:>8} {:>8} {:>8} {:>8} {:>8} {:>8} {:>8} {:>10}",
                "run",
                "total",
                "pending",
                "running",
                "done",
                "failed",
                "cancel",
                "unknown",
                "spent"
            )?;
            for r in &runs {
                let c = &r.counts;
                writeln!(
                    out,
                    "{:<28} {:>8} {:>8} {:>8} {:>8} {:>8} {:>8} {:>8} {:>10}",
                    r.run,
                    c.total(),
                    c.pending,
                    c.leased,
                    c.done,
                    c.failed,
                    c.cancelled,
                    r.unknown_submissions
                        .map_or_else(|| "-".to_owned(), |n| n.to_string()),
                    r.spent.map_or_else(|| "-".to_owned(), |u| u.to_string())
                )?;
            }
            let unknown: u64 = runs.iter().filter_map(|r| r.unknown_submissions).sum();
            if unknown > 0 {
                writeln!(
                    out,
                    "unknown: failed jobs whose submission the provider may have made (and may \
                     bill, once each) and cannot be asked about; `framebreak resume RUN \
                     --resubmit-unknown` sends them again"
                )?;
            }
        }
        out.flush()?;
        Ok(())
    })
}
