//! Page metadata — title, canonical URL, publish time — read the same way from either DOM the
//! scraper builds: `scraper`'s (for the site profiles) or `dom_query`'s (which the Readability
//! port works on, so a page of unknown layout is parsed only once).

use std::sync::LazyLock;

use chrono::{DateTime, Utc};
use url::Url;

use super::html::parse_datetime;

/// What metadata lookups need from a parsed document.
pub trait Dom {
    /// The trimmed, non-empty values of `attr` on the elements matching `css`, in order.
    fn attrs(&self, css: &str, attr: &str) -> Vec<String>;
    /// The whitespace-collapsed text of the first element matching `css` that has any.
    fn text(&self, css: &str) -> Option<String>;
    /// The raw text of the elements matching `css` (for scripts).
    fn raw_texts(&self, css: &str) -> Vec<String>;
    /// Every `<meta>` with content, as (lowercased `property` or `name`, trimmed `content`),
    /// in one pass over the document.
    fn meta_tags(&self) -> Vec<(String, String)>;
}

fn meta_pair(key: Option<&str>, content: Option<&str>) -> Option<(String, String)> {
    let (key, content) = (key?.trim(), content?.trim());
    (!content.is_empty()).then(|| (key.to_ascii_lowercase(), content.to_owned()))
}

