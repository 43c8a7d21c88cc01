//! A campaign built from code with its own backend, detector, mutator and
//! device selector, run against the simulator with a real SQLite store:
//! every part is used, and a run made with parts is worked on only with
//! the same parts.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use framebreak::RowStatus;
use framebreak::campaign::{Campaign, CampaignConfig, ConfigLoader, Error};
use framebreak::defects::{DefectDetector, Evidence, Finding};
use framebreak::gpu::{DeviceId, DeviceSelector, DeviceState};
use framebreak::scheduler::RunOutcome;
use framebreak::sim::{Profile, SimBackend, Simulator};
use framebreak::variants::rand_core::RngCore;
use framebreak::variants::{
    Catalogue, Chain, Draft, Generator, Insertion, Mutation, Mutator, Strategy, TrapInjector,
};
use framebreak::vocab::DefectKind;

/// Marks the first frame of every clip as frozen, so its findings can be
/// told from anyone else's.
struct Marker;

const MARK: f64 = 0.123;

impl DefectDetector for Marker {
    fn detect(&self, evidence: &Evidence<'_>) -> Vec<Finding> {
        assert!(evidence.len() > 1);
        vec![Finding::new(DefectKind::Frozen, 0, 0, MARK)]
    }
    fn name(&self) -> &str {
        "marker"
    }
}

/// Appends one sentence to every prompt.
struct Underwater;

const SENTENCE: &str = "everything happens under water";

impl Mutator for Underwater {
    fn name(&self) -> &str {
        "underwater"
    }
    fn mutate(&self, draft: &mut Draft, _: &mut dyn RngCore) {
        draft.insert(Insertion::Append, Mutation::other(self.name(), SENTENCE));
    }
}

/// The first device offered, counting its choices.
#[derive(Default)]
struct First {
    chosen: Arc<AtomicU64>,
}

impl DeviceSelector for First {
    fn select(&self, devices: &[DeviceState]) -> framebreak::gpu::Result<DeviceId> {
        self.chosen.fetch_add(1, Ordering::SeqCst);
        Ok(devices[0].id)
    }
}

fn config(runs: &std::path::Path) -> CampaignConfig {
    ConfigLoader::new()
        .set("request.width", 96)
        .set("request.height", 64)
        .set("request.duration_secs", 1)
        .set("analysis.size", 96)
        .set("backend.min_poll_interval_ms", 20)
        .set("scheduler.concurrency", 4)
        .set("output.runs_dir", runs)
        .build()
        .unwrap()
}

fn generator() -> Generator {
    let catalogue = Arc::new(Catalogue::builtin());
    let chain = Chain::new()
        .then(TrapInjector::new(catalogue.clone(), 1, 1).unwrap())
        .then(Underwater);
    Generator::builder(catalogue)
        .strategy(Strategy::Random { per_prompt: 1 })
        .seed(5)
        .control(false)
        .mutator(chain)
        .build()
        .unwrap()
}

