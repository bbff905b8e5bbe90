//! The command line (SPEC §3): argument types for `main.rs`, and one function per command.

use std::io::Write;
use std::path::Path;
use std::process::ExitCode;

use anyhow::Context;
use clap::{Args, Parser, Subcommand};
use url::Url;

use crate::bot;
use crate::config::{self, ConfigError, Settings, SourceConfig};
use crate::deliver::DeliverySettings;
use crate::domain::{CanonicalUrl, Format};
use crate::output;
use crate::schedule;
use crate::scrape::fetch::{FetchLimits, Fetched, Fetcher};
use crate::scrape::{self, Scraper, charset};
use crate::store::Store;

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
        Command::Scrape(args) => scrape(args).await,
        Command::Latest(args) => latest(args).await,
        Command::Search(args) => search(args).await,
        Command::Parse(args) => parse(args).await,
        Command::Migrate(args) => migrate(args).await,
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
    let Some(token) = settings.discord_token.clone() else {
        return Err(ConfigError {
            origin: "environment".into(),
            field: "DISCORD_TOKEN".into(),
            message: "not set; `briefbot run` needs the bot's token (see README: Discord set-up). `briefbot scrape` works without one".into(),
        }
        .into());
    };
    let lease_settings = crate::leader::LeaseSettings::from_lookup(|k| std::env::var(k).ok())?;
    // One process per SQLite file (SPEC §7), taken before anything touches the database.
    let _run_lock = match Store::lock_for_run(&settings.database_url) {
        Ok(lock) => lock,
        Err(e @ crate::store::StoreError::InUse(_)) => {
            eprintln!("briefbot: {e}");
            return Ok(ExitCode::from(2));
        }
        Err(e) => return Err(e.into()),
    };
    let store = Store::open(&settings.database_url).await?;
    tracing::info!(database = %settings.database_url, sources = sources.len(), "briefbot started");
    // Bound before any work starts, so an address in use stops start-up cleanly.
    let listener = match settings.http_addr {
        Some(addr) => Some(
            tokio::net::TcpListener::bind(addr)
                .await
                .with_context(|| format!("cannot listen on BRIEFBOT_HTTP_ADDR {addr}"))?,
        ),
        None => None,
    };
    let scraper = Scraper::new(fetcher()?, store.clone());
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let telemetry = std::sync::Arc::new(crate::telemetry::Telemetry::default());
    // Only the holder of the scheduler lease polls and posts (one process on SQLite always
    // holds it); every process serves its shards' interactions.
    // The lease is given up only once the work it covers has stopped (`release`, below).
    let (release, released) = tokio::sync::watch::channel(false);
    let (leadership, lease) =
        crate::leader::hold(store.clone(), telemetry.clone(), lease_settings, released);
    let scheduler = tokio::spawn({
        let (sources, telemetry) = (sources.clone(), telemetry.clone());
        let (mut leadership, mut shutdown) = (leadership.clone(), stopped.clone());
        async move {
            while let Some(stop) = leadership.gate(&mut shutdown).await {
                schedule::run(scraper.clone(), sources.clone(), telemetry.clone(), stop).await;
            }
        }
    });
    let started = std::time::Instant::now();
    let endpoint = match listener {
        Some(listener) => {
            if let Ok(addr) = listener.local_addr() {
                tracing::info!(%addr, "serving /healthz and /metrics");
            }
            let endpoint = crate::http::Endpoint {
                store: store.clone(),
                sources: sources.clone(),
                telemetry: telemetry.clone(),
                started,
                started_at: chrono::Utc::now(),
            };
            Some(tokio::spawn(crate::http::serve(
                listener,
                endpoint,
                stopped.clone(),
            )))
        }
        None => None,
    };
    let bot = bot::Bot {
        store,
        sources,
        started,
        guild_id: settings.guild_id,
        telemetry,
        shards: settings.shards,
        leadership,
    };
    let http = bot::http_client(&token, settings.api_proxy.as_ref())
        .context("cannot set up the HTTP client for Discord")?;
    let mut discord = tokio::spawn(bot::run(http, bot, DeliverySettings::default(), stopped));
    let outcome = tokio::select! {
        _ = shutdown_signal() => None,
        ended = &mut discord => Some(ended),
    };
    tracing::info!("stopping: finishing the work in flight");
    let _ = stop.send(true);
    scheduler.await.context("the scheduler ended abnormally")?;
    let ended = match outcome {
        Some(ended) => ended,
        None => discord.await,
    };
    // Nothing of this process's work is in flight any more: a standby may take over at once.
    let _ = release.send(true);
    let _ = lease.await;
    if let Some(endpoint) = endpoint {
        endpoint
            .await
            .context("the HTTP endpoint ended abnormally")?
            .context("the HTTP endpoint failed")?;
    }
    ended.context("the Discord task ended abnormally")??;
    Ok(ExitCode::SUCCESS)
}

