//! Issue pages → [`Article`]: title, canonical URL, publish time and main-text lines, by page
//! profile (NDSoft, WordPress tagDiv, or a Readability port for anything else).

use std::sync::LazyLock;

use chrono::{DateTime, Utc};
use scraper::{ElementRef, Html, Selector};
use url::Url;

use super::html::{self, selector};
use super::tame::tame;
use super::{brief, meta};
use crate::domain::{CanonicalUrl, Format, Issue};

/// What a page says before it is split into lead and items.
#[derive(Debug, Clone)]
pub struct Article {
    pub url: CanonicalUrl,
    pub title: Option<String>,
    pub published_at: Option<DateTime<Utc>>,
    pub lines: Vec<String>,
    /// The profile that found the text.
    pub profile: Profile,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Profile {
    Ndsoft,
    Wordpress,
    Generic,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParseError {
    #[error("no article text found on the page")]
    NoText,
    #[error("the page has no title")]
    NoTitle,
    #[error("{0}")]
    BadUrl(String),
    #[error("parsing took longer than {}s; the page is given up for this try", .0.as_secs())]
    TooSlow(std::time::Duration),
    #[error("the parser failed on this page: {0}")]
    Panicked(String),
}

static NDSOFT_BODY: LazyLock<Vec<Selector>> = LazyLock::new(|| {
    [
        "article#article-view-content-div",
        "#article-view-content-div",
        "[itemprop=\"articleBody\"]",
    ]
    .map(selector)
    .into()
});
static NDSOFT_TITLE: LazyLock<Selector> =
    LazyLock::new(|| selector(".article-view-header .heading, h3.heading, h1.heading"));
static WP_BODY: LazyLock<Vec<Selector>> = LazyLock::new(|| {
    [
        "div.td-post-content",
        "div.tdb_single_content div.tdb-block-inner",
        "article div.entry-content",
        "div.entry-content",
    ]
    .map(selector)
    .into()
});
static WP_TITLE: LazyLock<Selector> =
    LazyLock::new(|| selector("h1.entry-title, h1.tdb-title-text, h1.td-page-title"));

/// Strings whose absence proves a page is neither NDSoft nor WordPress, so `auto` can go
/// straight to the generic extractor and parse the page once.
const PROFILE_MARKERS: &[&str] = &[
    "article-view-content-div",
    "articleBody",
    "td-post-content",
    "tdb_single_content",
    "entry-content",
];

/// Parses an issue page fetched from `page_url`. `format` picks the profile; `ndsoft` and
/// `wordpress` fall back to the generic extractor when their layout is not found (a redesign
/// must not lose an issue), `rss` and `auto` recognise the layout.
pub fn parse_article(
    html_text: &str,
    page_url: &Url,
    format: Format,
) -> Result<Article, ParseError> {
    let html_text = &*tame(html_text);
    let explicit = matches!(format, Format::Ndsoft | Format::Wordpress);
    if explicit || PROFILE_MARKERS.iter().any(|m| html_text.contains(m)) {
        let doc = Html::parse_document(html_text);
        let found = match format {
            Format::Ndsoft => ndsoft(&doc),
            Format::Wordpress => wordpress(&doc),
            Format::Rss | Format::Auto => ndsoft(&doc).or_else(|| wordpress(&doc)),
        };
        if let Some((profile, title, lines)) = found {
            return Ok(Article {
                url: canonical_url(&doc, page_url)?,
                title: clean_title(title),
                published_at: meta::published_time(&doc),
                lines,
                profile,
            });
        }
        if explicit {
            tracing::warn!(%page_url, %format, "layout not found; using the generic extractor");
        }
    }
    parse_article_generic(html_text, page_url)
}

type Found = Option<(Profile, Option<String>, Vec<String>)>;

fn ndsoft(doc: &Html) -> Found {
    best_body(doc, &NDSOFT_BODY).map(|lines| {
        let title = meta::meta(doc, &["og:title"])
            .or_else(|| first_text(doc, &NDSOFT_TITLE))
            .or_else(|| meta::document_title(doc));
        (Profile::Ndsoft, title, lines)
    })
}

fn wordpress(doc: &Html) -> Found {
    best_body(doc, &WP_BODY).map(|lines| {
        let title = first_text(doc, &WP_TITLE)
            .or_else(|| meta::meta(doc, &["og:title"]).map(|t| meta::without_site_name(doc, t)))
            .or_else(|| meta::document_title(doc));
        (Profile::Wordpress, title, lines)
    })
}

/// Parses any page with the generic (Readability) extractor alone, whatever its layout. The
/// page is parsed once, into the DOM the Readability port works on.
pub fn parse_article_generic(html_text: &str, page_url: &Url) -> Result<Article, ParseError> {
    let text = html::without_scripts_and_styles(html_text);
    let doc = dom_query::Document::from(&*tame(&text));
    let url = canonical_url(&doc, page_url)?;
    let title = clean_title(meta::generic_title(&doc));
    let published_at = meta::published_time(&doc);
    let cfg = dom_smoothie::Config {
        text_mode: dom_smoothie::TextMode::Formatted,
        candidate_select_mode: dom_smoothie::CandidateSelectMode::DomSmoothie,
        ..Default::default()
    };
    let extracted =
        dom_smoothie::Readability::with_document(doc, Some(page_url.as_str()), Some(cfg))
            .and_then(|mut r| r.parse());
    let lines: Vec<String> = match extracted {
        Ok(article) => article
            .text_content
            .lines()
            .map(|l| l.split_whitespace().collect::<Vec<_>>().join(" "))
            .filter(|l| !l.is_empty())
            .collect(),
        Err(e) => {
            tracing::debug!(%page_url, error = %e, "readability found no article");
            Vec::new()
        }
    };
    if lines.is_empty() {
        return Err(ParseError::NoText);
    }
    Ok(Article {
        url,
        title,
        published_at,
        lines,
        profile: Profile::Generic,
    })
}

impl Article {
    /// Splits the article into an issue. `fallback_title` (from the list page or feed) is used
    /// when the page has none.
    pub fn into_issue(self, fallback_title: Option<&str>) -> Result<Issue, ParseError> {
        let title = self
            .title
            .or_else(|| fallback_title.map(str::to_owned))
            .ok_or(ParseError::NoTitle)?;
        let split = brief::split(&self.lines, Some(&title));
        if split.text.is_empty() {
            return Err(ParseError::NoText);
        }
        Ok(Issue {
            url: self.url,
            title,
            published_at: self.published_at,
            lead: split.lead,
            briefs: split.briefs,
            text: split.text,
        })
    }
}

fn clean_title(title: Option<String>) -> Option<String> {
    title.map(|t| t.trim().to_owned()).filter(|t| !t.is_empty())
}

/// The page's own same-site canonical link, otherwise the fetched URL.
fn canonical_url(doc: &impl meta::Dom, page_url: &Url) -> Result<CanonicalUrl, ParseError> {
    let url = meta::declared_canonical(doc, page_url).unwrap_or_else(|| page_url.clone());
    CanonicalUrl::from_url(url).map_err(ParseError::BadUrl)
}

fn first_text(doc: &Html, css: &Selector) -> Option<String> {
    doc.select(css)
        .map(html::inline_text)
        .find(|t| !t.is_empty())
}

/// Lines of the matching element with the most text, trying selectors in order.
fn best_body(doc: &Html, selectors: &[Selector]) -> Option<Vec<String>> {
    selectors.iter().find_map(|sel| {
        doc.select(sel)
            .map(|el: ElementRef<'_>| html::text_lines(el))
            .filter(|lines| !lines.is_empty())
            .max_by_key(|lines| lines.iter().map(String::len).sum::<usize>())
    })
}
