//! A run's reports, written from its store in one pass: every finished job
//! goes to each report as it is read, and the HTML page is made at the end
//! from the digest. Nothing holds every row.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use framebreak_scheduler::JobStore;
use futures::StreamExt;

use crate::ResultRow;
use crate::campaign::{
    Campaign, CampaignConfig, Error, NOT_IN_STORE, RunDir, VideoStore, local_copy, open_store,
    row_stream,
};
use crate::report::{self, CsvWriter, Digest, HtmlOptions, JsonlWriter, JunitWriter, Output};

/// The reports a run writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ReportFormat {
    /// One self-contained page with charts and contact sheets.
    Html,
    /// One JSON object per job.
    Jsonl,
    /// One row per job.
    Csv,
    /// JUnit XML, for CI systems.
    Junit,
}

impl ReportFormat {
    /// Every format, in the order a run writes them.
    pub const ALL: [Self; 4] = [Self::Html, Self::Jsonl, Self::Csv, Self::Junit];

    /// The file it is written to in a run folder.
    #[must_use]
    pub const fn file_name(self) -> &'static str {
        match self {
            Self::Html => "report.html",
            Self::Jsonl => "results.jsonl",
            Self::Csv => "results.csv",
            Self::Junit => "junit.xml",
        }
    }
}

/// Where [`RunView::write_one`] writes a report.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReportTo<'a> {
    /// Its file in the run folder ([`ReportFormat::file_name`]).
    RunFolder,
    /// Standard output.
    Stdout,
    /// This file.
    File(&'a Path),
}

/// The worst videos a report shows that are not available where it is
/// written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MissingVideos {
    /// How many are missing.
    pub missing: usize,
    /// Of how many shown.
    pub shown: usize,
    /// Why they are missing (and what would make them available).
    pub why: String,
}

impl std::fmt::Display for MissingVideos {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} of the report's {} worst videos are not available here: {}",
            self.missing, self.shown, self.why
        )
    }
}

/// What writing reports made.
#[derive(Debug, Clone)]
pub struct Written {
    /// The figures of every row, with the worst rows kept.
    pub digest: Digest,
    /// The files written (none for standard output).
    pub files: Vec<PathBuf>,
    /// The worst videos the HTML page could not show, when some are missing.
    pub missing_videos: Option<MissingVideos>,
}

/// Reports being written while a run's rows pass.
#[derive(Default)]
struct Writers {
    html: Option<Output>,
    jsonl: Option<JsonlWriter<Output>>,
    csv: Option<CsvWriter<Output>>,
    junit: Option<(JunitWriter, Output)>,
}

impl Writers {
    fn add(&mut self, format: ReportFormat, out: Output) -> Result<(), Error> {
        match format {
            ReportFormat::Html => self.html = Some(out),
            ReportFormat::Jsonl => self.jsonl = Some(JsonlWriter::new(out)),
            ReportFormat::Csv => self.csv = Some(CsvWriter::new(out)?),
            ReportFormat::Junit => self.junit = Some((JunitWriter::new()?, out)),
        }
        Ok(())
    }

    fn write(&mut self, row: &ResultRow) -> Result<(), Error> {
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
        run: &RunView,
        top: usize,
    ) -> Result<Option<MissingVideos>, Error> {
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
        let Some(mut out) = self.html else {
            return Ok(None);
        };
        let missing = gather_videos(digest, run, top).await?;
        let options = HtmlOptions::new(run.dir.path())
            .missing_video(missing.why.clone())
            .title(format!(
                "framebreak run {} ({})",
                run.dir.id(),
                run.config.backend_names().join(", ")
            ))
            .run_id(run.dir.id())
            .top_n(top)
            .generated_at(
                humantime::format_rfc3339_seconds(std::time::SystemTime::now()).to_string(),
            );
        let page = report::html_from(digest, &options)?;
        out.write_all(page.as_bytes())
            .map_err(report::Error::from)?;
        out.finish()?;
        Ok((missing.missing > 0).then_some(missing))
    }
}

/// Puts the `top` worst videos of `digest` into the run folder, from the
/// run's shared video store where the folder lacks them. Returns how many
/// are still missing, and why (what the page says of a missing video).
async fn gather_videos(digest: &Digest, run: &RunView, top: usize) -> Result<MissingVideos, Error> {
    let (dir, config) = (&run.dir, &run.config);
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
    Ok(MissingVideos {
        missing,
        shown: names.len(),
        why,
    })
}

/// Reads every finished job of `store` once, a page at a time, into
/// `writers` and a digest that keeps the `top` worst rows.
async fn pass(store: &dyn JobStore, top: usize, writers: &mut Writers) -> Result<Digest, Error> {
    let mut digest = Digest::new(top);
    let mut rows = row_stream(store);
    while let Some(row) = rows.next().await {
        let row = row?;
        writers.write(&row)?;
        digest.add(&row);
    }
    Ok(digest)
}

