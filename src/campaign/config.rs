//! A campaign's configuration: built-in defaults, then `framebreak.toml`,
//! then `FRAMEBREAK_*` environment variables, then flags, each layer over
//! the one before.
//!
//! Layers are merged as JSON trees and the result is deserialized once, with
//! unknown keys refused, so a typo in any layer is an error that names the
//! key and the layer, never a silently ignored setting.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::campaign::Error;

/// The file read from the working directory when no `--config` is given.
pub const DEFAULT_CONFIG_FILE: &str = "framebreak.toml";
/// Prefix of the environment variables that set configuration keys:
/// `FRAMEBREAK_BACKEND__MODEL=…` sets `backend.model` (sections and keys
/// joined by a double underscore, lower-cased).
pub const ENV_PREFIX: &str = "FRAMEBREAK_";

/// The longest a lease or a store outage allowance may be, seconds (a
/// week): longer leases would overflow the store's millisecond clock, and
/// no worker should sit out a longer outage.
const MAX_WAIT_SECS: u64 = 7 * 24 * 3600;

/// Everything a campaign needs to know, as `framebreak config` prints it.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
#[non_exhaustive]
pub struct CampaignConfig {
    /// Which prompts, how many variants of each, which traps.
    pub variants: VariantsConfig,
    /// The video model to attack.
    pub backend: BackendConfig,
    /// What each request asks for.
    pub request: RequestConfig,
    /// Concurrency, rate limits and retries.
    pub scheduler: SchedulerConfig,
    /// Where and how videos are analysed.
    pub analysis: AnalysisConfig,
    /// Where runs and reports go.
    pub output: OutputConfig,
    /// What the run may spend.
    pub cost: CostConfig,
    /// Prices over the built-in table, keyed `backend:model`
    /// (`[pricing."luma:ray-2"] per_second = "0.08usd"`).
    #[serde(skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub pricing: std::collections::BTreeMap<String, crate::cost::PriceConfig>,
    /// The parts a program gave in code instead of this configuration
    /// (see [`CampaignBuilder`](crate::campaign::CampaignBuilder)),
    /// recorded by name when the run is made.
    #[serde(skip_serializing_if = "InCode::is_empty")]
    pub in_code: InCode,
}

/// The parts of a run given in code ([`CampaignBuilder`](crate::campaign::CampaignBuilder))
/// rather than by its configuration, by the names the program gave them.
/// A run made with such parts is reopened only with the same parts: a
/// backend swapped mid-run would be asked for another provider's jobs, and
/// other detectors or variants would mix two campaigns in one report.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
#[non_exhaustive]
pub struct InCode {
    /// The backends' names (each its own lane in the scheduler), in order.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub backends: Vec<String>,
    /// The extra detectors' names, in order.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub detectors: Vec<String>,
    /// The variant generator's name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub generator: Option<String>,
    /// The job store's name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub store: Option<String>,
}

impl InCode {
    /// Whether nothing was given in code.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.backends.is_empty()
            && self.detectors.is_empty()
            && self.generator.is_none()
            && self.store.is_none()
    }
}

/// What a run may spend.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
#[non_exhaustive]
pub struct CostConfig {
    /// The most the run may commit to (`25usd`): each submission holds its
    /// highest price first, and none is sent that would pass it. Needs a
    /// price for the model.
    pub budget: Option<crate::cost::Usd>,
}

/// How variants are drawn (`variants.strategy`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum StrategyKind {
    /// `per_prompt` variants drawn at random (the default).
    #[default]
    Random,
    /// `per_prompt` variants spread evenly over the traps.
    Stratified,
    /// Every trap once per prompt (`per_prompt` ignored).
    Exhaustive,
}

impl StrategyKind {
    /// The name the configuration writes it with.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Random => "random",
            Self::Stratified => "stratified",
            Self::Exhaustive => "exhaustive",
        }
    }
}

/// Which prompts, how many variants of each, which traps.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
#[non_exhaustive]
pub struct VariantsConfig {
    /// A text or JSON Lines file of base prompts; the built-in scenes when
    /// unset.
    pub input: Option<PathBuf>,
    /// Variants per base prompt.
    pub per_prompt: usize,
    /// `random`, `stratified` or `exhaustive`.
    pub strategy: StrategyKind,
    /// Seed of the campaign: same seed, same variants.
    pub seed: u64,
    /// Keep each unmutated base prompt as a control (needed for the
    /// mutated-vs-control comparison of the report).
    pub control: bool,
    /// Only traps whose id matches this glob (`physics.*`).
    pub traps: Option<String>,
    /// At most this many traps chained into one variant.
    pub max_traps: usize,
    /// Stop after this many variants (all of them when unset).
    pub limit: Option<usize>,
}

impl Default for VariantsConfig {
    fn default() -> Self {
        Self {
            input: None,
            per_prompt: 4,
            strategy: StrategyKind::Random,
            seed: 0,
            control: true,
            traps: None,
            max_traps: framebreak_variants::ChainConfig::default().max_traps,
            limit: None,
        }
    }
}

