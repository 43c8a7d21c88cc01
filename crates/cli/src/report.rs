//! `framebreak report`: a run's reports, from its store, at any time (also
//! while the run goes on).

use std::path::PathBuf;

use anyhow::Context;
use clap::ValueEnum;
use framebreak::ResultRow;
use framebreak::campaign::{CampaignConfig, ReportFormat, ReportTo, RunDir, RunView, rows};

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

impl From<Format> for ReportFormat {
    fn from(format: Format) -> Self {
        match format {
            Format::Html => Self::Html,
            Format::Jsonl => Self::Jsonl,
            Format::Csv => Self::Csv,
            Format::Junit => Self::Junit,
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

/// The rows of a run, all in memory (for `roast`, which weighs every
/// analysed video).
pub(crate) fn load(
    runs_dir: &std::path::Path,
    run: &str,
    store: Option<&str>,
) -> anyhow::Result<(RunDir, CampaignConfig, Vec<ResultRow>)> {
    crate::runtime()?.block_on(async {
        let view = RunView::open(runs_dir, run, store).await?;
        let rows = rows(view.store.as_ref()).await?;
        Ok((view.dir, view.config, rows))
    })
}

pub(crate) fn run(args: Args) -> anyhow::Result<()> {
    crate::runtime()?.block_on(async {
        let view = RunView::open(&args.runs_dir, &args.run, args.store.as_deref()).await?;
        let to = match &args.output {
            Some(p) if p.as_os_str() == "-" => ReportTo::Stdout,
            Some(p) => ReportTo::File(p),
            None => ReportTo::RunFolder,
        };
        let written = view
            .write_one(args.format.into(), to, args.top)
            .await
            .with_context(|| format!("writing the {:?} report", args.format))?;
        if let Some(missing) = &written.missing_videos {
            eprintln!("framebreak: {missing}");
        }
        for p in &written.files {
            eprintln!(
                "framebreak: wrote {} ({} jobs, {} videos analysed)",
                p.display(),
                written.digest.rows(),
                written.digest.analysed()
            );
        }
        Ok(())
    })
}
