//! `framebreak run` and `framebreak resume`: a campaign from start (or from
//! where it stopped) to its reports.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use framebreak::campaign::{Campaign, FinishOptions, Finished, Outcome, Threshold};
use framebreak::scheduler::FailureCategory;
use tokio_util::sync::CancellationToken;

use crate::campaign_args::CampaignArgs;
use crate::exit::{self, Usage};
use crate::interrupt::Interrupts;
use crate::progress::{self, ProgressMode};
use crate::runtime;

/// Flags of a running campaign that are not its configuration.
#[derive(Debug, Clone, clap::Args)]
pub(crate) struct RunFlags {
    /// How progress is shown.
    #[arg(long, value_enum, default_value_t = ProgressMode::Bar)]
    progress: ProgressMode,

    /// No progress and no summary (same as --progress quiet).
    #[arg(short, long)]
    quiet: bool,

    /// Exit with code 3 when this holds at the end: physics<X, realism<X,
    /// defect_rate>X, failed_rate>X or cost>AMOUNT (estimated spend, e.g.
    /// cost>25usd) (repeatable).
    #[arg(long, value_name = "COND")]
    fail_on: Vec<String>,

    /// Do not write the reports at the end.
    #[arg(long)]
    no_report: bool,

    /// Serve Prometheus metrics (`GET /metrics`) on this address while the
    /// run goes on, e.g. 127.0.0.1:9464.
    #[arg(long, value_name = "ADDR")]
    metrics_addr: Option<std::net::SocketAddr>,

    /// Append a JSON log of every job's steps to this file (the level is
    /// FRAMEBREAK_LOG, default `info`).
    #[arg(long, value_name = "FILE")]
    log_file: Option<PathBuf>,
}

#[derive(Debug, clap::Args)]
pub(crate) struct RunArgs {
    #[command(flatten)]
    campaign: CampaignArgs,

    #[command(flatten)]
    flags: RunFlags,

    /// The id of the new run (default: the time and 4 random hex digits).
    #[arg(long, value_name = "ID", conflicts_with = "resume")]
    run_id: Option<String>,

    /// Resume this run instead of starting one (same as `framebreak resume`).
    #[arg(long, value_name = "RUN")]
    resume: Option<String>,

    /// Print the plan (jobs, the request each gets, the estimated cost, the
    /// least wall time the rate limit allows) and submit nothing.
    #[arg(long, conflicts_with = "resume")]
    dry_run: bool,
}

#[derive(Debug, clap::Args)]
pub(crate) struct ResumeArgs {
    /// The run id (or the path of its folder).
    #[arg(value_name = "RUN")]
    run: String,

    /// The folder of run folders.
    #[arg(long, value_name = "DIR", default_value = "runs")]
    runs_dir: PathBuf,

    /// The run's store, when it is PostgreSQL (`postgres://…`, or
    /// `postgres` with DATABASE_URL): saved configurations never hold a
    /// password.
    #[arg(long, value_name = "STORE")]
    store: Option<String>,

    /// Re-queue the run's failed jobs first: those of the categories named
    /// (comma-separated or repeated, e.g. `auth,rate_limited`), or with no
    /// value every failed job except `unknown_submission`.
    #[arg(long, value_name = "CATEGORY", num_args = 0.., value_delimiter = ',')]
    retry_failed: Option<Vec<String>>,

    /// Send again the submissions that ended `unknown_submission` (the
    /// provider may have created them, and cannot be asked): each may be
    /// billed twice.
    #[arg(long)]
    resubmit_unknown: bool,

    /// A new budget for the run, in US dollars (a run stopped at its
    /// budget goes on with a larger one); kept in the run's configuration.
    #[arg(long, value_name = "AMOUNT")]
    budget: Option<String>,

    #[command(flatten)]
    flags: RunFlags,
}

/// Exit code when a `--fail-on` condition holds.
pub(crate) const THRESHOLD: u8 = 3;
/// Exit code when the run stopped at its budget.
pub(crate) const BUDGET: u8 = 4;
/// Exit code when the run was interrupted (128 + SIGINT).
pub(crate) const INTERRUPTED: u8 = 130;