/// The video model to attack.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
#[non_exhaustive]
pub struct BackendConfig {
    /// `sim` (in-process simulated model), `sim-http` (a `framebreak sim
    /// serve` at `base_url`), `openai`, `replicate`, `fal`, `runway`,
    /// `luma` or `veo`.
    pub kind: crate::campaign::BackendKind,
    /// The model to ask for; the provider's default when unset.
    pub model: Option<String>,
    /// Another endpoint than the provider's (a gateway, a proxy, the sim).
    pub base_url: Option<String>,
    /// What each gateway model accepts, for the `openai` backend (a
    /// `/v1/videos` gateway): `[backend.models."wan-2.5"]` with `durations =
    /// [5, 10]`, `sizes = ["1280x720"]`, `seed = false`… Requests are fitted
    /// to it before the first submission.
    #[serde(skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub models: std::collections::BTreeMap<String, framebreak_client::ModelLimits>,
    /// The simulated model's profile: `weak`, `strong` or a TOML file.
    pub profile: String,
    /// Faults the in-process simulator injects (as `sim serve --faults`).
    pub faults: Option<String>,
    /// How long one generation may take before the job times out, seconds.
    pub generation_timeout_secs: u64,
    /// The longest wait between two polls, seconds.
    pub max_poll_interval_secs: u64,
    /// How long one HTTP request to the provider may take, seconds (for a
    /// download: the wait for each chunk). A submission that outlasts it
    /// may still have been made: it is looked up, never simply resent.
    pub request_timeout_secs: u64,
    /// The shortest wait between two polls of one job, milliseconds, whatever
    /// the provider's hint; unset: 1000 for real providers, 20 for the
    /// simulator.
    pub min_poll_interval_ms: Option<u64>,
}

impl Default for BackendConfig {
    fn default() -> Self {
        Self {
            kind: crate::campaign::BackendKind::Sim,
            model: None,
            base_url: None,
            models: std::collections::BTreeMap::new(),
            profile: "weak".into(),
            faults: None,
            generation_timeout_secs: 1800,
            max_poll_interval_secs: 10,
            request_timeout_secs: 120,
            min_poll_interval_ms: None,
        }
    }
}

/// What each request asks for.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
#[non_exhaustive]
pub struct RequestConfig {
    /// Frame width, pixels.
    pub width: u32,
    /// Frame height, pixels.
    pub height: u32,
    /// Length, seconds.
    pub duration_secs: u32,
    /// Send the campaign seed to models that take one.
    pub send_seed: bool,
}

impl RequestConfig {
    /// Checks the in-process simulator's limits (`sim` fits no request to a
    /// model, so what it cannot make would fail every job): even sides of 32 to
    /// [`MAX_SIDE`](framebreak_sim::MAX_SIDE) pixels, 1 to
    /// [`MAX_DURATION_SECS`](framebreak_sim::MAX_DURATION_SECS) seconds.
    /// Other backends fit the request to their model before the run, and
    /// name the values it takes when it cannot fit.
    fn validate(&self, backend: &str) -> Result<(), Error> {
        let bad = |key: &str, reason: String| {
            Err(Error::Config {
                source_name: key.to_owned(),
                reason,
            })
        };
        if backend != "sim" {
            return Ok(());
        }
        let (w, h) = (self.width, self.height);
        let max_side = framebreak_sim::MAX_SIDE;
        for (key, side) in [("request.width", w), ("request.height", h)] {
            if !(32..=max_side).contains(&side) || side % 2 != 0 {
                return bad(
                    key,
                    format!(
                        "{w}x{h}: the simulator makes frames whose sides are even and within \
                         32..={max_side} pixels"
                    ),
                );
            }
        }
        let max_secs = framebreak_sim::MAX_DURATION_SECS;
        if !(1..=max_secs).contains(&self.duration_secs) {
            return bad(
                "request.duration_secs",
                format!(
                    "{} s: the simulator makes clips of 1..={max_secs} seconds",
                    self.duration_secs
                ),
            );
        }
        Ok(())
    }
}

impl Default for RequestConfig {
    fn default() -> Self {
        Self {
            width: 320,
            height: 240,
            duration_secs: 2,
            send_seed: true,
        }
    }
}

/// Concurrency, rate limits and retries.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
#[non_exhaustive]
pub struct SchedulerConfig {
    /// Jobs in flight at once.
    pub concurrency: usize,
    /// Submissions per second or minute to the backend (`10/s`, `600/m`),
    /// for the whole campaign (all workers of a PostgreSQL store share it).
    pub rate: Option<crate::campaign::Rate>,
    /// Status polls and downloads per second or minute, per process
    /// (`20/s`); unlimited when unset (polls are still spaced by
    /// `backend.min_poll_interval_ms`).
    pub poll_rate: Option<crate::campaign::Rate>,
    /// Attempts of one job before it fails for good.
    pub max_attempts: u32,
    /// The store: `sqlite` (in the run folder) or `postgres://…`.
    pub store: StoreUrl,
    /// How long a worker's lease on a job lasts without a heartbeat: a
    /// killed worker's jobs go back to the others after this, seconds.
    pub lease_ttl_secs: u64,
    /// How long a PostgreSQL store may stay unreachable (restarting, a
    /// connection cut) before the run gives up, seconds; meanwhile every
    /// store call is tried again with backoff. 0: give up at once.
    pub store_outage_secs: u64,
}