/// The simulated model as a backend the campaign knows nothing of (its
/// statistics count what it is sent).
fn backend() -> SimBackend {
    SimBackend::new(Simulator::new(Profile::weak()).unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_campaign_runs_with_a_backend_detector_mutator_and_selector_given_in_code() {
    let dir = tempfile::tempdir().unwrap();
    let model = backend();
    let selector = First::default();
    let chosen = selector.chosen.clone();
    let campaign = Campaign::builder(config(dir.path()))
        .backend("counting-sim", Arc::new(model.clone()))
        .detector(Marker)
        .generator("underwater", generator())
        .device_selector(Box::new(selector))
        .create_with_id("parts")
        .await
        .unwrap();
    let enqueued = campaign.enqueue().await.unwrap();
    let jobs = enqueued.added;
    assert!(jobs >= 5, "{enqueued:?}");
    let summary = campaign.run().await.unwrap();
    assert_eq!(summary.outcome, RunOutcome::Drained);
    assert_eq!(summary.counts.done, jobs, "{:?}", summary.counts);

    // The backend given in code got every submission, once each; the
    // configured one (the in-process simulator) was never built.
    assert_eq!(model.stats().submissions, jobs);
    assert!(campaign.simulator().is_none());
    // The selector chose the device of every analysis.
    assert_eq!(chosen.load(Ordering::SeqCst), jobs);
    let rows = campaign.rows().await.unwrap();
    assert_eq!(rows.len() as u64, jobs);
    for row in &rows {
        assert_eq!(row.status, RowStatus::Done);
        // The mutator wrote every prompt, after one built-in trap.
        assert!(row.prompt.contains(SENTENCE), "{}", row.prompt);
        assert_eq!(row.traps.len(), 1, "{:?}", row.traps);
        // The detector's finding is in every analysis, as it found it.
        let analysis = row.analysis.as_ref().unwrap();
        assert!(
            analysis
                .defects
                .iter()
                .any(|f| f.kind == DefectKind::Frozen && (f.score - MARK).abs() < 1e-9),
            "{:?}",
            analysis.defects
        );
    }
    // The run records the parts by name.
    let saved = std::fs::read_to_string(campaign.run_dir().path().join("campaign.toml")).unwrap();
    assert!(
        saved.contains("counting-sim") && saved.contains("marker"),
        "{saved}"
    );
    drop(campaign);

    // Reopened with the same parts, it has nothing left to do and submits
    // nothing again.
    let again = Campaign::builder(CampaignConfig::default())
        .backend("counting-sim", Arc::new(model.clone()))
        .detector(Marker)
        .generator("underwater", generator())
        .open(dir.path(), "parts")
        .await
        .unwrap();
    assert_eq!(again.enqueue().await.unwrap().added, 0);
    assert_eq!(again.run().await.unwrap().counts.done, jobs);
    assert_eq!(model.stats().submissions, jobs);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_made_with_parts_is_refused_without_them_or_with_others() {
    let dir = tempfile::tempdir().unwrap();
    let campaign = Campaign::builder(config(dir.path()))
        .backend("counting-sim", Arc::new(backend()))
        .detector(Marker)
        .create_with_id("parts")
        .await
        .unwrap();
    drop(campaign);
    let refused = |e: Error| {
        let text = e.to_string();
        assert!(matches!(e, Error::Config { .. }), "{e:?}");
        assert!(
            text.contains("counting-sim") && text.contains("\"parts\""),
            "{text}"
        );
        text
    };
    // As `framebreak resume` would open it: the configured backend would
    // be asked for the other backend's jobs.
    let e = Campaign::open(dir.path(), "parts").await.unwrap_err();
    let text = refused(e);
    assert!(text.contains("Campaign::builder"), "{text}");
    // Another backend, or the detector left out.
    let e = Campaign::builder(CampaignConfig::default())
        .backend("other", Arc::new(backend()))
        .detector(Marker)
        .open(dir.path(), "parts")
        .await
        .unwrap_err();
    assert!(refused(e).contains("\"other\""));
    let e = Campaign::builder(CampaignConfig::default())
        .backend("counting-sim", Arc::new(backend()))
        .open(dir.path(), "parts")
        .await
        .unwrap_err();
    refused(e);
    // The refusals wrote nothing: the run still opens with its parts.
    Campaign::builder(CampaignConfig::default())
        .backend("counting-sim", Arc::new(backend()))
        .detector(Marker)
        .open(dir.path(), "parts")
        .await
        .unwrap();
}

#[tokio::test]
async fn a_selector_with_a_fixed_device_is_refused_before_the_run_folder_is_made() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = config(dir.path());
    config.analysis.device = "cpu".parse().unwrap();
    let e = Campaign::builder(config)
        .device_selector(Box::new(First::default()))
        .create_with_id("fixed")
        .await
        .unwrap_err();
    let text = e.to_string();
    assert!(
        text.contains("analysis.device") && text.contains("auto"),
        "{text}"
    );
    assert!(!dir.path().join("fixed").exists());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_variant_goes_to_every_backend_each_in_its_own_lane() {
    let dir = tempfile::tempdir().unwrap();
    let (a, b) = (backend(), backend());
    let mut config = config(dir.path());
    config.variants.limit = Some(3);
    let campaign = Campaign::builder(config)
        .backend("model-a", Arc::new(a.clone()))
        .backend("model-b", Arc::new(b.clone()))
        .create_with_id("two")
        .await
        .unwrap();
    let enqueued = campaign.enqueue().await.unwrap();
    assert_eq!((enqueued.variants, enqueued.added), (3, 6));
    let summary = campaign.run().await.unwrap();
    assert_eq!(summary.counts.done, 6, "{:?}", summary.counts);
    // Each backend was asked for each variant once, and nothing else.
    assert_eq!(a.stats().submissions, 3);
    assert_eq!(b.stats().submissions, 3);
    let rows = campaign.rows().await.unwrap();
    let mut by_backend = std::collections::BTreeMap::<String, Vec<String>>::new();
    for row in &rows {
        assert!(
            row.job.ends_with(&format!("@{}", row.backend)),
            "{}",
            row.job
        );
        let variant = row.job.split('@').next().unwrap().to_owned();
        by_backend
            .entry(row.backend.clone())
            .or_default()
            .push(variant);
    }
    assert_eq!(by_backend.len(), 2);
    let mut va = by_backend["model-a"].clone();
    let mut vb = by_backend["model-b"].clone();
    va.sort();
    vb.sort();
    assert_eq!(va, vb, "the same variants went to both");
    // The report names both.
    framebreak::campaign::RunView::of(&campaign)
        .write_all()
        .await
        .unwrap();
    let page = std::fs::read_to_string(campaign.run_dir().path().join("report.html")).unwrap();
    assert!(
        page.contains("(model-a, model-b)"),
        "the title names both backends"
    );
    // Both lanes are recorded: the run reopens with both or not at all.
    drop(campaign);
    let e = Campaign::builder(CampaignConfig::default())
        .backend("model-a", Arc::new(backend()))
        .open(dir.path(), "two")
        .await
        .unwrap_err();
    assert!(e.to_string().contains("model-b"), "{e}");
}

#[tokio::test]
async fn two_backends_of_one_name_are_refused_before_the_run_folder_is_made() {
    let dir = tempfile::tempdir().unwrap();
    for (a, b, named) in [("same", "same", "two backends"), ("a@b", "c", "`@`")] {
        let e = Campaign::builder(config(dir.path()))
            .backend(a, Arc::new(backend()))
            .backend(b, Arc::new(backend()))
            .create_with_id("dup")
            .await
            .unwrap_err();
        assert!(e.to_string().contains(named), "{e}");
        assert!(!dir.path().join("dup").exists());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_job_store_given_in_code_holds_the_run_and_is_needed_to_reopen_it() {
    use framebreak::scheduler::{JobStore, MemoryLedger, MemoryStore, SpendLedger};
    let dir = tempfile::tempdir().unwrap();
    let jobs = Arc::new(MemoryStore::new());
    let ledger = Arc::new(MemoryLedger::default());
    let mut config = config(dir.path());
    config.variants.limit = Some(3);
    let parts = |config| {
        Campaign::builder(config).store(
            "memory",
            jobs.clone() as Arc<dyn JobStore>,
            ledger.clone() as Arc<dyn SpendLedger>,
        )
    };
    let campaign = parts(config).create_with_id("mem").await.unwrap();
    campaign.enqueue().await.unwrap();
    let summary = campaign.run().await.unwrap();
    assert_eq!(summary.counts.done, 3, "{:?}", summary.counts);
    // The jobs are in the given store, not in a file of the run folder;
    // the spend (the simulator's nominal price) in the given ledger.
    assert_eq!(jobs.counts().await.unwrap().done, 3);
    assert!(!campaign.run_dir().path().join("jobs.sqlite").exists());
    assert_eq!(ledger.committed().await.unwrap(), 150_000);
    assert_eq!(campaign.rows().await.unwrap().len(), 3);
    drop(campaign);

    // Reopened with it, there is nothing left to do.
    let again = parts(CampaignConfig::default())
        .open(dir.path(), "mem")
        .await
        .unwrap();
    assert_eq!(again.enqueue().await.unwrap().added, 0);
    assert_eq!(again.run().await.unwrap().counts.done, 3);
    drop(again);
    // Without it, as `framebreak resume` or `report` would open it, the
    // run is refused, naming the store.
    let e = Campaign::open(dir.path(), "mem").await.unwrap_err();
    assert!(e.to_string().contains("\"memory\""), "{e}");
    let e = framebreak::campaign::RunView::open(dir.path(), "mem", None)
        .await
        .unwrap_err();
    assert!(e.to_string().contains("store given in code"), "{e}");
    // …and left out of the catalogue of the folder.
    assert!(
        framebreak::campaign::runs(dir.path(), None, None)
            .await
            .unwrap()
            .is_empty()
    );
    // Another (empty) store is not taken for the run's.
    let e = Campaign::builder(CampaignConfig::default())
        .store(
            "memory",
            Arc::new(MemoryStore::new()),
            Arc::new(MemoryLedger::default()),
        )
        .open(dir.path(), "mem")
        .await
        .unwrap_err();
    assert!(e.to_string().contains("holds no jobs"), "{e}");
}
