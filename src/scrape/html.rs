//! DOM helpers shared by the page profiles: main-text lines out of an element, metadata, and
//! lenient date parsing.

use chrono::{DateTime, NaiveDate, NaiveDateTime, TimeZone, Utc};
use ego_tree::iter::Edge;
use scraper::{ElementRef, Node, Selector};

use crate::domain::kst;

/// Elements whose content is never article text.
const SKIPPED: &[&str] = &[
    "script",
    "style",
    "noscript",
    "template",
    "figure",
    "figcaption",
    "img",
    "picture",
    "audio",
    "video",
    "source",
    "iframe",
    "object",
    "embed",
    "button",
    "form",
    "input",
    "textarea",
    "select",
    "label",
    "nav",
    "aside",
    "svg",
    "canvas",
    "map",
    "ins",
    "head",
    "title",
    "meta",
    "link",
];

/// Elements that break text into separate lines.
const BLOCKS: &[&str] = &[
    "p",
    "div",
    "section",
    "article",
    "main",
    "header",
    "footer",
    "h1",
    "h2",
    "h3",
    "h4",
    "h5",
    "h6",
    "li",
    "ul",
    "ol",
    "dl",
    "dt",
    "dd",
    "blockquote",
    "pre",
    "table",
    "thead",
    "tbody",
    "tr",
    "td",
    "th",
    "hr",
    "address",
    "details",
    "summary",
    "center",
];

/// Class or id fragments that mark widgets inside an article body: sharing buttons, related
/// stories, comments, ads, captions, the read-aloud player.
const NOISE_MARKERS: &[&str] = &[
    "related",
    "comment",
    "share",
    "sharing",
    "social",
    "advert",
    "banner",
    "sponsor",
    "breadcrumb",
    "crumbs",
    "newsletter",
    "popup",
    "sidebar",
    "recommend",
    "caption",
    "td-a-rec",
    "jp-relatedposts",
    "author-box",
    "post-tags",
    "tts",
    "audio-player",
    "subscribe",
];

fn is_noise_element(el: &scraper::node::Element) -> bool {
    let name = el.name();
    if SKIPPED.contains(&name) {
        return true;
    }
    if el.attr("hidden").is_some() || el.attr("aria-hidden") == Some("true") {
        return true;
    }
    let id = el.id().unwrap_or_default().to_ascii_lowercase();
    let marked = |token: &str| {
        let token = token.to_ascii_lowercase();
        token == "ad" || token == "ads" || NOISE_MARKERS.iter().any(|m| token.contains(m))
    };
    marked(&id) || el.classes().any(marked)
}

/// The text of `root` as lines: one per block element or `<br>`, whitespace collapsed, empty
/// lines dropped, widgets skipped. Iterative, so deeply nested markup cannot overflow the stack.
pub fn text_lines(root: ElementRef<'_>) -> Vec<String> {
    let mut lines = Vec::new();
    let mut current = String::new();
    let mut skipping: Option<ego_tree::NodeId> = None;
    for edge in root.traverse() {
        match edge {
            Edge::Open(node) => {
                if skipping.is_some() {
                    continue;
                }
                match node.value() {
                    Node::Text(text) => push_collapsed(&mut current, text),
                    Node::Element(el) if node.id() != root.id() => {
                        if el.name() == "br" {
                            flush(&mut current, &mut lines);
                        } else if is_noise_element(el) {
                            skipping = Some(node.id());
                        } else if BLOCKS.contains(&el.name()) {
                            flush(&mut current, &mut lines);
                        }
                    }
                    _ => {}
                }
            }
            Edge::Close(node) => {
                if skipping == Some(node.id()) {
                    skipping = None;
                } else if skipping.is_none()
                    && let Node::Element(el) = node.value()
                    && BLOCKS.contains(&el.name())
                {
                    flush(&mut current, &mut lines);
                }
            }
        }
    }
    flush(&mut current, &mut lines);
    lines
}

fn push_collapsed(out: &mut String, text: &str) {
    for c in text.chars() {
        if c.is_whitespace() || c == '\u{feff}' || c == '\u{200b}' {
            if !out.is_empty() && !out.ends_with(' ') {
                out.push(' ');
            }
        } else {
            out.push(c);
        }
    }
}

fn flush(current: &mut String, lines: &mut Vec<String>) {
    let line = current.trim();
    if !line.is_empty() {
        lines.push(line.to_owned());
    }
    current.clear();
}

/// Collapsed text of an element, whatever its content.
pub fn inline_text(el: ElementRef<'_>) -> String {
    let mut out = String::new();
    for t in el.text() {
        push_collapsed(&mut out, t);
    }
    out.trim().to_owned()
}

/// The page without its scripts and style sheets (JSON-LD metadata is kept). They are most of
/// the bytes of a typical news page and never article text, so the HTML parser is spared them.
/// As in HTML itself, a script ends at the first `</script` and an unclosed one runs to the end.
pub fn without_scripts_and_styles(html: &str) -> String {
    // ASCII lowercasing keeps every byte offset, so positions found in `lower` cut `html`.
    let lower = html.to_ascii_lowercase();
    let find = |from: usize, pat: &str| lower[from..].find(pat).map(|i| from + i);
    let mut out = String::with_capacity(html.len());
    let mut kept = 0;
    let mut next = [find(0, "<script"), find(0, "<style")];
    loop {
        let (which, open) = match next {
            [Some(a), Some(b)] if b < a => (1, b),
            [Some(a), _] => (0, a),
            [None, Some(b)] => (1, b),
            [None, None] => break,
        };
        let (name, close) = if which == 0 {
            ("<script", "</script")
        } else {
            ("<style", "</style")
        };
        let after_name = open + name.len();
        let is_tag = lower[after_name..]
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_whitespace() || c == '>' || c == '/');
        let tag_end = find(after_name, ">").map_or(lower.len(), |i| i + 1);
        let end = find(tag_end, close)
            .map(|i| find(i, ">").map_or(lower.len(), |j| j + 1))
            .unwrap_or(lower.len());
        let json_ld = lower[open..tag_end].contains("ld+json");
        let resume = if is_tag { end } else { after_name };
        if is_tag && !json_ld {
            out.push_str(&html[kept..open]);
            kept = end;
        }
        for (slot, pat) in next.iter_mut().zip(["<script", "<style"]) {
            if slot.is_some_and(|p| p < resume) {
                *slot = find(resume, pat);
            }
        }
    }
    out.push_str(&html[kept..]);
    out
}

