//! `framebreak report`: a run's reports, from its store, at any time (also
//! while the run goes on).

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::Context;
use clap::ValueEnum;
use framebreak::ResultRow;
use framebreak::campaign::{
    Campaign, CampaignConfig, NOT_IN_STORE, RunDir, VideoStore, local_copy, open_store, row_stream,
    rows,
};
use framebreak::report::{self, CsvWriter, Digest, HtmlOptions, JsonlWriter, JunitWriter};
use framebreak::scheduler::JobStore;
use futures::StreamExt;

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

/// A run's folder, configuration and store (no backend, no key needed).
/// `store` names a PostgreSQL store again (saved configurations never hold
/// a password).
async fn open(
    runs_dir: &Path,
    run: &str,
    store: Option<&str>,
) -> anyhow::Result<(RunDir, CampaignConfig, Arc<dyn JobStore>)> {
    let (dir, config) = match RunDir::open(runs_dir, run) {
        Ok(dir) => {
            let mut config = dir.load_config()?;
            if let Some(store) = store {
                config.scheduler.store = store.parse()?;
            }
            (dir, config)
        }
        // A run submitted from another machine: its folder here is made
        // from the store.
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
    Ok((dir, config, jobs))
}

/// The rows of a run, all in memory (for `roast`, which weighs every
/// analysed video).
pub(crate) fn load(
    runs_dir: &Path,
    run: &str,
    store: Option<&str>,
) -> anyhow::Result<(RunDir, CampaignConfig, Vec<ResultRow>)> {
    crate::runtime()?.block_on(async {
        let (dir, config, jobs) = open(runs_dir, run, store).await?;
        let rows = rows(jobs.as_ref()).await?;
        Ok((dir, config, rows))
    })
}

/// The reports being written while a run's rows pass: every row goes to
/// each writer at once, and the HTML page is made at the end from the
/// digest. Nothing holds the rows.
#[derive(Default)]
struct Writers {
    html: Option<Output>,
    jsonl: Option<JsonlWriter<Output>>,
    csv: Option<CsvWriter<Output>>,
    junit: Option<(JunitWriter, Output)>,
}

impl Writers {
    /// Writers of `format` into `out`, added to these.
    fn add(&mut self, format: Format, out: Output) -> anyhow::Result<()> {
        match format {
            Format::Html => self.html = Some(out),
            Format::Jsonl => self.jsonl = Some(JsonlWriter::new(out)),
            Format::Csv => self.csv = Some(CsvWriter::new(out)?),
            Format::Junit => self.junit = Some((JunitWriter::new()?, out)),
        }
        Ok(())
    }

    fn write(&mut self, row: &ResultRow) -> anyhow::Result<()> {
        if let Some(w) = &mut self.jsonl {
            w.write(row)?;
        }
        if let Some(w) = &mut self.csv {
            w.write(row)?;
        }
        if let Some((w, _)) = &mut self.junit {
            w.write(row)?;
        }
        Ok(())
    }

    /// Finishes every report (the HTML page from `digest`, its videos
    /// fetched from the run's shared store where this folder lacks them)
    /// and puts each file in place.
    async fn finish(
        self,
        digest: &Digest,
        dir: &RunDir,
        config: &CampaignConfig,
        top: usize,
    ) -> anyhow::Result<()> {
        if let Some(w) = self.jsonl {
            w.finish()?.finish()?;
        }
        if let Some(w) = self.csv {
            w.finish()?.finish()?;
        }
        if let Some((w, mut out)) = self.junit {
            w.finish(&mut out)?;
            out.finish()?;
        }
        if let Some(mut out) = self.html {
            let missing_video = gather_videos(digest, dir, config, top).await?;
            let options = HtmlOptions::new(dir.path())
                .missing_video(missing_video)
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
            let page = report::html_from(digest, &options)?;
            out.write_all(page.as_bytes())?;
            out.finish()?;
        }
        Ok(())
    }
}

/// Puts the `top` worst videos of `digest` into the run folder, from the
/// run's shared video store where the folder lacks them, and says on
/// standard error which are still missing. Returns why a missing video is
/// missing, for the page.
async fn gather_videos(
    digest: &Digest,
    dir: &RunDir,
    config: &CampaignConfig,
    top: usize,
) -> anyhow::Result<String> {
    let names: Vec<&str> = digest
        .worst()
        .iter()
        .take(top)
        .filter_map(|r| r.video.as_deref())
        .collect();
    let (missing, why) = match VideoStore::of_run(config, dir.id())? {
        Some(store) => {
            let missing = store.fetch_missing(names.iter().copied(), dir.path()).await;
            let mut why = format!(
                "it is neither in this run folder nor in the run's shared video store {}",
                store.url()
            );
            // A store that failed (not one that lacks the video) says how.
            if let Some((_, e)) = missing.iter().find(|(_, e)| e != NOT_IN_STORE) {
                why.push_str(&format!(" (e.g. {e})"));
            }
            (missing.len(), why)
        }
        None => {
            let missing = names
                .iter()
                .filter(|n| !dir.path().join(n).is_file())
                .count();
            let why = if config.output.keep_videos {
                "it is not in this run folder, and the run has no shared video store \
                 (--videos, output.videos): it stayed on the machine that downloaded it"
            } else {
                "the run does not keep videos (output.keep_videos = false) and has no shared \
                 video store (--videos, output.videos)"
            };
            (missing, why.to_owned())
        }
    };
    if missing > 0 {
        eprintln!(
            "framebreak: {missing} of the report's {} worst videos are not available here: {why}",
            names.len()
        );
    }
    Ok(why)
}

/// Reads every finished job of `store` once, a page at a time, into
/// `writers` and a digest that keeps the `top` worst rows.
async fn pass(store: &dyn JobStore, top: usize, writers: &mut Writers) -> anyhow::Result<Digest> {
    let mut digest = Digest::new(top);
    let mut rows = row_stream(store);
    while let Some(row) = rows.next().await {
        let row = row?;
        writers.write(&row)?;
        digest.add(&row);
    }
    Ok(digest)
}

/// The digest of a run's rows without writing any report (`--no-report`):
/// what the closing lines and `--fail-on` need.
pub(crate) async fn digest(campaign: &Campaign) -> anyhow::Result<Digest> {
    pass(campaign.store().as_ref(), 0, &mut Writers::default()).await
}

/// Writes every report into the run folder from one pass over its store,
/// unless the store is behind the ones there (`done` and `jobs`: the done
/// jobs and all jobs it holds); returns the digest and the reports' paths.
pub(crate) async fn write_all(
    campaign: &Campaign,
    done: u64,
    jobs: u64,
) -> anyhow::Result<(Digest, Vec<PathBuf>)> {
    let dir = campaign.run_dir();
    dir.check_reports(done, jobs)?;
    let top = campaign.config().output.top;
    let mut writers = Writers::default();
    let mut written = Vec::new();
    for format in Format::ALL {
        let path = dir.path().join(format.file_name());
        writers.add(format, Output::open(Some(&path))?)?;
        written.push(path);
    }
    let digest = pass(campaign.store().as_ref(), top, &mut writers).await?;
    writers.finish(&digest, dir, campaign.config(), top).await?;
    Ok((digest, written))
}

pub(crate) fn run(args: Args) -> anyhow::Result<()> {
    crate::runtime()?.block_on(async {
        let (dir, config, jobs) = open(&args.runs_dir, &args.run, args.store.as_deref()).await?;
        let counts = jobs.counts().await?;
        let path = match &args.output {
            Some(p) if p.as_os_str() == "-" => None,
            Some(p) => Some(p.clone()),
            None => {
                // The run folder's reports are never replaced by fewer rows.
                dir.check_reports(counts.done, counts.total())?;
                Some(dir.path().join(args.format.file_name()))
            }
        };
        let top = args.top.unwrap_or(config.output.top);
        let mut writers = Writers::default();
        writers.add(args.format, Output::open(path.as_deref())?)?;
        let digest = pass(jobs.as_ref(), top, &mut writers).await?;
        writers
            .finish(&digest, &dir, &config, top)
            .await
            .with_context(|| format!("writing the {:?} report", args.format))?;
        if let Some(p) = path {
            eprintln!(
                "framebreak: wrote {} ({} jobs, {} videos analysed)",
                p.display(),
                digest.rows(),
                digest.analysed()
            );
        }
        Ok(())
    })
}
