//! Main-text lines → lead, brief items and clean text. Removes the noise README's Parsing lists:
//! photo captions, captions shown twice (image alt and figcaption), bylines, the read-aloud widget,
//! copyright footers and comment-form text.

use std::sync::LazyLock;

use regex::Regex;

use crate::domain::Brief;

/// An issue's content once noise is gone.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Split {
    /// Lead paragraphs, one a line.
    pub lead: String,
    pub briefs: Vec<Brief>,
    /// All kept lines, one paragraph a line.
    pub text: String,
}

const ITEM_MARK: char = '■';

/// An ordinary article's lead is its first line at least this long.
const MIN_LEAD_CHARS: usize = 40;

static CAPTION: LazyLock<Regex> = LazyLock::new(|| {
    // "(사진=셔터스톡)", "(이미지=…)", "[사진=…]", also at the end of a caption sentence.
    Regex::new(r"[(\[]\s*(사진|이미지|그래픽|영상|자료|출처|일러스트|캡처|photo|image|source)\s*[=:]\s*[^)\]]{0,80}[)\]]\s*$")
        .expect("valid regex")
});
static BYLINE: LazyLock<Regex> = LazyLock::new(|| {
    // "AI타임스 news@aitimes.com", "홍길동 기자 hong@aitimes.com", "By Jane Doe jane@x.com"
    Regex::new(r"^(\S+\s+){0,3}(기자|특파원|객원기자|에디터)?\s*[\w.+-]+@[\w-]+(\.[\w-]+)+\s*$")
        .expect("valid regex")
});
static REPORTER: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^[가-힣]{2,4}\s*(기자|특파원|객원기자)$").expect("valid regex"));
static TRANSITION: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^이어(서)?\s*(국내외|국내|해외)?\s*(주요|다른)?\s*(뉴스|소식)(입니다|이다|을 전합니다)\.?$")
        .expect("valid regex")
});
static COMMENT_COUNT: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)^\d+\s+(comments?|kommentare?|commentaires?|comentarios?)$")
        .expect("valid regex")
});
static DATELINE: LazyLock<Regex> = LazyLock::new(|| {
    // "입력 2020.08.27 20:27", "이용민 기자 | 2020-03-04 16:52:59", "수정 2023-11-02 20:06"
    Regex::new(r"^([가-힣]{2,4}\s*(기자|특파원)\s*[|ㅣ·]?\s*)?((입력|수정|승인|기사입력|업데이트|등록)\s*:?\s*)?\d{4}[.\-/]\s?\d{1,2}[.\-/]\s?\d{1,2}\.?(\s+\d{1,2}:\d{2}(:\d{2})?)?(\s*(수정|입력).*)?$")
        .expect("valid regex")
});
static PLAYER_TIME: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^\d{1,2}:\d{2}(\s*/\s*\d{1,2}:\d{2})?$").expect("valid regex"));

/// Lines that are never content, compared case-insensitively.
const NOISE_LINES: &[&str] = &[
    "기사를 읽어드립니다",
    "your browser does not support the audio element.",
    "leave a reply",
    "please enter your comment!",
    "please enter your name here",
    "you have entered an incorrect email address!",
    "please enter your email address here",
    "save my name, email, and website in this browser for the next time i comment.",
    "antworte",
    "bitte geben sie ihren kommentar ein!",
    "bitte geben sie hier ihren namen ein",
    "kommentar hinterlassen",
    "hinterlasse eine antwort",
    "cancel reply",
    "post comment",
    "share",
    "facebook",
    "twitter",
    "pinterest",
    "whatsapp",
    "telegram",
    "linkedin",
    "email",
    "print",
    "댓글",
    "댓글쓰기",
    "공유하기",
    "관련기사",
    "기사 공유하기",
    "advertisement",
    "- advertisement -",
    "광고",
    "read more",
    "더보기",
];

