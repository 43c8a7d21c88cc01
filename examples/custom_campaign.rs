//! A campaign built from code with every part your own: a backend (here
//! the simulated model behind a wrapper that logs what it is asked, where
//! yours would speak your model's API), a detector and a mutator, run
//! against the simulated model to the end, with its reports.
//!
//! Run with `cargo run --release --example custom_campaign`.
#![allow(clippy::print_stdout)]

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use async_trait::async_trait;
use framebreak::campaign::{Campaign, ConfigLoader, FinishOptions};
use framebreak::client::{
    self, Asset, Conformed, JobStatus, ProgressFn, RemoteJob, VideoBackend, VideoRequest,
};
use framebreak::defects::{DefectDetector, Evidence, Finding};
use framebreak::sim::{Profile, SimBackend, Simulator};
use framebreak::variants::rand_core::RngCore;
use framebreak::variants::{
    Catalogue, Chain, Draft, Generator, Insertion, Mutation, Mutator, Strategy, TrapInjector,
};
use framebreak::vocab::DefectKind;

/// Your model's adapter: here the simulator, counting submissions.
struct MyModel {
    inner: SimBackend,
    submitted: AtomicU64,
}

#[async_trait]
impl VideoBackend for MyModel {
    async fn submit(&self, request: &VideoRequest) -> client::Result<RemoteJob> {
        self.submitted.fetch_add(1, Ordering::Relaxed);
        self.inner.submit(request).await
    }
    async fn status(&self, job: &RemoteJob) -> client::Result<JobStatus> {
        self.inner.status(job).await
    }
    async fn download(
        &self,
        asset: &Asset,
        sink: &mut (dyn tokio::io::AsyncWrite + Unpin + Send),
        progress: ProgressFn<'_>,
    ) -> client::Result<u64> {
        self.inner.download(asset, sink, progress).await
    }
    fn conform(&self, request: &VideoRequest) -> client::Result<Conformed> {
        self.inner.conform(request)
    }
}

/// Flags a clip whose last frame is much darker than its first: a model
/// that fades out (reported as flicker, the nearest shared kind).
struct FadeOut;

impl DefectDetector for FadeOut {
    fn detect(&self, ev: &Evidence<'_>) -> Vec<Finding> {
        let (first, last) = (ev.luma(0).mean(), ev.luma(ev.len() - 1).mean());
        if first > 32.0 && last < first * 0.3 {
            let end = ev.len() as u64 - 1;
            vec![Finding::new(
                DefectKind::Flicker,
                end,
                end,
                1.0 - last / first,
            )]
        } else {
            Vec::new()
        }
    }
    fn name(&self) -> &str {
        "fade_out"
    }
}

/// Puts every scene in a mirror maze, where reflections must stay
/// consistent.
struct MirrorMaze;

impl Mutator for MirrorMaze {
    fn name(&self) -> &str {
        "mirror_maze"
    }
    fn mutate(&self, draft: &mut Draft, _: &mut dyn RngCore) {
        draft.insert(
            Insertion::Append,
            Mutation::other(self.name(), "seen through a hall of mirrors"),
        );
    }
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let runs = std::env::temp_dir().join("framebreak-example-runs");
    let config = ConfigLoader::new()
        .set("output.runs_dir", &runs)
        .set("variants.limit", 6)
        .set("request.width", 160)
        .set("request.height", 120)
        .set("request.duration_secs", 1)
        .set("backend.min_poll_interval_ms", 50)
        .build()?;
    let catalogue = Arc::new(Catalogue::builtin());
    let generator = Generator::builder(catalogue.clone())
        .strategy(Strategy::Random { per_prompt: 2 })
        .seed(3)
        .mutator(
            Chain::new()
                .then(TrapInjector::new(catalogue, 1, 1)?)
                .then(MirrorMaze),
        )
        .build()?;
    let model = Arc::new(MyModel {
        inner: SimBackend::new(Simulator::new(Profile::weak())?),
        submitted: AtomicU64::new(0),
    });
    let campaign = Campaign::builder(config)
        .backend("my-model", model.clone())
        .detector(FadeOut)
        .generator("mirror-maze", generator)
        .create()
        .await?;
    campaign.enqueue().await?;
    let summary = campaign.run().await?;
    let finished = campaign
        .finish(
            &summary,
            FinishOptions {
                reports: true,
                ..FinishOptions::default()
            },
        )
        .await?;
    println!(
        "run {}: {} done, {} failed; my-model was asked {} times; outcome {:?}",
        campaign.run_dir().id(),
        finished.counts.done,
        finished.counts.failed,
        model.submitted.load(Ordering::Relaxed),
        finished.outcome
    );
    for row in campaign.rows().await? {
        let found: Vec<String> = row
            .analysis
            .iter()
            .flat_map(|a| a.defects.iter().map(|f| f.kind.to_string()))
            .collect();
        println!("[{}] {}", found.join(", "), row.prompt);
    }
    for path in &finished.reports {
        println!("wrote {}", path.display());
    }
    Ok(())
}
