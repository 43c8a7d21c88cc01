//! `framebreak report`: a run's reports, from its store, at any time (also
//! while the run goes on).

use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::Context;
use clap::ValueEnum;
use framebreak::ResultRow;
use framebreak::campaign::{Campaign, CampaignConfig, RunDir, local_copy, open_store, rows};
use framebreak::report::{self, HtmlOptions};

use crate::output::Output;

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum Format {
    /// One self-contained page with charts and contact sheets.
    Html,
    /// One JSON object per video.
    Jsonl,
    /// One row per video.
    Csv,
    /// JUnit XML, for CI systems.
    Junit,
}

impl Format {
    const ALL: [Self; 4] = [Self::Html, Self::Jsonl, Self::Csv, Self::Junit];

    fn file_name(self) -> &'static str {
        match self {
            Self::Html => "report.html",
            Self::Jsonl => "results.jsonl",
            Self::Csv => "results.csv",
            Self::Junit => "junit.xml",
        }
    }
}

#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// The run id (or the path of its folder).
    #[arg(value_name = "RUN")]
    run: String,

    /// Which report.
    #[arg(long, value_enum, default_value_t = Format::Html)]
    format: Format,

    /// Write it here ("-" for standard output); default: in the run folder.
    #[arg(short, long, value_name = "FILE")]
    output: Option<PathBuf>,

    /// The worst videos shown (HTML).
    #[arg(long, value_name = "N")]
    top: Option<usize>,

    /// The folder of run folders.
    #[arg(long, value_name = "DIR", default_value = "runs")]
    runs_dir: PathBuf,

    /// The run's store, when it is PostgreSQL (`postgres://…`, or
    /// `postgres` with DATABASE_URL).
    #[arg(long, value_name = "STORE")]
    store: Option<String>,
}

/// [`load`], with the number of jobs in the store.
fn load_counted(
    runs_dir: &Path,
    run: &str,
    store: Option<&str>,
) -> anyhow::Result<(RunDir, CampaignConfig, Vec<ResultRow>, u64)> {
    crate::runtime()?.block_on(async {
        let (dir, config) = match RunDir::open(runs_dir, run) {
            Ok(dir) => {
                let mut config = dir.load_config()?;
                if let Some(store) = store {
                    config.scheduler.store = store.to_owned();
                }
                (dir, config)
            }
            // A run submitted from another machine: its folder here is
            // made from the store.
            Err(e) => match store {
                Some(store) => {
                    let (config, dir) = local_copy(store, run, |c| {
                        c.output.runs_dir = runs_dir.to_owned();
                    })
                    .await?;
                    (dir, config)
                }
                None => return Err(e.into()),
            },
        };
        let jobs = open_store(&config, &dir).await?;
        let rows = rows(jobs.as_ref()).await?;
        let total = jobs.counts().await?.total();
        Ok((dir, config, rows, total))
    })
}

/// The rows of a run, read from its store (no backend, no key needed).
/// `store` names a PostgreSQL store again (saved configurations never hold
/// a password).
pub(crate) fn load(
    runs_dir: &Path,
    run: &str,
    store: Option<&str>,
) -> anyhow::Result<(RunDir, CampaignConfig, Vec<ResultRow>)> {
    let (dir, config, rows, _) = load_counted(runs_dir, run, store)?;
    Ok((dir, config, rows))
}

fn render(
    format: Format,
    dir: &RunDir,
    config: &CampaignConfig,
    rows: &[ResultRow],
    top: usize,
    out: &mut dyn Write,
) -> anyhow::Result<()> {
    match format {
        Format::Html => {
            let options = HtmlOptions::new(dir.path())
                .title(format!(
                    "framebreak run {} ({})",
                    dir.id(),
                    config.backend.kind
                ))
                .run_id(dir.id())
                .top_n(top)
                .generated_at(
                    humantime::format_rfc3339_seconds(std::time::SystemTime::now()).to_string(),
                );
            let page = report::html(rows, &options)?;
            out.write_all(page.as_bytes())?;
        }
        Format::Jsonl => report::jsonl(rows, &mut *out)?,
        Format::Csv => report::csv(rows, &mut *out)?,
        Format::Junit => report::junit(rows, &mut *out)?,
    }
    Ok(())
}

/// Writes every report into the run folder, unless the store is behind
/// the ones there (`jobs`: the jobs it holds); returns their paths.
pub(crate) fn write_all(
    campaign: &Campaign,
    rows: &[ResultRow],
    jobs: u64,
) -> anyhow::Result<Vec<PathBuf>> {
    let dir = campaign.run_dir();
    dir.check_reports(rows, jobs)?;
    let mut written = Vec::new();
    for format in Format::ALL {
        let path = dir.path().join(format.file_name());
        let mut out = Output::open(Some(&path))?;
        render(
            format,
            dir,
            campaign.config(),
            rows,
            campaign.config().output.top,
            out.writer(),
        )
        .with_context(|| format!("writing {}", path.display()))?;
        out.finish()?;
        written.push(path);
    }
    Ok(written)
}

pub(crate) fn run(args: Args) -> anyhow::Result<()> {
    let (dir, config, rows, jobs) = load_counted(&args.runs_dir, &args.run, args.store.as_deref())?;
    let path = match &args.output {
        Some(p) if p.as_os_str() == "-" => None,
        Some(p) => Some(p.clone()),
        None => {
            // The run folder's reports are never replaced by fewer rows.
            dir.check_reports(&rows, jobs)?;
            Some(dir.path().join(args.format.file_name()))
        }
    };
    let mut out = Output::open(path.as_deref())?;
    render(
        args.format,
        &dir,
        &config,
        &rows,
        args.top.unwrap_or(config.output.top),
        out.writer(),
    )?;
    out.finish()?;
    if let Some(p) = path {
        let analysed = rows.iter().filter(|r| r.analysis.is_some()).count();
        eprintln!(
            "framebreak: wrote {} ({} jobs, {analysed} videos analysed)",
            p.display(),
            rows.len()
        );
    }
    Ok(())
}