/// Whether a line is boilerplate rather than content.
pub fn is_noise(line: &str) -> bool {
    let line = line.trim();
    if line.is_empty() {
        return true;
    }
    let lower = line.to_lowercase();
    if NOISE_LINES.contains(&lower.as_str()) {
        return true;
    }
    if lower.contains("무단전재")
        || lower.contains("무단 전재")
        || lower.contains("재배포 금지")
        || lower.contains("재배포금지")
        || lower.starts_with("저작권자")
        || lower.starts_with("copyright")
        || lower.starts_with('©')
        || lower.starts_with("all rights reserved")
    {
        return true;
    }
    // "▲4일 세종시청에서 … 전달식이 열렸다." is how Korean papers caption a photo.
    line.starts_with('▲')
        || BYLINE.is_match(line)
        || REPORTER.is_match(line)
        || COMMENT_COUNT.is_match(line)
        || DATELINE.is_match(line)
        || PLAYER_TIME.is_match(line)
}

/// Whether a line is the lead's closing "이어 국내외 주요 뉴스입니다."
pub fn is_transition(line: &str) -> bool {
    TRANSITION.is_match(line.trim())
}

/// A line with quotes unified and spaces collapsed, for spotting a caption shown twice.
fn caption_key(line: &str) -> String {
    line.chars()
        .filter(|c| {
            !matches!(
                c,
                '\'' | '"' | '‘' | '’' | '“' | '”' | '`' | '´' | '「' | '」' | '『' | '』'
            )
        })
        .filter(|c| !c.is_whitespace())
        .collect()
}

/// A line without the photo credit at its end (`(사진=셔터스톡)`): a line that is only a
/// credit becomes empty, an item or a sentence that ends with one keeps the rest.
fn without_credit(line: &str) -> &str {
    match CAPTION.find(line) {
        Some(credit) => line[..credit.start()].trim_end(),
        None => line,
    }
}

/// Drops noise lines and photo credits, a caption repeated on the next line (both copies), and
/// `title` repeated at the top.
pub fn clean_lines(lines: &[String], title: Option<&str>) -> Vec<String> {
    let kept: Vec<&str> = lines
        .iter()
        .map(|l| without_credit(l.trim()))
        .filter(|l| !is_noise(l))
        .collect();
    let keys: Vec<String> = kept.iter().map(|l| caption_key(l)).collect();
    let title_key = title.map(caption_key);
    let mut out = Vec::with_capacity(kept.len());
    let mut i = 0;
    while i < kept.len() {
        // The same line twice in a row is an image's alt text and its caption: drop both.
        if i + 1 < kept.len() && keys[i] == keys[i + 1] && !kept[i].starts_with(ITEM_MARK) {
            i += 2;
            continue;
        }
        if out.is_empty() && title_key.as_deref() == Some(keys[i].as_str()) {
            i += 1;
            continue;
        }
        out.push(kept[i].to_owned());
        i += 1;
    }
    out
}

