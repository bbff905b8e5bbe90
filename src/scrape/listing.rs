//! List pages and feeds → [`ListEntry`]s: which pages a source currently lists.

use std::collections::HashSet;
use std::sync::LazyLock;

use chrono::{DateTime, Datelike, NaiveDate, TimeZone, Utc};
use regex::Regex;
use scraper::{ElementRef, Html, Selector};
use url::Url;

use super::html::{self, selector};
use super::tame::tame;
use crate::domain::{CanonicalUrl, Format, kst};

/// One entry of a list page or feed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListEntry {
    pub url: CanonicalUrl,
    pub title: String,
    pub published_at: Option<DateTime<Utc>>,
    /// The list's lead sentence or the feed item's description.
    pub summary: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ListingError {
    #[error("not a valid RSS or Atom feed: {0}")]
    Feed(String),
    #[error("no entries found: the page does not look like a {0} list page")]
    NoEntries(Format),
    #[error("parsing took longer than {}s", .0.as_secs())]
    TooSlow(std::time::Duration),
    #[error("the parser failed on this page: {0}")]
    Panicked(String),
}

static NDSOFT_ITEM: LazyLock<Selector> = LazyLock::new(|| selector("#section-list > ul > li"));
static NDSOFT_LINK: LazyLock<Selector> =
    LazyLock::new(|| selector("h4.titles a[href], .titles a[href]"));
static NDSOFT_LEAD: LazyLock<Selector> = LazyLock::new(|| selector("p.lead a, p.lead"));
static NDSOFT_DATE: LazyLock<Selector> = LazyLock::new(|| selector("span.byline em, .byline em"));
static NDSOFT_ANY_ARTICLE: LazyLock<Selector> =
    LazyLock::new(|| selector("a[href*=\"articleView.html\"]"));
static WP_LINK: LazyLock<Selector> = LazyLock::new(|| {
    selector(
        "h3.entry-title a[href], h2.entry-title a[href], .td-module-title a[href], article h2 a[href], article h3 a[href]",
    )
});
static WP_EXCERPT: LazyLock<Selector> =
    LazyLock::new(|| selector(".td-excerpt, .entry-summary, .excerpt"));
static TIME: LazyLock<Selector> = LazyLock::new(|| selector("time[datetime]"));
static LIST_DATE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?:(\d{4})[-.])?(\d{1,2})[-.](\d{1,2})\s+(\d{1,2}):(\d{2})").expect("valid regex")
});

/// Which kind of list a page is, when the source says `auto`.
pub fn sniff(text: &str) -> Format {
    let head = text.trim_start_matches('\u{feff}').trim_start();
    // The first 512 characters, cut at a character boundary: byte 512 may fall inside a
    // Hangul syllable.
    let head = head
        .char_indices()
        .nth(512)
        .map_or(head, |(end, _)| &head[..end]);
    if head.starts_with("<?xml")
        || head.starts_with("<rss")
        || head.starts_with("<feed")
        || head.starts_with("<rdf")
    {
        Format::Rss
    } else if text.contains("id=\"section-list\"") || text.contains("articleView.html?idxno=") {
        Format::Ndsoft
    } else {
        Format::Wordpress
    }
}

/// Parses a list page or feed fetched from `base`. `now` settles the year of NDSoft's
/// year-less dates. Entries come newest first, as listed, without duplicates.
pub fn parse_listing(
    text: &str,
    base: &Url,
    format: Format,
    now: DateTime<Utc>,
) -> Result<Vec<ListEntry>, ListingError> {
    let format = if format == Format::Auto {
        sniff(text)
    } else {
        format
    };
    let entries = match format {
        Format::Rss => parse_feed(text, base)?,
        Format::Ndsoft => parse_ndsoft(&Html::parse_document(&tame(text)), base, now),
        Format::Wordpress | Format::Auto => {
            parse_wordpress(&Html::parse_document(&tame(text)), base)
        }
    };
    let mut seen = HashSet::new();
    let entries: Vec<ListEntry> = entries
        .into_iter()
        .filter(|e| !e.title.is_empty() && seen.insert(e.url.clone()))
        .collect();
    if entries.is_empty() && format != Format::Rss {
        return Err(ListingError::NoEntries(format));
    }
    Ok(entries)
}

fn resolve(base: &Url, href: &str) -> Option<CanonicalUrl> {
    let url = base.join(href.trim()).ok()?;
    CanonicalUrl::from_url(url).ok()
}

