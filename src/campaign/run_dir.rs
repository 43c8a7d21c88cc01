//! A run's folder: `runs/<run-id>/` with the configuration it ran with, its
//! job store, its videos and its reports.

use std::path::{Path, PathBuf};
use std::time::SystemTime;

use crate::campaign::{CampaignConfig, ConfigLoader, Error, StoreProblem};
use crate::row::RowStatus;

/// The configuration a run was started with (passwords redacted).
pub const CONFIG_FILE: &str = "campaign.toml";
/// The SQLite job store of a run.
pub const STORE_FILE: &str = "jobs.sqlite";
/// Written once every variant is enqueued: a resumed run does not enqueue
/// again (enqueueing is idempotent, so a run killed while enqueueing simply
/// enqueues again).
const ENQUEUED_FILE: &str = "enqueued";
/// How many jobs the SQLite store had done when last looked at (every few
/// seconds while the run goes, and at its end): a done job stays done, so a
/// store with fewer lost its newest writes.
const DONE_FILE: &str = "done";
/// The JSON Lines report, one row per finished job: what
/// [`RunDir::check_reports`] compares a store with.
const RESULTS_FILE: &str = "results.jsonl";

/// A new run id: UTC time of day and four random hex digits
/// (`20261123-081502-3fa9`), so ids sort by start time.
#[must_use]
pub fn new_run_id() -> String {
    let stamp = humantime::format_rfc3339_seconds(SystemTime::now()).to_string();
    let digits: String = stamp.chars().filter(char::is_ascii_digit).collect();
    let (date, time) = digits.split_at(digits.len().min(8));
    format!("{date}-{time}-{:04x}", fastrand::u16(..))
}

/// A run's folder.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunDir {
    id: String,
    path: PathBuf,
}

impl RunDir {
    /// Makes the folder of a new run under `runs_dir`.
    ///
    /// # Errors
    ///
    /// [`Error::Io`] when it cannot be made.
    pub fn create(runs_dir: &Path, id: &str) -> Result<Self, Error> {
        check_id(id, runs_dir)?;
        let path = runs_dir.join(id);
        std::fs::create_dir_all(path.join(crate::campaign::VIDEOS_DIR))
            .map_err(|e| Error::io(&path, e))?;
        Ok(Self {
            id: id.to_owned(),
            path,
        })
    }

    /// The folder of an existing run: `run` is an id under `runs_dir`, or
    /// the path of a run folder.
    ///
    /// # Errors
    ///
    /// [`Error::RunNotFound`] when there is no such run.
    pub fn open(runs_dir: &Path, run: &str) -> Result<Self, Error> {
        let as_path = Path::new(run);
        let path = if as_path.join(CONFIG_FILE).is_file() {
            as_path.to_owned()
        } else {
            check_id(run, runs_dir)?;
            runs_dir.join(run)
        };
        if !path.join(CONFIG_FILE).is_file() {
            let mut known: Vec<String> = std::fs::read_dir(runs_dir)
                .into_iter()
                .flatten()
                .flatten()
                .filter(|e| e.path().join(CONFIG_FILE).is_file())
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect();
            known.sort();
            let reason = match known.last() {
                _ if path.is_dir() => format!(
                    "its folder {} has no {CONFIG_FILE}, the run's configuration: without it \
                     the run cannot be resumed or reported; put it back (from a backup)",
                    path.display()
                ),
                Some(last) => format!(
                    "no {CONFIG_FILE} there; {} runs are known, the latest is {last}",
                    known.len()
                ),
                None => "no runs there yet".to_owned(),
            };
            return Err(Error::RunNotFound {
                run_id: run.to_owned(),
                runs_dir: runs_dir.to_owned(),
                reason,
            });
        }
        let id = path
            .file_name()
            .map_or_else(|| run.to_owned(), |n| n.to_string_lossy().into_owned());
        Ok(Self { id, path })
    }

    /// The run id.
    #[must_use]
    pub fn id(&self) -> &str {
        &self.id
    }

    /// The folder.
    #[must_use]
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Saves the configuration the run was started with.
    ///
    /// # Errors
    ///
    /// [`Error::Io`] when it cannot be written.
    pub fn save_config(&self, config: &CampaignConfig) -> Result<(), Error> {
        let path = self.path.join(CONFIG_FILE);
        let text = format!(
            "# framebreak run {}: the configuration it was started with.\n\
             # `framebreak resume {}` runs with it again.\n{}",
            self.id,
            self.id,
            config.to_toml_redacted()
        );
        write_atomic(&path, text.as_bytes())
    }

    /// The configuration the run was started with.
    ///
    /// # Errors
    ///
    /// [`Error::Config`] when the saved file cannot be read.
    pub fn load_config(&self) -> Result<CampaignConfig, Error> {
        ConfigLoader::from_file(&self.path.join(CONFIG_FILE))?.build()
    }

