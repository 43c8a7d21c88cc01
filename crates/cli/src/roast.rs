//! `framebreak roast`: posts about a run's worst videos. A dry run by
//! default (posts go to `roasts.jsonl` in the run folder); `--publish x`
//! posts them to X with the token in `X_USER_ACCESS_TOKEN`.

use std::io::Write;
use std::path::PathBuf;

use anyhow::Context;
use clap::ValueEnum;
use framebreak::client::{DryRunPublisher, Publisher, XPublisher};
use framebreak::roast;

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum Target {
    /// X (Twitter), with the token in X_USER_ACCESS_TOKEN (or .env).
    X,
}

#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// The run id (or the path of its folder).
    #[arg(value_name = "RUN")]
    run: String,

    /// Posts about this many of the worst videos.
    #[arg(long, value_name = "N", default_value_t = 3)]
    top: usize,

    /// Really publish, to this service (default: a dry run that only writes
    /// the posts to roasts.jsonl in the run folder).
    #[arg(long, value_enum, value_name = "SERVICE")]
    publish: Option<Target>,

    /// Another X API endpoint (a proxy, a test server).
    #[arg(long, value_name = "URL", hide = true)]
    x_base_url: Option<String>,

    /// The folder of run folders.
    #[arg(long, value_name = "DIR", default_value = "runs")]
    runs_dir: PathBuf,

    /// The run's store, when it is PostgreSQL.
    #[arg(long, value_name = "STORE")]
    store: Option<String>,
}

pub(crate) fn run(args: Args) -> anyhow::Result<()> {
    let (dir, config, rows) =
        crate::report::load(&args.runs_dir, &args.run, args.store.as_deref())?;
    let roasts = roast::compose(&rows, args.top);
    let runtime = crate::runtime()?;
    // The videos posted are fetched from the run's shared store where this
    // folder lacks them (a run whose workers ran on other machines).
    if let Some(store) = framebreak::campaign::VideoStore::of_run(&config, dir.id())? {
        let names = roasts.iter().filter_map(|r| r.video.as_deref());
        for (name, why) in runtime.block_on(store.fetch_missing(names, dir.path())) {
            eprintln!("framebreak: video {name} is not available here ({why})");
        }
    }
    if roasts.is_empty() {
        eprintln!(
            "framebreak: run {} has no analysed video to roast yet",
            dir.id()
        );
        return Ok(());
    }
    let dry_path = dir.path().join("roasts.jsonl");
    let publisher: Box<dyn Publisher> = match args.publish {
        None => Box::new(DryRunPublisher::new(&dry_path)),
        Some(Target::X) => {
            let mut x =
                XPublisher::from_env().context("--publish x needs an X user access token")?;
            if let Some(url) = &args.x_base_url {
                x = x.with_base_url(url)?;
            }
            Box::new(x)
        }
    };
    let published = runtime.block_on(roast::publish(&roasts, publisher.as_ref(), dir.path()))?;
    let mut out = std::io::stdout().lock();
    for (roast, done) in roasts.iter().zip(&published) {
        writeln!(
            out,
            "{}\n  [{} · video {}]\n",
            roast.text,
            done.id,
            roast.video.as_deref().unwrap_or("-")
        )
        .context("writing the posts")?;
    }
    out.flush().context("writing the posts")?;
    match args.publish {
        None => eprintln!(
            "framebreak: dry run: {} posts written to {} (publish with --publish x)",
            published.len(),
            dry_path.display()
        ),
        Some(_) => eprintln!("framebreak: published {} posts", published.len()),
    }
    Ok(())
}
