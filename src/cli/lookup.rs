//! `briefbot latest` and `briefbot search`: the stored issues and briefs, printed.

use std::io::Write;
use std::process::ExitCode;

use super::{LatestArgs, SearchArgs, load};
use crate::output;
use crate::store::Store;

pub(super) async fn latest(args: LatestArgs) -> anyhow::Result<ExitCode> {
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

pub(super) async fn search(args: SearchArgs) -> anyhow::Result<ExitCode> {
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
