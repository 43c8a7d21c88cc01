//! A resumable link checker over a fake in-process web site: run it with
//! `cargo run -p framebreak-scheduler --example crawler -- [STORE.db]`,
//! press Ctrl-C once to stop cleanly (twice to abort), run it again with the
//! same file to resume where it stopped.
//!
//! Each page is a two-step job: fetch (may fail with 503, 429 or 404), then
//! index (which enqueues the links it found as new jobs; ids are URLs, so a
//! page is crawled once however many pages link to it).
#![allow(clippy::print_stdout)]

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use framebreak_scheduler::{
    BackendConfig, BreakerConfig, Event, Failure, FailureCategory, Handler, JobStore, JobStoreExt,
    NewJob, RateLimit, Scheduler, SqliteStore, Step, StepContext,
};
use futures::StreamExt;
use serde_json::json;

/// Pages on the fake site.
const PAGES: u64 = 2_000;

/// The fake site: page `n` links to three others; some pages are missing,
/// the server is sometimes overloaded.
#[derive(Debug)]
struct FakeSite;

impl FakeSite {
    async fn get(&self, page: u64) -> Result<Vec<u64>, Failure> {
        tokio::time::sleep(Duration::from_millis(fastrand::u64(1..5))).await;
        match fastrand::u32(0..100) {
            0..5 => {
                return Err(Failure::new(
                    FailureCategory::Server,
                    "503 Service Unavailable",
                ));
            }
            5..7 => {
                return Err(
                    Failure::new(FailureCategory::RateLimited, "429 Too Many Requests")
                        .retry_after(Duration::from_millis(100)),
                );
            }
            _ => {}
        }
        if page % 97 == 13 {
            return Err(Failure::new(
                FailureCategory::BadRequest,
                format!("404: /page/{page}"),
            ));
        }
        Ok(vec![
            (page * 7 + 1) % PAGES,
            (page * 13 + 5) % PAGES,
            (page * page + 3) % PAGES,
        ])
    }
}

#[derive(Debug)]
struct Crawler {
    site: FakeSite,
    store: Arc<SqliteStore>,
}

fn page_job(page: u64) -> NewJob {
    NewJob::new(format!("/page/{page}"), "site", json!({ "page": page })).expect("valid id")
}

#[async_trait]
impl Handler for Crawler {
    async fn step(&self, ctx: StepContext<'_>) -> Result<Step, Failure> {
        let page = ctx.payload["page"].as_u64().unwrap_or(0);
        match ctx.step {
            0 => {
                let links = self.site.get(page).await?;
                Ok(Step::Next(json!({ "links": links })))
            }
            _ => {
                let links: Vec<u64> = serde_json::from_value(ctx.state["links"].clone())
                    .map_err(|e| Failure::new(FailureCategory::Decode, e.to_string()))?;
                self.store
                    .enqueue(links.iter().copied().map(page_job).collect())
                    .await
                    .map_err(|e| Failure::new(FailureCategory::Analysis, e.to_string()))?;
                Ok(Step::Done(json!({ "links": links.len() })))
            }
        }
    }
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let path = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "crawler.db".to_owned());
    let store = Arc::new(SqliteStore::open(&path)?);
    store.enqueue(vec![page_job(0)]).await?;
    let crawler = Crawler {
        site: FakeSite,
        store: Arc::clone(&store),
    };
    let breaker = BreakerConfig {
        cool_down: Duration::from_millis(500),
        ..BreakerConfig::default()
    };
    let scheduler = Scheduler::builder(Arc::clone(&store), crawler)
        .concurrency(64)
        .backend(
            "site",
            BackendConfig {
                breaker,
                ..BackendConfig::default()
            },
        )
        .rate_limit(
            "site",
            RateLimit::per_second(400)?
                .burst(20)
                .jitter(Duration::from_millis(5)),
        )
        .build()?;

    let shutdown = scheduler.shutdown();
    tokio::spawn(async move {
        while tokio::signal::ctrl_c().await.is_ok() {
            println!("\nstopping (Ctrl-C again to abort)…");
            shutdown.trigger();
        }
    });
    let mut events = scheduler.subscribe();
    tokio::spawn(async move {
        while let Ok(event) = events.recv().await {
            match event {
                Event::Breaker { backend, from, to } => {
                    println!("breaker {backend}: {from:?} → {to:?}")
                }
                Event::RateLimitPaused { key, pause } => {
                    println!("rate limited: {key} paused {pause:?}")
                }
                _ => {}
            }
        }
    });
    let scheduler = Arc::new(scheduler);
    let watcher = {
        let scheduler = Arc::clone(&scheduler);
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(Duration::from_secs(1)).await;
                let s = scheduler.snapshot();
                println!(
                    "done {:>5}  failed {:>3}  in flight {:>3}  retries {:>4}  {:>6.0} pages/s",
                    s.counts.done, s.counts.failed, s.in_flight, s.retries, s.rate
                );
            }
        })
    };
    let summary = scheduler.run().await?;
    watcher.abort();
    println!("{:?}: {:?}", summary.outcome, summary.snapshot.counts);
    let mut missing = Vec::new();
    let mut results = store.results(500);
    while let Some(record) = results.next().await {
        let record = record?;
        if let Some(failure) = record.failure.filter(|_| record.result.is_none()) {
            missing.push(format!("{} ({})", record.job.id, failure));
        }
    }
    println!(
        "{} broken links, e.g. {:?}",
        missing.len(),
        missing.iter().take(3).collect::<Vec<_>>()
    );
    Ok(())
}
