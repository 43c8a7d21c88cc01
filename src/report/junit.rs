//! The rows as JUnit XML, so CI systems show a campaign like a test run.

use std::collections::{BTreeMap, VecDeque};
use std::fmt::Write as _;
use std::fs::{File, OpenOptions};
use std::io::{BufWriter, Write};
use std::path::PathBuf;

use super::Error;
use super::escape::escape;
use crate::{ResultRow, RowStatus};

/// Writes the rows as JUnit XML: one `<testsuite>` per trap (a combination
/// of traps is its own suite, `a+b`; unmutated controls are the suite
/// `control`), one `<testcase>` per video, named by job id. A case fails
/// (`<failure type="defects">`) when its video shows a defect, and fails with
/// the failure category as type when the job failed; a cancelled job is
/// `<skipped>`. The prompt and scores go in `<system-out>`. Every text is
/// escaped. [`JunitWriter`] writes the same from rows given one at a time.
///
/// ```
/// use framebreak::report::junit;
///
/// let mut out = Vec::new();
/// junit(&[], &mut out)?;
/// assert!(String::from_utf8(out).unwrap().contains(r#"<testsuites name="framebreak" tests="0""#));
/// # Ok::<(), framebreak::report::Error>(())
/// ```
///
/// # Errors
/// [`Error::Write`] when writing fails.
pub fn junit(rows: &[ResultRow], out: impl Write) -> Result<(), Error> {
    let mut writer = JunitWriter::new()?;
    for row in rows {
        writer.write(row)?;
    }
    writer.finish(out)
}

/// Suites whose case files stay open at once; others are reopened.
const OPEN_SUITES: usize = 32;

/// Tests, failures and skipped cases.
#[derive(Debug, Clone, Copy, Default)]
struct Counts {
    tests: u64,
    failures: u64,
    skipped: u64,
}

impl Counts {
    fn add(&mut self, row: &ResultRow) {
        self.tests += 1;
        self.failures += u64::from(fails(row));
        self.skipped += u64::from(row.status == RowStatus::Cancelled);
    }
}

/// [`junit`] for rows given one at a time: each case is written at once
/// to its suite's file in a scratch folder (removed when the writer is
/// dropped), and [`JunitWriter::finish`] joins the suites in name order.
/// Memory holds a count per suite, not the rows.
///
/// ```
/// use framebreak::report::JunitWriter;
///
/// let mut out = Vec::new();
/// JunitWriter::new()?.finish(&mut out)?;
/// assert!(String::from_utf8(out).unwrap().contains(r#"tests="0""#));
/// # Ok::<(), framebreak::report::Error>(())
/// ```
#[derive(Debug)]
pub struct JunitWriter {
    scratch: tempfile::TempDir,
    /// Per suite name: its file's number and its counts.
    suites: BTreeMap<String, (usize, Counts)>,
    /// Open case files, least recently opened first.
    open: VecDeque<(usize, BufWriter<File>)>,
    totals: Counts,
    case: String,
}

impl JunitWriter {
    /// A writer with its scratch folder in the system's temporary folder.
    ///
    /// # Errors
    /// [`Error::Write`] when the folder cannot be made.
    pub fn new() -> Result<Self, Error> {
        Ok(Self {
            scratch: tempfile::Builder::new()
                .prefix(".framebreak-junit-")
                .tempdir()?,
            suites: BTreeMap::new(),
            open: VecDeque::new(),
            totals: Counts::default(),
            case: String::new(),
        })
    }

    fn path(&self, file: usize) -> PathBuf {
        self.scratch.path().join(format!("{file}.xml"))
    }

    /// Adds one row's case to its suite.
    ///
    /// # Errors
    /// [`Error::Write`] when its suite's file cannot be written.
    pub fn write(&mut self, row: &ResultRow) -> Result<(), Error> {
        let name = if row.control || row.traps.is_empty() {
            "control".to_owned()
        } else {
            row.traps.join("+")
        };
        let next = self.suites.len();
        let (file, counts) = self
            .suites
            .entry(name.clone())
            .or_insert((next, Counts::default()));
        counts.add(row);
        let file = *file;
        self.totals.add(row);
        self.case.clear();
        case(&mut self.case, &name, row);
        if !self.open.iter().any(|(f, _)| *f == file) {
            if self.open.len() == OPEN_SUITES
                && let Some((_, mut w)) = self.open.pop_front()
            {
                w.flush()?;
            }
            let f = OpenOptions::new()
                .create(true)
                .append(true)
                .open(self.path(file))?;
            self.open.push_back((file, BufWriter::new(f)));
        }
        if let Some((_, w)) = self.open.iter_mut().find(|(f, _)| *f == file) {
            w.write_all(self.case.as_bytes())?;
        }
        Ok(())
    }

    /// Writes the whole document to `out`.
    ///
    /// # Errors
    /// [`Error::Write`] when a suite's file cannot be read back or `out`
    /// cannot be written.
    pub fn finish(mut self, mut out: impl Write) -> Result<(), Error> {
        for (_, mut w) in self.open.drain(..) {
            w.flush()?;
        }
        let t = self.totals;
        writeln!(out, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>")?;
        writeln!(
            out,
            r#"<testsuites name="framebreak" tests="{}" failures="{}" errors="0" skipped="{}">"#,
            t.tests, t.failures, t.skipped
        )?;
        for (name, (file, c)) in &self.suites {
            writeln!(
                out,
                r#"  <testsuite name="{}" tests="{}" failures="{}" errors="0" skipped="{}">"#,
                escape(name),
                c.tests,
                c.failures,
                c.skipped
            )?;
            std::io::copy(&mut File::open(self.path(*file))?, &mut out)?;
            out.write_all(b"  </testsuite>\n")?;
        }
        out.write_all(b"</testsuites>\n")?;
        out.flush()?;
        Ok(())
    }
}

fn fails(row: &ResultRow) -> bool {
    row.status == RowStatus::Failed || row.analysis.as_ref().is_some_and(|a| !a.defects.is_empty())
}

fn case(xml: &mut String, suite: &str, row: &ResultRow) {
    let _ = writeln!(
        xml,
        r#"    <testcase classname="{}" name="{}" time="0">"#,
        escape(suite),
        escape(&row.job)
    );
    match (row.status, &row.failure, &row.analysis) {
        (RowStatus::Cancelled, ..) => xml.push_str("      <skipped message=\"cancelled\"/>\n"),
        (RowStatus::Failed, failure, _) => {
            let (category, message) = failure.as_ref().map_or(("unknown", ""), |f| {
                (f.category.as_str(), f.message.as_str())
            });
            let _ = writeln!(
                xml,
                r#"      <failure type="{}" message="{}"/>"#,
                escape(category),
                escape(message)
            );
        }
        (RowStatus::Done, _, Some(a)) if !a.defects.is_empty() => {
            let list: Vec<String> = a
                .defects
                .iter()
                .map(|f| format!("{}@{}-{}", f.kind, f.start_frame, f.end_frame))
                .collect();
            let _ = writeln!(
                xml,
                r#"      <failure type="defects" message="{}">{} defects; physics {:.1}, realism {:.1}</failure>"#,
                escape(&list.join("; ")),
                list.len(),
                a.scores.physics,
                a.scores.realism
            );
        }
        _ => {}
    }
    let scores = row.analysis.as_ref().map_or_else(String::new, |a| {
        format!(
            "\nphysics {:.1}, realism {:.1}",
            a.scores.physics, a.scores.realism
        )
    });
    let _ = writeln!(
        xml,
        "      <system-out>{}{}</system-out>\n    </testcase>",
        escape(&row.prompt),
        scores
    );
}
