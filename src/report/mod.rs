//! Reports of a campaign, rebuilt from its result rows at any time: the
//! figures ([`Summary`]: defect rates with Wilson intervals, each trap's
//! effect over its controls with Newcombe intervals, score histograms,
//! failure categories, the detectors' precision and recall on simulated
//! runs), a one-page HTML report ([`html`]) with SVG charts and contact
//! sheets of the worst videos ([`contact_sheet`]), and the per-video rows as
//! JSON Lines ([`jsonl`]), CSV ([`csv()`]) and JUnit XML ([`junit`]).
//!
//! Writers take any [`std::io::Write`]; [`html`] returns the page as a
//! `String`.
//!
//! ```
//! use framebreak::report::{HtmlOptions, Summary, html, wilson};
//!
//! // A run with no finished job still makes a page, which says so.
//! let page = html(&[], &HtmlOptions::default().title("empty run"))?;
//! assert!(page.contains("nothing to report") && page.contains(r#"id="worst""#));
//! assert_eq!(Summary::new(&[]).rows, 0);
//! // 3 broken videos out of 8: 37.5 %, 95 % CI 13.7 % to 69.4 %.
//! let i = wilson(3, 8).unwrap();
//! assert!((i.low - 0.137).abs() < 1e-3 && (i.high - 0.694).abs() < 1e-3);
//! # Ok::<(), framebreak::report::Error>(())
//! ```

mod digest;
mod error;
mod escape;
mod html;
mod junit;
mod output;
mod sheet;
mod stats;
mod summary;
mod svg;
mod table;
#[cfg(test)]
mod tests;
#[cfg(test)]
pub(crate) mod testutil;

pub use digest::Digest;
pub(crate) use digest::worst_rows;
pub use error::Error;
pub use html::{HtmlOptions, SECTIONS, html, html_from};
pub use junit::{JunitWriter, junit};
pub use output::Output;
pub use sheet::{ContactSheet, SheetOptions, SheetTile, contact_sheet, kind_colour};
pub use stats::{Interval, Z95, newcombe, wilson, wilson_z};
pub use summary::{CostLine, GroupRate, Histogram, Rate, Summary, TrapEffect};
pub use table::{CSV_HEADER, CsvWriter, JsonlWriter, csv, jsonl};
