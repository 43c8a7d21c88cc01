//! Which video backend a campaign talks to, built from its configuration.

use std::path::Path;
use std::sync::Arc;

use framebreak_client::{
    Asset, FalBackend, LumaBackend, OpenAiBackend, RemoteJob, ReplicateBackend, RunwayBackend,
    VeoBackend, VideoBackend,
};
use framebreak_sim::{Faults, GroundTruth, Profile, SimBackend, Simulator};

use crate::campaign::{BackendConfig, Error};

/// The kinds of backend a campaign can attack.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum BackendKind {
    /// The simulated model, in-process (the default; offline).
    Sim,
    /// A `framebreak sim serve` over HTTP (OpenAI-compatible, with truth).
    SimHttp,
    /// An OpenAI-compatible Videos API.
    OpenAi,
    /// Replicate.
    Replicate,
    /// fal.ai's queue.
    Fal,
    /// Runway.
    Runway,
    /// Luma Dream Machine.
    Luma,
    /// Google Veo (Gemini API).
    Veo,
}

impl std::fmt::Display for BackendKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for BackendKind {
    type Err = String;

    fn from_str(name: &str) -> Result<Self, String> {
        Self::parse(name).ok_or_else(|| {
            format!(
                "unknown backend {name:?}; expected one of: {}",
                Self::NAMES.join(", ")
            )
        })
    }
}

impl serde::Serialize for BackendKind {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> serde::Deserialize<'de> for BackendKind {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let name = String::deserialize(d)?;
        name.parse().map_err(serde::de::Error::custom)
    }
}

impl BackendKind {
    /// Every kind, in the order of [`BackendKind::NAMES`].
    pub const ALL: [Self; 8] = [
        Self::Sim,
        Self::SimHttp,
        Self::OpenAi,
        Self::Replicate,
        Self::Fal,
        Self::Runway,
        Self::Luma,
        Self::Veo,
    ];

    /// Every name `backend.kind` accepts.
    pub const NAMES: [&'static str; 8] = {
        let mut names = [""; 8];
        let mut i = 0;
        while i < names.len() {
            names[i] = Self::ALL[i].as_str();
            i += 1;
        }
        names
    };

    /// The kind named `name`, if any.
    #[must_use]
    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.as_str() == name)
    }

    /// The name `backend.kind` writes it with (`sim-http`).
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Sim => "sim",
            Self::SimHttp => "sim-http",
            Self::OpenAi => "openai",
            Self::Replicate => "replicate",
            Self::Fal => "fal",
            Self::Runway => "runway",
            Self::Luma => "luma",
            Self::Veo => "veo",
        }
    }

    /// The environment variable holding the provider's key, for providers
    /// that take one.
    #[must_use]
    pub const fn key_var(self) -> Option<&'static str> {
        Some(match self {
            Self::Sim | Self::SimHttp => return None,
            Self::OpenAi => OpenAiBackend::KEY_VAR,
            Self::Replicate => ReplicateBackend::KEY_VAR,
            Self::Fal => FalBackend::KEY_VAR,
            Self::Runway => RunwayBackend::KEY_VAR,
            Self::Luma => LumaBackend::KEY_VAR,
            Self::Veo => VeoBackend::KEY_VAR,
        })
    }

    /// The model asked for when the configuration names none.
    #[must_use]
    pub const fn default_model(self) -> &'static str {
        match self {
            Self::Sim | Self::SimHttp => "framebreak-sim",
            Self::OpenAi => OpenAiBackend::DEFAULT_MODEL,
            Self::Replicate => ReplicateBackend::DEFAULT_MODEL,
            Self::Fal => FalBackend::DEFAULT_MODEL,
            Self::Runway => RunwayBackend::DEFAULT_MODEL,
            Self::Luma => LumaBackend::DEFAULT_MODEL,
            Self::Veo => VeoBackend::DEFAULT_MODEL,
        }
    }

    /// Whether it is the simulator, which knows the truth of its videos.
    #[must_use]
    pub const fn is_sim(self) -> bool {
        matches!(self, Self::Sim | Self::SimHttp)
    }
}

/// Where the simulator's ground truth of a video comes from.
#[derive(Clone)]
pub(crate) enum Truth {
    /// Not a simulator: no truth.
    None,
    /// The in-process simulator.
    InProcess(SimBackend),
    /// `GET {base}/v1/videos/{id}/truth` of a `framebreak sim serve`.
    Http(Arc<dyn VideoBackend>, String),
}

impl std::fmt::Debug for Truth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::None => f.write_str("None"),
            Self::InProcess(_) => f.write_str("InProcess"),
            Self::Http(_, base) => f.debug_tuple("Http").field(base).finish(),
        }
    }
}

impl Truth {
    /// The truth of a finished job; `None` when there is none or it cannot
    /// be had (the report then leaves the video out of precision/recall).
    pub(crate) async fn of(&self, job: &RemoteJob) -> Option<GroundTruth> {
        match self {
            Self::None => None,
            Self::InProcess(sim) => sim.truth(job),
            Self::Http(backend, base) => {
                let asset = Asset::new(format!(
                    "{}/v1/videos/{}/truth",
                    base.trim_end_matches('/'),
                    job.id
                ));
                let mut body = Vec::new();
                backend.download(&asset, &mut body, &|_| {}).await.ok()?;
                serde_json::from_slice(&body).ok()
            }
        }
    }
}

