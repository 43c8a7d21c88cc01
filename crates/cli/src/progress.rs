//! What a running campaign shows: a progress bar on a terminal, JSON lines
//! for scripts, or nothing.

use std::sync::Arc;
use std::time::{Duration, Instant};

use clap::ValueEnum;
use framebreak::cost::Usd;
use framebreak::gpu::DeviceManager;
use framebreak::scheduler::{Counts, JobStore, Scheduler, Snapshot, SpendLedger};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use tokio::sync::broadcast::error::RecvError;
use tokio_util::sync::CancellationToken;

/// How progress is shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum ProgressMode {
    /// A bar on standard error (hidden when it is not a terminal).
    Bar,
    /// One JSON object per line on standard output: every scheduler event,
    /// and a snapshot every second.
    Json,
    /// Nothing but errors.
    Quiet,
}

/// One line saying where things stand: jobs by state, rate, ETA, retries,
/// breaker state per backend, device load.
pub(crate) fn status_line(s: &Snapshot, devices: Option<&DeviceManager>) -> String {
    let c = &s.counts;
    let mut line = format!(
        "done {} · failed {} · running {} · waiting {} · {:.1} jobs/s",
        c.done, c.failed, c.leased, c.pending, s.rate
    );
    if let Some(eta) = s.eta {
        line += &format!(" · ETA {}", whole_seconds(eta));
    }
    if s.retries > 0 {
        line += &format!(" · {} retries", s.retries);
    }
    if let Some(outage) = s.store_outage {
        line += &format!(
            " · job store unreachable for {}, retrying",
            whole_seconds(outage)
        );
    }
    for b in &s.backends {
        line += &format!(" · {}: {:?}/{:?}", b.name, b.health, b.breaker).to_lowercase();
    }
    if let Some(devices) = devices
        && let Ok(states) = devices.snapshot()
    {
        for d in states {
            line += &format!(" · {} {} in use", d.id, d.in_flight);
        }
    }
    line
}

/// `d` to the second, as people read it (`1h 2m 3s`).
fn whole_seconds(d: Duration) -> humantime::FormattedDuration {
    humantime::format_duration(Duration::from_secs(d.as_secs()))
}

/// How often a worker reads the whole run's counts from the shared store.
const RUN_COUNTS_EVERY: Duration = Duration::from_secs(2);

/// Whether a figure last read at `read_at` is to be read again (it is
/// older than [`RUN_COUNTS_EVERY`], or `now`); if so, marks it read now.
fn due(read_at: &mut Option<Instant>, now: bool) -> bool {
    if !now && read_at.is_some_and(|t| t.elapsed() < RUN_COUNTS_EVERY) {
        return false;
    }
    *read_at = Some(Instant::now());
    true
}

/// The whole run as the shared store counts it, for a worker whose own
/// snapshot sees only its share: its counts, refreshed every
/// [`RUN_COUNTS_EVERY`], and the run's pace since this worker started.
pub(crate) struct RunWide {
    store: Arc<dyn JobStore>,
    counts: Option<Counts>,
    read_at: Option<Instant>,
    first: Option<(Instant, u64)>,
}

impl RunWide {
    pub(crate) fn new(store: Arc<dyn JobStore>) -> Self {
        Self {
            store,
            counts: None,
            read_at: None,
            first: None,
        }
    }

    /// Reads the counts again when they are older than
    /// [`RUN_COUNTS_EVERY`] (or `now`); a failed read keeps the last ones
    /// (the store may be riding out an outage).
    async fn refresh(&mut self, now: bool) {
        if !due(&mut self.read_at, now) {
            return;
        }
        if let Ok(c) = self.store.counts().await {
            self.first.get_or_insert((Instant::now(), c.finished()));
            self.counts = Some(c);
        }
    }

    /// Time until the run is finished at the pace it has had since this
    /// worker started, once there is a pace.
    fn eta(&self) -> Option<Duration> {
        let (c, (since, first)) = (self.counts?, self.first?);
        let rate = c.finished().saturating_sub(first) as f64 / since.elapsed().as_secs_f64();
        (rate > 0.0).then(|| Duration::from_secs_f64(c.unfinished() as f64 / rate))
    }