impl Default for SchedulerConfig {
    fn default() -> Self {
        Self {
            concurrency: 16,
            rate: None,
            poll_rate: None,
            max_attempts: 5,
            store: StoreUrl::Sqlite,
            lease_ttl_secs: 30,
            store_outage_secs: 120,
        }
    }
}

/// Where videos are analysed (`analysis.device`): `auto` or one device.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum DeviceChoice {
    /// Each video on the least loaded device found (CUDA GPUs, else the
    /// CPU).
    #[default]
    Auto,
    /// Every video on this device (`cpu`, `cuda:0`).
    Fixed(framebreak_gpu::DeviceId),
}

impl std::fmt::Display for DeviceChoice {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Auto => f.write_str("auto"),
            Self::Fixed(id) => write!(f, "{id}"),
        }
    }
}

impl std::str::FromStr for DeviceChoice {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        match text.trim() {
            "auto" => Ok(Self::Auto),
            other => other
                .parse()
                .map(Self::Fixed)
                .map_err(|e| format!("{text:?} is not auto, cpu or cuda:N: {e}")),
        }
    }
}

impl Serialize for DeviceChoice {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for DeviceChoice {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        String::deserialize(d)?
            .parse()
            .map_err(serde::de::Error::custom)
    }
}

/// Where and how videos are analysed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
#[non_exhaustive]
pub struct AnalysisConfig {
    /// `auto` (the best device found), `cpu` or `cuda:N`.
    pub device: DeviceChoice,
    /// Analysis size: the longest side in pixels.
    pub size: u32,
    /// Analyse at most this many frames per video.
    pub max_frames: Option<usize>,
    /// Videos analysed at once; the number of CPU cores when unset.
    pub workers: Option<usize>,
}

impl Default for AnalysisConfig {
    fn default() -> Self {
        Self {
            device: DeviceChoice::Auto,
            size: 320,
            max_frames: Some(96),
            workers: None,
        }
    }
}

/// Where runs and reports go.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
#[non_exhaustive]
pub struct OutputConfig {
    /// The folder that holds one folder per run.
    pub runs_dir: PathBuf,
    /// Keep the downloaded videos (the report's contact sheets need them).
    pub keep_videos: bool,
    /// A store every machine of the run can read its videos from:
    /// `s3://BUCKET/PREFIX` (S3 settings from the `AWS_*` variables) or
    /// `file:///shared/folder`. None: each video stays in the run folder
    /// of the machine that downloaded it.
    pub videos: Option<String>,
    /// The worst videos shown in the report.
    pub top: usize,
}

impl Default for OutputConfig {
    fn default() -> Self {
        Self {
            runs_dir: PathBuf::from("runs"),
            keep_videos: true,
            videos: None,
            top: 12,
        }
    }
}

/// Builds a [`CampaignConfig`] from layers, lowest first.
#[derive(Debug, Clone)]
#[must_use]
pub struct ConfigLoader {
    tree: Value,
    /// Which layer set each key last (`scheduler.concurrency` → the file,
    /// variable or flag), so an error names where the bad value came from.
    sources: std::collections::BTreeMap<String, String>,
}

impl Default for ConfigLoader {
    fn default() -> Self {
        Self::new()
    }
}

impl ConfigLoader {
    /// Starts from the built-in defaults.
    pub fn new() -> Self {
        let tree = serde_json::to_value(CampaignConfig::default()).unwrap_or(Value::Null);
        Self {
            tree,
            sources: std::collections::BTreeMap::new(),
        }
    }

    /// Starts from a saved configuration (a run folder's `campaign.toml`).
    ///
    /// # Errors
    ///
    /// [`Error::Config`] naming the file when it cannot be read or parsed.
    pub fn from_file(path: &Path) -> Result<Self, Error> {
        Self::new().file(path)
    }

    /// Lays a TOML file over what is there.
    ///
    /// # Errors
    ///
    /// [`Error::Config`] naming the file when it cannot be read or parsed.
    pub fn file(self, path: &Path) -> Result<Self, Error> {
        let text = std::fs::read_to_string(path).map_err(|e| Error::Config {
            source_name: path.display().to_string(),
            reason: e.to_string(),
        })?;
        self.toml(&text, &path.display().to_string())
    }