/// Parses a selector known at compile time.
pub fn selector(css: &str) -> Selector {
    Selector::parse(css).unwrap_or_else(|e| panic!("invalid built-in selector {css:?}: {e}"))
}

/// Parses the date forms news sites use. A time without a zone is Korean time (KST), which is
/// what AI Times' feed and list pages mean; a bare date is midnight KST.
pub fn parse_datetime(s: &str) -> Option<DateTime<Utc>> {
    let s = s.trim();
    if let Ok(t) = DateTime::parse_from_rfc3339(s) {
        return Some(t.with_timezone(&Utc));
    }
    if let Ok(t) = DateTime::parse_from_rfc2822(s) {
        return Some(t.with_timezone(&Utc));
    }
    for fmt in [
        "%Y-%m-%dT%H:%M:%S%.f%z",
        "%Y-%m-%d %H:%M:%S%.f%z",
        "%Y-%m-%d %H:%M:%S %z",
    ] {
        if let Ok(t) = DateTime::parse_from_str(s, fmt) {
            return Some(t.with_timezone(&Utc));
        }
    }
    for fmt in [
        "%Y-%m-%d %H:%M:%S%.f",
        "%Y-%m-%dT%H:%M:%S%.f",
        "%Y-%m-%d %H:%M",
        "%Y-%m-%dT%H:%M",
        "%Y.%m.%d %H:%M:%S",
        "%Y.%m.%d %H:%M",
        "%Y/%m/%d %H:%M:%S",
        "%Y/%m/%d %H:%M",
    ] {
        if let Ok(t) = NaiveDateTime::parse_from_str(s, fmt) {
            return kst()
                .from_local_datetime(&t)
                .single()
                .map(|t| t.with_timezone(&Utc));
        }
    }
    for fmt in ["%Y-%m-%d", "%Y.%m.%d", "%Y/%m/%d"] {
        if let Ok(d) = NaiveDate::parse_from_str(s, fmt) {
            let t = d.and_hms_opt(0, 0, 0)?;
            return kst()
                .from_local_datetime(&t)
                .single()
                .map(|t| t.with_timezone(&Utc));
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use scraper::Html;

    fn lines(html: &str) -> Vec<String> {
        let doc = Html::parse_fragment(html);
        text_lines(doc.root_element())
    }

    #[test]
    fn blocks_and_breaks_make_lines_and_widgets_are_skipped() {
        let got = lines(
            "<div><p>첫 <b>문단</b>\n입니다.</p><p><strong>■ 제목</strong><br>요약 문장.</p>\
             <figure><img alt='사진 설명'><figcaption>사진 설명</figcaption></figure>\
             <div class='share-buttons'>공유하기</div><script>var x=1;</script><p>끝</p></div>",
        );
        assert_eq!(got, ["첫 문단 입니다.", "■ 제목", "요약 문장.", "끝"]);
    }

    #[test]
    fn deeply_nested_markup_does_not_overflow() {
        let html = format!("{}text{}", "<div>".repeat(5_000), "</div>".repeat(5_000));
        let doc = Html::parse_document(&html);
        let got = text_lines(doc.root_element());
        assert!(got.iter().all(|l| l.len() < 10));
    }

    #[test]
    fn scripts_and_styles_go_but_json_ld_stays() {
        let html = "<head><SCRIPT src=x>var a = '<p>';</script ><style>p{}</style>\
                    <script type=\"application/ld+json\">{\"datePublished\":\"2023\"}</script></head><p>본문</p>";
        let out = without_scripts_and_styles(html);
        assert_eq!(
            out,
            "<head><script type=\"application/ld+json\">{\"datePublished\":\"2023\"}</script></head><p>본문</p>"
        );
        assert_eq!(
            without_scripts_and_styles("<p>a</p><scripts>b</scripts>"),
            "<p>a</p><scripts>b</scripts>"
        );
        assert_eq!(
            without_scripts_and_styles("<p>a</p><script>never closed"),
            "<p>a</p>"
        );
        assert_eq!(
            without_scripts_and_styles("가<style>x</style>나<script>y</script>다"),
            "가나다"
        );
    }

    #[test]
    fn dates_without_a_zone_are_korean_time() {
        let t = parse_datetime("2026-08-22 07:00:00").unwrap();
        assert_eq!(t.to_rfc3339(), "2026-08-21T22:00:00+00:00");
        let t = parse_datetime("2023-09-08T07:00:00+09:00").unwrap();
        assert_eq!(t.to_rfc3339(), "2023-09-07T22:00:00+00:00");
        let t = parse_datetime("Sat, 22 Aug 2026 07:00:00 +0900").unwrap();
        assert_eq!(t.to_rfc3339(), "2026-08-21T22:00:00+00:00");
        assert!(parse_datetime("yesterday").is_none());
    }
}
