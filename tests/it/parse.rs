//! Parsers on fixture pages.

use briefbot::domain::{CanonicalUrl, Format, Issue};
use briefbot::scrape::listing::parse_listing;
use briefbot::scrape::{charset, issue_from_page};
use chrono::{TimeZone, Utc};
use serde::Deserialize;
use url::Url;

use crate::support::{fixture, fixture_bytes, real_fixture, real_fixture_bytes};

#[derive(Deserialize)]
struct Expected {
    title: String,
    lead: Vec<String>,
    briefs: Vec<ExpectedBrief>,
}

#[derive(Deserialize)]
struct ExpectedBrief {
    headline: String,
    summary: String,
}

/// Everything README's Parsing calls noise.
const NOISE: &[&str] = &[
    "사진=",
    "news@aitimes.com",
    "기사를 읽어드립니다",
    "Your browser does not support the audio element",
    "0:00",
    "무단전재",
    "COMMENTS",
    "LEAVE A REPLY",
    "Please enter your comment",
    "Please enter your name here",
    "이어 국내외 주요 뉴스입니다",
];

fn parse(path: &str, url: &str, format: Format) -> Issue {
    let url = Url::parse(url).unwrap();
    issue_from_page(&fixture(path), &url, format, None).unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn assert_matches_expected(issue: &Issue, expected_path: &str) {
    let expected: Expected = serde_json::from_str(&fixture(expected_path)).unwrap();
    assert_eq!(issue.title, expected.title);
    assert_eq!(
        issue.lead,
        expected.lead.join("\n"),
        "lead of {expected_path}"
    );
    let headlines: Vec<&str> = issue.briefs.iter().map(|b| b.headline.as_str()).collect();
    let want: Vec<&str> = expected
        .briefs
        .iter()
        .map(|b| b.headline.as_str())
        .collect();
    assert_eq!(headlines, want, "headlines of {expected_path}");
    for (got, want) in issue.briefs.iter().zip(&expected.briefs) {
        assert_eq!(got.summary, want.summary, "summary of {}", want.headline);
    }
}

fn assert_no_noise(issue: &Issue) {
    let all = format!(
        "{}\n{}\n{}",
        issue.lead,
        issue.text,
        issue
            .briefs
            .iter()
            .map(|b| format!("{} {}", b.headline, b.summary))
            .collect::<Vec<_>>()
            .join("\n")
    );
    for noise in NOISE {
        assert!(
            !all.contains(noise),
            "noise {noise:?} survived in {}",
            issue.url
        );
    }
    // Captions shown as image alt and figcaption must not survive either.
    assert!(!all.contains("공개하고 있다"), "a doubled caption survived");
    assert!(
        !all.contains("행사에 참가했다"),
        "a doubled caption survived"
    );
}

#[test]
fn the_seed_issue_on_an_aitimes_page_splits_into_lead_and_its_eight_items() {
    let issue = parse(
        "aitimes/issue_seed.html",
        "https://www.aitimes.com/news/articleView.html?idxno=153427&utm_source=x",
        Format::Ndsoft,
    );
    assert_matches_expected(&issue, "aitimes/issue_seed.expected.json");
    assert_eq!(issue.briefs.len(), 8);
    assert_eq!(
        issue.url.as_str(),
        "https://www.aitimes.com/news/articleView.html?idxno=153427"
    );
    assert_eq!(
        issue.published_at,
        Some(Utc.with_ymd_and_hms(2023, 9, 7, 22, 0, 0).unwrap())
    );
    assert!(
        issue
            .lead
            .starts_with("미국이 인공지능(AI) 등 첨단 기술에 대한 중국 수출 제재에")
    );
    assert_no_noise(&issue);
}

#[test]
fn auto_recognises_the_aitimes_layout() {
    let issue = parse(
        "aitimes/issue_seed.html",
        "https://www.aitimes.com/news/articleView.html?idxno=153427",
        Format::Auto,
    );
    assert_matches_expected(&issue, "aitimes/issue_seed.expected.json");
}

#[test]
fn the_seed_issue_on_a_wordpress_tagdiv_page_gives_the_same_items() {
    let issue = parse(
        "wordpress/issue_seed.html",
        "https://example-news.kr/2023/09/08/china-fights-back/?utm_medium=social",
        Format::Wordpress,
    );
    assert_matches_expected(&issue, "wordpress/issue_seed.expected.json");
    assert_eq!(
        issue.url.as_str(),
        "https://example-news.kr/2023/09/08/china-fights-back/"
    );
    assert_no_noise(&issue);
    assert!(!issue.text.contains("Home"), "breadcrumb survived");
}

#[test]
fn every_synthetic_issue_page_matches_its_expected_split() {
    for idxno in [214199, 214145, 214100, 214043] {
        let issue = parse(
            &format!("aitimes/article_{idxno}.html"),
            &format!("https://www.aitimes.com/news/articleView.html?idxno={idxno}"),
            Format::Ndsoft,
        );
        assert_matches_expected(&issue, &format!("aitimes/article_{idxno}.expected.json"));
        assert_no_noise(&issue);
    }
}

#[test]
fn an_ordinary_article_is_an_issue_without_items() {
    let issue = parse(
        "aitimes/article_214018.html",
        "https://www.aitimes.com/news/articleView.html?idxno=214018",
        Format::Ndsoft,
    );
    assert!(issue.briefs.is_empty());
    assert!(
        issue
            .lead
            .starts_with("최근 AI 업계는 자율 에이전트의 잇따른 보안 사고로 몸살을 앓고 있다.")
    );
    assert!(!issue.text.contains("hong@aitimes.com"));
    assert!(issue.title.contains("퍼플티밍"));
}

fn kst_2026_08_22_noon() -> chrono::DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 8, 22, 3, 0, 0).unwrap()
}

