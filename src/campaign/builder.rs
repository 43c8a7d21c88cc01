//! A campaign assembled from code: the configuration for everything it
//! says, and the program's own parts (a backend, detectors, a variant
//! generator with custom mutators, a device selector) for the rest.

use std::path::Path;
use std::sync::Arc;

use framebreak_client::VideoBackend;
use framebreak_defects::DefectDetector;
use framebreak_gpu::DeviceSelector;
use framebreak_variants::Generator;

use crate::campaign::run::Opening;
use crate::campaign::{Campaign, CampaignConfig, Error, InCode, RunDir, new_run_id};

/// Builds a [`Campaign`] from a configuration and parts given in code.
///
/// Each part replaces what the configuration would build:
///
/// - [`backend`](Self::backend): any [`VideoBackend`] instead of
///   `backend.kind`, or several (every variant goes to each); a backend's
///   name is its lane in the scheduler (rate limit, breaker, retries) and
///   the name prices are looked up by (`[pricing."NAME:MODEL"]`).
/// - [`detector`](Self::detector): detectors run beside the built-in ones
///   on every video; their findings are reported as found (the decision
///   model decides only the built-in detectors' proposals).
/// - [`generator`](Self::generator): the variants, from a [`Generator`]
///   with custom mutators, instead of `variants.strategy`, `traps`,
///   `seed`… (the prompts still come from `variants.input`).
/// - [`device_selector`](Self::device_selector): which device analyses
///   each video, with `analysis.device = "auto"`.
/// - [`store`](Self::store): any [`JobStore`](framebreak_scheduler::JobStore)
///   and [`SpendLedger`](framebreak_scheduler::SpendLedger) instead of
///   `scheduler.store`.
///
/// The run records each part's name ([`InCode`]): a run made with parts is
/// reopened ([`open`](Self::open)) only with parts of the same names, and
/// `framebreak resume` refuses it with a message saying so, because a
/// backend swapped mid-run would be asked for another provider's jobs and
/// other detectors or variants would mix two campaigns in one report.
///
/// ```no_run
/// use std::sync::Arc;
/// use framebreak::campaign::{Campaign, ConfigLoader};
/// use framebreak::sim::{Profile, SimBackend, Simulator};
///
/// # #[tokio::main] async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let config = ConfigLoader::new().set("variants.per_prompt", 1).build()?;
/// let model = SimBackend::new(Simulator::new(Profile::strong())?);
/// let campaign = Campaign::builder(config)
///     .backend("my-model", Arc::new(model))
///     .create()
///     .await?;
/// campaign.enqueue().await?;
/// campaign.run().await?;
/// # Ok(()) }
/// ```
#[must_use]
pub struct CampaignBuilder {
    config: CampaignConfig,
    parts: Parts,
}

impl std::fmt::Debug for CampaignBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CampaignBuilder")
            .field("in_code", &self.parts.names())
            .field("device_selector", &self.parts.selector.is_some())
            .finish_non_exhaustive()
    }
}

/// The parts given in code.
#[derive(Default)]
pub(crate) struct Parts {
    pub(crate) backends: Vec<(String, Arc<dyn VideoBackend>)>,
    pub(crate) detectors: Vec<(String, Arc<dyn DefectDetector>)>,
    pub(crate) generator: Option<(String, Generator)>,
    pub(crate) selector: Option<Box<dyn DeviceSelector>>,
    pub(crate) store: Option<(String, crate::campaign::RunStore)>,
}

impl Parts {
    /// The names a run records of these parts.
    pub(crate) fn names(&self) -> InCode {
        InCode {
            backends: self.backends.iter().map(|(n, _)| n.clone()).collect(),
            detectors: self.detectors.iter().map(|(n, _)| n.clone()).collect(),
            generator: self.generator.as_ref().map(|(n, _)| n.clone()),
            store: self.store.as_ref().map(|(n, _)| n.clone()),
        }
    }

    /// Checks that every backend has its own, usable name.
    fn check_names(&self) -> Result<(), Error> {
        for (i, (name, _)) in self.backends.iter().enumerate() {
            let bad = |reason: &str| Error::Config {
                source_name: format!("backend {name:?}"),
                reason: reason.to_owned(),
            };
            if name.is_empty() || name.chars().any(|c| c.is_control() || c == '@') {
                return Err(bad(
                    "a backend name is not empty and has no `@` or control character",
                ));
            }
            if self.backends[..i].iter().any(|(n, _)| n == name) {
                return Err(bad("two backends of one campaign have this name"));
            }
        }
        Ok(())
    }

