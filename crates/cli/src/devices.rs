//! `framebreak devices`: the compute devices this build can use, with their
//! metrics.

use std::time::Duration;

use anyhow::Context;
use framebreak::gpu::{DeviceManager, DeviceState, Probe};
use serde::Serialize;

use framebreak::report::Output;

/// How long CPU utilization is measured over.
const SAMPLE_PERIOD: Duration = Duration::from_millis(250);

#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// One JSON document ({"devices": [...], "cuda": {...}}) instead of a table.
    #[arg(long)]
    json: bool,
}

#[derive(Serialize)]
struct Report<'a> {
    devices: Vec<Device<'a>>,
    cuda: Cuda<'a>,
}

#[derive(Serialize)]
struct Device<'a> {
    name: &'a str,
    #[serde(flatten)]
    state: &'a DeviceState,
}

#[derive(Serialize)]
struct Cuda<'a> {
    #[serde(flatten)]
    status: &'a framebreak::gpu::CudaStatus,
    message: String,
}

pub(crate) fn run(args: Args) -> anyhow::Result<()> {
    let probe = Probe::new();
    let found = probe.discover();
    let manager = DeviceManager::new(found.devices.clone());
    // The first CPU sample covers the time since boot; the second, taken a
    // moment later, is the utilization now.
    manager.poll(&probe).context("cannot measure devices")?;
    std::thread::sleep(SAMPLE_PERIOD);
    manager.poll(&probe).context("cannot measure devices")?;
    let states = manager.snapshot()?;
    manager.shutdown();

    let mut out = Output::open(None)?;
    if args.json {
        let report = Report {
            devices: found
                .devices
                .iter()
                .zip(&states)
                .map(|(info, state)| Device {
                    name: &info.name,
                    state,
                })
                .collect(),
            cuda: Cuda {
                status: &found.cuda,
                message: found.cuda.to_string(),
            },
        };
        let mut buf = Vec::new();
        out.json_line(&report, &mut buf)?;
        return Ok(out.finish()?);
    }

    let name_width = found
        .devices
        .iter()
        .map(|d| d.name.len())
        .max()
        .unwrap_or(4)
        .max(4);
    let w = out.writer();
    let mut line = |text: String| writeln!(w, "{text}").context("cannot write output");
    line(format!(
        "{:<8}  {:<name_width$}  {:>8}  {:>8}  {:>21}  {:>6}",
        "DEVICE", "NAME", "CAPACITY", "UTIL", "MEMORY USED / TOTAL", "TEMP"
    ))?;
    for (info, state) in found.devices.iter().zip(&states) {
        let (util, memory, temp) = match state.latest {
            Some(m) => (
                format!("{:.1} %", m.utilization_percent),
                format!("{} / {}", gib(m.memory_used), gib(m.memory_total)),
                m.temperature_celsius
                    .map_or("-".to_owned(), |t| format!("{t:.0} °C")),
            ),
            None => ("-".to_owned(), "-".to_owned(), "-".to_owned()),
        };
        line(format!(
            "{:<8}  {:<name_width$}  {:>8}  {:>8}  {:>21}  {:>6}",
            info.id.to_string(),
            info.name,
            info.capacity,
            util,
            memory,
            temp
        ))?;
    }
    line(format!("\n{}", found.cuda))?;
    Ok(out.finish()?)
}

fn gib(bytes: u64) -> String {
    format!("{:.1} GiB", bytes as f64 / (1u64 << 30) as f64)
}