pub(crate) fn run(args: RunArgs) -> anyhow::Result<ExitCode> {
    let thresholds = thresholds(&args.flags.fail_on)?;
    let config = args.campaign.load()?;
    if args.dry_run {
        crate::plan::print(&config)?;
        return Ok(ExitCode::SUCCESS);
    }
    let make = async {
        Ok(match &args.resume {
            Some(run) => {
                let store = explicit_store(&config);
                Campaign::open_with_store(&config.output.runs_dir, run, store).await?
            }
            None => match &args.run_id {
                Some(id) => Campaign::create_with_id(config.clone(), id).await?,
                None => Campaign::create(config.clone()).await?,
            },
        })
    };
    drive(make, &args.flags, &thresholds, Role::Run)
}

pub(crate) fn resume(args: ResumeArgs) -> anyhow::Result<ExitCode> {
    let thresholds = thresholds(&args.flags.fail_on)?;
    let retry = retry_selection(args.retry_failed.as_deref(), args.resubmit_unknown)?;
    let quiet = args.flags.quiet || args.flags.progress != ProgressMode::Bar;
    let budget = match &args.budget {
        Some(text) => Some(
            text.parse::<framebreak::cost::Usd>()
                .map_err(|e| Usage(format!("--budget: {e}")))?,
        ),
        None => None,
    };
    let make = async {
        let campaign = match budget {
            Some(budget) => {
                let campaign = Campaign::open_adjusted(
                    &args.runs_dir,
                    &args.run,
                    args.store.as_deref(),
                    |c| c.cost.budget = Some(budget),
                )
                .await?;
                let n = campaign.requeue_unsubmitted().await?;
                if n > 0 && !quiet {
                    eprintln!("framebreak: {n} jobs the budget left unsubmitted re-queued");
                }
                campaign
            }
            None => {
                Campaign::open_with_store(&args.runs_dir, &args.run, args.store.as_deref()).await?
            }
        };
        if let Some(select) = &retry {
            let n = campaign.requeue_failed(|c| select.contains(&c)).await?;
            if !quiet {
                eprintln!("framebreak: {n} failed jobs re-queued");
            }
        }
        Ok(campaign)
    };
    drive(make, &args.flags, &thresholds, Role::Run)
}

/// The failure categories `resume` re-queues, if any.
fn retry_selection(
    named: Option<&[String]>,
    resubmit_unknown: bool,
) -> anyhow::Result<Option<Vec<FailureCategory>>> {
    let mut picked: Vec<FailureCategory> = match named {
        None => Vec::new(),
        Some([]) => FailureCategory::ALL
            .into_iter()
            .filter(|c| framebreak::campaign::retried_by_default(*c))
            .collect(),
        Some(names) => names
            .iter()
            .map(|n| {
                FailureCategory::from_name(n.trim()).ok_or_else(|| {
                    Usage(format!(
                        "--retry-failed: {n:?} is not a failure category (one of {})",
                        FailureCategory::ALL.map(FailureCategory::as_str).join(", ")
                    ))
                })
            })
            .collect::<Result<_, _>>()?,
    };
    if resubmit_unknown {
        picked.push(FailureCategory::UnknownSubmission);
    }
    Ok((!picked.is_empty()).then_some(picked))
}

/// The store named on the command line or in the environment, when it is
/// not the default: a PostgreSQL run's saved configuration never holds its
/// password, so resuming one needs the store again.
fn explicit_store(config: &framebreak::campaign::CampaignConfig) -> Option<&str> {
    config
        .scheduler
        .store
        .is_postgres()
        .then_some(config.scheduler.store.as_str())
}

/// What this process does with the campaign.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Role {
    /// Enqueue, run, report (`run`, `resume`).
    Run,
    /// Only run leased jobs; others enqueue and report (`worker`).
    Worker,
}

fn thresholds(specs: &[String]) -> anyhow::Result<Vec<Threshold>> {
    specs
        .iter()
        .map(|s| {
            s.parse()
                .map_err(|e: framebreak::campaign::Error| Usage(e.to_string()).into())
        })
        .collect()
}