    /// Lays `framebreak.toml` of the working directory over what is there,
    /// if that file exists.
    ///
    /// # Errors
    ///
    /// As [`ConfigLoader::file`].
    pub fn default_file(self) -> Result<Self, Error> {
        let path = Path::new(DEFAULT_CONFIG_FILE);
        if path.is_file() {
            self.file(path)
        } else {
            Ok(self)
        }
    }

    /// Lays TOML text over what is there; `source_name` names it in errors.
    ///
    /// # Errors
    ///
    /// [`Error::Config`] when it is not TOML.
    pub fn toml(mut self, text: &str, source_name: &str) -> Result<Self, Error> {
        let layer: Value = toml::from_str(text).map_err(|e| Error::Config {
            source_name: source_name.to_owned(),
            reason: e.to_string().trim().to_owned(),
        })?;
        self.lay(layer, source_name);
        Ok(self)
    }

    /// Lays the `FRAMEBREAK_SECTION__KEY` variables of `vars` over what is
    /// there. Values are read as TOML scalars (`true`, `12`, `0.5`) and
    /// otherwise as strings.
    ///
    /// # Errors
    ///
    /// [`Error::Config`] for a variable that names no section and key.
    pub fn env<I, K, V>(mut self, vars: I) -> Result<Self, Error>
    where
        I: IntoIterator<Item = (K, V)>,
        K: AsRef<str>,
        V: AsRef<str>,
    {
        for (name, value) in vars {
            let name = name.as_ref();
            let Some(rest) = name.strip_prefix(ENV_PREFIX) else {
                continue;
            };
            let Some((section, key)) = rest.split_once("__") else {
                // FRAMEBREAK_LOG and friends belong to other parts.
                continue;
            };
            if section.is_empty() || key.is_empty() {
                return Err(Error::Config {
                    source_name: format!("environment variable {name}"),
                    reason: "expected FRAMEBREAK_SECTION__KEY".into(),
                });
            }
            let value = scalar(value.as_ref());
            let layer =
                serde_json::json!({ section.to_lowercase(): { key.to_lowercase(): value } });
            self.lay(layer, &format!("environment variable {name}"));
        }
        Ok(self)
    }

    /// Sets one key (`"scheduler.concurrency"`) from a flag.
    pub fn set(mut self, key: &str, value: impl Serialize) -> Self {
        let Ok(value) = serde_json::to_value(value) else {
            return self;
        };
        let mut layer = value;
        for part in key.rsplit('.') {
            let mut map = Map::new();
            map.insert(part.to_owned(), layer);
            layer = Value::Object(map);
        }
        self.lay(layer, "a command-line flag");
        self
    }

    /// Merges `layer` over the tree and remembers it set each of its keys.
    fn lay(&mut self, layer: Value, source: &str) {
        fn leaves(v: &Value, prefix: &str, out: &mut Vec<String>) {
            match v {
                Value::Object(map) if !map.is_empty() => {
                    for (k, v) in map {
                        let path = if prefix.is_empty() {
                            k.clone()
                        } else {
                            format!("{prefix}.{k}")
                        };
                        leaves(v, &path, out);
                    }
                }
                _ => out.push(prefix.to_owned()),
            }
        }
        let mut paths = Vec::new();
        leaves(&layer, "", &mut paths);
        for path in paths {
            self.sources.insert(path, source.to_owned());
        }
        merge(&mut self.tree, layer);
    }

    /// Sets one key when the flag was given.
    pub fn set_opt<T: Serialize>(self, key: &str, value: Option<T>) -> Self {
        match value {
            Some(v) => self.set(key, v),
            None => self,
        }
    }

    /// The merged configuration, checked.
    ///
    /// # Errors
    ///
    /// [`Error::Config`] naming the unknown or ill-typed key.
    pub fn build(self) -> Result<CampaignConfig, Error> {
        let sources = self.sources;
        let config: CampaignConfig = serde_path_to_error::deserialize(self.tree).map_err(|e| {
            let key = e.path().to_string();
            // The layer that set the key (or, for an unknown key, the
            // section it sits in).
            let source = sources
                .get(&key)
                .or_else(|| {
                    sources
                        .iter()
                        .find(|(k, _)| k.starts_with(&format!("{key}.")))
                        .map(|(_, v)| v)
                })
                .cloned()
                .unwrap_or_else(|| "the built-in defaults".into());
            Error::Config {
                source_name: source,
                reason: format!("{key}: {}", e.inner()),
            }
        })?;
        config.validate()?;
        Ok(config)
    }
}