#[test]
fn the_aitimes_list_page_yields_its_entries_with_resolved_links_and_dates() {
    let base = Url::parse(
        "https://www.aitimes.com/news/articleList.html?sc_sub_section_code=S2N110&view_type=sm",
    )
    .unwrap();
    let entries = parse_listing(
        &fixture("aitimes/list.html"),
        &base,
        Format::Ndsoft,
        kst_2026_08_22_noon(),
    )
    .unwrap();
    assert_eq!(entries.len(), 12);
    assert_eq!(
        entries[0]
            .url
            .as_str()
            .split("idxno=")
            .nth(1)
            .map(|s| s.len() >= 6),
        Some(true)
    );
    for e in &entries {
        assert!(
            e.url
                .as_str()
                .starts_with("https://www.aitimes.com/news/articleView.html?idxno="),
            "{}",
            e.url
        );
        assert!(e.published_at.is_some(), "no date for {}", e.title);
        assert!(!e.title.is_empty());
    }
    let source = briefbot::config::SourceConfig::aitimes_briefing();
    let briefings: Vec<&str> = entries
        .iter()
        .filter(|e| source.accepts_title(&e.title))
        .map(|e| e.url.as_str())
        .collect();
    assert_eq!(
        briefings,
        [214199, 214145, 214100, 214043]
            .map(|n| format!("https://www.aitimes.com/news/articleView.html?idxno={n}"))
    );
    let first = entries
        .iter()
        .find(|e| e.url.as_str().ends_with("214199"))
        .unwrap();
    assert_eq!(
        first.published_at,
        Some(Utc.with_ymd_and_hms(2026, 8, 21, 22, 0, 0).unwrap())
    );
    assert!(
        first
            .summary
            .as_deref()
            .unwrap_or_default()
            .starts_with("오픈AI가")
    );
}

#[test]
fn an_rss_feed_yields_items_with_korean_times_and_clean_links() {
    let base = Url::parse("https://www.aitimes.com/rss/allArticle.xml").unwrap();
    let entries = parse_listing(
        &fixture("rss/allArticle.xml"),
        &base,
        Format::Rss,
        Utc::now(),
    )
    .unwrap();
    assert_eq!(entries.len(), 8);
    let tracked = entries
        .iter()
        .find(|e| e.url.as_str().contains("214145"))
        .unwrap();
    assert_eq!(
        tracked.url.as_str(),
        "https://www.aitimes.com/news/articleView.html?idxno=214145"
    );
    assert_eq!(
        tracked.published_at,
        Some(Utc.with_ymd_and_hms(2026, 8, 20, 22, 0, 0).unwrap())
    );
    let rfc822 = entries
        .iter()
        .find(|e| e.url.as_str().contains("214199"))
        .unwrap();
    assert_eq!(
        rfc822.published_at,
        Some(Utc.with_ymd_and_hms(2026, 8, 21, 22, 0, 0).unwrap())
    );
    assert!(entries.iter().all(|e| e.summary.is_some()));
    // auto recognises a feed too
    let auto = parse_listing(
        &fixture("rss/allArticle.xml"),
        &base,
        Format::Auto,
        Utc::now(),
    )
    .unwrap();
    assert_eq!(auto, entries);
}

