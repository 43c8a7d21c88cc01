//! The end of a run in the library: `Campaign::finish` writes the reports
//! from the store, weighs thresholds and says what became of the run, on
//! real campaigns against the simulator with a SQLite store.

use std::sync::Arc;

use async_trait::async_trait;
use framebreak::campaign::{
    Campaign, CampaignConfig, ConfigLoader, FinishOptions, Outcome, ReportFormat, Threshold,
};
use framebreak::client::{
    self, Asset, JobStatus, ProgressFn, RemoteJob, VideoBackend, VideoRequest,
};

fn config(runs: &std::path::Path, limit: usize) -> CampaignConfig {
    ConfigLoader::new()
        .set("variants.limit", limit)
        .set("variants.per_prompt", 2)
        .set("request.width", 96)
        .set("request.height", 64)
        .set("request.duration_secs", 1)
        .set("analysis.size", 96)
        .set("scheduler.concurrency", 4)
        .set("output.runs_dir", runs)
        .build()
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_finished_run_writes_every_report_and_weighs_its_thresholds() {
    let dir = tempfile::tempdir().unwrap();
    let campaign = Campaign::create_with_id(config(dir.path(), 4), "f")
        .await
        .unwrap();
    campaign.enqueue().await.unwrap();
    let summary = campaign.run().await.unwrap();
    let finished = campaign
        .finish(
            &summary,
            FinishOptions {
                reports: true,
                thresholds: &[],
            },
        )
        .await
        .unwrap();
    assert_eq!(finished.outcome, Outcome::Finished);
    assert_eq!(finished.counts.done, 4);
    assert_eq!(finished.digest.rows(), 4);
    let names: Vec<_> = finished
        .reports
        .iter()
        .map(|p| p.file_name().unwrap().to_str().unwrap().to_owned())
        .collect();
    assert_eq!(
        names,
        ReportFormat::ALL.map(|f| f.file_name().to_owned()).to_vec()
    );
    let jsonl = std::fs::read_to_string(campaign.run_dir().path().join("results.jsonl")).unwrap();
    assert_eq!(jsonl.lines().count(), 4);
    // The simulator has a nominal price: the run says what it committed.
    let spend = finished.spend.as_ref().expect("a priced run");
    assert_eq!(spend.committed, "0.20usd".parse().unwrap());

    // A threshold every run crosses, weighed on the same store, writing
    // nothing.
    let always: Threshold = "physics<101".parse().unwrap();
    let crossed = campaign
        .finish(
            &summary,
            FinishOptions {
                reports: false,
                thresholds: &[always],
            },
        )
        .await
        .unwrap();
    assert!(crossed.reports.is_empty());
    match &crossed.outcome {
        Outcome::Crossed(hits) => {
            assert_eq!(hits.len(), 1);
            assert!(hits[0].1 <= 100.0, "{hits:?}");
        }
        other => panic!("expected the threshold to hold, got {other:?}"),
    }

    // The catalogue lists the run with its jobs and what it committed.
    drop(campaign);
    let runs = framebreak::campaign::runs(dir.path(), None, None)
        .await
        .unwrap();
    assert_eq!(runs.len(), 1);
    assert_eq!((runs[0].run.as_str(), runs[0].counts.done), ("f", 4));
    assert_eq!(runs[0].unknown_submissions, Some(0));
    assert_eq!(runs[0].spent, Some("0.20usd".parse().unwrap()));
    let e = framebreak::campaign::runs(dir.path(), None, Some("nosuch"))
        .await
        .unwrap_err();
    assert!(
        matches!(e, framebreak::campaign::Error::RunNotFound { .. }),
        "{e:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_shut_down_before_its_jobs_end_is_interrupted() {
    let dir = tempfile::tempdir().unwrap();
    let campaign = Campaign::create_with_id(config(dir.path(), 4), "i")
        .await
        .unwrap();
    campaign.enqueue().await.unwrap();
    campaign.shutdown().trigger();
    let summary = campaign.run().await.unwrap();
    let finished = campaign
        .finish(&summary, FinishOptions::default())
        .await
        .unwrap();
    assert_eq!(finished.outcome, Outcome::Interrupted);
    assert!(finished.counts.unfinished() > 0, "{:?}", finished.counts);
}

/// A model that refuses every prompt.
struct Prude;

#[async_trait]
impl VideoBackend for Prude {
    async fn submit(&self, _: &VideoRequest) -> client::Result<RemoteJob> {
        Err(client::Error::ContentPolicy {
            provider: "prude".into(),
            message: "no videos today".into(),
            request_id: None,
        })
    }
    async fn status(&self, job: &RemoteJob) -> client::Result<JobStatus> {
        unreachable!("nothing was submitted, yet {job:?} was polled")
    }
    async fn download(
        &self,
        asset: &Asset,
        _: &mut (dyn tokio::io::AsyncWrite + Unpin + Send),
        _: ProgressFn<'_>,
    ) -> client::Result<u64> {
        unreachable!("nothing was generated, yet {asset:?} was fetched")
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_whose_every_job_failed_says_so_and_why() {
    let dir = tempfile::tempdir().unwrap();
    let campaign = Campaign::builder(config(dir.path(), 3))
        .backend("prude", Arc::new(Prude))
        .create_with_id("p")
        .await
        .unwrap();
    campaign.enqueue().await.unwrap();
    let summary = campaign.run().await.unwrap();
    let finished = campaign
        .finish(&summary, FinishOptions::default())
        .await
        .unwrap();
    assert_eq!(
        finished.outcome,
        Outcome::AllFailed,
        "{:?}",
        finished.counts
    );
    let reasons = finished.failure_reasons(3);
    assert_eq!(reasons.len(), 1, "{reasons:?}");
    let (category, n, example) = &reasons[0];
    assert_eq!((category.as_str(), *n), ("content_policy", 3));
    assert!(example.contains("no videos today"), "{example}");
}