    /// `run: done … · failed … · running … · waiting … · ETA …`.
    fn line(&self) -> Option<String> {
        let c = self.counts?;
        let mut line = format!(
            "run: done {} · failed {} · running {} · waiting {}",
            c.done, c.failed, c.leased, c.pending
        );
        if let Some(eta) = self.eta() {
            line += &format!(" · ETA {}", whole_seconds(eta));
        }
        Some(line)
    }
}

/// What the run has committed to (from its ledger, every worker's
/// together), refreshed every [`RUN_COUNTS_EVERY`], with its pace since
/// this process started and the budget, if any.
pub(crate) struct Spending {
    ledger: Arc<dyn SpendLedger>,
    budget: Option<Usd>,
    committed: Option<Usd>,
    read_at: Option<Instant>,
    first: Option<(Instant, Usd)>,
}

impl Spending {
    pub(crate) fn new(ledger: Arc<dyn SpendLedger>, budget: Option<Usd>) -> Self {
        Self {
            ledger,
            budget,
            committed: None,
            read_at: None,
            first: None,
        }
    }

    async fn refresh(&mut self, now: bool) {
        if !due(&mut self.read_at, now) {
            return;
        }
        if let Ok(micros) = self.ledger.committed().await {
            let committed = Usd::from_micros(micros);
            self.first.get_or_insert((Instant::now(), committed));
            self.committed = Some(committed);
        }
    }

    /// Dollars committed per minute since this process started.
    fn per_minute(&self) -> Option<Usd> {
        let (committed, (since, first)) = (self.committed?, self.first?);
        let minutes = since.elapsed().as_secs_f64() / 60.0;
        (minutes > 0.0).then(|| {
            let micros = committed.micros().saturating_sub(first.micros()) as f64 / minutes;
            Usd::from_micros(micros as u64)
        })
    }

    /// `spent $1.20 of $5.00 · $0.40/min`.
    fn line(&self) -> Option<String> {
        let committed = self.committed?;
        let mut line = format!("spent {committed}");
        if let Some(budget) = self.budget {
            line += &format!(" of {budget}");
        }
        if let Some(rate) = self.per_minute() {
            line += &format!(" · {rate}/min");
        }
        Some(line)
    }

    fn json(&self) -> serde_json::Value {
        serde_json::json!({
            "committed_usd": self.committed.map(Usd::dollars),
            "budget_usd": self.budget.map(Usd::dollars),
            "per_minute_usd": self.per_minute().map(Usd::dollars),
        })
    }
}

/// Shows progress of `scheduler` until `stop` is cancelled; with `run`
/// (a worker of a shared run), the whole run's counts beside this
/// process's share; with `spend`, what the run has committed to.
pub(crate) async fn show(
    mode: ProgressMode,
    scheduler: &Scheduler,
    devices: Option<&DeviceManager>,
    total: u64,
    run: Option<RunWide>,
    spend: Option<Spending>,
    stop: CancellationToken,
) {
    match mode {
        ProgressMode::Quiet => stop.cancelled().await,
        ProgressMode::Bar => bar(scheduler, devices, total, run, spend, stop).await,
        ProgressMode::Json => json(scheduler, devices, run, spend, stop).await,
    }
}

async fn bar(
    scheduler: &Scheduler,
    devices: Option<&DeviceManager>,
    total: u64,
    mut run: Option<RunWide>,
    mut spend: Option<Spending>,
    stop: CancellationToken,
) {
    let bar = ProgressBar::with_draw_target(Some(total), ProgressDrawTarget::stderr_with_hz(4));
    bar.set_style(
        ProgressStyle::with_template(
            "{elapsed_precise} [{bar:30.cyan/blue}] {pos}/{len} {wide_msg}",
        )
        .unwrap_or_else(|_| ProgressStyle::default_bar())
        .progress_chars("=> "),
    );
    let mut tick = tokio::time::interval(Duration::from_millis(250));
    loop {
        let s = scheduler.snapshot();
        let spent = match &mut spend {
            Some(spend) => {
                spend.refresh(false).await;
                spend.line().map(|l| format!(" · {l}")).unwrap_or_default()
            }
            None => String::new(),
        };
        match &mut run {
            Some(run) => {
                run.refresh(false).await;
                if let Some(c) = run.counts {
                    bar.set_length(c.total());
                    bar.set_position(c.finished());
                }
                let mine = format!("this worker: {}", status_line(&s, devices));
                bar.set_message(match run.line() {
                    Some(line) => format!("{line}{spent} | {mine}"),
                    None => format!("{mine}{spent}"),
                });
            }
            None => {
                bar.set_position(s.counts.finished());
                bar.set_message(format!("{}{spent}", status_line(&s, devices)));
            }
        }
        tokio::select! {
            () = stop.cancelled() => break,
            _ = tick.tick() => {}
        }
    }
    bar.finish_and_clear();
}