/// Splits cleaned main-text lines into lead and `■` items. Without items, the lead is the
/// first paragraph (an ordinary article's brief).
pub fn split(lines: &[String], title: Option<&str>) -> Split {
    let lines = clean_lines(lines, title);
    let first_item = lines.iter().position(|l| l.starts_with(ITEM_MARK));
    let lead_lines: Vec<&str> = lines[..first_item.unwrap_or(lines.len())]
        .iter()
        .map(String::as_str)
        .filter(|l| !is_transition(l))
        .collect();
    let lead = match first_item {
        Some(_) => lead_lines.join("\n"),
        // An ordinary article's first real paragraph: pages often open with a kicker or
        // subtitle line that is not one.
        None => lead_lines
            .iter()
            .find(|l| l.chars().count() >= MIN_LEAD_CHARS)
            .or(lead_lines.first())
            .map(|l| l.to_string())
            .unwrap_or_default(),
    };
    let mut briefs: Vec<Brief> = Vec::new();
    if let Some(start) = first_item {
        for line in &lines[start..] {
            if let Some(rest) = line.strip_prefix(ITEM_MARK) {
                briefs.push(Brief {
                    headline: rest.trim().to_owned(),
                    summary: String::new(),
                });
            } else if let Some(item) = briefs.last_mut()
                && !is_transition(line)
            {
                if !item.summary.is_empty() {
                    item.summary.push(' ');
                }
                item.summary.push_str(line);
            }
        }
    }
    briefs.retain(|b| !b.headline.is_empty());
    let text = lines
        .iter()
        .filter(|l| !is_transition(l))
        .cloned()
        .collect::<Vec<_>>()
        .join("\n");
    Split { lead, briefs, text }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn owned(lines: &[&str]) -> Vec<String> {
        lines.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn noise_lines_are_recognised() {
        for noise in [
            "AI타임스 news@aitimes.com",
            "홍길동 기자 hong@aitimes.com",
            "기사를 읽어드립니다",
            "Your browser does not support the audio element.",
            "0:00",
            "저작권자 © AI타임스 무단전재 및 재배포 금지",
            "2 COMMENTS",
            "LEAVE A REPLY",
            "Please enter your comment!",
            "Please enter your name here",
            "- Advertisement -",
            "입력 2020.08.27 20:27",
            "이용민 기자 | 2020-03-04 16:52:59",
            "2023.09.08",
            "▲4일 세종시청에서 성금 전달식이 열렸다. 왼쪽부터 이춘희 세종시장",
        ] {
            assert!(is_noise(noise), "{noise:?} should be noise");
        }
        for content in [
            "■ 삼성전자의 생성 AI 브랜드는 ‘가우스’",
            "중국도 그동안 칼을 갈며 반격을 준비해 왔습니다.",
            "GPT-4 수준에 근접했다는 분석도 등장했습니다.",
        ] {
            assert!(!is_noise(content), "{content:?} is content");
        }
    }

    #[test]
    fn only_the_photo_credit_is_dropped() {
        let lines = owned(&[
            "(사진=셔터스톡)",
            " (사진=앵귈라 정부 공식 브로셔)",
            "첫 문단입니다.",
            "이어 국내외 주요 뉴스입니다.",
            "■ 엔비디아, 새 칩 공개 (사진=엔비디아)",
            "엔비디아가 새 칩을 공개했습니다. (사진=엔비디아)",
            "■ 둘째 소식",
            "둘째 요약.",
        ]);
        let split = split(&lines, None);
        assert_eq!(split.lead, "첫 문단입니다.");
        assert_eq!(
            split.briefs,
            vec![
                Brief {
                    headline: "엔비디아, 새 칩 공개".into(),
                    summary: "엔비디아가 새 칩을 공개했습니다.".into()
                },
                Brief {
                    headline: "둘째 소식".into(),
                    summary: "둘째 요약.".into()
                },
            ]
        );
        assert!(!split.text.contains("사진="), "{}", split.text);
    }

    #[test]
    fn lead_items_and_doubled_captions_are_split() {
        let lines = owned(&[
            "제목",
            "첫 문단입니다.",
            "(사진=셔터스톡)",
            "둘째 문단입니다.",
            "이어 국내외 주요 뉴스입니다.",
            "솔트룩스가 'SAC 2023'를 공개하고 있다.",
            "솔트룩스가 ‘SAC 2023’를 공개하고 있다.",
            "■ 첫 소식",
            "첫 소식 요약.",
            "■ 둘째 소식",
            "둘째 요약 하나.",
            "둘째 요약 둘.",
            "AI타임스 news@aitimes.com",
        ]);
        let split = split(&lines, Some("제목"));
        assert_eq!(split.lead, "첫 문단입니다.\n둘째 문단입니다.");
        assert_eq!(
            split.briefs,
            vec![
                Brief {
                    headline: "첫 소식".into(),
                    summary: "첫 소식 요약.".into()
                },
                Brief {
                    headline: "둘째 소식".into(),
                    summary: "둘째 요약 하나. 둘째 요약 둘.".into()
                },
            ]
        );
        assert!(!split.text.contains("사진"));
        assert!(!split.text.contains("공개하고"));
        assert!(!split.text.contains("이어 국내외"));
    }

    #[test]
    fn an_article_without_items_leads_with_its_first_paragraph() {
        let first = "경기도 용인에 자리 잡은 민간 시험인증 전문기업이 14년째 규격 시험과 인증 한 우물만 파고 있다.";
        let kicker_first = split(&owned(&["㈜디지털이엠씨", first, "둘째 문단."]), None);
        assert_eq!(kicker_first.lead, first);
        let short = split(&owned(&["첫 문단.", "둘째 문단."]), None);
        assert_eq!(short.lead, "첫 문단.");
        assert!(short.briefs.is_empty());
        assert_eq!(short.text, "첫 문단.\n둘째 문단.");
    }
}
