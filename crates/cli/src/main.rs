//! The `framebreak` command: parses arguments, runs the library, maps errors
//! to exit codes. Nothing else lives here.
#![allow(clippy::print_stderr)]

mod analyze;
mod devices;
mod exit;
mod output;
mod sim;
mod traps;
mod variants;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// Stress-test text-to-video models with adversarial prompt variants.
#[derive(Debug, Parser)]
#[command(name = "framebreak", version, about, long_about = None, propagate_version = true)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Turn base prompts into adversarial variants (JSON Lines).
    ///
    /// With no --input, the built-in scenes are the base prompts.
    Variants(variants::Args),
    /// List the trap catalogue.
    Traps(traps::Args),
    /// List the compute devices (CPU, CUDA) with their metrics.
    Devices(devices::Args),
    /// Find defects in videos and score them (one JSON object per video).
    Analyze(analyze::Args),
    /// Run the simulated video model (`framebreak sim serve`).
    Sim(sim::Args),
}

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        // Help and --version exit 0; usage errors exit 2.
        Err(e) => e.exit(),
    };
    let result = match cli.command {
        Command::Variants(args) => variants::run(args),
        Command::Traps(args) => traps::run(args),
        Command::Devices(args) => devices::run(args),
        Command::Sim(args) => sim::run(args),
        Command::Analyze(args) => match analyze::run(args) {
            Ok(true) => Ok(()),
            Ok(false) => return ExitCode::from(exit::FAILURE),
            Err(e) => Err(e),
        },
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => exit::report(&e),
    }
}