fn collapse(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

impl Dom for scraper::Html {
    fn attrs(&self, css: &str, attr: &str) -> Vec<String> {
        let Ok(sel) = scraper::Selector::parse(css) else {
            return Vec::new();
        };
        self.select(&sel)
            .filter_map(|e| e.value().attr(attr))
            .map(str::trim)
            .filter(|v| !v.is_empty())
            .map(str::to_owned)
            .collect()
    }

    fn text(&self, css: &str) -> Option<String> {
        let sel = scraper::Selector::parse(css).ok()?;
        self.select(&sel)
            .map(|e| collapse(&e.text().collect::<String>()))
            .find(|t| !t.is_empty())
    }

    fn raw_texts(&self, css: &str) -> Vec<String> {
        let Ok(sel) = scraper::Selector::parse(css) else {
            return Vec::new();
        };
        self.select(&sel).map(|e| e.text().collect()).collect()
    }

    fn meta_tags(&self) -> Vec<(String, String)> {
        static META: LazyLock<scraper::Selector> =
            LazyLock::new(|| scraper::Selector::parse("meta[content]").expect("valid selector"));
        self.select(&META)
            .filter_map(|m| {
                let el = m.value();
                meta_pair(
                    el.attr("property").or_else(|| el.attr("name")),
                    el.attr("content"),
                )
            })
            .collect()
    }
}

impl Dom for dom_query::Document {
    fn attrs(&self, css: &str, attr: &str) -> Vec<String> {
        let Ok(matcher) = dom_query::Matcher::new(css) else {
            return Vec::new();
        };
        self.select_matcher(&matcher)
            .nodes()
            .iter()
            .filter_map(|n| n.attr(attr))
            .map(|v| v.trim().to_owned())
            .filter(|v| !v.is_empty())
            .collect()
    }

    fn text(&self, css: &str) -> Option<String> {
        let matcher = dom_query::Matcher::new(css).ok()?;
        self.select_matcher(&matcher)
            .nodes()
            .iter()
            .map(|n| collapse(&n.text()))
            .find(|t| !t.is_empty())
    }

    fn raw_texts(&self, css: &str) -> Vec<String> {
        let Ok(matcher) = dom_query::Matcher::new(css) else {
            return Vec::new();
        };
        self.select_matcher(&matcher)
            .nodes()
            .iter()
            .map(|n| n.text().to_string())
            .collect()
    }

    fn meta_tags(&self) -> Vec<(String, String)> {
        static META: LazyLock<dom_query::Matcher> =
            LazyLock::new(|| dom_query::Matcher::new("meta[content]").expect("valid selector"));
        self.select_matcher(&META)
            .nodes()
            .iter()
            .filter_map(|n| {
                let key = n.attr("property").or_else(|| n.attr("name"));
                let content = n.attr("content");
                meta_pair(key.as_deref(), content.as_deref())
            })
            .collect()
    }
}

/// The `content` of the first `<meta>` whose `property` or `name` is one of `keys`.
pub fn meta(doc: &impl Dom, keys: &[&str]) -> Option<String> {
    let tags = doc.meta_tags();
    keys.iter().find_map(|key| {
        tags.iter()
            .find(|(name, _)| name.eq_ignore_ascii_case(key))
            .map(|(_, content)| content.clone())
    })
}

const TITLE_SEPARATORS: [&str; 5] = [" | ", " - ", " :: ", " – ", " — "];

/// A title without the site's name (`og:site_name`) on either side of a separator, as in
/// "대전일보 모바일 :: headline".
pub fn without_site_name(doc: &impl Dom, title: String) -> String {
    let Some(site) = meta(doc, &["og:site_name"]) else {
        return title;
    };
    for sep in TITLE_SEPARATORS {
        if let Some((head, tail)) = title.split_once(sep)
            && head.contains(site.as_str())
        {
            return tail.trim().to_owned();
        }
        if let Some((head, tail)) = title.rsplit_once(sep)
            && tail.contains(site.as_str())
        {
            return head.trim().to_owned();
        }
    }
    title
}

/// `<title>`, keeping the longer side of "Headline - Site" or "Site :: Headline".
pub fn document_title(doc: &impl Dom) -> Option<String> {
    let title = doc.text("title")?;
    for sep in TITLE_SEPARATORS {
        if let Some((head, tail)) = title.split_once(sep) {
            let (head, tail) = (head.trim(), tail.trim());
            let longer = if tail.chars().count() > head.chars().count() {
                tail
            } else {
                head
            };
            return Some(longer.to_owned());
        }
    }
    Some(title)
}

/// A page title for layouts without a known title element: the theme's headline, Open Graph,
/// the first `<h1>`, then `<title>`.
pub fn generic_title(doc: &impl Dom) -> Option<String> {
    doc.text("h1.entry-title, h1.tdb-title-text")
        .or_else(|| meta(doc, &["og:title", "twitter:title"]).map(|t| without_site_name(doc, t)))
        .or_else(|| doc.text("h1"))
        .or_else(|| document_title(doc))
}

static JSON_LD_PUBLISHED: LazyLock<regex::Regex> =
    LazyLock::new(|| regex::Regex::new(r#""datePublished"\s*:\s*"([^"]+)""#).expect("valid regex"));

/// The publish time from the page's metadata: article meta tags, JSON-LD `datePublished`,
/// `<time datetime>`, or `data-date-time` (Naver News).
pub fn published_time(doc: &impl Dom) -> Option<DateTime<Utc>> {
    meta(
        doc,
        &[
            "article:published_time",
            "og:article:published_time",
            "pubdate",
            "publishdate",
            "date",
            "dc.date.issued",
        ],
    )
    .and_then(|s| parse_datetime(&s))
    .or_else(|| {
        doc.raw_texts("script[type=\"application/ld+json\"]")
            .iter()
            .find_map(|t| {
                JSON_LD_PUBLISHED
                    .captures(t)
                    .and_then(|c| parse_datetime(&c[1]))
            })
    })
    .or_else(|| {
        doc.attrs("time[datetime]", "datetime")
            .iter()
            .find_map(|t| parse_datetime(t))
    })
    .or_else(|| {
        doc.attrs("[data-date-time]", "data-date-time")
            .iter()
            .find_map(|t| parse_datetime(t))
    })
}

/// The page's own canonical link when it stays on the same site and is not the home page
/// (broken themes point every page at `/`, which would merge every issue into one).
pub fn declared_canonical(doc: &impl Dom, page_url: &Url) -> Option<Url> {
    let site = |u: &Url| {
        u.host_str()
            .map(|h| h.trim_start_matches("www.").to_ascii_lowercase())
    };
    doc.attrs("link[rel=\"canonical\"][href]", "href")
        .iter()
        .filter_map(|href| page_url.join(href).ok())
        .find(|u| {
            matches!(u.scheme(), "http" | "https") && site(u) == site(page_url) && u.path() != "/"
        })
}

/// Any address the page gives itself (canonical link or `og:url`), whatever its site: for local
/// files parsed without `--url`.
pub fn self_declared_url(doc: &impl Dom) -> Option<Url> {
    doc.attrs("link[rel=\"canonical\"][href]", "href")
        .into_iter()
        .chain(meta(doc, &["og:url"]))
        .filter_map(|href| Url::parse(&href).ok())
        .find(|u| matches!(u.scheme(), "http" | "https"))
}
