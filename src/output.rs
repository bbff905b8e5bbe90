//! How the command line prints issues: readable text, or one JSON object a line (README: Commands).

use chrono::{DateTime, SecondsFormat, Utc};
use serde::Serialize;

use crate::domain::{Brief, Issue, kst};
use crate::scrape::ScrapedIssue;
use crate::store::{SameStory, StoredIssue};

/// The issue object of README: Commands. `source` and `duplicate_of` are left out by `parse`.
#[derive(Debug, Serialize)]
pub struct IssueJson<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source: Option<&'a str>,
    pub url: &'a str,
    pub title: &'a str,
    pub published_at: Option<String>,
    pub lead: &'a str,
    pub briefs: &'a [Brief],
    pub text: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub duplicate_of: Option<Option<&'a str>>,
}

fn rfc3339(t: Option<DateTime<Utc>>) -> Option<String> {
    t.map(|t| t.to_rfc3339_opts(SecondsFormat::Secs, true))
}

/// `scrape --json`: with `source` and `duplicate_of` (null when new).
pub fn scraped_json(s: &ScrapedIssue) -> String {
    to_line(&IssueJson {
        source: Some(s.source.as_str()),
        url: s.issue.url.as_str(),
        title: &s.issue.title,
        published_at: rfc3339(s.issue.published_at),
        lead: &s.issue.lead,
        briefs: &s.issue.briefs,
        text: &s.issue.text,
        duplicate_of: Some(s.duplicate_of.as_ref().map(|u| u.as_str())),
    })
}

/// A brief of `parse --json`, with the stored item it would be left out as the same story as
/// (absent when none: it would be posted, and the object is README's `{headline, summary}`
/// (Commands)).
#[derive(Debug, Serialize)]
struct ParsedBrief<'a> {
    headline: &'a str,
    summary: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    same_story_as: Option<SameStoryJson<'a>>,
}

#[derive(Debug, Serialize)]
struct SameStoryJson<'a> {
    headline: &'a str,
    url: &'a str,
    published_at: Option<String>,
    why: &'a str,
}

#[derive(Debug, Serialize)]
struct ParsedJson<'a> {
    url: &'a str,
    title: &'a str,
    published_at: Option<String>,
    lead: &'a str,
    briefs: Vec<ParsedBrief<'a>>,
    text: &'a str,
}

/// `parse --json`: without `source` and `duplicate_of`; each brief says which stored item it
/// would be left out as the same story as (`same`, one per brief, in order).
pub fn parsed_json(issue: &Issue, same: &[Option<SameStory>]) -> String {
    let briefs = issue
        .briefs
        .iter()
        .enumerate()
        .map(|(i, b)| ParsedBrief {
            headline: &b.headline,
            summary: &b.summary,
            same_story_as: same.get(i).and_then(Option::as_ref).map(|s| SameStoryJson {
                headline: &s.headline,
                url: &s.issue_url,
                published_at: rfc3339(s.published_at),
                why: &s.reason,
            }),
        })
        .collect();
    to_line(&ParsedJson {
        url: issue.url.as_str(),
        title: &issue.title,
        published_at: rfc3339(issue.published_at),
        lead: &issue.lead,
        briefs,
        text: &issue.text,
    })
}

/// The line `parse` prints under an issue for a brief the database holds the story of.
pub fn same_story_text(brief: &Brief, same: &SameStory) -> String {
    let when = same
        .published_at
        .map(|t| t.with_timezone(&kst()).format("%Y-%m-%d").to_string())
        .unwrap_or_default();
    format!(
        "  left out where it was posted: '{}' is the same story as '{}' ({when}, {}): {}",
        brief.headline, same.headline, same.issue_url, same.reason
    )
}

/// `latest --json`: stored issues, with their source.
pub fn stored_json(issue: &StoredIssue) -> String {
    to_line(&IssueJson {
        source: Some(issue.source_id.as_str()),
        url: issue.url.as_str(),
        title: &issue.title,
        published_at: rfc3339(issue.published_at),
        lead: &issue.lead,
        briefs: &issue.briefs,
        text: &issue.text,
        duplicate_of: None,
    })
}

/// A page that could not be parsed, for `parse --json`.
pub fn error_json(path: &str, error: &str) -> String {
    to_line(&serde_json::json!({ "path": path, "error": error }))
}

fn to_line<T: Serialize>(value: &T) -> String {
    serde_json::to_string(value).unwrap_or_else(|e| format!("{{\"error\":\"cannot encode: {e}\"}}"))
}

/// A publish time as Korean readers see it.
pub fn kst_time(t: DateTime<Utc>) -> String {
    t.with_timezone(&kst())
        .format("%Y-%m-%d %H:%M KST")
        .to_string()
}

/// A readable block: title, URL, time and source, lead, then the items.
pub fn issue_text(
    title: &str,
    url: &str,
    published_at: Option<DateTime<Utc>>,
    source: Option<&str>,
    duplicate_of: Option<&str>,
    lead: &str,
    briefs: &[Brief],
) -> String {
    let mut out = String::new();
    out.push_str(title);
    out.push('\n');
    out.push_str(&format!("  {url}\n"));
    let mut meta = Vec::new();
    if let Some(t) = published_at {
        meta.push(kst_time(t));
    }
    if let Some(s) = source {
        meta.push(s.to_owned());
    }
    meta.push(match briefs.len() {
        0 => "no items".to_owned(),
        1 => "1 item".to_owned(),
        n => format!("{n} items"),
    });
    out.push_str(&format!("  {}\n", meta.join(" · ")));
    if let Some(of) = duplicate_of {
        out.push_str(&format!("  duplicate of {of}\n"));
    }
    if !lead.is_empty() {
        out.push('\n');
        for para in lead.lines() {
            out.push_str(&format!("  {para}\n"));
        }
    }
    for b in briefs {
        out.push_str(&format!("\n  ■ {}\n", b.headline));
        if !b.summary.is_empty() {
            out.push_str(&format!("    {}\n", b.summary));
        }
    }
    out
}
