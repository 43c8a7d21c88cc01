//! `framebreak sim serve`: the simulated model behind the OpenAI-compatible
//! Videos API, for load tests and offline runs against real HTTP.

use std::io::Write;
use std::sync::Arc;

use framebreak::sim::{
    Error as SimError, Faults, Latency, Profile, ServerConfig, SimServer, Simulator, parse_duration,
};

use crate::exit::Usage;

#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    #[command(subcommand)]
    command: SimCommand,
}

#[derive(Debug, clap::Subcommand)]
enum SimCommand {
    /// Serve the simulator over HTTP until killed: the OpenAI Videos API as
    /// the official SDK speaks it (POST /v1/videos as JSON or multipart,
    /// GET /v1/videos with limit/order/after, GET and DELETE
    /// /v1/videos/{id}, GET /v1/videos/{id}/content?variant=video|thumbnail|spritesheet),
    /// plus GET /v1/videos/{id}/truth and GET /v1/stats.
    Serve(ServeArgs),
}

#[derive(Debug, clap::Args)]
struct ServeArgs {
    /// Address to listen on; port 0 picks a free port (printed on start).
    #[arg(long, default_value = "127.0.0.1:8080")]
    addr: String,

    /// Model profile: `weak`, `strong` or a TOML file.
    #[arg(long, default_value = "weak")]
    profile: String,

    /// Least time from submission to a finished job (`20ms`, `2s`).
    #[arg(long, default_value = "20ms", value_name = "DURATION")]
    latency: String,

    /// Faults to inject, e.g. `rate_limited=0.1,retry_after=7s,server_error=0.05,hang=0.01,
    /// content_policy=0.02,failed=0.02,stay_queued=0.01,truncated=0.05,slow=0.1,slow_bps=65536,rps=50,burst=10`.
    #[arg(long, default_value = "", value_name = "SPEC")]
    faults: String,

    /// Distinct clips kept rendered.
    #[arg(long, default_value_t = framebreak::sim::DEFAULT_CACHE_CLIPS)]
    cache_clips: usize,

    /// Runtime worker threads.
    #[arg(long, default_value_t = 2)]
    workers: usize,

    /// Keep jobs in this file (one JSON line each, created if missing): a
    /// restarted server answers for the jobs and idempotency keys in it.
    #[arg(long, value_name = "FILE")]
    journal: Option<std::path::PathBuf>,

    /// Ignore `Idempotency-Key` headers: every submission makes a job of
    /// its own, as with a provider that promises no idempotency.
    #[arg(long)]
    ignore_idempotency_keys: bool,
}

pub(crate) fn run(args: Args) -> anyhow::Result<()> {
    let SimCommand::Serve(args) = args.command;
    let profile =
        Profile::named_or_file(&args.profile).map_err(|e| Usage(format!("--profile: {e}")))?;
    let latency = parse_duration(&args.latency).map_err(|e| Usage(format!("--latency: {e}")))?;
    let faults: Faults = args
        .faults
        .parse()
        .map_err(|e| Usage(format!("--faults: {e}")))?;
    let name = profile.name().to_owned();
    let simulator = Simulator::new(profile)
        .map_err(|e| Usage(format!("--profile: {e}")))?
        .cache_clips(args.cache_clips);
    let mut config = ServerConfig::new(Arc::new(simulator))
        .faults(faults)
        .latency(Latency::default().generate(latency))
        .workers(args.workers)
        .honour_idempotency(!args.ignore_idempotency_keys);
    if let Some(path) = args.journal {
        config = config.journal(path);
    }
    let server = SimServer::bind(&args.addr, config).map_err(|e| match e {
        SimError::Journal { .. } | SimError::Io { .. } => {
            anyhow::Error::new(Usage(format!("--journal: {e}")))
        }
        // The error names the address already.
        e => anyhow::Error::new(e),
    })?;
    let mut out = std::io::stdout().lock();
    writeln!(
        out,
        "framebreak sim listening on {} (profile {name})",
        server.url()
    )?;
    out.flush()?;
    drop(out);
    server.wait();
    Ok(())
}
