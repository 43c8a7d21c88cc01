//! The per-video rows as JSON Lines and as CSV.

use std::io::Write;

use super::Error;
use crate::ResultRow;

/// The CSV header, fixed: scripts rely on the order.
///
/// | column | content |
/// |---|---|
/// | `job` | the job (variant) id |
/// | `base_id` | the base prompt's id |
/// | `control` | `true` for an unmutated control |
/// | `traps` | trap ids, `;`-joined |
/// | `families` | trap families, `;`-joined |
/// | `backend`, `model` | where the video came from (`model` may be empty) |
/// | `status` | `done`, `failed` or `cancelled` |
/// | `failure_category`, `failure_message` | why a job failed (empty otherwise) |
/// | `attempts` | failed attempts before the outcome |
/// | `remote_id`, `video` | the provider's id, the video relative to the run folder |
/// | `physics`, `realism` | scores 0–100 (empty without analysis) |
/// | `defects` | `kind@start-end`, `;`-joined, frames inclusive |
/// | `n_defects` | how many |
/// | `psnr_mean`, `ssim_mean`, `warp_error`, `flicker_index` | the metrics summary |
/// | `prompt` | the prompt sent |
/// | `cost_low_usd`, `cost_high_usd` | the job's estimated cost in dollars, once submitted (empty without a price) |
pub const CSV_HEADER: [&str; 24] = [
    "job",
    "base_id",
    "control",
    "traps",
    "families",
    "backend",
    "model",
    "status",
    "failure_category",
    "failure_message",
    "attempts",
    "remote_id",
    "video",
    "physics",
    "realism",
    "defects",
    "n_defects",
    "psnr_mean",
    "ssim_mean",
    "warp_error",
    "flicker_index",
    "prompt",
    "cost_low_usd",
    "cost_high_usd",
];

/// Writes one JSON object per row and line: the [`ResultRow`] as stored,
/// analysis and ground truth included.
///
/// # Errors
/// [`Error::Json`] or [`Error::Write`] when writing fails.
pub fn jsonl(rows: &[ResultRow], out: impl Write) -> Result<(), Error> {
    let mut w = JsonlWriter::new(out);
    for row in rows {
        w.write(row)?;
    }
    w.finish().map(drop)
}

/// [`jsonl`] for rows given one at a time.
#[derive(Debug)]
pub struct JsonlWriter<W: Write> {
    out: W,
}

impl<W: Write> JsonlWriter<W> {
    /// A writer into `out`.
    pub fn new(out: W) -> Self {
        Self { out }
    }

    /// Writes one row's line.
    ///
    /// # Errors
    /// [`Error::Json`] or [`Error::Write`] when writing fails.
    pub fn write(&mut self, row: &ResultRow) -> Result<(), Error> {
        serde_json::to_writer(&mut self.out, row)?;
        self.out.write_all(b"\n")?;
        Ok(())
    }

    /// Flushes what was written and gives the output back.
    ///
    /// # Errors
    /// [`Error::Write`] when flushing fails.
    pub fn finish(mut self) -> Result<W, Error> {
        self.out.flush()?;
        Ok(self.out)
    }
}

/// Writes the rows as CSV (RFC 4180 quoting) under [`CSV_HEADER`].
///
/// ```
/// use framebreak::report::{CSV_HEADER, csv};
///
/// let mut out = Vec::new();
/// csv(&[], &mut out)?;
/// assert_eq!(String::from_utf8(out).unwrap().trim_end(), CSV_HEADER.join(","));
/// # Ok::<(), framebreak::report::Error>(())
/// ```
///
/// # Errors
/// [`Error::Csv`] when writing fails.
pub fn csv(rows: &[ResultRow], out: impl Write) -> Result<(), Error> {
    let mut w = CsvWriter::new(out)?;
    for row in rows {
        w.write(row)?;
    }
    w.finish().map(drop)
}

/// [`csv()`] for rows given one at a time; the header is written first.
#[derive(Debug)]
pub struct CsvWriter<W: Write> {
    out: ::csv::Writer<W>,
}

impl<W: Write> CsvWriter<W> {
    /// A writer into `out`, its header written.
    ///
    /// # Errors
    /// [`Error::Csv`] when the header cannot be written.
    pub fn new(out: W) -> Result<Self, Error> {
        let mut out = ::csv::Writer::from_writer(out);
        out.write_record(CSV_HEADER)?;
        Ok(Self { out })
    }

    /// Writes one row's record.
    ///
    /// # Errors
    /// [`Error::Csv`] when writing fails.
    pub fn write(&mut self, row: &ResultRow) -> Result<(), Error> {
        self.out.write_record(record(row))?;
        Ok(())
    }

    /// Flushes what was written and gives the output back.
    ///
    /// # Errors
    /// [`Error::Write`] when flushing fails.
    pub fn finish(self) -> Result<W, Error> {
        self.out
            .into_inner()
            .map_err(|e| Error::Write(e.into_error()))
    }
}

fn record(row: &ResultRow) -> [String; 24] {
    let a = row.analysis.as_ref();
    let num = |v: Option<f64>| v.map(|v| v.to_string()).unwrap_or_default();
    let defects = a.map_or_else(String::new, |a| {
        a.defects
            .iter()
            .map(|f| format!("{}@{}-{}", f.kind, f.start_frame, f.end_frame))
            .collect::<Vec<_>>()
            .join(";")
    });
    [
        row.job.clone(),
        row.base_id.clone(),
        row.control.to_string(),
        row.traps.join(";"),
        row.families
            .iter()
            .map(|f| f.as_str())
            .collect::<Vec<_>>()
            .join(";"),
        row.backend.clone(),
        row.model.clone().unwrap_or_default(),
        row.status.as_str().to_owned(),
        row.failure
            .as_ref()
            .map(|f| f.category.as_str().to_owned())
            .unwrap_or_default(),
        row.failure
            .as_ref()
            .map(|f| f.message.clone())
            .unwrap_or_default(),
        row.attempts.to_string(),
        row.remote_id.clone().unwrap_or_default(),
        row.video.clone().unwrap_or_default(),
        num(row.physics()),
        num(row.realism()),
        defects,
        a.map(|a| a.defects.len().to_string()).unwrap_or_default(),
        num(a.map(|a| a.metrics.psnr_mean)),
        num(a.map(|a| a.metrics.ssim_mean)),
        num(a.map(|a| a.metrics.warp_error)),
        num(a.map(|a| a.metrics.flicker_index)),
        row.prompt.clone(),
        num(row.cost.map(|c| c.low.dollars())),
        num(row.cost.map(|c| c.high.dollars())),
    ]
}
