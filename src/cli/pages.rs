//! `briefbot scrape` and `briefbot parse`: pages fetched or read, parsed as the scraper does,
//! printed.

use std::io::Write;
use std::path::Path;
use std::process::ExitCode;

use anyhow::Context;
use url::Url;

use super::{ParseArgs, ScrapeArgs, fetcher, load, pick_sources};
use crate::config::{self, Settings};
use crate::domain::{CanonicalUrl, Format};
use crate::output;
use crate::scrape::fetch::{Fetched, Fetcher};
use crate::scrape::{self, Scraper, charset};
use crate::store::Store;

pub(super) async fn scrape(args: ScrapeArgs) -> anyhow::Result<ExitCode> {
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

pub(super) async fn parse(args: ParseArgs) -> anyhow::Result<ExitCode> {
    let fetcher = fetcher()?;
    let store = stored_stories().await;
    let mut failed = false;
    let mut stdout = std::io::stdout().lock();
    for input in &args.inputs {
        match parse_one(&fetcher, input, args.format, args.url.as_ref()).await {
            Ok(issue) => {
                let mut same = Vec::with_capacity(issue.briefs.len());
                if let Some(store) = &store {
                    let mut lookup = store.story_lookup().await?;
                    for brief in &issue.briefs {
                        same.push(lookup.same_story_as(brief).await?);
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