    /// Checks that these are the parts `recorded` names: a run is worked
    /// on with the parts it was made with, or not at all.
    pub(crate) fn check(&self, run: &str, recorded: &InCode) -> Result<(), Error> {
        let given = self.names();
        if &given == recorded {
            return Ok(());
        }
        let describe = |parts: &InCode| {
            let mut out = Vec::new();
            if !parts.backends.is_empty() {
                out.push(format!("backends {:?}", parts.backends));
            }
            if !parts.detectors.is_empty() {
                out.push(format!("detectors {:?}", parts.detectors));
            }
            if let Some(g) = &parts.generator {
                out.push(format!("generator {g:?}"));
            }
            if let Some(s) = &parts.store {
                out.push(format!("store {s:?}"));
            }
            if out.is_empty() {
                "none".to_owned()
            } else {
                out.join(", ")
            }
        };
        Err(Error::Config {
            source_name: format!("run {run:?}"),
            reason: format!(
                "it was made with parts given in code: {}; this campaign was given: {}. \
                 Work on it with `Campaign::builder` and the same parts (a different backend, \
                 detectors or generator would mix two campaigns in one run)",
                describe(recorded),
                describe(&given)
            ),
        })
    }
}

impl CampaignBuilder {
    /// A builder with `config` and no parts given yet.
    pub fn new(config: CampaignConfig) -> Self {
        Self {
            config,
            parts: Parts::default(),
        }
    }

    /// Sends the jobs to `backend` instead of the configured one. `name`
    /// names its lane, its prices and the run's record of it. Given more
    /// than once, every variant goes to every backend: one job per variant
    /// and backend (`VARIANT@NAME`), each backend in its own lane with its
    /// own rate limit (`scheduler.rate` each), breaker and retries.
    pub fn backend(mut self, name: impl Into<String>, backend: Arc<dyn VideoBackend>) -> Self {
        self.parts.backends.push((name.into(), backend));
        self
    }

    /// Runs `detector` beside the built-in detectors on every video, under
    /// its [`name`](DefectDetector::name).
    pub fn detector(mut self, detector: impl DefectDetector + 'static) -> Self {
        let name = detector.name().to_owned();
        self.parts.detectors.push((name, Arc::new(detector)));
        self
    }

    /// Runs each of `detectors` beside the built-in ones (see
    /// [`detector`](Self::detector)).
    pub fn detectors(mut self, detectors: Vec<Box<dyn DefectDetector>>) -> Self {
        for d in detectors {
            let name = d.name().to_owned();
            self.parts.detectors.push((name, Arc::from(d)));
        }
        self
    }

    /// Makes the variants with `generator` (custom mutators, strategy,
    /// seed) instead of the `variants` settings; `name` is what the run
    /// records of it.
    pub fn generator(mut self, name: impl Into<String>, generator: Generator) -> Self {
        self.parts.generator = Some((name.into(), generator));
        self
    }

    /// Keeps the run's jobs in `jobs` and its spend in `ledger` instead of
    /// the store `scheduler.store` names; `name` is what the run records of
    /// them. The run folder keeps the run's marks (`enqueued`, `done`) and
    /// its lock, so one process at a time works on the run; the jobs are
    /// only in `jobs`, and the run is reopened only with it.
    pub fn store(
        mut self,
        name: impl Into<String>,
        jobs: Arc<dyn framebreak_scheduler::JobStore>,
        ledger: Arc<dyn framebreak_scheduler::SpendLedger>,
    ) -> Self {
        self.parts.store = Some((
            name.into(),
            crate::campaign::RunStore::Custom { jobs, ledger },
        ));
        self
    }

    /// Chooses the device for each video with `selector` (the
    /// configuration's `analysis.device` must be `auto`).
    pub fn device_selector(mut self, selector: Box<dyn DeviceSelector>) -> Self {
        self.parts.selector = Some(selector);
        self
    }

    /// A new run under `config.output.runs_dir`, with a fresh run id.
    ///
    /// # Errors
    ///
    /// As [`Campaign::create`]; [`Error::Config`] when the configuration
    /// records parts given in code that this builder was not given.
    pub async fn create(self) -> Result<Campaign, Error> {
        self.create_with_id(&new_run_id()).await
    }

    /// A new run with the given id.
    ///
    /// # Errors
    ///
    /// As [`CampaignBuilder::create`]; also when a run with this id exists.
    pub async fn create_with_id(self, id: &str) -> Result<Campaign, Error> {
        let Self { mut config, parts } = self;
        parts.check_names()?;
        // A configuration that names parts given in code (copied from such
        // a run) is that campaign's, which these parts must be.
        if !config.in_code.is_empty() {
            parts.check(id, &config.in_code)?;
        }
        config.in_code = parts.names();
        Campaign::create_from_parts(config, id, parts).await
    }

    /// An existing run, made with these parts, to resume it or read it.
    /// The configuration given to [`Campaign::builder`] is not used: the
    /// run goes on with the one it was started with.
    ///
    /// # Errors
    ///
    /// As [`Campaign::open`]; [`Error::Config`] when the run was made with
    /// other parts (or with none).
    pub async fn open(self, runs_dir: &Path, run: &str) -> Result<Campaign, Error> {
        let run = RunDir::open(runs_dir, run)?;
        let config = run.load_config()?;
        self.parts.check(run.id(), &config.in_code)?;
        Campaign::assemble(config, run, Opening::Existing, self.parts).await
    }
}