impl CampaignConfig {
    /// Checks values that types alone cannot.
    ///
    /// # Errors
    ///
    /// [`Error::Config`] naming the key and what is wrong with it.
    pub fn validate(&self) -> Result<(), Error> {
        let bad = |key: &str, reason: String| {
            Err(Error::Config {
                source_name: key.to_owned(),
                reason,
            })
        };
        let max_concurrency = framebreak_scheduler::MAX_CONCURRENCY;
        if !(1..=max_concurrency).contains(&self.scheduler.concurrency) {
            return bad(
                "scheduler.concurrency",
                format!(
                    "{} is not within 1..={max_concurrency}",
                    self.scheduler.concurrency
                ),
            );
        }
        if !(1..=MAX_WAIT_SECS).contains(&self.scheduler.lease_ttl_secs) {
            return bad(
                "scheduler.lease_ttl_secs",
                format!(
                    "{} is not within 1..={MAX_WAIT_SECS} (a week)",
                    self.scheduler.lease_ttl_secs
                ),
            );
        }
        if self.scheduler.store_outage_secs > MAX_WAIT_SECS {
            return bad(
                "scheduler.store_outage_secs",
                format!(
                    "{} is over {MAX_WAIT_SECS} (a week)",
                    self.scheduler.store_outage_secs
                ),
            );
        }
        if self.backend.request_timeout_secs == 0 {
            return bad("backend.request_timeout_secs", "must be at least 1".into());
        }
        if self.scheduler.max_attempts == 0 {
            return bad("scheduler.max_attempts", "must be at least 1".into());
        }
        if self.variants.per_prompt == 0 && self.variants.strategy != StrategyKind::Exhaustive {
            return bad("variants.per_prompt", "must be at least 1".into());
        }
        if !self.backend.models.is_empty()
            && !matches!(
                self.backend.kind,
                crate::campaign::BackendKind::OpenAi | crate::campaign::BackendKind::SimHttp
            )
        {
            return bad(
                "backend.models",
                format!(
                    "model limits apply to the openai (gateway) backend, not to {}, whose \
                     models' limits are built in",
                    self.backend.kind
                ),
            );
        }
        if self.backend.kind == crate::campaign::BackendKind::OpenAi
            && self.backend.base_url.is_none()
        {
            return bad(
                "backend.base_url",
                "the openai backend is a client for gateways that serve the /v1/videos protocol \
                 (OpenAI's own Videos API closed on 2026-09-24): give the gateway's URL and its \
                 model (--base-url, --model)"
                    .into(),
            );
        }
        if self.backend.kind == crate::campaign::BackendKind::SimHttp
            && self.backend.base_url.is_none()
        {
            return bad(
                "backend.base_url",
                "the sim-http backend needs the URL of a `framebreak sim serve`".into(),
            );
        }
        if let Some(spec) = &self.variants.traps {
            let picked = framebreak_variants::TrapFilter::parse(spec)
                .and_then(|filter| framebreak_variants::Catalogue::builtin().select(&filter));
            if let Err(e) = picked {
                return bad("variants.traps", e.to_string());
            }
        }
        self.request.validate(self.backend_name())?;
        if self.analysis.size < 16 {
            return bad(
                "analysis.size",
                format!("{} px is too small", self.analysis.size),
            );
        }
        if let Some(url) = &self.output.videos {
            crate::campaign::videos::check_url(url)?;
        }
        for lane in self.backend_names() {
            if self.cost.budget.is_none() || self.price_of(lane)?.is_some() {
                continue;
            }
            let (kind, model) = self.priced_model_of(lane);
            return bad(
                "cost.budget",
                format!(
                    "framebreak has no price for {kind}:{model}, so it cannot keep the run within \
                     a budget: set one in framebreak.toml ([pricing.\"{kind}:{model}\"] \
                     per_second = \"0.10usd\" or per_clip = …)"
                ),
            );
        }
        self.price()?;
        if self.analysis.workers == Some(0) {
            return bad("analysis.workers", "must be at least 1".into());
        }
        Ok(())
    }

    /// The backend and model prices are looked up by: the configured model,
    /// else the backend's default.
    #[must_use]
    pub fn priced_model(&self) -> (&str, String) {
        self.priced_model_of(self.backend_name())
    }

