//! `framebreak variants`: base prompts in, adversarial variants out.

use std::io::IsTerminal;
use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Context;
use clap::ValueEnum;
use framebreak::variants::{
    BasePrompt, Catalogue, ChainConfig, DEFAULT_MAX_PROMPT_LEN, Generator, InputFormat,
    PromptReader, Strategy, TrapFilter, builtin_scenes,
};

use crate::exit::Usage;
use framebreak::report::Output;

#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// Base prompts: a file (plain text, one prompt a line; or JSON Lines,
    /// {"id"?, "prompt", "tags"?}), or - for standard input. Default: the
    /// built-in scenes.
    #[arg(short, long, value_name = "FILE|-")]
    input: Option<PathBuf>,

    /// How to read --input: `auto` treats lines starting with { as JSON.
    #[arg(long, value_enum, default_value_t = Format::Auto)]
    input_format: Format,

    /// Variants per base prompt (random and stratified sampling) [default: 5].
    #[arg(short = 'n', long, value_name = "N")]
    per_prompt: Option<usize>,

    /// How variants are sampled.
    #[arg(long, value_enum, default_value_t = StrategyArg::Random)]
    strategy: StrategyArg,

    /// Campaign seed: the same seed gives the same variants, byte for byte.
    #[arg(long, value_name = "S", default_value_t = 0)]
    seed: u64,

    /// A trap catalogue (TOML) that extends the built-in one.
    #[arg(long, value_name = "FILE")]
    catalogue: Option<PathBuf>,

    /// Only these traps: ids, globs or families, comma-separated
    /// (e.g. `physics.*,coherence.emerald_sparks`).
    #[arg(long, value_name = "GLOB")]
    traps: Option<String>,

    /// Also emit each base prompt unmutated, as a control.
    #[arg(long)]
    control: bool,

    /// The most traps random sampling puts in one prompt.
    #[arg(long, value_name = "K", default_value_t = ChainConfig::default().max_traps)]
    max_traps: usize,

    /// The longest base prompt accepted, in characters.
    #[arg(long, value_name = "CHARS", default_value_t = DEFAULT_MAX_PROMPT_LEN)]
    max_prompt_len: usize,

    /// Write the variants here instead of standard output (atomically).
    #[arg(short, long, value_name = "FILE")]
    output: Option<PathBuf>,

    /// Print no summary on standard error.
    #[arg(short, long)]
    quiet: bool,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum Format {
    Auto,
    Text,
    Jsonl,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum StrategyArg {
    /// Draw --per-prompt variants from the mutator chain.
    Random,
    /// --per-prompt variants with one trap each; every trap equally often (±1).
    Stratified,
    /// Every trap with every phrasing, and every known combination.
    Exhaustive,
}

pub(crate) fn run(args: Args) -> anyhow::Result<()> {
    let catalogue = load_catalogue(args.catalogue.as_deref(), args.traps.as_deref())?;
    let per_prompt = args.per_prompt.unwrap_or(5);
    let strategy = match args.strategy {
        StrategyArg::Random => Strategy::Random { per_prompt },
        StrategyArg::Stratified => Strategy::Stratified { per_prompt },
        StrategyArg::Exhaustive if args.per_prompt.is_some() => {
            return Err(Usage(
                "--per-prompt has no effect with --strategy exhaustive, which makes every variant"
                    .into(),
            )
            .into());
        }
        StrategyArg::Exhaustive => Strategy::Exhaustive,
    };
    let chain = ChainConfig {
        max_traps: args.max_traps,
        ..ChainConfig::default()
    };
    let generator = Generator::builder(catalogue)
        .strategy(strategy)
        .seed(args.seed)
        .control(args.control)
        .chain_config(chain)
        .build()?;

    let format = match args.input_format {
        Format::Auto => InputFormat::Auto,
        Format::Text => InputFormat::Text,
        Format::Jsonl => InputFormat::JsonLines,
    };
    let prompts: Box<dyn Iterator<Item = framebreak::variants::Result<BasePrompt>>> =
        match &args.input {
            None => Box::new(builtin_scenes().into_iter().map(Ok)),
            Some(p) if p.as_os_str() == "-" => {
                if std::io::stdin().is_terminal() && !args.quiet {
                    eprintln!("framebreak: reading prompts from standard input (Ctrl-D ends)");
                }
                Box::new(
                    PromptReader::stdin()
                        .format(format)
                        .max_prompt_len(args.max_prompt_len),
                )
            }
            Some(p) => Box::new(
                PromptReader::open(p)?
                    .format(format)
                    .max_prompt_len(args.max_prompt_len),
            ),
        };

    let mut out = Output::open(args.output.as_deref())?;
    let mut variants = generator.generate(prompts);
    let mut buf = Vec::with_capacity(1024);
    for variant in variants.by_ref() {
        out.json_line(&variant?, &mut buf)?;
    }
    out.finish()?;

    if !args.quiet {
        let s = variants.stats();
        let mut line = format!(
            "framebreak: {} variants ({} controls) from {} base prompts",
            s.variants, s.controls, s.base_prompts
        );
        if s.repeated_base_prompts > 0 {
            line += &format!(
                ", {} repeated base prompts skipped",
                s.repeated_base_prompts
            );
        }
        if s.duplicates_dropped > 0 {
            line += &format!(", {} duplicate variants dropped", s.duplicates_dropped);
        }
        if s.shortfall > 0 {
            line += &format!(
                "; {} short: the selected traps hold fewer distinct variants than --per-prompt asks",
                s.shortfall
            );
        }
        if let Some(path) = &args.output {
            line += &format!(" -> {}", path.display());
        }
        eprintln!("{line}");
    }
    Ok(())
}

/// The built-in catalogue, or a user file over it, narrowed by `--traps`.
pub(crate) fn load_catalogue(
    path: Option<&std::path::Path>,
    traps: Option<&str>,
) -> anyhow::Result<Arc<Catalogue>> {
    let catalogue = match path {
        Some(p) => Catalogue::load(p).context("cannot load the trap catalogue")?,
        None => Catalogue::builtin(),
    };
    let catalogue = match traps {
        Some(spec) => catalogue.select(&TrapFilter::parse(spec)?)?,
        None => catalogue,
    };
    Ok(Arc::new(catalogue))
}