/// A run as its reports see it: its folder, its configuration and its
/// store, with no backend (no key needed), also while the run goes on
/// elsewhere.
#[derive(Clone)]
pub struct RunView {
    /// Its folder on this machine.
    pub dir: RunDir,
    /// Its configuration.
    pub config: CampaignConfig,
    /// Its jobs.
    pub store: Arc<dyn JobStore>,
}

impl std::fmt::Debug for RunView {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RunView")
            .field("dir", &self.dir)
            .field("store", &self.config.scheduler.store)
            .finish_non_exhaustive()
    }
}

impl RunView {
    /// Run `run` (an id under `runs_dir`, or a run folder's path). `store`
    /// names a PostgreSQL store again (saved configurations never hold a
    /// password); a run submitted from another machine, with no folder
    /// here, gets one made from the store.
    ///
    /// # Errors
    ///
    /// [`Error::RunNotFound`] when there is no such run;
    /// [`Error::StoreLost`] when its store is missing, empty or another
    /// run's.
    pub async fn open(runs_dir: &Path, run: &str, store: Option<&str>) -> Result<Self, Error> {
        let (dir, config) = match RunDir::open(runs_dir, run) {
            Ok(dir) => {
                let mut config = dir.load_config()?;
                if let Some(store) = store {
                    config.scheduler.store = store.parse()?;
                }
                (dir, config)
            }
            Err(e) => match store {
                Some(store) => {
                    let (config, dir) = local_copy(store, run, |c| {
                        c.output.runs_dir = runs_dir.to_owned();
                    })
                    .await?;
                    (dir, config)
                }
                None => return Err(e),
            },
        };
        let store = open_store(&config, &dir).await?;
        Ok(Self { dir, config, store })
    }

    /// The view of an open campaign.
    #[must_use]
    pub fn of(campaign: &Campaign) -> Self {
        Self {
            dir: campaign.run_dir().clone(),
            config: campaign.config().clone(),
            store: campaign.store(),
        }
    }

    /// The figures of every finished job, writing nothing.
    ///
    /// # Errors
    ///
    /// [`Error::Scheduler`] when the store fails, [`Error::UnreadableRow`]
    /// for a job no row can be made of.
    pub async fn digest(&self) -> Result<Digest, Error> {
        pass(self.store.as_ref(), 0, &mut Writers::default()).await
    }

    /// Writes every report into the run folder from one pass over the
    /// store, showing the `output.top` worst videos. Refused when the store
    /// holds fewer finished jobs than the reports already there: a report
    /// is never replaced by an emptier one.
    ///
    /// # Errors
    ///
    /// [`Error::StoreLost`] when the store is behind the reports;
    /// [`Error::Report`] when a report cannot be written; as
    /// [`RunView::digest`].
    pub async fn write_all(&self) -> Result<Written, Error> {
        let counts = self.store.counts().await?;
        self.dir.check_reports(counts.done, counts.total())?;
        let mut writers = Writers::default();
        let mut files = Vec::new();
        for format in ReportFormat::ALL {
            let path = self.dir.path().join(format.file_name());
            writers.add(format, Output::open(Some(&path))?)?;
            files.push(path);
        }
        self.write(writers, self.config.output.top, files).await
    }

    /// Writes one report to `to`, showing the `top` worst videos (default
    /// `output.top`).
    ///
    /// # Errors
    ///
    /// As [`RunView::write_all`] (a report in the run folder is never
    /// replaced by an emptier one; one written elsewhere may be).
    pub async fn write_one(
        &self,
        format: ReportFormat,
        to: ReportTo<'_>,
        top: Option<usize>,
    ) -> Result<Written, Error> {
        let path = match to {
            ReportTo::Stdout => None,
            ReportTo::File(p) => Some(p.to_owned()),
            ReportTo::RunFolder => {
                let counts = self.store.counts().await?;
                self.dir.check_reports(counts.done, counts.total())?;
                Some(self.dir.path().join(format.file_name()))
            }
        };
        let mut writers = Writers::default();
        writers.add(format, Output::open(path.as_deref())?)?;
        let top = top.unwrap_or(self.config.output.top);
        self.write(writers, top, path.into_iter().collect()).await
    }

    async fn write(
        &self,
        mut writers: Writers,
        top: usize,
        files: Vec<PathBuf>,
    ) -> Result<Written, Error> {
        let digest = pass(self.store.as_ref(), top, &mut writers).await?;
        let missing_videos = writers.finish(&digest, self, top).await?;
        Ok(Written {
            digest,
            files,
            missing_videos,
        })
    }
}