#[test]
fn an_atom_feed_yields_its_entries() {
    let base = Url::parse("https://example-news.kr/feed/atom/").unwrap();
    let entries = parse_listing(&fixture("atom/feed.xml"), &base, Format::Rss, Utc::now()).unwrap();
    assert_eq!(entries.len(), 3);
    assert_eq!(
        entries[0].url.as_str(),
        "https://example-news.kr/2023/09/08/china-fights-back/"
    );
    assert_eq!(
        entries[0].published_at,
        Some(Utc.with_ymd_and_hms(2023, 9, 8, 9, 12, 0).unwrap())
    );
}

#[test]
fn a_wordpress_category_page_yields_its_posts_and_not_its_menus() {
    let base = Url::parse("https://example-news.kr/category/ai/").unwrap();
    let entries = parse_listing(
        &fixture("wordpress/category.html"),
        &base,
        Format::Wordpress,
        Utc::now(),
    )
    .unwrap();
    assert_eq!(entries.len(), 6, "{entries:#?}");
    let seed =
        CanonicalUrl::parse("https://example-news.kr/2023/09/08/china-fights-back/").unwrap();
    let first = &entries[0];
    assert_eq!(first.url, seed);
    assert_eq!(first.title, "기술 제재 1년…반격에 나선 중국");
    assert_eq!(
        first.published_at,
        Some(Utc.with_ymd_and_hms(2023, 9, 8, 9, 12, 0).unwrap())
    );
    assert!(
        entries
            .iter()
            .all(|e| e.published_at.is_some() && e.summary.is_some())
    );
}

/// Real tagDiv pages: (file, title start, a sentence of the body, strings that must be gone).
const TAGDIV: &[(&str, &str, &str)] = &[
    (
        "tagdiv_newspaper10_caymancompass_prison.html",
        "Prison official: ‘Anyone’ could escape from Northward",
        "A senior prison official has said in a sworn affidavit",
    ),
    (
        "tagdiv_newspaper11_tdb_stluciatimes_dea.html",
        "DEA Officials Arrest BVI Premier On Drug Charges",
        "He also urged calm and patience",
    ),
    (
        "tagdiv_newspaper12_lokalo_weinbergsbahnen.html",
        "Weinbergsbahnen in Erden nicht manipuliert",
        "Wie der SWR berichtet, wurden die Defekte in Erden nicht",
    ),
    (
        "tagdiv_newspaper_de_gutentach_sperrung.html",
        "DGB: Brückensperrung belegt die Versäumnisse der letzten Jahre",
        "Die DGB-Regionen Südwestfalen, Mittelhessen",
    ),
    ("tagdiv_newspaper_ukbdnews_23646.html", "এমপির", "(এমপি)"),
];

#[test]
fn real_tagdiv_pages_give_title_and_body_without_comment_forms_or_menus() {
    for (file, title, body) in TAGDIV {
        let url = Url::parse("https://news.example/post/").unwrap();
        let issue = issue_from_page(&real_fixture(file), &url, Format::Wordpress, None)
            .unwrap_or_else(|e| panic!("{file}: {e}"));
        assert!(
            issue.title.starts_with(title),
            "{file}: title {:?}",
            issue.title
        );
        assert!(
            issue.text.contains(body),
            "{file}: body not found in {:?}",
            issue.text
        );
        assert!(!issue.lead.is_empty(), "{file}: no lead");
        for gone in [
            "LEAVE A REPLY",
            "Please enter your comment",
            "Please enter your name here",
            "Kommentar",
            "Advertisement",
            "Home",
            "Facebook",
            "Twitter",
            "WhatsApp",
            "Save my name",
        ] {
            assert!(!issue.text.contains(gone), "{file}: {gone:?} survived");
        }
    }
}