    /// [`CampaignConfig::priced_model`] of the backend (lane) named `lane`.
    #[must_use]
    pub fn priced_model_of<'a>(&'a self, lane: &'a str) -> (&'a str, String) {
        let default = if !self.in_code.backends.is_empty() {
            "default"
        } else {
            self.backend.kind.default_model()
        };
        let model = self
            .backend
            .model
            .clone()
            .unwrap_or_else(|| default.to_owned());
        (lane, model)
    }

    /// The name of the run's (first) backend: the first given in code,
    /// else the configured kind's (`sim`, `luma`…). It names its lane.
    #[must_use]
    pub fn backend_name(&self) -> &str {
        self.in_code
            .backends
            .first()
            .map_or(self.backend.kind.as_str(), String::as_str)
    }

    /// The names of every backend of the run, each a lane: those given in
    /// code, else the configured kind's.
    #[must_use]
    pub fn backend_names(&self) -> Vec<&str> {
        if self.in_code.backends.is_empty() {
            vec![self.backend.kind.as_str()]
        } else {
            self.in_code.backends.iter().map(String::as_str).collect()
        }
    }

    /// The price of one request of the run's model (configured, else
    /// built in), if framebreak has one.
    ///
    /// # Errors
    ///
    /// [`Error::Config`] naming a `pricing` key that is wrong.
    pub fn price(&self) -> Result<Option<crate::cost::Price>, Error> {
        self.price_of(self.backend_name())
    }

    /// [`CampaignConfig::price`] of the backend (lane) named `lane`.
    ///
    /// # Errors
    ///
    /// As [`CampaignConfig::price`].
    pub fn price_of(&self, lane: &str) -> Result<Option<crate::cost::Price>, Error> {
        let mut names = crate::campaign::BackendKind::NAMES.to_vec();
        names.extend(self.in_code.backends.iter().map(String::as_str));
        let list = crate::cost::PriceList::new(&self.pricing, &names).map_err(
            |(source_name, reason)| Error::Config {
                source_name,
                reason,
            },
        )?;
        let (kind, model) = self.priced_model_of(lane);
        Ok(list.get(kind, &model))
    }

    /// The configuration as TOML, with every credential in a URL replaced by
    /// `***` (what `framebreak config` prints and run folders keep).
    #[must_use]
    pub fn to_toml_redacted(&self) -> String {
        let mut copy = self.clone();
        if let StoreUrl::Postgres(url) = &mut copy.scheduler.store {
            *url = redact_url(url);
        }
        copy.backend.base_url = copy.backend.base_url.as_deref().map(redact_url);
        toml::to_string_pretty(&copy).unwrap_or_else(|e| format!("# cannot print: {e}\n"))
    }
}

/// Where the jobs of a run live (`scheduler.store`), parsed once, at load.
#[derive(Clone, PartialEq, Eq, Default)]
pub enum StoreUrl {
    /// `sqlite`: `jobs.sqlite` in the run folder (the default).
    #[default]
    Sqlite,
    /// A PostgreSQL server, as written: `postgres://…` (or
    /// `postgresql://…`), or `postgres` for the one `DATABASE_URL` names.
    Postgres(String),
}

impl StoreUrl {
    /// The store as written (a URL with its password: for connecting only;
    /// `Display` and `Debug` hide the password).
    #[must_use]
    pub fn as_str(&self) -> &str {
        match self {
            Self::Sqlite => "sqlite",
            Self::Postgres(url) => url,
        }
    }

    /// Whether it is a PostgreSQL store (shared by workers).
    #[must_use]
    pub fn is_postgres(&self) -> bool {
        matches!(self, Self::Postgres(_))
    }
}

impl std::fmt::Display for StoreUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&redact_url(self.as_str()))
    }
}

impl std::fmt::Debug for StoreUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "StoreUrl({self})")
    }
}

impl std::str::FromStr for StoreUrl {
    type Err = Error;

    fn from_str(text: &str) -> Result<Self, Error> {
        let text = text.trim();
        if text == "sqlite" {
            Ok(Self::Sqlite)
        } else if crate::campaign::is_postgres(text) {
            Ok(Self::Postgres(text.to_owned()))
        } else {
            Err(Error::Config {
                source_name: "scheduler.store".into(),
                reason: format!(
                    "{:?} is not a store: use `sqlite`, `postgres://…`, or `postgres` with \
                     {} set",
                    redact_url(text),
                    crate::campaign::DATABASE_URL
                ),
            })
        }
    }
}

impl Serialize for StoreUrl {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for StoreUrl {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        String::deserialize(d)?
            .parse()
            .map_err(|e| de_error(e, str::to_owned))
    }
}

/// The serde error of a configuration value whose parser said
/// [`Error::Config`]: its reason, as `frame` puts it (the loader adds the
/// key and the layer that set it).
pub(crate) fn de_error<E: serde::de::Error>(e: Error, frame: impl FnOnce(&str) -> String) -> E {
    match e {
        Error::Config { reason, .. } => E::custom(frame(&reason)),
        other => E::custom(other),
    }
}

/// `scheme://user:password@host/…` becomes `scheme://user:***@host/…`;
/// anything else is returned as is.
#[must_use]
pub fn redact_url(url: &str) -> String {
    let mut out = match url.split_once("://") {
        Some((scheme, rest)) => {
            let (authority, tail) = match rest.find(['/', '?']) {
                Some(i) => rest.split_at(i),
                None => (rest, ""),
            };
            match authority.rsplit_once('@') {
                Some((userinfo, host)) if userinfo.contains(':') => {
                    let user = userinfo.split_once(':').map_or(userinfo, |(u, _)| u);
                    format!("{scheme}://{user}:***@{host}{tail}")
                }
                _ => url.to_owned(),
            }
        }
        None => url.to_owned(),
    };
    // Passwords also travel as query parameters (`?password=`) and in
    // key-value connection strings (`password=… host=…`).
    let mut from = 0;
    while let Some(i) = out[from..].find("password=").map(|i| from + i) {
        let start = i + "password=".len();
        let end = out[start..]
            .find(['&', ' '])
            .map_or(out.len(), |e| start + e);
        out.replace_range(start..end, "***");
        from = start + 3;
    }
    out
}

