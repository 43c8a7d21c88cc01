//! The `framebreak` command: parses arguments, runs the library, maps errors
//! to exit codes. Nothing else lives here.
#![allow(clippy::print_stderr)]

mod analyze;
mod campaign_args;
mod devices;
mod distributed;
mod exit;
mod interrupt;
mod plan;
mod progress;
mod report;
mod roast;
mod run;
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
    /// Run a campaign: variants → backend → analysis → reports.
    ///
    /// With no flags: the built-in scenes against the in-process simulated
    /// model, a SQLite store in ./runs/<run-id>/, reports at the end.
    /// Exit codes: 0 done, 1 error, 2 usage, 3 a --fail-on condition held,
    /// 130 stopped (resume with `framebreak resume <run-id>`).
    Run(run::RunArgs),
    /// Resume a stopped or killed run where it stopped.
    Resume(run::ResumeArgs),
    /// Enqueue a campaign in a shared PostgreSQL store for workers to run.
    Submit(distributed::SubmitArgs),
    /// Work on a submitted campaign (run any number, on any machines).
    Worker(distributed::WorkerArgs),
    /// Jobs per state of a run, or of every run of a store.
    Status(distributed::StatusArgs),
    /// The shared store's schema (`framebreak db migrate`).
    Db(distributed::DbArgs),
    /// Write a run's report (HTML, JSONL, CSV or JUnit) from its store.
    Report(report::Args),
    /// Compose posts about a run's worst videos (a dry run unless --publish).
    Roast(roast::Args),
    /// Print the effective configuration (defaults, framebreak.toml,
    /// FRAMEBREAK_* variables, flags), secrets redacted.
    Config(campaign_args::ConfigArgs),
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

/// glibc's malloc, left to itself, keeps a run's freed memory: it makes an
/// arena per thread that contends (up to eight per core: tokio's workers,
/// its blocking pool, the analysis threads) and, once a large block was
/// freed, serves later large blocks (frames, the H.264 coder's buffers) from
/// the arenas instead of mapping them, where fragments of them stay
/// resident. One arena per core and a fixed 256 KiB mapping threshold make
/// resident memory follow live memory, and a thread calling `malloc_trim`
/// every 2 s returns the free pages inside the arenas (measured, each
/// alone, in `docs/memory-per-job-2026-12-06.md`; `scripts/bench-memory`).
/// Called before any other thread starts.
#[allow(unsafe_code)]
fn tune_malloc() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        let cores = std::thread::available_parallelism().map_or(1, std::num::NonZero::get);
        let cores = libc::c_int::try_from(cores).unwrap_or(libc::c_int::MAX);
        // SAFETY: mallopt only sets tuning parameters of glibc's allocator,
        // each to a value it accepts (a positive arena count; a threshold
        // under its 32 MiB maximum), and no other thread runs yet.
        unsafe {
            libc::mallopt(libc::M_ARENA_MAX, cores);
            libc::mallopt(libc::M_MMAP_THRESHOLD, 256 * 1024);
        }
        // Free pages inside the arenas (not only at their tops) go back to
        // the kernel every 2 s, so what a burst of work freed does not stay
        // resident under the next burst.
        let trimmer = std::thread::Builder::new()
            .name("framebreak-malloc-trim".into())
            .spawn(|| {
                loop {
                    std::thread::sleep(std::time::Duration::from_secs(2));
                    trim_malloc();
                }
            });
        drop(trimmer);
    }
}

/// Hands the free pages of malloc's arenas back to the kernel now: between
/// two phases (enqueueing, then running) what the first freed does not
/// stay resident under the second's first burst.
#[allow(unsafe_code)]
pub(crate) fn trim_malloc() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: malloc_trim only hands free memory back to the kernel; it is
    // thread-safe and takes the arenas' locks.
    unsafe {
        libc::malloc_trim(0);
    }
}

fn main() -> ExitCode {
    tune_malloc();
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        // Help and --version exit 0; usage errors exit 2.
        Err(e) => e.exit(),
    };
    let result = match cli.command {
        Command::Run(args) => return exit_code(run::run(args)),
        Command::Resume(args) => return exit_code(run::resume(args)),
        Command::Report(args) => report::run(args),
        Command::Submit(args) => distributed::submit(args),
        Command::Worker(args) => return exit_code(distributed::worker(args)),
        Command::Status(args) => distributed::status(args),
        Command::Db(args) => distributed::db(args),
        Command::Roast(args) => roast::run(args),
        Command::Config(args) => campaign_args::print_config(args),
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

/// The async runtime every command that talks to a store or a backend
/// runs on.
pub(crate) fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    use anyhow::Context;
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")
}

fn exit_code(result: anyhow::Result<ExitCode>) -> ExitCode {
    result.unwrap_or_else(|e| exit::report(&e))
}
