//! `framebreak run --dry-run`: the plan of a campaign, printed; nothing is
//! submitted and no run folder is made.

use std::io::Write;

use anyhow::Context;
use framebreak::campaign::{CampaignConfig, Plan, plan};

/// Prints the plan of `config` on standard output.
pub(crate) fn print(config: &CampaignConfig) -> anyhow::Result<()> {
    let plan = plan(config)?;
    let mut out = std::io::stdout().lock();
    out.write_all(text(&plan).as_bytes())
        .and_then(|()| out.flush())
        .context("writing the plan")
}

fn text(p: &Plan) -> String {
    let mut t = format!(
        "plan (dry run: nothing submitted, no run folder made)\n  jobs: {} ({} controls)\n  backend: {}, model {}\n",
        p.jobs, p.controls, p.backend, p.model
    );
    let r = &p.request;
    let mut size = r
        .size
        .map_or_else(|| "the model's default size".into(), |s| s.to_string());
    if let Some(ratio) = &r.aspect_ratio {
        size.push_str(&format!(" ({ratio})"));
    }
    let duration = r
        .duration_secs
        .map_or_else(|| "the model's default length".into(), |d| format!("{d} s"));
    t.push_str(&format!("  each request: {size}, {duration}"));
    if let Some(seed) = r.seed {
        t.push_str(&format!(", seed {seed}"));
    }
    t.push('\n');
    for a in &p.adjustments {
        t.push_str(&format!("  fitted to the model: {a}\n"));
    }
    match (&p.price, p.per_job, p.total) {
        (Some(price), Some(job), Some(total)) => {
            t.push_str(&format!("  price: {}\n", price.describe()));
            if total.low == total.high {
                t.push_str(&format!(
                    "  estimated cost: {} ({} per job)\n",
                    total.high, job.high
                ));
            } else {
                t.push_str(&format!(
                    "  estimated cost: {} to {} ({} to {} per job)\n",
                    total.low, total.high, job.low, job.high
                ));
            }
        }
        _ => t.push_str(&format!(
            "  estimated cost: unknown: framebreak has no price for {}:{} (set one in \
             framebreak.toml: [pricing.\"{}:{}\"] per_second = \"0.10usd\")\n",
            p.backend, p.model, p.backend, p.model
        )),
    }
    if let Some(budget) = p.budget {
        match p.within_budget {
            Some(n) => t.push_str(&format!(
                "  budget: {budget}: it admits about {n} of the {} jobs at their highest price; \
                 the run stops there\n",
                p.jobs
            )),
            None => t.push_str(&format!("  budget: {budget}: enough for every job\n")),
        }
    }
    match p.min_wall {
        Some(wall) => t.push_str(&format!(
            "  wall time: at least {} (the submission rate limit alone)\n",
            humantime::format_duration(std::time::Duration::from_secs(wall.as_secs().max(1)))
        )),
        None => t.push_str(
            "  wall time: set by the provider's speed and --concurrency (no --rate limit)\n",
        ),
    }
    t
}