fn parse_ndsoft(doc: &Html, base: &Url, now: DateTime<Utc>) -> Vec<ListEntry> {
    let mut entries: Vec<ListEntry> = doc
        .select(&NDSOFT_ITEM)
        .filter_map(|li| {
            let link = li.select(&NDSOFT_LINK).next()?;
            let url = resolve(base, link.value().attr("href")?)?;
            let date = li
                .select(&NDSOFT_DATE)
                .filter_map(|em| list_date(&html::inline_text(em), now))
                .last();
            let summary = li
                .select(&NDSOFT_LEAD)
                .next()
                .map(html::inline_text)
                .filter(|s| !s.is_empty());
            Some(ListEntry {
                url,
                title: html::inline_text(link),
                published_at: date,
                summary,
            })
        })
        .collect();
    if entries.is_empty() {
        // A changed layout still links its articles: take every article link with a title.
        entries = doc
            .select(&NDSOFT_ANY_ARTICLE)
            .filter_map(|a| {
                let title = html::inline_text(a);
                let url = resolve(base, a.value().attr("href")?)?;
                (title.chars().count() >= 8).then_some(ListEntry {
                    url,
                    title,
                    published_at: None,
                    summary: None,
                })
            })
            .collect();
    }
    entries
}

/// NDSoft lists show `MM-DD HH:MM` in KST without a year: the year is the one that puts the
/// date closest before `now` (a date more than a day ahead belongs to last year).
fn list_date(text: &str, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
    let c = LIST_DATE.captures(text)?;
    let now_kst = now.with_timezone(&kst());
    let month: u32 = c[2].parse().ok()?;
    let day: u32 = c[3].parse().ok()?;
    let hour: u32 = c[4].parse().ok()?;
    let minute: u32 = c[5].parse().ok()?;
    let at = |year: i32| {
        let t = NaiveDate::from_ymd_opt(year, month, day)?.and_hms_opt(hour, minute, 0)?;
        kst()
            .from_local_datetime(&t)
            .single()
            .map(|t| t.with_timezone(&Utc))
    };
    if let Some(year) = c.get(1) {
        return at(year.as_str().parse().ok()?);
    }
    // Of last year, this year and next year (in Korea), the date closest to `now` that is not
    // more than a day ahead of it: `12-31 23:50` seen on January 1st is last year's, and
    // `01-01 00:05` seen while a clock still reads December 31st is next year's.
    (now_kst.year() - 1..=now_kst.year() + 1)
        .filter_map(at)
        .filter(|t| *t <= now + chrono::Duration::days(1))
        .min_by_key(|t| (*t - now).num_seconds().abs())
}

fn parse_wordpress(doc: &Html, base: &Url) -> Vec<ListEntry> {
    doc.select(&WP_LINK)
        .filter_map(|a| {
            let url = resolve(base, a.value().attr("href")?)?;
            let title = Some(html::inline_text(a))
                .filter(|t| !t.is_empty())
                .or_else(|| a.value().attr("title").map(str::to_owned))?;
            let module = module_of(a);
            let published_at = module.and_then(|m| {
                m.select(&TIME)
                    .find_map(|t| t.value().attr("datetime").and_then(html::parse_datetime))
            });
            let summary = module
                .and_then(|m| m.select(&WP_EXCERPT).next())
                .map(html::inline_text)
                .filter(|s| !s.is_empty());
            Some(ListEntry {
                url,
                title,
                published_at,
                summary,
            })
        })
        .collect()
}

/// The nearest ancestor that holds one post's title, date and excerpt: the closest one with a
/// `<time>` in it, at most four levels up.
fn module_of(link: ElementRef<'_>) -> Option<ElementRef<'_>> {
    link.ancestors()
        .filter_map(ElementRef::wrap)
        .take(4)
        .find(|el| el.select(&TIME).next().is_some())
}

static XML_DECL_ENCODING: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r#"^(\s*<\?xml[^>]*?encoding\s*=\s*)["'][^"']*["']"#).expect("valid regex")
});

fn parse_feed(text: &str, base: &Url) -> Result<Vec<ListEntry>, ListingError> {
    // The text is already decoded: tell the XML parser so, whatever the declaration said.
    let text = XML_DECL_ENCODING.replace(text.trim_start_matches('\u{feff}'), "${1}\"UTF-8\"");
    let parser = feed_rs::parser::Builder::new()
        .base_uri(Some(base.as_str()))
        .timestamp_parser(html::parse_datetime)
        .build();
    let feed = parser
        .parse(text.as_bytes())
        .map_err(|e| ListingError::Feed(e.to_string()))?;
    Ok(feed
        .entries
        .into_iter()
        .filter_map(|entry| {
            let href = entry
                .links
                .iter()
                .find(|l| l.rel.as_deref().is_none_or(|r| r == "alternate"))
                .or_else(|| entry.links.first())?
                .href
                .clone();
            let url = resolve(base, &href)?;
            let title = entry
                .title
                .map(|t| strip_tags(&t.content))
                .unwrap_or_default();
            let summary = entry
                .summary
                .map(|s| strip_tags(&s.content))
                .filter(|s| !s.is_empty());
            Some(ListEntry {
                url,
                title,
                published_at: entry.published.or(entry.updated),
                summary,
            })
        })
        .collect())
}