    /// Whether every variant was enqueued, and how many there were.
    #[must_use]
    pub fn enqueued(&self) -> Option<u64> {
        std::fs::read_to_string(self.path.join(ENQUEUED_FILE))
            .ok()?
            .trim()
            .parse()
            .ok()
    }

    /// Records that every variant (`count` of them) is enqueued.
    ///
    /// # Errors
    ///
    /// [`Error::Io`] when it cannot be written.
    pub fn mark_enqueued(&self, count: u64) -> Result<(), Error> {
        write_atomic(
            &self.path.join(ENQUEUED_FILE),
            format!("{count}\n").as_bytes(),
        )
    }

    /// How many jobs the run's store was last seen to have done.
    #[must_use]
    pub fn done_mark(&self) -> Option<u64> {
        std::fs::read_to_string(self.path.join(DONE_FILE))
            .ok()?
            .trim()
            .parse()
            .ok()
    }

    /// Records that the store has `done` jobs done, unless a larger count
    /// is recorded already.
    ///
    /// # Errors
    ///
    /// [`Error::Io`] when it cannot be written.
    pub fn mark_done(&self, done: u64) -> Result<(), Error> {
        if self.done_mark().is_some_and(|m| m >= done) {
            return Ok(());
        }
        write_atomic(&self.path.join(DONE_FILE), format!("{done}\n").as_bytes())
    }

    /// Checks that reports read from a store of `jobs` jobs, `done` of
    /// them done, may replace the ones in the folder: the store must have
    /// as many done jobs as `results.jsonl` has done rows (a done job stays
    /// done; failed ones may be re-queued) and as many jobs as it has rows.
    /// A store that lost jobs would otherwise overwrite the reports with
    /// fewer rows, or none. `results.jsonl` is read a line at a time.
    ///
    /// # Errors
    ///
    /// [`Error::StoreLost`] when the store is behind the reports.
    pub fn check_reports(&self, done: u64, jobs: u64) -> Result<(), Error> {
        use std::io::BufRead;
        #[derive(serde::Deserialize)]
        struct Line {
            status: RowStatus,
        }
        let Ok(file) = std::fs::File::open(self.path.join(RESULTS_FILE)) else {
            return Ok(());
        };
        let (mut reported, mut reported_done) = (0u64, 0u64);
        for line in std::io::BufReader::new(file).lines() {
            let Ok(line) = line else { break };
            if let Ok(row) = serde_json::from_str::<Line>(&line) {
                reported += 1;
                reported_done += u64::from(row.status == RowStatus::Done);
            }
        }
        let behind = if done < reported_done {
            Some((done, reported_done))
        } else if jobs < reported {
            Some((jobs, reported))
        } else {
            None
        };
        match behind {
            Some((store, reported)) => Err(Error::StoreLost {
                run_id: self.id.clone(),
                path: self.path.join(STORE_FILE),
                problem: StoreProblem::Behind { store, reported },
            }),
            None => Ok(()),
        }
    }
}

fn check_id(id: &str, runs_dir: &Path) -> Result<(), Error> {
    let ok = !id.is_empty()
        && id.len() <= 128
        && id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
        && !id.starts_with('.');
    if ok {
        Ok(())
    } else {
        Err(Error::RunNotFound {
            run_id: id.to_owned(),
            runs_dir: runs_dir.to_owned(),
            reason: "a run id is letters, digits, `-`, `_` and `.`".into(),
        })
    }
}

/// Writes `bytes` to `path` through a temporary file and a rename, so a
/// killed process never leaves half a file.
fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), Error> {
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, bytes).map_err(|e| Error::io(&tmp, e))?;
    std::fs::rename(&tmp, path).map_err(|e| Error::io(path, e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_sort_by_time_and_bad_ids_are_refused() {
        let id = new_run_id();
        assert_eq!(id.len(), "20261123-081502-3fa9".len(), "{id}");
        let dir = tempfile::tempdir().unwrap();
        for bad in ["", "../x", "a/b", ".hidden"] {
            assert!(RunDir::create(dir.path(), bad).is_err(), "{bad:?}");
        }
        let e = RunDir::open(dir.path(), "nope").unwrap_err().to_string();
        assert!(e.contains("nope") && e.contains("no runs there yet"), "{e}");
    }

    #[test]
    fn config_and_enqueue_marks_survive_reopening() {
        let dir = tempfile::tempdir().unwrap();
        let run = RunDir::create(dir.path(), "r1").unwrap();
        let mut config = CampaignConfig::default();
        config.variants.per_prompt = 3;
        run.save_config(&config).unwrap();
        assert_eq!(run.enqueued(), None);
        run.mark_enqueued(42).unwrap();
        let again = RunDir::open(dir.path(), "r1").unwrap();
        assert_eq!(again.load_config().unwrap(), config);
        assert_eq!(again.enqueued(), Some(42));
        let by_path = RunDir::open(dir.path(), dir.path().join("r1").to_str().unwrap()).unwrap();
        assert_eq!(by_path.id(), "r1");
    }
}