/// Resolves on SIGINT (Ctrl-C) or SIGTERM.
async fn shutdown_signal() {
    let ctrl_c = async {
        if let Err(e) = tokio::signal::ctrl_c().await {
            tracing::error!(error = %e, "cannot listen for Ctrl-C");
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(e) => {
                tracing::error!(error = %e, "cannot listen for SIGTERM");
                std::future::pending::<()>().await;
            }
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {}
        _ = term => {}
    }
}

async fn scrape(args: ScrapeArgs) -> anyhow::Result<ExitCode> {
    let (settings, sources) = load()?;
    let sources = pick_sources(sources, args.source.as_deref())?;
    let store = if args.dry_run {
        Store::open_for_dry_run(&settings.database_url).await?
    } else {
        Store::open(&settings.database_url).await?
    };
    let scraper = Scraper::new(fetcher()?, store);
    let mut failed = false;
    let mut stdout = std::io::stdout().lock();
    for source in &sources {
        match scraper.scrape_source(source, args.dry_run).await {
            Ok(report) => {
                for s in &report.issues {
                    let line = if args.json {
                        output::scraped_json(s)
                    } else {
                        output::issue_text(
                            &s.issue.title,
                            s.issue.url.as_str(),
                            s.issue.published_at,
                            Some(s.source.as_str()),
                            s.duplicate_of.as_ref().map(CanonicalUrl::as_str),
                            &s.issue.lead,
                            &s.issue.briefs,
                        )
                    };
                    writeln!(stdout, "{line}")?;
                }
                for e in &report.entry_errors {
                    eprintln!("briefbot: {}: {e}", source.id);
                    failed = true;
                }
                if !args.json {
                    let new = report
                        .issues
                        .iter()
                        .filter(|s| s.duplicate_of.is_none())
                        .count();
                    let status = if report.not_modified {
                        " (list unchanged)"
                    } else {
                        ""
                    };
                    eprintln!("{}: {new} new issue(s){status}", source.id);
                }
            }
            Err(e) => {
                eprintln!("briefbot: {}: {e}", source.id);
                failed = true;
            }
        }
    }
    Ok(if failed {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}

async fn latest(args: LatestArgs) -> anyhow::Result<ExitCode> {
    let (settings, _) = load()?;
    let store = Store::open(&settings.database_url).await?;
    let issues = store.latest(args.count, args.source.as_deref()).await?;
    let mut stdout = std::io::stdout().lock();
    if issues.is_empty() && !args.json {
        eprintln!("no issues stored yet; run `briefbot scrape` first");
    }
    for i in &issues {
        let line = if args.json {
            output::stored_json(i)
        } else {
            output::issue_text(
                &i.title,
                i.url.as_str(),
                i.published_at,
                Some(i.source_id.as_str()),
                None,
                &i.lead,
                &i.briefs,
            )
        };
        writeln!(stdout, "{line}")?;
    }
    Ok(ExitCode::SUCCESS)
}

async fn search(args: SearchArgs) -> anyhow::Result<ExitCode> {
    let length = args.query.trim().chars().count();
    if !(1..=100).contains(&length) {
        eprintln!("briefbot: the query must be 1 to 100 characters (it has {length})");
        return Ok(ExitCode::from(2));
    }
    let (settings, _) = load()?;
    let store = Store::open(&settings.database_url).await?;
    let hits = store
        .search(&args.query, args.source.as_deref(), args.count, 0)
        .await?;
    let mut stdout = std::io::stdout().lock();
    if hits.is_empty() && !args.json {
        eprintln!("no brief matches {:?}", args.query);
    }
    for hit in &hits {
        if args.json {
            let line = serde_json::json!({
                "kind": if hit.is_issue() { "issue" } else { "brief" },
                "source": hit.source_id,
                "issue_url": hit.issue_url,
                "issue_title": hit.issue_title,
                "published_at": hit.published_at.map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)),
                "headline": hit.headline,
                "summary": hit.summary,
            });
            writeln!(stdout, "{line}")?;
        } else {
            let when = output::kst_time(hit.published_at.unwrap_or(hit.first_seen_at));
            let excerpt = hit.excerpt(&args.query);
            if hit.is_issue() {
                writeln!(
                    stdout,
                    "{}\n  {excerpt}\n  {when} · lead story · {}\n",
                    hit.issue_title, hit.issue_url
                )?;
            } else {
                writeln!(
                    stdout,
                    "■ {}\n  {excerpt}\n  {when} · {} · {}\n",
                    hit.headline, hit.issue_title, hit.issue_url
                )?;
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

async fn migrate(args: MigrateArgs) -> anyhow::Result<ExitCode> {
    let settings = Settings::from_env()?;
    let Some(from) = args.from else {
        Store::open(&settings.database_url).await?;
        eprintln!("{}: migrations applied", settings.database_url);
        return Ok(ExitCode::SUCCESS);
    };
    let source = match crate::config::DatabaseUrl::parse(&from) {
        Ok(url @ crate::config::DatabaseUrl::Sqlite(_)) => url,
        _ => {
            return Err(ConfigError {
                origin: "command line".into(),
                field: "--from".into(),
                message: "expected the SQLite database to copy, as a sqlite:// URL (sqlite://briefbot.db)".into(),
            }
            .into());
        }
    };
    if !matches!(
        settings.database_url,
        crate::config::DatabaseUrl::Postgres(_)
    ) {
        return Err(ConfigError {
            origin: "environment".into(),
            field: "DATABASE_URL".into(),
            message: "migrate --from copies into PostgreSQL: set DATABASE_URL to the postgres:// URL of an empty database".into(),
        }
        .into());
    }
    let from_store = Store::open_existing(&source).await?;
    let to_store = Store::open(&settings.database_url).await?;
    let copied = to_store.copy_from(&from_store).await?;
    let rows: Vec<String> = copied
        .iter()
        .map(|(table, n)| format!("{table} {n}"))
        .collect();
    eprintln!(
        "copied {source} into {}: {}; search index built",
        settings.database_url,
        rows.join(", ")
    );
    Ok(ExitCode::SUCCESS)
}

async fn parse(args: ParseArgs) -> anyhow::Result<ExitCode> {
    let fetcher = fetcher()?;
    let store = stored_stories().await;
    let mut failed = false;
    let mut stdout = std::io::stdout().lock();
    for input in &args.inputs {
        match parse_one(&fetcher, input, args.format, args.url.as_ref()).await {
            Ok(issue) => {
                let mut same = Vec::with_capacity(issue.briefs.len());
                if let Some(store) = &store {
                    for brief in &issue.briefs {
                        same.push(store.same_story_as(brief).await?);
                    }
                }
                let line = if args.json {
                    output::parsed_json(&issue, &same)
                } else {
                    let mut text = output::issue_text(
                        &issue.title,
                        issue.url.as_str(),
                        issue.published_at,
                        None,
                        None,
                        &issue.lead,
                        &issue.briefs,
                    );
                    for (brief, same) in issue.briefs.iter().zip(&same) {
                        if let Some(same) = same {
                            text.push('\n');
                            text.push_str(&output::same_story_text(brief, same));
                        }
                    }
                    text
                };
                writeln!(stdout, "{line}")?;
            }
            Err(e) => {
                failed = true;
                if args.json {
                    writeln!(stdout, "{}", output::error_json(input, &format!("{e:#}")))?;
                } else {
                    eprintln!("briefbot: {input}: {e:#}");
                }
            }
        }
    }
    Ok(if failed {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}

/// The database `DATABASE_URL` names, for `parse` to say which items its stories already hold
/// (an empty one, and nothing created, when there is none); `None` when it cannot be read.
async fn stored_stories() -> Option<Store> {
    config::load_dotenv().ok()?;
    let settings = Settings::from_env().ok()?;
    match Store::open_for_dry_run(&settings.database_url).await {
        Ok(store) => Some(store),
        Err(e) => {
            eprintln!("briefbot: not comparing with stored stories: {e}");
            None
        }
    }
}

async fn parse_one(
    fetcher: &Fetcher,
    input: &str,
    format: Format,
    url: Option<&Url>,
) -> anyhow::Result<crate::domain::Issue> {
    let (text, page_url) = if input.starts_with("http://") || input.starts_with("https://") {
        let url = Url::parse(input).context("not a valid URL")?;
        // The operator named this address: it may be a private one, but what it redirects to
        // is checked as any source's pages are.
        let fetcher = fetcher.for_source(&url, false).await;
        match fetcher.get(&url, None).await? {
            Fetched::Page(page) => (page.text, page.url),
            Fetched::NotModified => {
                anyhow::bail!("the server answered 304 to an unconditional request")
            }
        }
    } else {
        let path = Path::new(input);
        let bytes =
            std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?;
        let tld = url
            .and_then(|u| u.host_str())
            .and_then(|h| h.rsplit('.').next());
        let text = charset::decode(&bytes, None, tld.map(str::as_bytes));
        let page_url = match url {
            Some(u) => u.clone(),
            None => declared_url(&text).unwrap_or_else(|| local_url(path)),
        };
        (text, page_url)
    };
    Ok(scrape::parse_issue(text, page_url, format, None).await?)
}

/// A local page's own idea of its address: its canonical link or `og:url`.
fn declared_url(text: &str) -> Option<Url> {
    scrape::meta::self_declared_url(&scraper::Html::parse_document(&scrape::tame::tame(text)))
}

/// A stand-in address for a local file that names none: `http://localhost/<file name>`.
fn local_url(path: &Path) -> Url {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let mut url = Url::parse("http://localhost/").expect("valid URL");
    url.path_segments_mut().expect("http URL").push(&name);
    url
}
