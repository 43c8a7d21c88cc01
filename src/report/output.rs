//! Where a report goes: standard output, or a file written atomically.

use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};

use tempfile::NamedTempFile;

use crate::report::Error;

/// A report's sink. A file is written to a temporary file beside it and
/// renamed into place by [`Output::finish`], so a failed write never leaves
/// a truncated or half-replaced file.
pub enum Output {
    /// Standard output.
    Stdout(BufWriter<io::StdoutLock<'static>>),
    /// A file, put in place by [`Output::finish`].
    File {
        /// The temporary file being written.
        writer: BufWriter<NamedTempFile>,
        /// Where it goes.
        path: PathBuf,
    },
}

impl std::fmt::Debug for Output {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Stdout(_) => f.write_str("Output::Stdout"),
            Self::File { path, .. } => write!(f, "Output::File({})", path.display()),
        }
    }
}

impl Output {
    /// Standard output for `None` or `-`, else a file at `path`.
    ///
    /// # Errors
    ///
    /// [`Error::File`] when no file can be made in `path`'s folder.
    pub fn open(path: Option<&Path>) -> Result<Output, Error> {
        let Some(path) = path.filter(|p| p.as_os_str() != "-") else {
            return Ok(Output::Stdout(BufWriter::with_capacity(
                1 << 16,
                io::stdout().lock(),
            )));
        };
        let dir = match path.parent() {
            Some(d) if !d.as_os_str().is_empty() => d,
            _ => Path::new("."),
        };
        let mut builder = tempfile::Builder::new();
        builder.prefix(".framebreak-").suffix(".tmp");
        // A temporary file is private (0600); the result is an ordinary file
        // that keeps the mode of the one it replaces.
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(path).map_or(0o644, |m| m.permissions().mode());
            builder.permissions(std::fs::Permissions::from_mode(mode));
        }
        let tmp: NamedTempFile = builder.tempfile_in(dir).map_err(|source| Error::File {
            path: dir.to_owned(),
            source,
        })?;
        Ok(Output::File {
            writer: BufWriter::with_capacity(1 << 16, tmp),
            path: path.to_owned(),
        })
    }

    /// The sink, to write to directly.
    pub fn writer(&mut self) -> &mut dyn Write {
        match self {
            Output::Stdout(w) => w,
            Output::File { writer, .. } => writer,
        }
    }

    fn path(&self) -> PathBuf {
        match self {
            Output::Stdout(_) => PathBuf::from("<standard output>"),
            Output::File { path, .. } => path.clone(),
        }
    }

    /// Writes one value as a line of JSON; `buf` is reused between lines.
    ///
    /// # Errors
    ///
    /// [`Error::Json`] when the value cannot be written as JSON,
    /// [`Error::File`] when the sink refuses the line.
    pub fn json_line<T: serde::Serialize>(
        &mut self,
        value: &T,
        buf: &mut Vec<u8>,
    ) -> Result<(), Error> {
        buf.clear();
        serde_json::to_writer(&mut *buf, value)?;
        buf.push(b'\n');
        self.writer().write_all(buf).map_err(|source| Error::File {
            path: self.path(),
            source,
        })
    }

    /// Flushes, and for a file renames it into place.
    ///
    /// # Errors
    ///
    /// [`Error::File`] naming the file that could not be written.
    pub fn finish(self) -> Result<(), Error> {
        match self {
            Output::Stdout(mut w) => w.flush().map_err(|source| Error::File {
                path: PathBuf::from("<standard output>"),
                source,
            }),
            Output::File { writer, path } => {
                let tmp = writer.into_inner().map_err(|e| Error::File {
                    path: path.clone(),
                    source: e.into_error(),
                })?;
                tmp.as_file().sync_all().ok();
                tmp.persist(&path)
                    .map(|_: File| ())
                    .map_err(|e| Error::File {
                        path,
                        source: e.error,
                    })
            }
        }
    }
}

impl Write for Output {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.writer().write(buf)
    }

    fn write_all(&mut self, buf: &[u8]) -> io::Result<()> {
        self.writer().write_all(buf)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.writer().flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_file_appears_only_when_finished_and_replaces_the_old_one_whole() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("results.jsonl");
        std::fs::write(&path, "old\n").unwrap();
        let mut out = Output::open(Some(&path)).unwrap();
        let mut buf = Vec::new();
        out.json_line(&serde_json::json!({"a": 1}), &mut buf)
            .unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "old\n");
        out.finish().unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "{\"a\":1}\n");
        // Dropped unfinished: the old file stays, no temporary is left.
        let mut out = Output::open(Some(&path)).unwrap();
        out.json_line(&serde_json::json!({"b": 2}), &mut buf)
            .unwrap();
        drop(out);
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "{\"a\":1}\n");
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
    }

    #[test]
    fn a_folder_that_does_not_exist_is_named() {
        let e = Output::open(Some(Path::new("/nonexistent-dir/for/sure/r.csv"))).unwrap_err();
        assert!(e.to_string().contains("/nonexistent-dir/for/sure"), "{e}");
    }
}
