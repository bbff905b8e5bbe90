//! Bounds on a page's shape, applied to its text before any HTML parser sees it.
//!
//! HTML parsers and the Readability port are fast on real pages but not on every page: the
//! tree builder scans its stack of open elements for each new tag (quadratic in the nesting
//! depth), and the Readability port walks each candidate's descendants (quadratic again). A
//! page of 10,000 nested `<div>`s around one paragraph, 60 KB, took 77 s. Real news pages nest
//! 20 to 40 deep. So [`tame`] keeps at most [`MAX_DEPTH`] elements open: a start tag beyond
//! that depth is dropped with its end tag (their content stays, one level up), which makes the
//! cost of everything after it near-linear in the page's size whatever its shape.
//!
//! The scan is a small tokenizer, linear in the text: comments, doctypes, processing
//! instructions and the raw text of `script`, `style`, `textarea`, `title` and the like are
//! passed over; quoted attribute values may contain `>`. Elements whose end tag may be left out
//! (`p`, `li`, `td`, …) never nest in a parsed tree without an element between them, so only
//! the others are counted. The result is still HTML: only whole tags are removed.

use std::borrow::Cow;

/// Open elements kept, at most (weighted by [`weight`]). Real pages stay far below it: the
/// deepest fixture page (real ones included) reaches 23.
pub const MAX_DEPTH: usize = 128;

/// How many levels an element adds to the parsed tree: a table brings its implied `tbody`, `tr`
/// and `td` (which are not counted themselves, as their end tags may be left out), a list its
/// items, a `select` its options.
fn weight(name: &str) -> usize {
    match name {
        "table" => 4,
        "ul" | "ol" | "dl" | "menu" | "select" | "datalist" | "ruby" => 2,
        _ => 1,
    }
}

/// Elements without content (never closed).
const VOID: &[&str] = &[
    "area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "param", "source",
    "track", "wbr", "keygen", "frame", "basefont", "bgsound", "image",
];

/// Elements whose end tag may be omitted: a new one (or its parent's end) closes them, so they
/// do not deepen the tree by themselves.
const OPTIONAL_END: &[&str] = &[
    "html", "head", "body", "p", "li", "dt", "dd", "option", "optgroup", "tr", "td", "th", "thead",
    "tbody", "tfoot", "colgroup", "caption", "rb", "rt", "rtc", "rp",
];

/// Elements whose content is raw text up to their end tag.
const RAW_TEXT: &[&str] = &[
    "script", "style", "textarea", "title", "xmp", "iframe", "noembed", "noframes", "noscript",
];

/// `html` with every start tag beyond [`MAX_DEPTH`] open elements (and its end tag) removed;
/// borrowed unchanged when nothing is that deep, which is every real page.
pub fn tame(html: &str) -> Cow<'_, str> {
    tame_to(html, MAX_DEPTH)
}

fn tame_to(html: &str, max_depth: usize) -> Cow<'_, str> {
    scan(html, max_depth).0
}

fn scan(html: &str, max_depth: usize) -> (Cow<'_, str>, usize) {
    let bytes = html.as_bytes();
    let mut out: Option<String> = None;
    // Where the text not yet copied to `out` starts.
    let mut copied = 0;
    // Open counted elements: name, weight, and whether its start tag was kept.
    let mut open: Vec<(String, usize, bool)> = Vec::new();
    let mut kept_depth = 0usize;
    let mut deepest = 0usize;
    let mut i = 0;
    while let Some(at) = memchr(b'<', bytes, i) {
        i = at + 1;
        let Some(&next) = bytes.get(i) else { break };
        match next {
            b'!' => {
                i = if bytes[i..].starts_with(b"!--") {
                    find(bytes, b"-->", i + 3).map_or(bytes.len(), |e| e + 3)
                } else {
                    memchr(b'>', bytes, i).map_or(bytes.len(), |e| e + 1)
                };
            }
            b'?' => i = memchr(b'>', bytes, i).map_or(bytes.len(), |e| e + 1),
            b'/' => {
                let (name, end) = tag(bytes, i + 1);
                i = end;
                let Some(name) = name else { continue };
                if VOID.contains(&name.as_str()) || OPTIONAL_END.contains(&name.as_str()) {
                    continue;
                }
                // An end tag closes the innermost open element of its name, if it is near
                // the top; a stray one is left to the parser.
                let Some(pos) = open.iter().rev().take(8).position(|(n, ..)| *n == name) else {
                    continue;
                };
                let idx = open.len() - 1 - pos;
                let closed = open.split_off(idx);
                kept_depth -= closed
                    .iter()
                    .filter(|(.., kept)| *kept)
                    .map(|(_, w, _)| w)
                    .sum::<usize>();
                if !closed[0].2 {
                    let out = out.get_or_insert_with(|| String::with_capacity(html.len()));
                    out.push_str(&html[copied..at]);
                    copied = end;
                }
            }
            c if c.is_ascii_alphabetic() => {
                let (name, end) = tag(bytes, i);
                i = end;
                let Some(name) = name else { continue };
                if RAW_TEXT.contains(&name.as_str()) {
                    let close = format!("</{name}");
                    i = find_ascii_ci(bytes, close.as_bytes(), end).map_or(bytes.len(), |e| e);
                    continue;
                }
                if name == "plaintext" {
                    break;
                }
                if VOID.contains(&name.as_str()) || OPTIONAL_END.contains(&name.as_str()) {
                    continue;
                }
                let w = weight(&name);
                let keep = kept_depth + w <= max_depth;
                deepest = deepest.max(kept_depth + w);
                if keep {
                    kept_depth += w;
                } else {
                    let out = out.get_or_insert_with(|| String::with_capacity(html.len()));
                    out.push_str(&html[copied..at]);
                    copied = end;
                }
                open.push((name, w, keep));
            }
            _ => {}
        }
    }
    let text = match out {
        None => Cow::Borrowed(html),
        Some(mut out) => {
            out.push_str(&html[copied..]);
            Cow::Owned(out)
        }
    };
    (text, deepest)
}

