//! The submission journal: one JSON line per accepted job, written before
//! the job's id is answered, so that jobs outlive the process (SIGKILL
//! included) and a restarted simulator still answers for them and still
//! recognises their idempotency keys; and one line per deleted job, so that
//! it stays deleted.

use std::collections::{HashMap, HashSet};
use std::fs::{File, OpenOptions, TryLockError};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use framebreak_client::VideoRequest;
use serde::{Deserialize, Serialize};

use crate::jobs::Delivery;
use crate::{Error, Result};

/// How every line starts, because `id` is the record's first field: a
/// torn last line is a prefix of a record, anything else is not ours.
const HEAD: &[u8] = br#"{"id":""#;

/// What the dice decided for a job at submission, kept so that a replayed
/// job fails, sticks or breaks off as it would have.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Fate {
    #[serde(default)]
    pub(crate) stuck: bool,
    #[serde(default)]
    pub(crate) fails: bool,
    #[serde(default)]
    pub(crate) delivery: Delivery,
}

/// One accepted submission.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub(crate) struct Record {
    pub(crate) id: String,
    #[serde(default)]
    pub(crate) key: Option<String>,
    pub(crate) request: VideoRequest,
    /// Unix milliseconds of the submission, so that a replayed job has
    /// been generating since then, as a provider's would have.
    #[serde(default)]
    pub(crate) at_ms: u64,
    #[serde(default)]
    pub(crate) fate: Fate,
}

/// A deleted job: `{"id":"video_…","deleted":true}`, after its record.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
struct Deletion {
    id: String,
    deleted: bool,
}

/// What a journal holds: every job recorded, deleted ones included (their
/// ids are not to be handed out again), and which were deleted.
#[derive(Debug, Default)]
pub(crate) struct Replay {
    pub(crate) records: Vec<Record>,
    pub(crate) deleted: HashSet<String>,
}

/// The open journal file, locked against a second simulator.
#[derive(Debug)]
pub(crate) struct Journal {
    path: PathBuf,
    file: File,
}

impl Journal {
    /// Opens (creating) the journal at `path` and reads back its records.
    /// A torn last line (the writer killed mid-line) is cut off with a
    /// warning; any other line that is not a record is an error.
    pub(crate) fn open(path: &Path) -> Result<(Self, Replay)> {
        let shown = path.display().to_string();
        let io = |reason: String| Error::Io {
            path: shown.clone(),
            reason,
        };
        let mut file = OpenOptions::new()
            .read(true)
            .append(true)
            .create(true)
            .open(path)
            .map_err(|e| io(format!("cannot open the journal: {e}")))?;
        // Two simulators appending to one journal would hand out the same
        // ids; the kernel drops the lock when its holder dies, SIGKILL too.
        file.try_lock().map_err(|e| match e {
            TryLockError::WouldBlock => {
                io("the journal is in use by another simulator (it is locked)".into())
            }
            TryLockError::Error(e) => io(format!("cannot lock the journal: {e}")),
        })?;
        let mut bytes = Vec::new();
        file.read_to_end(&mut bytes)
            .map_err(|e| io(format!("cannot read the journal: {e}")))?;
        let mut journal = Self {
            path: path.to_owned(),
            file,
        };
        let records = journal.replay(&bytes)?;
        Ok((journal, records))
    }

    fn replay(&mut self, bytes: &[u8]) -> Result<Replay> {
        let shown = self.path.display().to_string();
        let bad = |line: usize, reason: String| Error::Journal {
            path: shown.clone(),
            line,
            reason,
        };
        let mut replay = Replay::default();
        let mut seen = HashMap::new();
        let mut start = 0;
        for (i, seg) in bytes.split(|b| *b == b'\n').enumerate() {
            let line = i + 1;
            let at = start;
            start += seg.len() + 1;
            let last = start > bytes.len();
            if seg.iter().all(u8::is_ascii_whitespace) {
                continue;
            }
            let record = match serde_json::from_slice::<Record>(seg) {
                Ok(r) => r,
                Err(e) => match serde_json::from_slice::<Deletion>(seg) {
                    Ok(d) if d.deleted => {
                        if !seen.contains_key(&d.id) {
                            return Err(bad(
                                line,
                                format!("job {} is deleted before it is recorded", d.id),
                            ));
                        }
                        if !replay.deleted.insert(d.id.clone()) {
                            return Err(bad(line, format!("job {} is deleted twice", d.id)));
                        }
                        if last {
                            self.write(b"\n")?;
                        }
                        continue;
                    }
                    _ if last && (seg.starts_with(HEAD) || HEAD.starts_with(seg)) => {
                        tracing::warn!(
                            journal = %self.path.display(), line, bytes = seg.len(), error = %e,
                            "the journal's last line is torn (the writer was killed mid-line); it is dropped"
                        );
                        self.file.set_len(at as u64).map_err(|e| Error::Io {
                            path: self.path.display().to_string(),
                            reason: format!("cannot cut the torn last line off the journal: {e}"),
                        })?;
                        return Ok(replay);
                    }
                    _ => return Err(bad(line, format!("not a submission record: {e}"))),
                },
            };
            if crate::jobs::id_number(&record.id).is_none() {
                return Err(bad(
                    line,
                    format!("`{}` is not a simulator job id", record.id),
                ));
            }
            if let Some(first) = seen.insert(record.id.clone(), line) {
                return Err(bad(
                    line,
                    format!("job {} was already recorded on line {first}", record.id),
                ));
            }
            replay.records.push(record);
            if last {
                // A whole record without its newline: end the line, so that
                // the next one does not run on.
                self.write(b"\n")?;
            }
        }
        Ok(replay)
    }

    /// Appends `record` as one line in one write, so that a kill leaves at
    /// most a torn last line.
    pub(crate) fn append(&mut self, record: &Record) -> Result<()> {
        let mut line = serde_json::to_vec(record).map_err(|e| Error::Io {
            path: self.path.display().to_string(),
            reason: format!("cannot encode a journal record: {e}"),
        })?;
        line.push(b'\n');
        self.write(&line)
    }

    /// Appends the line that deletes job `id`, in one write.
    pub(crate) fn delete(&mut self, id: &str) -> Result<()> {
        let deletion = Deletion {
            id: id.to_owned(),
            deleted: true,
        };
        let mut line = serde_json::to_vec(&deletion).map_err(|e| Error::Io {
            path: self.path.display().to_string(),
            reason: format!("cannot encode a journal deletion: {e}"),
        })?;
        line.push(b'\n');
        self.write(&line)
    }

    fn write(&mut self, bytes: &[u8]) -> Result<()> {
        self.file.write_all(bytes).map_err(|e| Error::Io {
            path: self.path.display().to_string(),
            reason: format!("cannot append to the journal: {e}"),
        })
    }

    pub(crate) fn path(&self) -> &Path {
        &self.path
    }
}