pub(crate) fn drive(
    make: impl std::future::Future<Output = anyhow::Result<Campaign>>,
    flags: &RunFlags,
    thresholds: &[Threshold],
    role: Role,
) -> anyhow::Result<ExitCode> {
    let mode = if flags.quiet {
        ProgressMode::Quiet
    } else {
        flags.progress
    };
    let say = |line: String| {
        if mode == ProgressMode::Bar {
            eprintln!("{line}");
        }
    };
    if let Some(path) = &flags.log_file {
        let filter = std::env::var("FRAMEBREAK_LOG").unwrap_or_else(|_| "info".into());
        framebreak::telemetry::init_tracing(
            framebreak::telemetry::LogFormat::Json,
            &filter,
            Some(path),
        )
        .with_context(|| format!("--log-file {}", path.display()))?;
    }
    let runtime = runtime()?;
    runtime.block_on(async {
        // Before anything else, so that no stop signal can take the default
        // action (an abrupt exit) once the run has begun.
        let mut interrupts = Interrupts::install().context("installing the Ctrl-C handler")?;
        let campaign = make.await?;
        let id = campaign.run_dir().id().to_owned();
        let telemetry = match flags.metrics_addr {
            Some(addr) => {
                let t = framebreak::telemetry::Telemetry::builder()
                    .metrics_addr(addr)
                    .install()
                    .await
                    .with_context(|| format!("--metrics-addr {addr}"))?;
                say(format!("framebreak: metrics at http://{addr}/metrics"));
                Some(t)
            }
            None => None,
        };
        say(format!(
            "framebreak: run {id} in {} (backend {}, store {})",
            campaign.run_dir().path().display(),
            campaign.config().backend_name(),
            campaign.config().scheduler.store,
        ));
        if campaign.price().is_none() {
            let (kind, model) = campaign.config().priced_model();
            // Said even when quiet: it is about money.
            eprintln!(
                "framebreak: warning: framebreak has no price for {kind}:{model}, so this run's \
                 cost is not estimated (set one in framebreak.toml: [pricing.\"{kind}:{model}\"] \
                 per_second = … or per_clip = …)"
            );
        }
        let adjusted = campaign.request_adjustments()?;
        if !adjusted.is_empty() {
            say(format!(
                "framebreak: the request is fitted to the model: {}",
                adjusted
                    .iter()
                    .map(ToString::to_string)
                    .collect::<Vec<_>>()
                    .join(", ")
            ));
        }
        if role == Role::Run {
            let enqueued = campaign.enqueue().await?;
            if enqueued.added > 0 {
                say(format!(
                    "framebreak: {} jobs enqueued ({} controls)",
                    enqueued.added, enqueued.controls
                ));
            }
        }
        // Enqueueing is done: what it freed goes back before the first
        // wave of jobs allocates.
        crate::trim_malloc();
        let total = campaign.store().counts().await?.total();
        let scheduler = campaign.scheduler()?;
        let shutdown = campaign.shutdown();
        let signals = tokio::spawn(async move {
            let mut first = true;
            while interrupts.recv().await {
                if first {
                    eprintln!(
                        "\nframebreak: stopping: finishing the steps in flight (Ctrl-C again stops at once)"
                    );
                    first = false;
                } else {
                    eprintln!("framebreak: stopping now");
                }
                shutdown.trigger();
            }
        });
        let stop = CancellationToken::new();
        let (summary, ()) = tokio::join!(
            async {
                let s = campaign.run_with(&scheduler).await;
                stop.cancel();
                s
            },
            progress::show(
                mode,
                &scheduler,
                campaign.devices(),
                total,
                (role == Role::Worker).then(|| progress::RunWide::new(campaign.store())),
                (campaign.price().is_some() || campaign.config().cost.budget.is_some()).then(|| {
                    progress::Spending::new(
                        campaign.run_store().ledger(),
                        campaign.config().cost.budget,
                    )
                }),
                stop.clone()
            )
        );
        signals.abort();
        if let Some(t) = telemetry {
            t.shutdown().await;
        }
        let summary = summary?;
        let c = summary.counts;
        if role == Role::Worker {
            say(format!(
                "framebreak: worker done: the run has {} done, {} failed, {} unfinished",
                c.done,
                c.failed,
                c.unfinished()
            ));
            let outcome = campaign.worker_outcome(&summary);
            if let Outcome::StoppedAtBudget(why) = &outcome {
                eprintln!("framebreak: run {id} stopped: {}", why.replace("RUN", &id));
            }
            return Ok(exit_code(&outcome));
        }
        // One pass over the store: the reports (unless --no-report) and
        // the figures the closing lines and --fail-on need, never every row
        // at once.
        let finished = campaign
            .finish(
                &summary,
                FinishOptions {
                    reports: !flags.no_report,
                    thresholds,
                },
            )
            .await?;
        if let Some(missing) = &finished.missing_videos {
            eprintln!("framebreak: {missing}");
        }
        for path in &finished.reports {
            say(format!("framebreak: wrote {}", path.display()));
        }
        say(format!(
            "framebreak: {} done, {} failed, {} cancelled, {} unfinished",
            c.done,
            c.failed,
            c.cancelled,
            c.unfinished()
        ));
        if c.failed > 0 && c.done == 0 {
            // Said even when quiet: nothing came of the run, and why is the
            // first thing to know.
            eprintln!("{}", failure_reasons(&finished, c.failed));
        }
        if finished.cancelled_at_provider > 0 {
            say(format!(
                "framebreak: {} generations of jobs that failed after submission were \
                 cancelled at the provider",
                finished.cancelled_at_provider
            ));
        }
        if finished.unknown_submissions > 0 {
            // Said even when quiet: it is about money.
            eprintln!(
                "framebreak: {} of the failed jobs are unknown_submission: the provider may \
                 have created (and may bill) each of them, and it cannot be asked; `{} \
                 --resubmit-unknown` sends them again, at the risk of paying twice",
                finished.unknown_submissions,
                resume_command(&campaign)
            );
        }
        if let Some(spend) = &finished.spend {
            let budget = spend
                .budget
                .map_or_else(String::new, |b| format!(" of its {b} budget"));
            say(format!(
                "framebreak: spend: {} committed{budget}, each submission counted at \
                 its highest price ({})",
                spend.committed,
                spend.rate.as_deref().unwrap_or("no price")
            ));
        }
        match &finished.outcome {
            Outcome::StoppedAtBudget(why) | Outcome::Stopped(why) => eprintln!(
                "framebreak: run {id} stopped: {}",
                why.replace("RUN", &run_arg(&campaign))
            ),
            Outcome::Interrupted => eprintln!(
                "framebreak: run {id} stopped; resume it with `{}`",
                resume_command(&campaign)
            ),
            Outcome::Crossed(crossed) => {
                for (t, v) in crossed {
                    eprintln!("framebreak: --fail-on {t}: the run measured {v:.3}");
                }
            }
            _ => {}
        }
        Ok(exit_code(&finished.outcome))
    })
}