/// Feed titles and descriptions may carry HTML: keep their text.
fn strip_tags(s: &str) -> String {
    if !s.contains('<') {
        return s.split_whitespace().collect::<Vec<_>>().join(" ");
    }
    let frag = Html::parse_fragment(&tame(s));
    html::inline_text(frag.root_element())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn list_dates_take_the_year_that_is_not_in_the_future() {
        let now = Utc.with_ymd_and_hms(2026, 8, 22, 10, 0, 0).unwrap();
        let t = list_date("08-22 07:00", now).unwrap();
        assert_eq!(t.to_rfc3339(), "2026-08-21T22:00:00+00:00");
        let jan = Utc.with_ymd_and_hms(2027, 1, 2, 0, 0, 0).unwrap();
        let t = list_date("12-31 07:00", jan).unwrap();
        assert_eq!(t.with_timezone(&kst()).year(), 2026);
        assert!(list_date("기자", now).is_none());
    }

    #[test]
    fn auto_recognises_feeds_and_list_pages() {
        assert_eq!(sniff("\u{feff}<?xml version=\"1.0\"?><rss>"), Format::Rss);
        assert_eq!(
            sniff("<feed xmlns=\"http://www.w3.org/2005/Atom\">"),
            Format::Rss
        );
        assert_eq!(sniff("<html><section id=\"section-list\">"), Format::Ndsoft);
        assert_eq!(
            sniff("<html><div class=\"td_module_10\">"),
            Format::Wordpress
        );
    }

    #[test]
    fn sniffing_korean_text_never_cuts_a_syllable() {
        // Byte 512 falls inside a three-byte syllable at every offset of the padding.
        for pad in 0..3 {
            let page = format!("<html>{}{}", " ".repeat(pad), "뉴스".repeat(300));
            assert_eq!(sniff(&page), Format::Wordpress);
        }
        assert_eq!(sniff(&format!("<rss>{}", "가".repeat(600))), Format::Rss);
    }

    #[test]
    fn a_year_less_list_date_gets_the_year_that_puts_it_nearest_now() {
        let kst_at = |y, m, d, h, min| {
            kst()
                .with_ymd_and_hms(y, m, d, h, min, 0)
                .unwrap()
                .with_timezone(&Utc)
        };
        // Seen on January 1st: late December is last year's.
        let new_year = kst_at(2027, 1, 1, 0, 10);
        assert_eq!(
            list_date("12-31 23:50", new_year),
            Some(kst_at(2026, 12, 31, 23, 50))
        );
        assert_eq!(
            list_date("01-01 00:05", new_year),
            Some(kst_at(2027, 1, 1, 0, 5))
        );
        // A clock still at December 31st (a few minutes slow) sees next year's first entry.
        let slow = kst_at(2026, 12, 31, 23, 58);
        assert_eq!(
            list_date("01-01 00:05", slow),
            Some(kst_at(2027, 1, 1, 0, 5))
        );
        assert_eq!(
            list_date("12-31 23:50", slow),
            Some(kst_at(2026, 12, 31, 23, 50))
        );
        // Mid-year, an entry from last December stays last year's.
        let june = kst_at(2027, 6, 15, 12, 0);
        assert_eq!(
            list_date("12-20 07:00", june),
            Some(kst_at(2026, 12, 20, 7, 0))
        );
        assert_eq!(
            list_date("06-15 07:00", june),
            Some(kst_at(2027, 6, 15, 7, 0))
        );
        // A leap day outside a leap year does not exist.
        assert_eq!(list_date("02-29 07:00", kst_at(2027, 3, 1, 0, 0)), None);
        assert_eq!(
            list_date("02-29 07:00", kst_at(2028, 3, 1, 0, 0)),
            Some(kst_at(2028, 2, 29, 7, 0))
        );
    }

    #[test]
    fn garbage_is_an_error_not_an_empty_list() {
        let base = Url::parse("https://example.com/").unwrap();
        let now = Utc::now();
        assert!(parse_listing("\u{0}\u{1}garbage", &base, Format::Ndsoft, now).is_err());
        assert!(parse_listing("<rss><channel><item>", &base, Format::Rss, now).is_err());
    }
}