#[test]
fn real_korean_pages_keep_their_hangul() {
    let cases = [
        (
            "korean_chosun_2020082704301.html",
            "노경은",
            "롯데 자이언츠 베테랑 투수 노경은이 무너졌다",
        ),
        (
            "korean_naver_news_607.html",
            "해외 입양 비즈니스",
            "한국은 자국 아이를 해외로 가장 오래, 가장 많이 입양 보낸 국가입니다",
        ),
        (
            "korean_donga_2013_article.html",
            "초일류 시험인증 기업",
            "경기도 용인에 자리 잡은 민간 시험인증 전문기업",
        ),
    ];
    for (file, title, body) in cases {
        let text = charset::decode(&real_fixture_bytes(file), None, Some(b"kr"));
        let url = Url::parse("https://news.example/article/1").unwrap();
        let issue = issue_from_page(&text, &url, Format::Auto, None)
            .unwrap_or_else(|e| panic!("{file}: {e}"));
        assert!(
            issue.title.contains(title),
            "{file}: title {:?}",
            issue.title
        );
        assert!(
            issue.text.contains(body),
            "{file}: {:?}",
            &issue.text[..issue.text.len().min(300)]
        );
        assert!(
            !issue.text.contains('\u{fffd}'),
            "{file}: replacement characters"
        );
        assert!(issue.briefs.is_empty());
    }
}

#[test]
fn the_donga_page_extracts_what_goose3_expects() {
    #[derive(Deserialize)]
    struct Goose {
        expected: GooseExpected,
    }
    #[derive(Deserialize)]
    struct GooseExpected {
        cleaned_text: String,
    }
    let goose: Goose =
        serde_json::from_str(&real_fixture("korean_donga_2013_article.expected.json")).unwrap();
    let text = charset::decode(
        &real_fixture_bytes("korean_donga_2013_article.html"),
        None,
        Some(b"kr"),
    );
    let url = Url::parse("https://news.donga.com/3/all/20131023/58406128/1").unwrap();
    let issue = issue_from_page(&text, &url, Format::Auto, None).unwrap();
    let squash = |s: &str| s.chars().filter(|c| !c.is_whitespace()).collect::<String>();
    let ours = squash(&issue.text);
    // goose3's text is a prefix-truncated rendering; every sentence of it must be in ours.
    let sentences: Vec<&str> = goose
        .expected
        .cleaned_text
        .split(['.', '”'])
        .filter(|s| s.trim().chars().count() > 10 && !s.contains('@')) // bylines are noise to us
        .collect();
    assert!(sentences.len() > 5);
    for s in sentences {
        assert!(ours.contains(&squash(s)), "missing: {s}");
    }
}

#[test]
fn a_page_declaring_euc_kr_but_sending_utf8_reads_right() {
    let bytes = real_fixture_bytes("korean_daejonilbo_mobile_1412361.html");
    // The server and the page both claim EUC-KR.
    let text = charset::decode(&bytes, Some("text/html; charset=euc-kr"), Some(b"com"));
    let url = Url::parse("http://m.daejonilbo.com/mnews.asp?pk_no=1412361").unwrap();
    let issue = issue_from_page(&text, &url, Format::Auto, None).unwrap();
    assert_eq!(issue.title, "코로나19 극복 성금 기탁 줄 잇는다");
    assert!(issue.text.contains("성금"), "{}", issue.text);
    assert!(!issue.text.contains('\u{fffd}'));
}

#[test]
fn euc_kr_pages_decode_with_and_without_a_declaration() {
    #[derive(Deserialize)]
    struct Want {
        title: String,
        paragraphs: Vec<String>,
    }
    let want: Want = serde_json::from_str(&fixture("euckr/expected.json")).unwrap();
    for file in [
        "euckr/article_euckr.html",
        "euckr/article_euckr_nodecl.html",
    ] {
        let bytes = fixture_bytes(file);
        assert!(
            std::str::from_utf8(&bytes).is_err(),
            "{file} should be EUC-KR bytes"
        );
        let text = charset::decode(&bytes, Some("text/html"), Some(b"kr"));
        let url = Url::parse("https://news.example.kr/a/1").unwrap();
        let issue = issue_from_page(&text, &url, Format::Auto, None).unwrap();
        assert_eq!(issue.title, want.title, "{file}");
        assert_eq!(issue.lead, want.paragraphs[0], "{file}");
        for p in &want.paragraphs {
            assert!(issue.text.contains(p.as_str()), "{file}: missing {p}");
        }
    }
}

