//! The flags that configure a campaign, shared by `run`, `config` and
//! `submit`. Every flag overrides the same key of `framebreak.toml` and of
//! the `FRAMEBREAK_*` variables.

use std::path::PathBuf;

use anyhow::Context;
use framebreak::campaign::{CampaignConfig, ConfigLoader};

use crate::exit::Usage;

#[derive(Debug, Clone, clap::Args)]
#[command(
    next_help_heading = "Campaign (each flag overrides framebreak.toml and FRAMEBREAK_* variables)"
)]
pub(crate) struct CampaignArgs {
    /// A configuration file (default: ./framebreak.toml when it exists).
    #[arg(long, value_name = "FILE")]
    pub(crate) config: Option<PathBuf>,

    /// Base prompts: a text file (one per line) or JSON Lines; the built-in scenes when absent.
    #[arg(short, long, value_name = "FILE")]
    input: Option<PathBuf>,

    /// Variants per base prompt.
    #[arg(short = 'n', long, value_name = "N")]
    per_prompt: Option<usize>,

    /// How traps are picked: random, stratified or exhaustive.
    #[arg(long, value_name = "STRATEGY")]
    strategy: Option<String>,

    /// Campaign seed: same seed, same variants.
    #[arg(long, value_name = "S")]
    seed: Option<u64>,

    /// Only traps whose id matches this glob (`physics.*`).
    #[arg(long, value_name = "GLOB")]
    traps: Option<String>,

    /// Do not keep the unmutated base prompts as controls.
    #[arg(long)]
    no_control: bool,

    /// Stop after this many variants.
    #[arg(long, value_name = "N")]
    limit: Option<usize>,

    /// sim (default), sim-http, openai, replicate, fal, runway, luma or veo.
    ///
    /// Keys come from the environment or .env; default models:
    ///   replicate  REPLICATE_API_TOKEN  google/veo-3.1-fast
    ///   fal        FAL_KEY              fal-ai/veo3.1/fast
    ///   runway     RUNWAYML_API_SECRET  veo3.1_fast
    ///   luma       LUMAAI_API_KEY       ray-2
    ///   veo        GEMINI_API_KEY       veo-3.1-fast-generate-preview
    ///   openai     OPENAI_API_KEY       a /v1/videos gateway: --base-url and --model
    ///   sim-http   (none)               a `framebreak sim serve` at --base-url
    #[arg(long, value_name = "BACKEND", verbatim_doc_comment)]
    backend: Option<String>,

    /// The model to ask for.
    #[arg(long, value_name = "MODEL")]
    model: Option<String>,

    /// Another endpoint than the provider's (a gateway, a `framebreak sim serve`).
    #[arg(long, value_name = "URL")]
    base_url: Option<String>,

    /// Longest wait for one HTTP request to the provider, seconds (default
    /// 120). A submission that outlasts it is looked up, never resent.
    #[arg(long, value_name = "SECS")]
    request_timeout: Option<u64>,

    /// The simulated model's profile: weak, strong or a TOML file.
    #[arg(long, value_name = "PROFILE")]
    profile: Option<String>,

    /// Faults of the in-process simulator (as `sim serve --faults`).
    #[arg(long, value_name = "SPEC")]
    faults: Option<String>,

    /// Frame size asked for, `WxH`.
    #[arg(long, value_name = "WxH")]
    size: Option<String>,

    /// Video length asked for, seconds.
    #[arg(long, value_name = "SECS")]
    duration: Option<u32>,

    /// Jobs in flight at once.
    #[arg(short = 'c', long, value_name = "N")]
    concurrency: Option<usize>,

    /// Submissions to the backend per second or minute (`10/s`, `600/m`),
    /// for the whole run. Polls and downloads are limited by --poll-rate.
    #[arg(long, value_name = "RATE")]
    rate: Option<String>,

    /// Status polls and downloads per second or minute, per process
    /// (default: unlimited, each job's polls spaced by --min-poll-interval).
    #[arg(long, value_name = "RATE")]
    poll_rate: Option<String>,

    /// Shortest wait between two polls of one job, milliseconds, whatever
    /// the provider hints (default 1000; 20 for the simulator).
    #[arg(long, value_name = "MS")]
    min_poll_interval: Option<u64>,

    /// Attempts of one job before it fails for good.
    #[arg(long, value_name = "N")]
    max_attempts: Option<u32>,

    /// Job store: sqlite (in the run folder) or postgres://… (or DATABASE_URL).
    #[arg(long, value_name = "STORE")]
    store: Option<String>,

