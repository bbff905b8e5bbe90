//! The command line (README: Commands): the arguments `main.rs` parses, each command handed
//! over to what does it — `run` to [`crate::app::App`], `scrape` and `parse` to [`pages`],
//! `latest` and `search` to [`lookup`], `migrate` to [`migrate`] — and every error turned into
//! one line and an exit code.

use std::process::ExitCode;

use anyhow::Context;
use clap::{Args, Parser, Subcommand};

use url::Url;

use crate::app::App;
use crate::config::{self, ConfigError, Settings, SourceConfig};
use crate::domain::Format;
use crate::scrape::fetch::{FetchLimits, Fetcher};
use crate::store::StoreError;

mod lookup;
mod migrate;
mod pages;

#[derive(Debug, Parser)]
#[command(
    name = "briefbot",
    version,
    about = "Posts AI news briefs to Discord and answers lookups over them"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Connect to Discord: migrate, register slash commands, poll the sources and post new issues (the default)
    Run,
    /// One scrape pass over the sources; prints each new issue with its briefs
    Scrape(ScrapeArgs),
    /// Print the latest stored issues
    Latest(LatestArgs),
    /// Search the stored briefs (Korean and English), as /news search does
    Search(SearchArgs),
    /// Parse pages (files or URLs) exactly as the scraper would, and print the issue each yields
    Parse(ParseArgs),
    /// Apply database migrations and exit; with --from, copy a SQLite database into PostgreSQL
    Migrate(MigrateArgs),
}

#[derive(Debug, Args)]
pub struct MigrateArgs {
    /// Copy every table of this SQLite database (sqlite://briefbot.db) into the empty PostgreSQL
    /// database DATABASE_URL names, ids and all; stop briefbot first
    #[arg(long, value_name = "SQLITE_URL")]
    pub from: Option<String>,
}

#[derive(Debug, Args)]
pub struct ScrapeArgs {
    /// Only this source (its id in the sources file)
    #[arg(long)]
    pub source: Option<String>,
    /// Store nothing; still report which issues repeat stored ones
    #[arg(long)]
    pub dry_run: bool,
    /// One JSON object per new issue per line
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct LatestArgs {
    /// How many issues (1-100)
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(i64).range(1..=100))]
    pub count: i64,
    /// Only issues of this source
    #[arg(long)]
    pub source: Option<String>,
    /// One JSON object per issue per line
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct SearchArgs {
    /// Words to find; every word must match (1-100 characters)
    pub query: String,
    /// Only briefs of this source
    #[arg(long)]
    pub source: Option<String>,
    /// How many results (1-100)
    #[arg(long, default_value_t = 10, value_parser = clap::value_parser!(i64).range(1..=100))]
    pub count: i64,
    /// One JSON object per result per line
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct ParseArgs {
    /// Local files or http(s) URLs
    #[arg(required = true, value_name = "PATH_OR_URL")]
    pub inputs: Vec<String>,
    /// Page layout, as in the sources file: ndsoft, wordpress, rss or auto
    #[arg(long, default_value = "auto")]
    pub format: Format,
    /// The address a local file came from (for its canonical URL and relative links)
    #[arg(long)]
    pub url: Option<Url>,
    /// One JSON object per page per line
    #[arg(long)]
    pub json: bool,
}

/// Runs the command line; errors print one line and give a non-zero exit code.
pub async fn run(cli: Cli) -> ExitCode {
    let result = match cli.command.unwrap_or(Command::Run) {
        Command::Run => run_bot().await,
        Command::Scrape(args) => pages::scrape(args).await,
        Command::Latest(args) => lookup::latest(args).await,
        Command::Search(args) => lookup::search(args).await,
        Command::Parse(args) => pages::parse(args).await,
        Command::Migrate(args) => migrate::migrate(args).await,
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            if let Some(config) = e.downcast_ref::<ConfigError>() {
                eprintln!("briefbot: configuration error: {config}");
                return ExitCode::from(2);
            }
            eprintln!("briefbot: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn load() -> anyhow::Result<(Settings, Vec<SourceConfig>)> {
    let settings = Settings::from_env()?;
    if settings.sources_path_explicit && !settings.sources_path.exists() {
        tracing::warn!(
            path = %settings.sources_path.display(),
            "BRIEFBOT_SOURCES names a file that does not exist; using the built-in AI Times source"
        );
    }
    let sources = config::load_sources(&settings.sources_path)?;
    Ok((settings, sources))
}

fn fetcher() -> anyhow::Result<Fetcher> {
    Fetcher::new(FetchLimits::default()).context("cannot build the HTTP client")
}

fn pick_sources(
    sources: Vec<SourceConfig>,
    only: Option<&str>,
) -> anyhow::Result<Vec<SourceConfig>> {
    let Some(only) = only else {
        return Ok(sources);
    };
    let known: Vec<String> = sources.iter().map(|s| s.id.to_string()).collect();
    let picked: Vec<SourceConfig> = sources
        .into_iter()
        .filter(|s| s.id.as_str() == only)
        .collect();
    if picked.is_empty() {
        anyhow::bail!("no source '{only}'; known sources: {}", known.join(", "));
    }
    Ok(picked)
}

async fn run_bot() -> anyhow::Result<ExitCode> {
    let (settings, sources) = load()?;
    let app = match App::build(settings, sources).await {
        Ok(app) => app,
        // Another process runs on this SQLite file: its one line, and the usage exit code.
        Err(e) => match e.downcast_ref::<StoreError>() {
            Some(in_use @ StoreError::InUse(_)) => {
                eprintln!("briefbot: {in_use}");
                return Ok(ExitCode::from(2));
            }
            _ => return Err(e),
        },
    };
    app.run_until(crate::app::shutdown_signal()).await?;
    Ok(ExitCode::SUCCESS)
}
