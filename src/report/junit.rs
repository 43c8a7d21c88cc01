//! The rows as JUnit XML, so CI systems show a campaign like a test run.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::io::Write;

use super::Error;
use super::escape::escape;
use crate::{ResultRow, RowStatus};

/// Writes the rows as JUnit XML: one `<testsuite>` per trap (a combination
/// of traps is its own suite, `a+b`; unmutated controls are the suite
/// `control`), one `<testcase>` per video, named by job id. A case fails
/// (`<failure type="defects">`) when its video shows a defect, and fails with
/// the failure category as type when the job failed; a cancelled job is
/// `<skipped>`. The prompt and scores go in `<system-out>`. Every text is
/// escaped.
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
pub fn junit(rows: &[ResultRow], mut out: impl Write) -> Result<(), Error> {
    let mut suites: BTreeMap<String, Vec<&ResultRow>> = BTreeMap::new();
    for row in rows {
        let name = if row.control || row.traps.is_empty() {
            "control".to_owned()
        } else {
            row.traps.join("+")
        };
        suites.entry(name).or_default().push(row);
    }
    let count = |rows: &[&ResultRow]| {
        let failures = rows.iter().filter(|r| fails(r)).count();
        let skipped = rows
            .iter()
            .filter(|r| r.status == RowStatus::Cancelled)
            .count();
        (rows.len(), failures, skipped)
    };
    let all: Vec<&ResultRow> = rows.iter().collect();
    let (tests, failures, skipped) = count(&all);
    let mut xml = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    let _ = writeln!(
        xml,
        r#"<testsuites name="framebreak" tests="{tests}" failures="{failures}" errors="0" skipped="{skipped}">"#
    );
    for (name, rows) in &suites {
        let (tests, failures, skipped) = count(rows);
        let _ = writeln!(
            xml,
            r#"  <testsuite name="{}" tests="{tests}" failures="{failures}" errors="0" skipped="{skipped}">"#,
            escape(name)
        );
        for row in rows {
            case(&mut xml, name, row);
        }
        xml.push_str("  </testsuite>\n");
    }
    xml.push_str("</testsuites>\n");
    out.write_all(xml.as_bytes())?;
    out.flush()?;
    Ok(())
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