/// The deepest (weighted) nesting `html` reaches, as [`tame`] counts it.
pub fn depth(html: &str) -> usize {
    scan(html, usize::MAX).1
}

/// Reads a tag name at `from` and skips its attributes: the lowercased name (`None` when there
/// is none) and where the tag ends (after its `>`, or the end of the text).
fn tag(bytes: &[u8], from: usize) -> (Option<String>, usize) {
    let mut i = from;
    while i < bytes.len()
        && !matches!(
            bytes[i],
            b'\t' | b'\n' | b'\x0c' | b'\r' | b' ' | b'/' | b'>'
        )
    {
        i += 1;
    }
    let name = (i > from && bytes[from].is_ascii_alphabetic())
        .then(|| String::from_utf8_lossy(&bytes[from..i]).to_ascii_lowercase());
    // Attributes: a quoted value may hold '>'.
    while i < bytes.len() {
        match bytes[i] {
            b'>' => return (name, i + 1),
            b'"' | b'\'' if is_after_equals(bytes, i) => {
                let quote = bytes[i];
                i = memchr(quote, bytes, i + 1).map_or(bytes.len(), |e| e + 1);
            }
            _ => i += 1,
        }
    }
    (name, bytes.len())
}

/// Whether the quote at `i` opens an attribute value (`=` before it, spaces allowed).
fn is_after_equals(bytes: &[u8], i: usize) -> bool {
    bytes[..i]
        .iter()
        .rev()
        .find(|b| !b.is_ascii_whitespace())
        .is_some_and(|b| *b == b'=')
}

fn memchr(needle: u8, hay: &[u8], from: usize) -> Option<usize> {
    hay.get(from..)?
        .iter()
        .position(|b| *b == needle)
        .map(|p| from + p)
}

fn find(hay: &[u8], needle: &[u8], from: usize) -> Option<usize> {
    hay.get(from..)?
        .windows(needle.len())
        .position(|w| w == needle)
        .map(|p| from + p)
}

fn find_ascii_ci(hay: &[u8], needle: &[u8], from: usize) -> Option<usize> {
    hay.get(from..)?
        .windows(needle.len())
        .position(|w| w.eq_ignore_ascii_case(needle))
        .map(|p| from + p)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn real_shapes_are_left_alone() {
        let page = "<!DOCTYPE html><html><head><title>a<b></title><script>if (a<b) { x='<div>' }</script>\
                    </head><body><div class=\"x>y\"><p>one<p>two<ul><li>a<li>b</ul><br><img src=x>\
                    <!-- <div><div> --></div></body></html>";
        assert!(
            matches!(tame_to(page, 3), Cow::Borrowed(_)),
            "{:?}",
            tame_to(page, 3)
        );
    }

    #[test]
    fn tags_beyond_the_depth_go_with_their_end_tags_and_the_text_stays() {
        let page = "<div><section><div><b>deep</b> text</div></section><p>after</p></div>";
        assert_eq!(
            tame_to(page, 2),
            "<div><section>deep text</section><p>after</p></div>"
        );
        let bomb = format!("{}<p>글</p>{}", "<div>".repeat(10), "</div>".repeat(10));
        assert_eq!(
            tame_to(&bomb, 3),
            format!("<div><div><div><p>글</p></div></div></div>")
        );
        // Unclosed ones too.
        let unclosed = format!("{}<p>글", "<span>".repeat(10));
        assert_eq!(tame_to(&unclosed, 2), "<span><span><p>글");
    }

    #[test]
    fn the_result_parses_no_deeper_than_the_limit() {
        for page in [
            format!("{}x{}", "<div>".repeat(5_000), "</div>".repeat(5_000)),
            "<b><i><u><font>".repeat(2_000),
            format!("{}x", "<div a='>'><table><tr><td>".repeat(2_000)),
            "<svg><g>".repeat(3_000),
        ] {
            let tamed = tame(&page);
            let doc = scraper::Html::parse_document(&tamed);
            let depth = doc
                .tree
                .root()
                .descendants()
                .map(|n| n.ancestors().count())
                .max()
                .unwrap();
            assert!(depth <= 2 * MAX_DEPTH + 8, "{depth} for {}", &page[..40]);
        }
    }

    #[test]
    fn cut_and_odd_text_never_panics() {
        for page in [
            "<",
            "<!",
            "<!-",
            "</",
            "</>",
            "<a",
            "<a b='",
            "<script>",
            "<div",
            "<é>",
            "<div 가='나'>",
        ] {
            let _ = tame_to(page, 1);
        }
    }
}