    /// The most the run may commit to, in US dollars (25usd, $25): each
    /// submission first holds its highest price, none is sent that would
    /// pass it, and the run stops there (exit code 4). Needs a price for
    /// the model (built in, or [pricing."backend:model"] in framebreak.toml).
    #[arg(long, value_name = "AMOUNT")]
    budget: Option<String>,

    /// A store every machine of the run reads its videos from:
    /// s3://BUCKET/PREFIX (credentials, region and endpoint from AWS_*
    /// variables) or file:///SHARED/FOLDER (default: none; each video
    /// stays in the run folder of the machine that downloaded it).
    #[arg(long, value_name = "URL")]
    videos: Option<String>,

    /// Analysis device: auto, cpu or cuda:N.
    #[arg(long, value_name = "DEVICE")]
    device: Option<String>,

    /// Videos analysed at once.
    #[arg(long, value_name = "N")]
    analysis_workers: Option<usize>,

    /// The folder of run folders.
    #[arg(long, value_name = "DIR")]
    runs_dir: Option<PathBuf>,
}

impl CampaignArgs {
    /// Defaults, then the config file, then the environment, then the flags.
    pub(crate) fn load(&self) -> anyhow::Result<CampaignConfig> {
        let loader = ConfigLoader::new();
        let loader = match &self.config {
            Some(path) => loader.file(path),
            None => loader.default_file(),
        }
        .map_err(|e| Usage(e.to_string()))?;
        let loader = loader
            .env(std::env::vars())
            .map_err(|e| Usage(e.to_string()))?;
        let size = match &self.size {
            Some(text) => {
                let size: framebreak::client::Size =
                    text.parse().map_err(|e| Usage(format!("--size: {e}")))?;
                Some((size.width, size.height))
            }
            None => None,
        };
        let loader = loader
            .set_opt("variants.input", self.input.clone())
            .set_opt("variants.per_prompt", self.per_prompt)
            .set_opt("variants.strategy", self.strategy.clone())
            .set_opt("variants.seed", self.seed)
            .set_opt("variants.traps", self.traps.clone())
            .set_opt("variants.control", self.no_control.then_some(false))
            .set_opt("variants.limit", self.limit)
            .set_opt("backend.kind", self.backend.clone())
            .set_opt("backend.model", self.model.clone())
            .set_opt("backend.base_url", self.base_url.clone())
            .set_opt("backend.request_timeout_secs", self.request_timeout)
            .set_opt("backend.profile", self.profile.clone())
            .set_opt("backend.faults", self.faults.clone())
            .set_opt("request.width", size.map(|s| s.0))
            .set_opt("request.height", size.map(|s| s.1))
            .set_opt("request.duration_secs", self.duration)
            .set_opt("scheduler.concurrency", self.concurrency)
            .set_opt("scheduler.rate", self.rate.clone())
            .set_opt("scheduler.poll_rate", self.poll_rate.clone())
            .set_opt("backend.min_poll_interval_ms", self.min_poll_interval)
            .set_opt("scheduler.max_attempts", self.max_attempts)
            .set_opt("scheduler.store", self.store.clone())
            .set_opt("analysis.device", self.device.clone())
            .set_opt("analysis.workers", self.analysis_workers)
            .set_opt("output.runs_dir", self.runs_dir.clone())
            .set_opt("output.videos", self.videos.clone())
            .set_opt("cost.budget", self.budget.clone());
        let config = loader.build().map_err(|e| Usage(e.to_string()))?;
        Ok(config)
    }
}

/// `framebreak config`: the effective configuration, secrets redacted.
#[derive(Debug, clap::Args)]
pub(crate) struct ConfigArgs {
    #[command(flatten)]
    campaign: CampaignArgs,
}

pub(crate) fn print_config(args: ConfigArgs) -> anyhow::Result<()> {
    use std::io::Write;
    let config = args.campaign.load()?;
    let mut text = config.to_toml_redacted();
    {
        let kind = config.backend.kind;
        let model = config
            .backend
            .model
            .clone()
            .unwrap_or_else(|| format!("{} (the backend's default)", kind.default_model()));
        text.push_str(&format!(
            "\n# backend {}: model {model}",
            config.backend.kind
        ));
        if let Some(var) = kind.key_var() {
            text.push_str(&format!(", key from {var}"));
        }
        text.push('\n');
    }
    let mut out = std::io::stdout().lock();
    out.write_all(text.as_bytes())
        .and_then(|()| out.flush())
        .context("writing the configuration")
}