async fn json(
    scheduler: &Scheduler,
    devices: Option<&DeviceManager>,
    mut run: Option<RunWide>,
    mut spend: Option<Spending>,
    stop: CancellationToken,
) {
    let mut events = scheduler.subscribe();
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    // Tokio's stdout writes on the blocking pool: a reader that is slow (or
    // a full pipe) delays these lines, never the runtime's threads, which
    // may be in the middle of a store transaction.
    let mut out = tokio::io::stdout();
    loop {
        let line = tokio::select! {
            () = stop.cancelled() => break,
            event = events.recv() => match event {
                Ok(e) => serde_json::json!({ "event": e }),
                Err(RecvError::Lagged(n)) => serde_json::json!({ "lagged": n }),
                Err(RecvError::Closed) => {
                    stop.cancelled().await;
                    break;
                }
            },
            _ = tick.tick() => {
                let devices = devices.and_then(|d| d.snapshot().ok()).map(|states| {
                    states.iter().map(|d| serde_json::json!({"device": d.id.to_string(), "in_flight": d.in_flight})).collect::<Vec<_>>()
                });
                let mut line = serde_json::json!({ "snapshot": scheduler.snapshot(), "devices": devices });
                with_run(&mut line, run.as_mut(), false).await;
                with_spend(&mut line, spend.as_mut(), false).await;
                line
            }
        };
        emit(&mut out, &line).await;
    }
    let mut last = serde_json::json!({ "snapshot": scheduler.snapshot() });
    with_run(&mut last, run.as_mut(), true).await;
    with_spend(&mut last, spend.as_mut(), true).await;
    emit(&mut out, &last).await;
}

/// Writes `value` as one line. A reader that left is not our failure; the
/// run goes on.
async fn emit(out: &mut tokio::io::Stdout, value: &serde_json::Value) {
    use tokio::io::AsyncWriteExt;
    let mut line = value.to_string();
    line.push('\n');
    if out.write_all(line.as_bytes()).await.is_ok() {
        let _ = out.flush().await;
    }
}

/// Adds what the run has committed to `line` as `spend`, when it is
/// priced; `now` reads it afresh.
async fn with_spend(line: &mut serde_json::Value, spend: Option<&mut Spending>, now: bool) {
    let Some(spend) = spend else { return };
    spend.refresh(now).await;
    line["spend"] = spend.json();
}

/// Adds the whole run's counts and ETA to `line` as `run` (`null` before
/// the first read), when there is a run to count; `now` reads them afresh.
async fn with_run(line: &mut serde_json::Value, run: Option<&mut RunWide>, now: bool) {
    let Some(run) = run else { return };
    run.refresh(now).await;
    line["run"] = match run.counts {
        Some(c) => serde_json::json!({
            "counts": c,
            "eta_secs": run.eta().map(|d| d.as_secs()),
        }),
        None => serde_json::Value::Null,
    };
}

#[cfg(test)]
mod tests {
    use super::*;

    fn snapshot() -> Snapshot {
        Snapshot {
            counts: framebreak::scheduler::Counts {
                done: 3,
                pending: 7,
                ..Default::default()
            },
            in_flight: 0,
            steps: 0,
            finished: 3,
            retries: 0,
            failures: Vec::new(),
            rate: 1.5,
            eta: None,
            elapsed: Duration::from_secs(2),
            backends: Vec::new(),
            lanes: Vec::new(),
            store_outage: None,
            store_outages: 0,
        }
    }

    #[test]
    fn the_line_says_while_the_store_is_unreachable() {
        let line = status_line(&snapshot(), None);
        assert!(line.starts_with("done 3 · failed 0"), "{line}");
        assert!(!line.contains("unreachable"), "{line}");
        let away = Snapshot {
            store_outage: Some(Duration::from_millis(12_400)),
            store_outages: 1,
            ..snapshot()
        };
        let line = status_line(&away, None);
        assert!(
            line.ends_with("job store unreachable for 12s, retrying"),
            "{line}"
        );
    }
}
