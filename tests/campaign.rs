//! Campaigns end to end against the simulator: in-process and over HTTP
//! with faults, with a real SQLite store in a temporary run folder.

use std::collections::HashMap;
use std::sync::Arc;

use framebreak::campaign::{Campaign, CampaignConfig, ConfigLoader};
use framebreak::scheduler::{FailureCategory, RunOutcome};
use framebreak::sim::{Faults, Latency, Profile, ServerConfig, SimServer, Simulator};
use framebreak::{RowStatus, campaign};

/// A small, fast campaign: tiny clips, few variants.
fn small(runs: &std::path::Path, limit: usize) -> ConfigLoader {
    ConfigLoader::new()
        .set("variants.limit", limit)
        .set("variants.per_prompt", 2)
        .set("variants.seed", 11)
        .set("request.width", 96)
        .set("request.height", 64)
        .set("request.duration_secs", 1)
        .set("analysis.size", 96)
        .set("analysis.device", "cpu")
        .set("scheduler.concurrency", 8)
        .set("output.runs_dir", runs)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_in_process_campaign_analyses_every_variant_and_submits_each_once() {
    let dir = tempfile::tempdir().unwrap();
    let config: CampaignConfig = small(dir.path(), 12).build().unwrap();
    let campaign = Campaign::create_with_id(config, "t1").await.unwrap();
    let enqueued = campaign.enqueue().await.unwrap();
    assert_eq!(enqueued.variants, 12);
    assert_eq!(enqueued.added, 12);
    assert!(enqueued.controls > 0, "controls are kept by default");
    let summary = campaign.run().await.unwrap();
    assert_eq!(summary.outcome, RunOutcome::Drained);
    assert_eq!(summary.counts.done, 12, "{:?}", summary.counts);

    let rows = campaign.rows().await.unwrap();
    assert_eq!(rows.len(), 12);
    for row in &rows {
        assert_eq!(row.status, RowStatus::Done);
        let analysis = row.analysis.as_ref().expect("a done row has its analysis");
        assert!(analysis.frames >= 20, "{analysis:?}");
        assert!((0.0..=100.0).contains(&analysis.scores.physics));
        let truth = row.truth.as_ref().expect("the simulator's truth is kept");
        assert_eq!(truth.frames, 24);
        let video = campaign.run_dir().path().join(row.video.as_ref().unwrap());
        assert!(video.is_file(), "{}", video.display());
        assert_eq!(row.control, row.traps.is_empty());
    }
    let stats = campaign.simulator().unwrap().stats();
    assert_eq!(stats.submissions, 12, "{stats:?}");
    assert_eq!(stats.duplicate_submissions, 0);
    // Priced (the simulator's nominal $0.05 a second), with no budget: the
    // ledger still says what the run committed to, 12 one-second clips.
    assert_eq!(
        campaign.committed().await.unwrap(),
        "0.60usd".parse::<framebreak::cost::Usd>().unwrap()
    );

    // A second enqueue (a resume) adds nothing. The journal is the
    // simulator's, locked while one is open.
    drop(campaign);
    let again = Campaign::open(dir.path(), "t1").await.unwrap();
    assert_eq!(again.enqueue().await.unwrap().added, 0);
    let summary = again.run().await.unwrap();
    assert_eq!(summary.counts.done, 12);
    assert_eq!(again.simulator().unwrap().stats().submissions, 12);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_http_campaign_against_a_faulty_simulator_ends_with_every_job_classified() {
    let faults: Faults = "rate_limited=0.15,retry_after=0s,server_error=0.1,content_policy=0.1,failed=0.1,truncated=0.1"
        .parse()
        .unwrap();
    let sim = Arc::new(Simulator::new(Profile::weak()).unwrap());
    let server = SimServer::bind(
        "127.0.0.1:0",
        ServerConfig::new(sim)
            .faults(faults)
            .latency(Latency::none()),
    )
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let config = small(dir.path(), 30)
        .set("backend.kind", "sim-http")
        .set("backend.base_url", server.url())
        .set("scheduler.max_attempts", 3)
        .build()
        .unwrap();
    let campaign = Campaign::create_with_id(config, "http").await.unwrap();
    campaign.enqueue().await.unwrap();
    let summary = campaign.run().await.unwrap();
    assert_eq!(summary.outcome, RunOutcome::Drained);
    assert_eq!(summary.counts.unfinished(), 0);
    assert_eq!(summary.counts.total(), 30);

    let rows = campaign.rows().await.unwrap();
    assert_eq!(rows.len(), 30);
    let mut categories: HashMap<FailureCategory, usize> = HashMap::new();
    for row in &rows {
        match row.status {
            RowStatus::Done => {
                assert!(row.analysis.is_some());
                assert!(row.truth.is_some(), "truth comes over HTTP too");
            }
            RowStatus::Failed => {
                let f = row.failure.as_ref().unwrap();
                *categories.entry(f.category).or_default() += 1;
                // Each fault ends in its own category, and only those.
                assert!(
                    matches!(
                        f.category,
                        FailureCategory::ContentPolicy
                            | FailureCategory::Server
                            | FailureCategory::Download
                            | FailureCategory::RateLimited
                    ),
                    "{f:?}"
                );
            }
            RowStatus::Cancelled => panic!("nothing was cancelled: {row:?}"),
        }
    }
    assert!(
        rows.iter().any(|r| r.status == RowStatus::Done),
        "most jobs get through: {categories:?}"
    );
    server.shutdown();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_configuration_is_refused_before_anything_is_written() {
    let dir = tempfile::tempdir().unwrap();
    let e = small(dir.path(), 1)
        .set("backend.kind", "sim-http")
        .build()
        .unwrap_err();
    assert!(e.to_string().contains("backend.base_url"), "{e}");
    let config = small(dir.path(), 1)
        .set("backend.profile", "no-such-profile")
        .build()
        .unwrap();
    let e = Campaign::create_with_id(config, "bad").await.unwrap_err();
    assert!(e.to_string().contains("no-such-profile"), "{e}");
    assert!(
        !dir.path().join("bad").exists(),
        "a run that cannot start leaves no folder"
    );
    let e = Campaign::open(dir.path(), "missing").await.unwrap_err();
    assert!(matches!(e, campaign::Error::RunNotFound { .. }), "{e}");
    // A video store that is not one is named by its key; one that cannot
    // be written (a file where its folder should be) stops the run before
    // it starts, its folder removed.
    let e = small(dir.path(), 1)
        .set("output.videos", "ftp://host/videos")
        .build()
        .unwrap_err();
    assert!(e.to_string().contains("output.videos"), "{e}");
    let blocker = dir.path().join("not-a-folder");
    std::fs::write(&blocker, b"").unwrap();
    let url = format!("file://{}", blocker.display());
    let config = small(dir.path(), 1)
        .set("output.videos", url.as_str())
        .build()
        .unwrap();
    let e = Campaign::create_with_id(config, "bad-videos")
        .await
        .unwrap_err();
    assert!(matches!(e, campaign::Error::Videos { .. }), "{e:?}");
    assert!(e.to_string().contains(&url), "{e}");
    assert!(!dir.path().join("bad-videos").exists());
}

/// With a shared video store, every video goes there as it is downloaded;
/// a run folder that does not keep videos holds none at the end, and the
/// report's worst videos come back from the store.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn videos_go_to_the_shared_store_and_the_report_reads_them_from_there() {
    let dir = tempfile::tempdir().unwrap();
    let shared = tempfile::tempdir().unwrap();
    let url = format!("file://{}", shared.path().display());
    let config = small(dir.path(), 6)
        .set("output.videos", url.as_str())
        .set("output.keep_videos", false)
        .build()
        .unwrap();
    let campaign = Campaign::create_with_id(config, "shared").await.unwrap();
    campaign.enqueue().await.unwrap();
    let summary = campaign.run().await.unwrap();
    assert_eq!(summary.counts.done, 6, "{:?}", summary.counts);
    let rows = campaign.rows().await.unwrap();
    let run = campaign.run_dir().path();
    for row in &rows {
        let video = row.video.as_deref().unwrap();
        assert!(!run.join(video).exists(), "{video} was kept");
        let stored = std::fs::read(shared.path().join("shared").join(video)).unwrap();
        assert!(stored.len() > 1000, "{video}: {} bytes", stored.len());
    }

    let mut digest = framebreak::report::Digest::new(3);
    for row in &rows {
        digest.add(row);
    }
    let options = framebreak::report::HtmlOptions::new(run).top_n(3);
    let page = framebreak::report::html_from(&digest, &options).unwrap();
    assert!(page.contains("3 of these 3 videos are not available here"));
    let names = digest.worst().iter().filter_map(|r| r.video.as_deref());
    let missing = campaign.videos().unwrap().fetch_missing(names, run).await;
    assert!(missing.is_empty(), "{missing:?}");
    let page = framebreak::report::html_from(&digest, &options).unwrap();
    assert_eq!(page.matches("alt=\"contact sheet of").count(), 3);
    assert!(!page.contains("not available here"));
}

/// A wrong key stops the campaign within a handful of submissions instead of
/// failing every job, and the run recovers in place once the key is right:
/// the refused jobs are re-queued, every job is then submitted once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_key_stops_the_run_early_and_the_run_recovers_in_place() {
    let sim = Arc::new(Simulator::new(Profile::weak()).unwrap());
    // The campaign sends the sim-http default key, which this server refuses.
    let locked = SimServer::bind(
        "127.0.0.1:0",
        ServerConfig::new(sim.clone())
            .latency(Latency::none())
            .api_key("the-right-key"),
    )
    .unwrap();
    let url = locked.url();
    let dir = tempfile::tempdir().unwrap();
    let config = small(dir.path(), 30)
        .set("backend.kind", "sim-http")
        .set("backend.base_url", url.clone())
        .set("scheduler.concurrency", 2)
        .build()
        .unwrap();
    let campaign = Campaign::create_with_id(config, "key").await.unwrap();
    campaign.enqueue().await.unwrap();
    let summary = campaign.run().await.unwrap();
    let why = campaign.stopped_because().expect("the run stopped itself");
    assert!(
        why.contains("auth") && why.contains("--retry-failed auth"),
        "{why}"
    );
    let requests = locked.stats().submit_requests();
    assert!(
        (3..=6).contains(&requests),
        "stopped within a handful of submissions, not all 30: {requests}"
    );
    assert_eq!(summary.counts.failed, requests, "{:?}", summary.counts);
    assert!(summary.counts.pending >= 24, "{:?}", summary.counts);
    let addr = url
        .trim_start_matches("http://")
        .trim_end_matches('/')
        .to_owned();
    locked.shutdown();
    drop(campaign);

    // The key is fixed (here: the server takes any key), on the same address.
    let open = SimServer::bind(&addr, ServerConfig::new(sim).latency(Latency::none())).unwrap();
    let campaign = Campaign::open(dir.path(), "key").await.unwrap();
    let requeued = campaign
        .requeue_failed(|c| c == FailureCategory::Auth)
        .await
        .unwrap();
    assert_eq!(requeued, requests);
    let summary = campaign.run().await.unwrap();
    assert_eq!(summary.outcome, RunOutcome::Drained);
    assert_eq!(summary.counts.done, 30, "{:?}", summary.counts);
    let stats = open.stats();
    assert_eq!(stats.submissions, 30, "each job submitted once: {stats:?}");
    assert_eq!(stats.duplicate_submissions, 0);
    open.shutdown();
}

/// A model the gateway says it does not offer is refused before anything is
/// submitted, naming the ones it offers; an offered one is taken.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_model_the_gateway_does_not_offer_is_refused_before_any_submission() {
    let mut gateway = mockito::Server::new_async().await;
    let models = gateway
        .mock("GET", "/v1/models")
        .with_body(r#"{"object": "list", "data": [{"id": "wan-2.5", "object": "model"}, {"id": "veo-3.1", "object": "model"}]}"#)
        .expect(2)
        .create_async()
        .await;
    let submits = gateway
        .mock("POST", "/v1/videos")
        .expect(0)
        .create_async()
        .await;
    let dir = tempfile::tempdir().unwrap();
    let config = |model: &str| {
        small(dir.path(), 2)
            .set("backend.kind", "sim-http")
            .set("backend.base_url", gateway.url())
            .set("backend.model", model)
            .build()
            .unwrap()
    };
    let err = Campaign::create_with_id(config("sora-2"), "m1")
        .await
        .expect_err("a model the gateway does not offer");
    let text = err.to_string();
    assert!(
        text.contains("backend.model") && text.contains("wan-2.5, veo-3.1"),
        "{text}"
    );
    assert!(matches!(err, campaign::Error::Config { .. }));
    Campaign::create_with_id(config("wan-2.5"), "m2")
        .await
        .expect("an offered model");
    models.assert_async().await;
    submits.assert_async().await;
}

/// A budget is never passed: the run stops submitting at it, finishes every
/// job it paid for, and goes on with a larger one; the plan's estimate is
/// the spend of a run that finishes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_budget_stops_the_run_at_it_and_a_larger_one_goes_on() {
    use framebreak::cost::Usd;
    let dir = tempfile::tempdir().unwrap();
    // 1 s clips at the simulator's nominal $0.05 per second: $0.05 a job,
    // so $0.42 admits 8 of 24.
    let config = small(dir.path(), 24)
        .set("request.duration_secs", 1)
        .set("cost.budget", "0.42usd")
        .build()
        .unwrap();
    let plan = campaign::plan(&config).unwrap();
    assert_eq!(plan.jobs, 24);
    assert_eq!(plan.per_job.unwrap().high, "0.05usd".parse().unwrap());
    assert_eq!(plan.within_budget, Some(8));
    assert!(
        !dir.path().join("budget").exists(),
        "a plan makes no folder"
    );

    let campaign = Campaign::create_with_id(config, "budget").await.unwrap();
    campaign.enqueue().await.unwrap();
    let summary = campaign.run().await.unwrap();
    assert!(campaign.stopped_at_budget());
    let why = campaign.stopped_because().unwrap();
    assert!(why.contains("$0.42") && why.contains("--budget"), "{why}");
    let submitted = campaign.simulator().unwrap().stats().submissions;
    assert_eq!(submitted, 8, "every job the budget admits, no more");
    // Every job that was paid for was finished; the rest ended unsubmitted.
    assert_eq!(summary.counts.done, 8, "{:?}", summary.counts);
    assert_eq!(summary.counts.cancelled, 16, "{:?}", summary.counts);
    assert_eq!(
        campaign.committed().await.unwrap(),
        "0.40usd".parse::<Usd>().unwrap()
    );
    let rows = campaign.rows().await.unwrap();
    for row in &rows {
        match row.status {
            RowStatus::Done => assert_eq!(row.cost.unwrap().high, "0.05usd".parse().unwrap()),
            _ => {
                assert!(row.cost.is_none(), "never submitted, never billed");
                let f = row.failure.as_ref().unwrap();
                assert!(
                    f.message.contains("not submitted: the budget of $0.42"),
                    "{f:?}"
                );
            }
        }
    }
    drop(campaign);

    // A larger budget, kept in the run's configuration, goes on.
    let again = Campaign::open_adjusted(dir.path(), "budget", None, |c| {
        c.cost.budget = Some("2usd".parse().unwrap());
    })
    .await
    .unwrap();
    assert_eq!(again.requeue_unsubmitted().await.unwrap(), 16);
    let summary = again.run().await.unwrap();
    assert!(!again.stopped_at_budget());
    assert_eq!(summary.counts.done, 24, "{:?}", summary.counts);
    let spent = again.committed().await.unwrap();
    assert_eq!(spent, "1.20usd".parse::<Usd>().unwrap());
    // The plan of the finished run's configuration said what it cost.
    let estimate = plan.total.unwrap();
    assert_eq!((estimate.low, estimate.high), (spent, spent));
    drop(again);
    let reopened = Campaign::open(dir.path(), "budget").await.unwrap();
    assert_eq!(reopened.config().cost.budget, Some("2usd".parse().unwrap()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn prices_and_budgets_are_checked_before_anything_is_written() {
    let dir = tempfile::tempdir().unwrap();
    for (key, value, says) in [
        ("cost.budget", "5eur", "not USD"),
        ("cost.budget", "-5usd", "negative"),
    ] {
        let e = small(dir.path(), 1)
            .set(key, value)
            .build()
            .unwrap_err()
            .to_string();
        assert!(e.contains(key) && e.contains(says), "{e}");
    }
    // A budget needs a price: none for a model the table does not know.
    let e = small(dir.path(), 1)
        .set("backend.kind", "replicate")
        .set("backend.model", "someone/new-model")
        .set("cost.budget", "5usd")
        .build()
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("no price for replicate:someone/new-model"),
        "{e}"
    );
    let e = small(dir.path(), 1)
        .set(
            "pricing",
            serde_json::json!({"replicate-ish:x": {"per_second": "1usd"}}),
        )
        .build()
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("pricing.\"replicate-ish:x\"") && e.contains("no backend"),
        "{e}"
    );
    // A configured price fills the gap.
    let config = small(dir.path(), 1)
        .set(
            "pricing",
            serde_json::json!({"sim:framebreak-sim": {"per_clip": "0.25usd"}}),
        )
        .set("cost.budget", "5usd")
        .build()
        .unwrap();
    let plan = campaign::plan(&config).unwrap();
    assert_eq!(plan.per_job.unwrap().high, "0.25usd".parse().unwrap());
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
}
