//! Every function that takes outside bytes or text, run on one input: the body of the fuzz
//! target (`fuzz/`, libFuzzer through cargo-fuzz) and of the property tests
//! (`tests/it/fuzz.rs`), so both check the same thing. Nothing here may panic; what it checks
//! besides is that a rendered issue stays within Discord's limits.

use std::collections::HashSet;

use chrono::{TimeZone, Utc};
use url::Url;

use super::article::{parse_article, parse_article_generic};
use super::listing::{parse_listing, sniff};
use super::{brief, charset, issue_from_page, tame};
use crate::domain::{CanonicalUrl, Format};
use crate::render::{self, IssueView, ItemFilter};
use crate::search;

/// Feeds `bytes` to every parser briefbot has; panics only on a bug.
pub fn exercise(bytes: &[u8]) {
    exercise_each(bytes, &mut |_, run| run());
}

/// [`exercise`], handing each parser's call to `each` with its name, to run (and time) it: the
/// fuzz target checks each call's CPU time, `benches/parsers.rs` finds the slowest input of each.
pub fn exercise_each(bytes: &[u8], each: &mut dyn FnMut(&'static str, &mut dyn FnMut())) {
    // Charset detection, with and without declared charsets and a Korean address.
    let mut text = String::new();
    each("charset::decode", &mut || {
        text = charset::decode(bytes, None, Some(b"kr"));
        let _ = charset::decode(bytes, Some("text/html; charset=euc-kr"), None);
        let _ = charset::decode(bytes, Some("text/html; charset=utf-16le"), Some(b"com"));
    });
    each("tame (nesting cap)", &mut || {
        let _ = tame::tame(&text);
    });
    each("listing::sniff", &mut || {
        let _ = sniff(&text);
    });

    let base = Url::parse("https://www.aitimes.com/news/articleList.html").expect("valid URL");
    let now = Utc
        .with_ymd_and_hms(2026, 12, 31, 15, 30, 0)
        .single()
        .expect("valid time");
    for (format, listing, article, issue) in [
        (
            Format::Auto,
            "parse_listing auto",
            "parse_article auto",
            "issue_from_page auto + render",
        ),
        (
            Format::Ndsoft,
            "parse_listing ndsoft",
            "parse_article ndsoft",
            "issue_from_page ndsoft + render",
        ),
        (
            Format::Wordpress,
            "parse_listing wordpress",
            "parse_article wordpress",
            "issue_from_page wordpress + render",
        ),
        (
            Format::Rss,
            "parse_listing rss (feed-rs)",
            "parse_article rss",
            "issue_from_page rss + render",
        ),
    ] {
        each(listing, &mut || {
            if let Ok(entries) = parse_listing(&text, &base, format, now) {
                for entry in entries.iter().take(3) {
                    let _ = CanonicalUrl::parse(entry.url.as_str());
                }
            }
        });
        each(article, &mut || {
            if let Ok(article) = parse_article(&text, &base, format) {
                let _ = article.into_issue(Some("제목"));
            }
        });
        each(issue, &mut || {
            if let Ok(issue) = issue_from_page(&text, &base, format, None) {
                check_rendering(&issue);
            }
        });
    }
    each("parse_article_generic (Readability)", &mut || {
        let _ = parse_article_generic(&text, &base);
    });

    // The splitter and the search terms on the text as lines, as the extractors hand them over.
    let lines: Vec<String> = text.lines().take(2_000).map(str::to_owned).collect();
    let mut split = None;
    each("brief::split", &mut || {
        split = Some(brief::split(&lines, Some("제목")));
        let _ = brief::clean_lines(&lines, None);
    });
    let split_text = split.map(|s| s.text).unwrap_or_default();
    each("search terms and highlight", &mut || {
        let head: String = text.chars().take(300).collect();
        let _ = search::index_terms(&split_text);
        let _ = search::fts5_query(&head);
        let _ = search::highlight(&split_text, &head, 200);
        let _ = search::best_sentence(&split_text, &head);
    });

    // The text as a link, alone and against a base, as list pages and feeds give them.
    each("CanonicalUrl", &mut || {
        for line in text.lines().take(8) {
            let _ = CanonicalUrl::parse(line);
            if let Ok(url) = base.join(line.trim()) {
                let _ = CanonicalUrl::from_url(url);
            }
        }
    });
}

/// An issue from any page renders within Discord's limits, every way a channel can ask.
fn check_rendering(issue: &crate::domain::Issue) {
    let view = IssueView::new(issue, "소스");
    let keywords = vec!["AI".to_owned(), "인공지능".to_owned()];
    let skip: HashSet<usize> = (0..issue.briefs.len()).step_by(2).collect();
    for (filter, skip) in [
        (ItemFilter::All, HashSet::new()),
        (ItemFilter::Keywords(&keywords), HashSet::new()),
        (ItemFilter::All, skip),
    ] {
        for message in render::render_issue(&view, &filter, &skip) {
            assert!(!message.embeds.is_empty(), "a message without embeds");
            assert!(message.embeds.len() <= render::MAX_EMBEDS);
            assert!(message.embeds_len() <= render::MAX_TOTAL);
            assert!(
                message.content.as_deref().map_or(0, render::discord_len) <= render::MAX_CONTENT
            );
            for embed in &message.embeds {
                assert!(embed.title.as_deref().map_or(0, render::discord_len) <= render::MAX_TITLE);
                assert!(render::discord_len(&embed.description) <= render::MAX_DESCRIPTION);
                assert!(
                    embed.footer.as_deref().map_or(0, render::discord_len) <= render::MAX_FOOTER
                );
            }
        }
    }
}
