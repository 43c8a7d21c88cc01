//! A campaign's plan, before anything runs: how many jobs, the request
//! each provider will actually get, what it will cost and how long the rate
//! limit alone makes it take. Nothing is submitted and no run folder is
//! made.

use std::time::Duration;

use framebreak_client::{Adjustment, VideoRequest};

use crate::campaign::backend;
use crate::campaign::run::{check_variants, conform, generator, prompts};
use crate::campaign::{CampaignConfig, Error};
use crate::cost::{Estimate, Price, Usd};

/// What a campaign would do (see [`plan`]).
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Plan {
    /// Jobs it would enqueue.
    pub jobs: u64,
    /// Of which controls (unmutated prompts).
    pub controls: u64,
    /// The backend and the model prices are looked up by.
    pub backend: String,
    /// The model.
    pub model: String,
    /// The request every job sends (its prompt aside), after fitting it to
    /// the model.
    pub request: VideoRequest,
    /// How the configured request was changed to fit.
    pub adjustments: Vec<Adjustment>,
    /// The model's price, when framebreak has one.
    pub price: Option<Price>,
    /// One job's cost.
    pub per_job: Option<Estimate>,
    /// Every job's.
    pub total: Option<Estimate>,
    /// The budget, when one is set.
    pub budget: Option<Usd>,
    /// Jobs the budget admits at their highest price, when it admits fewer
    /// than all.
    pub within_budget: Option<u64>,
    /// The least time the submission rate limit allows, when one is set.
    pub min_wall: Option<Duration>,
}

/// The plan of `config`: its variants counted, its request fitted to the
/// model, its cost estimated from the price list. Submits nothing.
///
/// # Errors
///
/// [`Error`] as [`Campaign::create`](crate::campaign::Campaign::create)
/// would fail before its first submission.
pub fn plan(config: &CampaignConfig) -> Result<Plan, Error> {
    config.validate()?;
    check_variants(config)?;
    let scratch = tempfile::tempdir().map_err(|e| Error::io(std::env::temp_dir(), e))?;
    let built = backend::build(&config.backend, scratch.path())?;
    let generator = generator(&config.variants)?;
    let limit = config.variants.limit.unwrap_or(usize::MAX);
    let (mut jobs, mut controls) = (0u64, 0u64);
    for variant in generator.generate(prompts(config)?).take(limit) {
        let variant = variant?;
        jobs += 1;
        controls += u64::from(variant.is_control());
    }
    let r = &config.request;
    let mut request = VideoRequest::new("(each variant's prompt)")
        .size(r.width, r.height)
        .duration_secs(r.duration_secs);
    if let Some(model) = &config.backend.model {
        request = request.model(model.clone());
    }
    let fitted = conform(built.backend.as_ref(), &request)?;
    let price = config.price()?;
    let seconds = fitted.request.duration_secs.unwrap_or(r.duration_secs);
    let per_job = price.as_ref().map(|p| Estimate::of(p, seconds));
    let total = per_job.map(|e| e.times(jobs));
    let budget = config.cost.budget;
    let within_budget = match (budget, per_job) {
        (Some(b), Some(e)) if e.high.micros() > 0 && e.high.times(jobs) > b => {
            Some(b.micros() / e.high.micros())
        }
        _ => None,
    };
    let min_wall = match &config.scheduler.rate {
        Some(rate) => {
            let per_second = rate.limit().per_second_rate();
            Some(Duration::from_secs_f64(jobs as f64 / per_second))
        }
        None => None,
    };
    let (kind, model) = config.priced_model();
    Ok(Plan {
        jobs,
        controls,
        backend: kind.to_owned(),
        model,
        request: fitted.request,
        adjustments: fitted.adjustments,
        price,
        per_job,
        total,
        budget,
        within_budget,
        min_wall,
    })
}