/// One backend of a campaign, in its own lane of the scheduler.
#[derive(Clone)]
pub(crate) struct Lane {
    /// Its name: the lane's, and what prices are looked up by.
    pub(crate) name: String,
    pub(crate) backend: Arc<dyn VideoBackend>,
    pub(crate) truth: Truth,
    /// The price of one of its requests, when known.
    pub(crate) price: Option<crate::cost::Price>,
}

/// A backend and the source of its truth.
pub(crate) struct Built {
    pub(crate) backend: Arc<dyn VideoBackend>,
    pub(crate) truth: Truth,
    /// The in-process simulator, when it is one (its submission counts).
    pub(crate) sim: Option<SimBackend>,
}

/// Clips the in-process simulator keeps after rendering: each variant is
/// its own clip, read once by its job (which holds it until then), so a
/// cache only serves a download made again, which renders the same bytes
/// anyway. Its 256 clips were what a long run held more than a short one
/// (`docs/memory-per-job-2026-12-06.md`).
const IN_PROCESS_CACHE_CLIPS: usize = 8;

/// Builds the backend of `config`; the in-process simulator journals its
/// submissions in `run_dir` so a resumed run finds the jobs it submitted.
pub(crate) fn build(config: &BackendConfig, run_dir: &Path) -> Result<Built, Error> {
    let kind = config.kind;
    let base = config.base_url.as_deref();
    let http = framebreak_client::HttpConfig::new()?
        .timeout(std::time::Duration::from_secs(config.request_timeout_secs));
    // Every HTTP adapter: the timeout, the base URL and the default model.
    macro_rules! configured {
        ($b:expr) => {{
            let mut b = $b.with_http(http.clone());
            if let Some(url) = base {
                b = b.with_base_url(url)?;
            }
            if let Some(model) = &config.model {
                b = b.with_default_model(model.clone());
            }
            b
        }};
    }
    // A `/v1/videos` gateway also takes its models' limits.
    let gateway = |mut b: OpenAiBackend| {
        for (name, limits) in &config.models {
            b = b.with_model_limits(name.clone(), limits.clone());
        }
        b
    };
    let built = match kind {
        BackendKind::Sim => {
            let profile = Profile::named_or_file(&config.profile)?;
            let faults: Faults = match &config.faults {
                Some(spec) => spec
                    .parse()
                    .map_err(|e: framebreak_sim::Error| Error::Config {
                        source_name: "backend.faults".into(),
                        reason: e.to_string(),
                    })?,
                None => Faults::none(),
            };
            let simulator = Simulator::new(profile)?.cache_clips(IN_PROCESS_CACHE_CLIPS);
            let sim = SimBackend::new(simulator)
                .with_faults(faults)
                .with_journal(run_dir.join(SIM_JOURNAL))?;
            Built {
                backend: Arc::new(sim.clone()),
                truth: Truth::InProcess(sim.clone()),
                sim: Some(sim),
            }
        }
        BackendKind::SimHttp => {
            let url = base.ok_or_else(|| Error::Config {
                source_name: "backend.base_url".into(),
                reason: "the sim-http backend needs the URL of a `framebreak sim serve`".into(),
            })?;
            // The simulator takes any key unless it was started with one.
            let key = framebreak_client::Secret::from_env(OpenAiBackend::KEY_VAR)
                .unwrap_or_else(|_| framebreak_client::Secret::new("framebreak-sim"));
            let b = gateway(configured!(OpenAiBackend::new(key)?));
            let backend: Arc<dyn VideoBackend> = Arc::new(b);
            Built {
                truth: Truth::Http(backend.clone(), url.to_owned()),
                backend,
                sim: None,
            }
        }
        BackendKind::OpenAi => plain(Arc::new(gateway(configured!(OpenAiBackend::from_env()?)))),
        BackendKind::Replicate => plain(Arc::new(configured!(ReplicateBackend::from_env()?))),
        BackendKind::Fal => plain(Arc::new(configured!(FalBackend::from_env()?))),
        BackendKind::Runway => plain(Arc::new(configured!(RunwayBackend::from_env()?))),
        BackendKind::Luma => plain(Arc::new(configured!(LumaBackend::from_env()?))),
        BackendKind::Veo => plain(Arc::new(configured!(VeoBackend::from_env()?))),
    };
    Ok(built)
}

/// The in-process simulator's journal of submissions, in the run folder.
pub const SIM_JOURNAL: &str = "sim-journal.jsonl";

fn plain(backend: Arc<dyn VideoBackend>) -> Built {
    Built {
        backend,
        truth: Truth::None,
        sim: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kind_round_trips_through_its_name() {
        assert_eq!(BackendKind::NAMES.len(), BackendKind::ALL.len());
        for (kind, name) in BackendKind::ALL.into_iter().zip(BackendKind::NAMES) {
            assert_eq!(kind.as_str(), name);
            assert_eq!(BackendKind::parse(name), Some(kind));
            assert_eq!(name.parse::<BackendKind>(), Ok(kind));
        }
        let e = "sora".parse::<BackendKind>().unwrap_err();
        assert!(e.contains("sora") && e.contains("sim-http"), "{e}");
    }
}
