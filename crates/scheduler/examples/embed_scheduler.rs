//! Embed framebreak's scheduler in an app that has nothing to do with
//! video: a resumable batch of "remote" translations, rate limited to 50
//! requests a second, retried when the fake service is overloaded, stored
//! in SQLite so a killed run resumes where it stopped.
//!
//! Run with `cargo run -p framebreak-scheduler --example embed_scheduler -- [STORE.db]`; run it
//! again with the same file and it only does what is left.
#![allow(clippy::print_stdout)]

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use framebreak_scheduler::{
    Failure, FailureCategory, Handler, JobStore, JobStoreExt, NewJob, RateLimit, Scheduler,
    SqliteStore, Step, StepContext,
};
use futures::StreamExt;
use serde_json::json;

/// A fake translation service: slow, and overloaded one call in ten.
#[derive(Debug)]
struct Translator;

impl Translator {
    async fn translate(&self, text: &str) -> Result<String, Failure> {
        tokio::time::sleep(Duration::from_millis(fastrand::u64(2..10))).await;
        if fastrand::u8(0..10) == 0 {
            return Err(Failure::new(FailureCategory::Server, "503: try again"));
        }
        Ok(text.chars().rev().collect())
    }
}

#[async_trait]
impl Handler for Translator {
    /// Step 0 translates (the remote call); step 1 checks the answer. The
    /// scheduler stores the translation between the two, so a restart
    /// never pays for it twice.
    async fn step(&self, ctx: StepContext<'_>) -> Result<Step, Failure> {
        match ctx.step {
            0 => {
                let text = ctx.payload["text"].as_str().unwrap_or_default();
                Ok(Step::Next(
                    json!({ "translation": self.translate(text).await? }),
                ))
            }
            _ => {
                let t = ctx.state["translation"].as_str().unwrap_or_default();
                Ok(Step::Done(
                    json!({ "translation": t, "chars": t.chars().count() }),
                ))
            }
        }
    }

    /// Only the remote call counts against the service's rate limit.
    fn rate_limited(&self, step: u32) -> bool {
        step == 0
    }
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let path = std::env::args().nth(1).unwrap_or_else(|| {
        std::env::temp_dir()
            .join("framebreak-translations.db")
            .display()
            .to_string()
    });
    let store = Arc::new(SqliteStore::open(&path)?);
    // Enqueueing is idempotent by job id: a second run adds nothing.
    let jobs = (0..300).map(|i| {
        NewJob::new(
            format!("sentence-{i}"),
            "translator",
            json!({ "text": format!("sentence number {i}") }),
        )
    });
    let added = store.enqueue(jobs.collect::<Result<_, _>>()?).await?;
    println!("{added} new jobs in {path}");

    let scheduler = Scheduler::builder(store.clone(), Translator)
        .concurrency(32)
        .rate_limit("translator", RateLimit::per_second(50)?)
        .build()?;
    let summary = scheduler.run().await?;
    let counts = store.counts().await?;
    println!(
        "{:?}: {} done, {} failed, {} retries",
        summary.outcome, counts.done, counts.failed, summary.snapshot.retries
    );
    let mut results = store.results(100);
    if let Some(first) = results.next().await {
        println!("first result: {:?}", first?.result);
    }
    Ok(())
}
