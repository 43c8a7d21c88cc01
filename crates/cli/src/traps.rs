//! `framebreak traps`: list the trap catalogue.

use std::io::Write;
use std::path::PathBuf;

use anyhow::Context;

use crate::variants::load_catalogue;
use framebreak::report::Output;

#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// One JSON object per trap, per line, instead of a table.
    #[arg(long)]
    json: bool,

    /// A trap catalogue (TOML) that extends the built-in one.
    #[arg(long, value_name = "FILE")]
    catalogue: Option<PathBuf>,

    /// Only these traps: ids, globs or families, comma-separated.
    #[arg(long, value_name = "GLOB")]
    traps: Option<String>,
}

pub(crate) fn run(args: Args) -> anyhow::Result<()> {
    let catalogue = load_catalogue(args.catalogue.as_deref(), args.traps.as_deref())?;
    let mut out = Output::open(None)?;
    if args.json {
        let mut buf = Vec::new();
        for trap in catalogue.traps() {
            out.json_line(trap, &mut buf)?;
        }
        return Ok(out.finish()?);
    }
    let width = catalogue
        .traps()
        .iter()
        .map(|t| t.id.as_str().len())
        .max()
        .unwrap_or(0);
    let w = out.writer();
    let write =
        |w: &mut dyn Write, line: String| writeln!(w, "{line}").context("cannot write output");
    write(
        w,
        format!(
            "{:<width$}  {:<10}  {:<40}  TITLE",
            "ID", "FAMILY", "PROVOKES"
        ),
    )?;
    for trap in catalogue.traps() {
        let provokes: Vec<&str> = trap.provokes.iter().map(|k| k.as_str()).collect();
        write(
            w,
            format!(
                "{:<width$}  {:<10}  {:<40}  {}",
                trap.id,
                trap.family,
                provokes.join(","),
                trap.title
            ),
        )?;
    }
    write(
        w,
        format!(
            "\n{} traps, {} known combinations, {} camera demands ({})",
            catalogue.traps().len(),
            catalogue.combinations().len(),
            catalogue.demands().len(),
            catalogue.source_name()
        ),
    )?;
    Ok(out.finish()?)
}
