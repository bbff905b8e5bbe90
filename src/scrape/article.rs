//! Issue pages → [`Article`]: title, canonical URL, publish time and main-text lines, by page
//! profile (NDSoft, WordPress tagDiv, or a Readability port for anything else).

use std::sync::LazyLock;

use chrono::{DateTime, Utc};
use scraper::{ElementRef, Html, Selector};
use url::Url;

use super::brief;
use super::html::{self, selector};
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
static H1: LazyLock<Selector> = LazyLock::new(|| selector("h1"));
static CANONICAL: LazyLock<Selector> = LazyLock::new(|| selector("link[rel=\"canonical\"][href]"));

/// Parses an issue page fetched from `page_url`. `format` picks the profile; `ndsoft` and
/// `wordpress` fall back to the generic extractor when their layout is not found (a redesign
/// must not lose an issue), `rss` and `auto` recognise the layout.
pub fn parse_article(
    html_text: &str,
    page_url: &Url,
    format: Format,
) -> Result<Article, ParseError> {
    let doc = Html::parse_document(html_text);
    let url = canonical_url(&doc, page_url)?;
    let published_at = html::published_time(&doc);

    let try_ndsoft = || {
        best_body(&doc, &NDSOFT_BODY).map(|lines| {
            let title = html::meta(&doc, &["og:title"])
                .or_else(|| html::first_text(&doc, &NDSOFT_TITLE))
                .or_else(|| html::document_title(&doc));
            (Profile::Ndsoft, title, lines)
        })
    };
    let try_wordpress = || {
        best_body(&doc, &WP_BODY).map(|lines| {
            let title = html::first_text(&doc, &WP_TITLE)
                .or_else(|| html::meta(&doc, &["og:title"]))
                .or_else(|| html::document_title(&doc));
            (Profile::Wordpress, title, lines)
        })
    };
    let found = match format {
        Format::Ndsoft => try_ndsoft(),
        Format::Wordpress => try_wordpress(),
        Format::Rss | Format::Auto => try_ndsoft().or_else(try_wordpress),
    };
    finish(html_text, &doc, page_url, url, published_at, format, found)
}

/// Parses any page with the generic (Readability) extractor alone, whatever its layout.
pub fn parse_article_generic(html_text: &str, page_url: &Url) -> Result<Article, ParseError> {
    let doc = Html::parse_document(html_text);
    let url = canonical_url(&doc, page_url)?;
    let published_at = html::published_time(&doc);
    finish(html_text, &doc, page_url, url, published_at, Format::Auto, None)
}

type Found = Option<(Profile, Option<String>, Vec<String>)>;

fn finish(
    html_text: &str,
    doc: &Html,
    page_url: &Url,
    url: CanonicalUrl,
    published_at: Option<DateTime<Utc>>,
    format: Format,
    found: Found,
) -> Result<Article, ParseError> {
    let (profile, title, lines) = match found {
        Some(found) => found,
        None => {
            if matches!(format, Format::Ndsoft | Format::Wordpress) {
                tracing::warn!(%page_url, %format, "layout not found; using the generic extractor");
            }
            let (title, lines) = generic(html_text, doc, page_url);
            (Profile::Generic, title, lines)
        }
    };
    if lines.is_empty() {
        return Err(ParseError::NoText);
    }
    Ok(Article {
        url,
        title: title.map(|t| t.trim().to_owned()).filter(|t| !t.is_empty()),
        published_at,
        lines,
        profile,
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

/// The page's own canonical link when it stays on the same site and is not the home page
/// (broken themes point every page at `/`, which would merge every issue into one);
/// otherwise the fetched URL.
fn canonical_url(doc: &Html, page_url: &Url) -> Result<CanonicalUrl, ParseError> {
    let site = |u: &Url| {
        u.host_str()
            .map(|h| h.trim_start_matches("www.").to_ascii_lowercase())
    };
    let declared = doc
        .select(&CANONICAL)
        .filter_map(|l| l.value().attr("href"))
        .filter_map(|href| page_url.join(href.trim()).ok())
        .find(|u| {
            site(u) == site(page_url) && u.path() != "/" && matches!(u.scheme(), "http" | "https")
        });
    CanonicalUrl::from_url(declared.unwrap_or_else(|| page_url.clone())).map_err(ParseError::BadUrl)
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

/// Readability (dom_smoothie) for pages of unknown layout.
fn generic(html_text: &str, doc: &Html, page_url: &Url) -> (Option<String>, Vec<String>) {
    let title = html::first_text(doc, &WP_TITLE)
        .or_else(|| {
            html::meta(doc, &["og:title", "twitter:title"]).map(|t| html::without_site_name(doc, t))
        })
        .or_else(|| html::first_text(doc, &H1))
        .or_else(|| html::document_title(doc));
    let cfg = dom_smoothie::Config {
        text_mode: dom_smoothie::TextMode::Formatted,
        ..Default::default()
    };
    let extracted = dom_smoothie::Readability::new(html_text, Some(page_url.as_str()), Some(cfg))
        .and_then(|mut r| r.parse());
    let lines = match extracted {
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
    (title, lines)
}