fn scalar(text: &str) -> Value {
    if let Ok(b) = text.parse::<bool>() {
        return Value::Bool(b);
    }
    if let Ok(n) = text.parse::<i64>() {
        return Value::from(n);
    }
    if let Ok(f) = text.parse::<f64>()
        && f.is_finite()
    {
        return Value::from(f);
    }
    Value::String(text.to_owned())
}

fn merge(base: &mut Value, layer: Value) {
    match (base, layer) {
        (Value::Object(base), Value::Object(layer)) => {
            for (k, v) in layer {
                match base.get_mut(&k) {
                    Some(slot) => merge(slot, v),
                    None => {
                        base.insert(k, v);
                    }
                }
            }
        }
        (slot, layer) => *slot = layer,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layers_apply_in_order_file_then_env_then_flags() {
        let c = ConfigLoader::new()
            .toml("[scheduler]\nconcurrency = 7\nrate = \"5/s\"\n", "f.toml")
            .unwrap()
            .env([("FRAMEBREAK_SCHEDULER__CONCURRENCY", "9"), ("HOME", "/x")])
            .unwrap()
            .set_opt("scheduler.rate", Some("2/s"))
            .set_opt::<u32>("request.width", None)
            .build()
            .unwrap();
        assert_eq!(c.scheduler.concurrency, 9);
        assert_eq!(
            c.scheduler
                .rate
                .as_ref()
                .map(ToString::to_string)
                .as_deref(),
            Some("2/s")
        );
        assert_eq!(c.request.width, 320);
    }

    #[test]
    fn unknown_keys_and_bad_values_are_named() {
        let e = ConfigLoader::new()
            .toml("[scheduler]\nconcurency = 7\n", "f.toml")
            .unwrap()
            .build()
            .unwrap_err()
            .to_string();
        assert!(e.contains("concurency"), "{e}");
        let e = ConfigLoader::new()
            .set("scheduler.concurrency", 0)
            .build()
            .unwrap_err()
            .to_string();
        assert!(e.contains("scheduler.concurrency"), "{e}");
        let e = ConfigLoader::new()
            .toml("[scheduler\n", "broken.toml")
            .unwrap_err()
            .to_string();
        assert!(e.contains("broken.toml"), "{e}");
        let e = ConfigLoader::new()
            .set("backend.kind", "midjourney")
            .build()
            .unwrap_err()
            .to_string();
        assert!(e.contains("midjourney") && e.contains("replicate"), "{e}");
        // Typed keys are parsed once, at load: the error names the key, the
        // layer that set it and the accepted values.
        for (toml, source, parts) in [
            (
                "[variants]\nstrategy = \"wobble\"\n",
                "framebreak.toml",
                ["variants.strategy", "wobble", "stratified"],
            ),
            (
                "[backend]\nkind = \"sora\"\n",
                "team.toml",
                ["backend.kind", "sora", "sim-http"],
            ),
            (
                "[scheduler]\npoll_rate = \"ten/s\"\n",
                "rates.toml",
                ["scheduler.poll_rate", "ten/s", "not a rate"],
            ),
            (
                "[analysis]\ndevice = \"tpu:0\"\n",
                "gpu.toml",
                ["analysis.device", "tpu:0", "cuda:N"],
            ),
            (
                "[scheduler]\nstore = \"mysql://u:hunter2@db/x\"\n",
                "db.toml",
                ["scheduler.store", "not a store", "postgres://"],
            ),
        ] {
            let e = ConfigLoader::new()
                .toml(toml, source)
                .unwrap()
                .build()
                .unwrap_err()
                .to_string();
            for part in parts.iter().chain([&source]) {
                assert!(e.contains(part), "{part}: {e}");
            }
            assert!(!e.contains("hunter2"), "{e}");
        }
        // A PostgreSQL store keeps its URL for connecting and shows it
        // without the password.
        let c = ConfigLoader::new()
            .set("scheduler.store", "postgres://u:hunter2@db/x")
            .build()
            .unwrap();
        assert!(c.scheduler.store.is_postgres());
        assert_eq!(c.scheduler.store.as_str(), "postgres://u:hunter2@db/x");
        for shown in [
            format!("{c:?}"),
            c.scheduler.store.to_string(),
            c.to_toml_redacted(),
        ] {
            assert!(
                !shown.contains("hunter2") && shown.contains("db/x"),
                "{shown}"
            );
        }
        let c = ConfigLoader::new()
            .toml(
                "[variants]\nstrategy = \"exhaustive\"\n[scheduler]\nrate = \"600/m\"\n\
                 [analysis]\ndevice = \"cuda:1\"\n",
                "ok.toml",
            )
            .unwrap()
            .build()
            .unwrap();
        assert_eq!(c.variants.strategy, StrategyKind::Exhaustive);
        let rate = c.scheduler.rate.as_ref().unwrap();
        assert!((rate.limit().per_second_rate() - 10.0).abs() < 1e-9);
        assert_eq!(
            c.analysis.device,
            DeviceChoice::Fixed(framebreak_gpu::DeviceId::Cuda(1))
        );
        // Written back as the same words (campaign.toml of a run folder).
        let text = c.to_toml_redacted();
        for line in [
            "strategy = \"exhaustive\"",
            "kind = \"sim\"",
            "rate = \"600/m\"",
            "device = \"cuda:1\"",
        ] {
            assert!(text.contains(line), "{line}: {text}");
        }
    }

    /// A key this build does not know (written by a newer version, say)
    /// is blamed on the layer that wrote it, whole table or single key,
    /// never on the built-in defaults.
    #[test]
    fn an_unknown_key_names_the_layer_that_wrote_it() {
        let stored = "the configuration of run r1 in the store";
        for (text, key) in [
            (
                "[webhooks]\nurl = \"https://example.com\"\n",
                "webhooks: unknown field `webhooks`",
            ),
            (
                "[scheduler]\nbudget = 5\n",
                "scheduler.budget: unknown field `budget`",
            ),
        ] {
            let e = ConfigLoader::new()
                .toml(text, stored)
                .unwrap()
                .build()
                .unwrap_err()
                .to_string();
            assert!(e.starts_with(&format!("{stored}: {key}")), "{e}");
        }
    }

    /// A value of the wrong type names its key and the layer it came from,
    /// not just "invalid value: integer -3, expected usize".
    #[test]
    fn ill_typed_values_name_their_key_and_their_source() {
        let e = ConfigLoader::new()
            .toml("[scheduler]\nconcurrency = -3\n", "framebreak.toml")
            .unwrap()
            .build()
            .unwrap_err()
            .to_string();
        assert!(
            e.starts_with("framebreak.toml: scheduler.concurrency: ") && e.contains("-3"),
            "{e}"
        );
        let e = ConfigLoader::new()
            .toml("[analysis]\nsize = 320\n", "framebreak.toml")
            .unwrap()
            .env([("FRAMEBREAK_ANALYSIS__SIZE", "big")])
            .unwrap()
            .build()
            .unwrap_err()
            .to_string();
        assert!(
            e.starts_with("environment variable FRAMEBREAK_ANALYSIS__SIZE: analysis.size: "),
            "{e}"
        );
        let e = ConfigLoader::new()
            .set("request.width", "wide")
            .build()
            .unwrap_err()
            .to_string();
        assert!(e.starts_with("a command-line flag: request.width: "), "{e}");
    }

    #[test]
    fn out_of_range_settings_are_usage_errors_naming_the_key() {
        let refused = |key: &str, value: serde_json::Value| {
            ConfigLoader::new()
                .set(key, value)
                .build()
                .unwrap_err()
                .to_string()
        };
        let e = refused("scheduler.concurrency", 10_000_000.into());
        assert!(
            e.contains("scheduler.concurrency") && e.contains("10000"),
            "{e}"
        );
        let e = refused("scheduler.lease_ttl_secs", u64::MAX.into());
        assert!(e.contains("scheduler.lease_ttl_secs"), "{e}");
        let e = refused("variants.traps", "nosuch.*".into());
        assert!(e.contains("variants.traps") && e.contains("nosuch"), "{e}");
        for (w, h) in [(0, 0), (1, 1), (161, 121), (100_000, 100_000)] {
            let e = ConfigLoader::new()
                .set("request.width", w)
                .set("request.height", h)
                .build()
                .unwrap_err()
                .to_string();
            assert!(e.contains(&format!("{w}x{h}")), "{e}");
        }
        for secs in [0, 100_000] {
            let e = refused("request.duration_secs", secs.into());
            assert!(e.contains("request.duration_secs"), "{e}");
        }
        // Providers fit sizes to their models themselves.
        ConfigLoader::new()
            .set("backend.kind", "replicate")
            .set("request.width", 161)
            .build()
            .unwrap();
    }

    #[test]
    fn printed_config_hides_passwords_and_round_trips() {
        let c = ConfigLoader::new()
            .set(
                "scheduler.store",
                "postgres://fb:hunter2@db:5432/runs?sslmode=disable",
            )
            .build()
            .unwrap();
        let text = c.to_toml_redacted();
        assert!(!text.contains("hunter2"), "{text}");
        assert!(text.contains("postgres://fb:***@db:5432/runs"), "{text}");
        let back = ConfigLoader::new()
            .toml(&text, "saved")
            .unwrap()
            .build()
            .unwrap();
        assert_eq!(back.scheduler.concurrency, c.scheduler.concurrency);
        assert_eq!(redact_url("sqlite"), "sqlite");
        assert_eq!(
            redact_url("postgres://h/db?user=a&password=pw&x=1"),
            "postgres://h/db?user=a&password=***&x=1"
        );
        assert_eq!(
            redact_url("host=h password=pw user=u"),
            "host=h password=*** user=u"
        );
    }
}