/// The exit code of what became of a run.
fn exit_code(outcome: &Outcome) -> ExitCode {
    ExitCode::from(match outcome {
        Outcome::Crossed(_) => THRESHOLD,
        Outcome::StoppedAtBudget(_) => BUDGET,
        Outcome::Interrupted => INTERRUPTED,
        Outcome::AllFailed | Outcome::Stopped(_) => exit::FAILURE,
        _ => 0,
    })
}

/// The command that resumes the campaign's run.
fn resume_command(campaign: &Campaign) -> String {
    format!("framebreak resume {}", run_arg(campaign))
}

/// How `resume` finds the campaign's run: its id, with `--runs-dir` when
/// its folder is not under the default one.
fn run_arg(campaign: &Campaign) -> String {
    let id = campaign.run_dir().id();
    match campaign.run_dir().path().parent() {
        Some(dir) if dir != std::path::Path::new("runs") => {
            format!("{id} --runs-dir {}", dir.display())
        }
        _ => id.to_owned(),
    }
}

/// The main reasons jobs failed: the most frequent categories, each with
/// its count and one message.
fn failure_reasons(finished: &Finished, failed: u64) -> String {
    let mut text = format!("framebreak: every job failed ({failed}); the main reasons:");
    for (category, n, example) in finished.failure_reasons(3) {
        let example: String = example.chars().take(300).collect();
        text.push_str(&format!("\n  {category} ({n}), e.g. {example}"));
    }
    text
}
