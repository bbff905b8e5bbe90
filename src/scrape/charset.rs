//! Bytes to text. Korean sites serve UTF-8 or EUC-KR, and some declare one while sending the
//! other, so a declaration is a hint, checked against the bytes:
//!
//! 1. a byte-order mark decides;
//! 2. bytes that are valid UTF-8 are UTF-8 — text in EUC-KR (or any legacy multi-byte charset)
//!    practically never forms valid UTF-8 sequences, so this also rescues pages that declare
//!    EUC-KR and send UTF-8;
//! 3. otherwise the declared charset (HTTP header, then `<meta>` or the XML declaration), if
//!    the bytes decode without errors;
//! 4. otherwise `chardetng`'s guess.

use chardetng::{EncodingDetector, Iso2022JpDetection, Utf8Detection};
use encoding_rs::{Encoding, UTF_8};

/// How many leading bytes are searched for a `<meta charset>` or XML declaration.
const PRESCAN_BYTES: usize = 4096;

/// Decodes `bytes` to text. `content_type` is the HTTP `Content-Type` header, if any; `tld`
/// (for example `b"kr"`) sharpens the guess when nothing else decides. NUL characters are
/// dropped, as an HTML parser ignores them in a page's body (and XML forbids them):
/// PostgreSQL's text cannot hold NUL, so a page kept with one could never be stored there.
pub fn decode(bytes: &[u8], content_type: Option<&str>, tld: Option<&[u8]>) -> String {
    let mut text = decode_as_sent(bytes, content_type, tld);
    if text.contains('\0') {
        text.retain(|c| c != '\0');
    }
    text
}

fn decode_as_sent(bytes: &[u8], content_type: Option<&str>, tld: Option<&[u8]>) -> String {
    if let Some((encoding, bom_len)) = Encoding::for_bom(bytes) {
        let (text, _) = encoding.decode_without_bom_handling(&bytes[bom_len..]);
        return text.into_owned();
    }
    if let Ok(text) = std::str::from_utf8(bytes) {
        return text.to_owned();
    }
    let declared = content_type
        .and_then(charset_from_content_type)
        .or_else(|| declared_in_document(&bytes[..bytes.len().min(PRESCAN_BYTES)]));
    if let Some(encoding) = declared.filter(|e| *e != UTF_8) {
        let (text, had_errors) = encoding.decode_without_bom_handling(bytes);
        if !had_errors {
            return text.into_owned();
        }
    }
    let mut detector = EncodingDetector::new(Iso2022JpDetection::Deny);
    detector.feed(bytes, true);
    let encoding = detector.guess(tld, Utf8Detection::Allow);
    encoding.decode_without_bom_handling(bytes).0.into_owned()
}

/// The encoding named by a `Content-Type` header's `charset` parameter.
pub fn charset_from_content_type(content_type: &str) -> Option<&'static Encoding> {
    content_type.split(';').skip(1).find_map(|param| {
        let (name, value) = param.split_once('=')?;
        if name.trim().eq_ignore_ascii_case("charset") {
            Encoding::for_label(value.trim().trim_matches(['"', '\'']).as_bytes())
        } else {
            None
        }
    })
}

/// The encoding declared by `<meta charset=…>`, `<meta http-equiv content="…charset=…">` or
/// `<?xml … encoding="…"?>` in the head of a document.
fn declared_in_document(head: &[u8]) -> Option<&'static Encoding> {
    let lower: Vec<u8> = head.iter().map(u8::to_ascii_lowercase).collect();
    for key in [&b"charset"[..], &b"encoding"[..]] {
        let mut from = 0;
        while let Some(pos) = find(&lower[from..], key) {
            let mut i = from + pos + key.len();
            from = i;
            while i < lower.len() && lower[i].is_ascii_whitespace() {
                i += 1;
            }
            if lower.get(i) != Some(&b'=') {
                continue;
            }
            i += 1;
            while i < lower.len() && matches!(lower[i], b' ' | b'"' | b'\'') {
                i += 1;
            }
            let end = lower[i..]
                .iter()
                .position(|b| {
                    !(b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b':' | b'.'))
                })
                .map_or(lower.len(), |p| i + p);
            if let Some(encoding) = Encoding::for_label(&lower[i..end]) {
                return Some(encoding);
            }
        }
    }
    None
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

#[cfg(test)]
mod tests {
    use super::*;

    const HANGUL: &str = "인공지능 뉴스 브리핑입니다.";

    #[test]
    fn nul_is_dropped() {
        assert_eq!(decode(b"a\0b", None, None), "ab");
        let euc_kr = encoding_rs::EUC_KR.encode("뉴스\0브리핑").0;
        assert_eq!(
            decode(&euc_kr, Some("text/html; charset=euc-kr"), None),
            "뉴스브리핑"
        );
    }

    fn euc_kr(s: &str) -> Vec<u8> {
        encoding_rs::EUC_KR.encode(s).0.into_owned()
    }

    #[test]
    fn euc_kr_declared_in_the_header_decodes() {
        let bytes = euc_kr(&format!("<p>{HANGUL}</p>"));
        let text = decode(&bytes, Some("text/html; charset=EUC-KR"), None);
        assert!(text.contains(HANGUL), "{text}");
    }

    #[test]
    fn euc_kr_declared_in_meta_decodes() {
        let page = format!(
            "<html><head><meta http-equiv=\"Content-Type\" content=\"text/html; charset=euc-kr\"></head><body><p>{HANGUL}</p></body></html>"
        );
        let text = decode(&euc_kr(&page), Some("text/html"), None);
        assert!(text.contains(HANGUL), "{text}");
    }

    #[test]
    fn euc_kr_without_any_declaration_is_detected() {
        let page =
            format!("<html><body><p>{HANGUL} {HANGUL} 국내외 주요 뉴스입니다.</p></body></html>");
        let text = decode(&euc_kr(&page), None, Some(b"kr"));
        assert!(text.contains(HANGUL), "{text}");
    }

    #[test]
    fn utf8_declared_as_euc_kr_stays_utf8() {
        let page = format!("<meta charset=\"euc-kr\"><p>{HANGUL}</p>");
        let text = decode(page.as_bytes(), Some("text/html; charset=euc-kr"), None);
        assert!(text.contains(HANGUL), "{text}");
    }

    #[test]
    fn a_bom_wins() {
        let mut bytes = vec![0xEF, 0xBB, 0xBF];
        bytes.extend_from_slice(HANGUL.as_bytes());
        assert_eq!(
            decode(&bytes, Some("text/html; charset=euc-kr"), None),
            HANGUL
        );
    }

    #[test]
    fn xml_declarations_count_as_declarations() {
        let feed = format!(
            "<?xml version=\"1.0\" encoding=\"EUC-KR\"?><rss><title>{HANGUL}</title></rss>"
        );
        let text = decode(&euc_kr(&feed), None, None);
        assert!(text.contains(HANGUL), "{text}");
    }
}
