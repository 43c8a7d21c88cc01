//! [`Telemetry`]: the recorder, the collector, the endpoint and the
//! housekeeping task, set up together and shut down together.

use std::fmt;
use std::net::SocketAddr;
use std::sync::Mutex;
use std::time::Duration;

use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};
use tokio::task::JoinHandle;

use crate::{
    AlertStream, Collector, CollectorBuilder, Error, MetricsServer, Result, TelemetryRecorder,
    names,
};

/// Default address of the metrics endpoint: loopback only.
pub const DEFAULT_METRICS_ADDR: &str = "127.0.0.1:9898";

/// Settings of [`Telemetry`].
#[derive(Debug, Clone)]
#[must_use = "a builder does nothing until .build() or .install()"]
pub struct TelemetryBuilder {
    collector: CollectorBuilder,
    metrics_addr: Option<SocketAddr>,
    housekeeping: Duration,
}

impl Default for TelemetryBuilder {
    fn default() -> Self {
        TelemetryBuilder {
            collector: CollectorBuilder::default(),
            metrics_addr: None,
            housekeeping: Duration::from_secs(1),
        }
    }
}

impl TelemetryBuilder {
    /// History sizes and alert rules. Default: [`CollectorBuilder::default`].
    pub fn collector(mut self, collector: CollectorBuilder) -> Self {
        self.collector = collector;
        self
    }

    /// Serve `/metrics` on this address (see [`DEFAULT_METRICS_ADDR`]).
    /// Default: no endpoint.
    pub fn metrics_addr(mut self, addr: SocketAddr) -> Self {
        self.metrics_addr = Some(addr);
        self
    }

    /// How often alert rules are evaluated and the exporter's buffered
    /// histogram samples are folded in (which bounds their memory when
    /// nobody scrapes). Default 1 s.
    pub fn housekeeping(mut self, every: Duration) -> Self {
        self.housekeeping = every;
        self
    }

    /// The parts, without touching process-wide state: the recorder is
    /// yours to install (or to use with `metrics::with_local_recorder`).
    pub fn build(self) -> Result<(Telemetry, TelemetryRecorder)> {
        if self.housekeeping.is_zero() {
            return Err(Error::InvalidConfig {
                setting: "housekeeping",
                reason: "must be above zero".into(),
            });
        }
        let collector = self.collector.build()?;
        let prometheus = PrometheusBuilder::new().build_recorder();
        let handle = prometheus.handle();
        let recorder = TelemetryRecorder::new(prometheus, collector.clone());
        let telemetry = Telemetry {
            collector,
            prometheus: handle,
            metrics_addr: self.metrics_addr,
            housekeeping: self.housekeeping,
            running: Mutex::new(Running::default()),
        };
        Ok((telemetry, recorder))
    }

    /// Builds, installs the recorder process-wide (once per process, else
    /// [`Error::AlreadyInstalled`]), describes the [`names`], and starts the
    /// endpoint and housekeeping on the current tokio runtime.
    pub async fn install(self) -> Result<Telemetry> {
        let (telemetry, recorder) = self.build()?;
        metrics::set_global_recorder(recorder).map_err(|_| Error::AlreadyInstalled {
            what: "metrics recorder",
        })?;
        names::describe();
        telemetry.start().await?;
        Ok(telemetry)
    }
}

#[derive(Default)]
struct Running {
    server: Option<MetricsServer>,
    housekeeping: Option<JoinHandle<()>>,
}

/// framebreak's observability, assembled: a Prometheus exporter fed by the
/// `metrics` facade, bounded histories with alert rules over them, and a
/// loopback scrape endpoint.
///
/// ```
/// use framebreak_telemetry::{Telemetry, names};
///
/// # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), framebreak_telemetry::Error> {
/// let (telemetry, recorder) = Telemetry::builder().build()?;
/// metrics::with_local_recorder(&recorder, || {
///     metrics::histogram!(names::REQUEST_DURATION_SECONDS, "backend" => "sim").record(0.25);
/// });
/// assert!(telemetry.render().contains("framebreak_request_duration_seconds"));
/// telemetry.shutdown().await;
/// # Ok(()) }
/// ```
pub struct Telemetry {
    collector: Collector,
    prometheus: PrometheusHandle,
    metrics_addr: Option<SocketAddr>,
    housekeeping: Duration,
    running: Mutex<Running>,
}

impl fmt::Debug for Telemetry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Telemetry")
            .field("collector", &self.collector)
            .field("metrics_addr", &self.metrics_addr())
            .finish_non_exhaustive()
    }
}

impl Telemetry {
    /// Settings, starting from the defaults.
    pub fn builder() -> TelemetryBuilder {
        TelemetryBuilder::default()
    }

    /// Starts the endpoint (if an address was set) and the housekeeping task
    /// on the current tokio runtime. [`TelemetryBuilder::install`] calls it.
    pub async fn start(&self) -> Result<()> {
        let server = match self.metrics_addr {
            Some(addr) => Some(MetricsServer::bind(addr, self.prometheus.clone()).await?),
            None => None,
        };
        let prometheus = self.prometheus.clone();
        let every = self.housekeeping;
        self.collector.spawn_evaluator(every)?;
        let housekeeping = tokio::spawn(async move {
            let mut tick = tokio::time::interval(every);
            loop {
                tick.tick().await;
                prometheus.run_upkeep();
            }
        });
        let mut running = self.running.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(old) = running.housekeeping.replace(housekeeping) {
            old.abort();
        }
        running.server = server.or(running.server.take());
        Ok(())
    }

    /// The histories and alert rules.
    pub fn collector(&self) -> &Collector {
        &self.collector
    }

    /// The Prometheus text page, as `/metrics` serves it.
    pub fn render(&self) -> String {
        self.prometheus.render()
    }

    /// Where `/metrics` is served, once started with an address.
    pub fn metrics_addr(&self) -> Option<SocketAddr> {
        let running = self.running.lock().unwrap_or_else(|p| p.into_inner());
        running.server.as_ref().map(MetricsServer::local_addr)
    }

    /// Alerts as they fire and resolve.
    pub fn alerts(&self) -> Result<AlertStream> {
        self.collector.subscribe()
    }

    /// Stops the endpoint and the tasks, and shuts the collector down
    /// (alert streams end). Metrics recorded afterwards still reach the
    /// exporter's counters but no history.
    pub async fn shutdown(&self) {
        let (server, housekeeping) = {
            let mut running = self.running.lock().unwrap_or_else(|p| p.into_inner());
            (running.server.take(), running.housekeeping.take())
        };
        if let Some(server) = server {
            server.shutdown().await;
        }
        if let Some(task) = housekeeping {
            task.abort();
            let _ = task.await;
        }
        self.collector.shutdown().await;
    }
}