#[test]
fn a_page_without_article_text_is_an_error_not_an_empty_issue() {
    let url = Url::parse("https://news.example/x").unwrap();
    for garbage in [
        "",
        "\u{0}\u{1}\u{2}",
        "<html><body><nav><a href='/'>Home</a></nav></body></html>",
    ] {
        assert!(
            issue_from_page(garbage, &url, Format::Auto, None).is_err(),
            "{garbage:?}"
        );
    }
}

/// The nesting cap (`scrape::tame`) must never touch a real page: every HTML fixture, ours and
/// the real third-party ones, comes out of it borrowed, byte for byte.
#[test]
fn the_nesting_cap_leaves_every_real_page_alone() {
    let mut checked = 0;
    let mut deepest = 0;
    for dir in ["aitimes", "wordpress", "euckr", "real", "seed"] {
        let path = crate::support::fixture_path(dir);
        for entry in std::fs::read_dir(&path).unwrap() {
            let path = entry.unwrap().path();
            if path.extension().is_none_or(|e| e != "html") {
                continue;
            }
            let bytes = std::fs::read(&path).unwrap();
            let text = briefbot::scrape::charset::decode(&bytes, None, Some(b"kr"));
            deepest = deepest.max(briefbot::scrape::tame::depth(&text));
            assert!(
                matches!(
                    briefbot::scrape::tame::tame(&text),
                    std::borrow::Cow::Borrowed(_)
                ),
                "{} was changed",
                path.display()
            );
            checked += 1;
        }
    }
    assert!(checked >= 15, "only {checked} pages found");
    assert!(
        deepest <= briefbot::scrape::tame::MAX_DEPTH / 2,
        "a real page nests {deepest} deep: the cap is too close"
    );
    eprintln!("deepest fixture page: {deepest}");
}

/// Pages shaped to make parsers quadratic (issue 10 item 7: 10,000 nested `<div>`s took 77 s)
/// parse within the budget, to the text they hold, through the same call the scraper makes.
#[tokio::test]
async fn pathological_shapes_parse_within_the_budget() {
    let para = "<p>인공지능 업계의 새 소식입니다. 모델이 공개됐습니다.</p>";
    let shapes = [
        (
            "nested divs",
            format!(
                "{}{para}{}",
                "<div>".repeat(20_000),
                "</div>".repeat(20_000)
            ),
        ),
        (
            "unclosed spans",
            format!("{}{para}", "<span>".repeat(20_000)),
        ),
        (
            "nested tables",
            format!("{}{para}", "<table><tr><td>".repeat(5_000)),
        ),
        (
            "formatting elements reopened by each paragraph",
            format!(
                "{}{}",
                (0..2_000)
                    .map(|i| format!("<b id=b{i}>"))
                    .collect::<String>(),
                para.repeat(2_000)
            ),
        ),
        (
            "an NDSoft body nested deep",
            format!(
                "<article id=\"article-view-content-div\">{}{para}{}</article>",
                "<div>".repeat(20_000),
                "</div>".repeat(20_000)
            ),
        ),
    ];
    for (what, body) in shapes {
        let html = format!("<html><head><title>제목</title></head><body>{body}</body></html>");
        for format in [Format::Auto, Format::Ndsoft, Format::Wordpress] {
            let started = std::time::Instant::now();
            let parsed = briefbot::scrape::parse_issue(
                html.clone(),
                Url::parse("https://example.com/a").unwrap(),
                format,
                None,
            )
            .await;
            let issue = match parsed {
                Ok(issue) => issue,
                // 2,000 open <b>s around every paragraph is no article to Readability: an
                // answer, not a stall.
                Err(briefbot::scrape::article::ParseError::NoText)
                    if what.starts_with("formatting") =>
                {
                    continue;
                }
                Err(e) => panic!("{what} ({format}): {e} after {:?}", started.elapsed()),
            };
            assert!(
                issue.text.contains("모델이 공개됐습니다"),
                "{what} ({format}): {}",
                issue.text
            );
        }
    }
}
