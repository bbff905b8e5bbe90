//! The scraper against a fake news site on 127.0.0.1, storing into a real database (SQLite, or
//! PostgreSQL when the suite runs on it).

use std::time::Duration;

use briefbot::config::SourceConfig;
use briefbot::domain::{CanonicalUrl, Format, SourceId};
use briefbot::scrape::fetch::{FetchError, Fetched, Fetcher};
use briefbot::scrape::{ScrapeError, issue_from_page};
use briefbot::store::{Recorded, SourcePage, Store};

use crate::support::{
    Behaviour, FakeSite, TestDb, fixture, fixture_bytes, real_fixture_bytes, scraper, test_limits,
};

const LIST: &str = "/news/articleList.html?sc_sub_section_code=S2N110&view_type=sm";
const ISSUES: [u32; 4] = [214199, 214145, 214100, 214043];

fn article(idxno: u32) -> String {
    format!("/news/articleView.html?idxno={idxno}")
}

/// An AI Times look-alike: the 뉴스 브리핑 list page and its four issues.
async fn aitimes_site() -> FakeSite {
    let site = FakeSite::start().await;
    site.serve_fixture(LIST, "aitimes/list.html");
    for idxno in ISSUES {
        site.serve_fixture(&article(idxno), &format!("aitimes/article_{idxno}.html"));
    }
    site
}

fn aitimes_source(site: &FakeSite) -> SourceConfig {
    SourceConfig {
        list_url: site.url(LIST),
        ..SourceConfig::aitimes_briefing()
    }
}

fn source(id: &str, list_url: url::Url, format: Format) -> SourceConfig {
    SourceConfig {
        id: SourceId::parse(id).unwrap(),
        name: id.to_owned(),
        list_url,
        format,
        poll_every: Duration::from_secs(600),
        title_filter: None,
        allow_private: false,
    }
}

async fn stored_count(store: &Store) -> usize {
    store.latest(100, None).await.unwrap().len()
}

#[tokio::test]
async fn a_first_scrape_stores_the_briefing_issues_oldest_first() {
    let site = aitimes_site().await;
    let db = TestDb::new();
    let scraper = scraper(db.store().await);

    let report = scraper
        .scrape_source(&aitimes_source(&site), false)
        .await
        .unwrap();

    let urls: Vec<String> = report
        .issues
        .iter()
        .map(|s| s.issue.url.to_string())
        .collect();
    let want: Vec<String> = ISSUES
        .iter()
        .rev()
        .map(|n| site.url(&article(*n)).to_string())
        .collect();
    assert_eq!(urls, want, "stored oldest first");
    assert!(
        report
            .issues
            .iter()
            .all(|s| s.duplicate_of.is_none() && s.id.is_some())
    );
    assert!(report.entry_errors.is_empty());

    let latest = scraper
        .store()
        .latest(10, Some("aitimes-briefing"))
        .await
        .unwrap();
    let counts: Vec<usize> = latest.iter().map(|i| i.briefs.len()).collect();
    assert_eq!(counts, [6, 7, 5, 6], "newest first, with every item");
    assert!(latest[0].title.starts_with("[8월21일]"));
    assert!(latest[0].published_at.is_some());
    // The ordinary articles on the list are not issues of this source.
    assert_eq!(site.hits(&article(214018)), 0);
}

/// PostgreSQL's text cannot hold NUL: a page with NUL bytes in it (between tags and inside a
/// brief's text) is stored, split and searchable on both backends, the NULs dropped as an HTML
/// parser ignores them.
#[tokio::test]
async fn a_page_with_nul_bytes_is_stored_on_either_backend() {
    let site = FakeSite::start().await;
    let page = fixture("aitimes/article_214199.html")
        .replacen("<body", "\0<body", 1)
        .replace("■", "\0■\0");
    site.serve_bytes(
        &article(214199),
        page.into_bytes(),
        "text/html; charset=utf-8",
    );
    let list = fixture("aitimes/list.html").replace(
        "https://www.aitimes.com",
        site.base.as_str().trim_end_matches('/'),
    );
    site.serve_bytes(LIST, list.into_bytes(), "text/html; charset=utf-8");
    let db = TestDb::new();
    let scraper = scraper(db.store().await);
    let report = scraper
        .scrape_source(&aitimes_source(&site), false)
        .await
        .unwrap();
    let stored: Vec<_> = report.issues.iter().filter(|s| s.id.is_some()).collect();
    assert_eq!(stored.len(), 1, "{:?}", report.issues);
    let issue = scraper
        .store()
        .issue(stored[0].id.unwrap())
        .await
        .unwrap()
        .unwrap();
    assert!(!issue.briefs.is_empty());
    assert!(
        issue
            .briefs
            .iter()
            .all(|b| !b.headline.contains('\0') && !b.summary.contains('\0'))
    );
    let first_word = issue.briefs[0]
        .headline
        .split_whitespace()
        .next()
        .unwrap()
        .to_owned();
    assert!(
        !scraper
            .store()
            .search(&first_word, None, 5, 0)
            .await
            .unwrap()
            .is_empty()
    );
}

#[tokio::test]
async fn a_brief_repeated_in_a_later_issue_joins_the_earlier_story() {
    let site = aitimes_site().await;
    let db = TestDb::new();
    let scraper = scraper(db.store().await);
    let report = scraper
        .scrape_source(&aitimes_source(&site), false)
        .await
        .unwrap();
    let id_of = |n: u32| {
        report
            .issues
            .iter()
            .find(|s| s.issue.url.as_str().ends_with(&n.to_string()))
            .and_then(|s| s.id)
            .unwrap()
    };
    let earlier = scraper.store().brief_rows(id_of(214145)).await.unwrap();
    let later = scraper.store().brief_rows(id_of(214199)).await.unwrap();
    let (first_id, first_story, _) = &earlier[0];
    assert_eq!(first_story, first_id, "the first telling starts the story");
    assert_eq!(
        later[2].1, *first_id,
        "214199 item 3 repeats 214145 item 1: {:?}",
        later[2]
    );
    let own_stories = later.iter().filter(|(id, story, _)| id == story).count();
    assert_eq!(
        own_stories,
        later.len() - 1,
        "the other items are new stories"
    );
}

#[tokio::test]
async fn a_second_scrape_finds_nothing_new_and_costs_a_304() {
    let site = aitimes_site().await;
    let db = TestDb::new();
    let scraper = scraper(db.store().await);
    let source = aitimes_source(&site);
    scraper.scrape_source(&source, false).await.unwrap();

    let again = scraper.scrape_source(&source, false).await.unwrap();

    assert!(again.not_modified);
    assert!(again.issues.is_empty());
    assert_eq!(site.not_modified(LIST), 1);
    for n in ISSUES {
        assert_eq!(site.hits(&article(n)), 1, "issue {n} fetched once");
    }
    assert_eq!(stored_count(scraper.store()).await, 4);
}

#[tokio::test]
async fn validators_survive_a_restart() {
    let site = aitimes_site().await;
    let db = TestDb::new();
    scraper(db.store().await)
        .scrape_source(&aitimes_source(&site), false)
        .await
        .unwrap();

    // A new process on the same database file.
    let again = scraper(db.store().await)
        .scrape_source(&aitimes_source(&site), false)
        .await
        .unwrap();

    assert!(again.not_modified);
    assert_eq!(site.not_modified(LIST), 1);
}

/// The list page with extra entries spliced in at the top.
fn list_with_extra_entries(site: &FakeSite, entries: &[(&str, &str)]) -> String {
    let base = site.base.as_str().trim_end_matches('/');
    let list = fixture("aitimes/list.html").replace("https://www.aitimes.com", base);
    let items: String = entries
        .iter()
        .map(|(href, title)| {
            format!(
                "<li><h4 class=\"titles\"><a href=\"{href}\">{title}</a></h4><p class=\"lead line-x2\"><a href=\"{href}\">요약</a></p><span class=\"byline\"><em>기자</em> <em>08-22 07:00</em></span></li>"
            )
        })
        .collect();
    let marker = "<ul class=\"type1\">";
    let at = list.find(marker).expect("the list has entries") + marker.len();
    format!("{}{}{}", &list[..at], items, &list[at..])
}

#[tokio::test]
async fn an_issue_relisted_with_tracking_parameters_or_a_new_idxno_is_not_new() {
    let site = aitimes_site().await;
    let db = TestDb::new();
    let scraper = scraper(db.store().await);
    let source = aitimes_source(&site);
    scraper.scrape_source(&source, false).await.unwrap();

    // The site re-lists 214199 with tracking parameters and republishes it as idxno 300001.
    let tracked = "/news/articleView.html?idxno=214199&utm_source=newsletter&utm_medium=email#top";
    site.serve_fixture(&article(300001), "aitimes/article_214199.html");
    let list = list_with_extra_entries(
        &site,
        &[
            (tracked, "[8월21일] 오픈AI가 ‘컴퓨터 유즈’에 보인 자신감"),
            (
                &article(300001),
                "[8월22일] 오픈AI가 ‘컴퓨터 유즈’에 보인 자신감 (재게시)",
            ),
        ],
    );
    site.serve_bytes(LIST, list.into_bytes(), "text/html; charset=utf-8");

    let report = scraper.scrape_source(&source, false).await.unwrap();

    assert_eq!(
        site.hits(&article(214199)),
        1,
        "the tracked link is the known URL: not fetched"
    );
    assert_eq!(report.issues.len(), 1, "only the new idxno was fetched");
    let republished = &report.issues[0];
    assert_eq!(
        republished.duplicate_of,
        Some(CanonicalUrl::from_url(site.url(&article(214199))).unwrap())
    );
    assert_eq!(stored_count(scraper.store()).await, 4, "nothing new stored");
    // And the new address is now known, so it is not fetched again.
    let known = CanonicalUrl::from_url(site.url(&article(300001))).unwrap();
    assert_eq!(
        scraper.store().issue_for_url(&known).await.unwrap(),
        republished.id
    );
    scraper.scrape_source(&source, false).await.unwrap();
    assert_eq!(site.hits(&article(300001)), 1);
}

/// A one-item RSS feed pointing at `link`.
fn feed(title: &str, link: &url::Url) -> Vec<u8> {
    format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?><rss version=\"2.0\"><channel><title>t</title><link>{link}</link><description>d</description>\
         <item><title>{title}</title><link>{link}</link><description>요약</description><pubDate>2023-09-08 07:00:00</pubDate></item></channel></rss>"
    )
    .into_bytes()
}

#[tokio::test]
async fn an_issue_republished_by_another_source_is_a_duplicate() {
    let site = FakeSite::start().await;
    site.serve_fixture(
        "/news/articleView.html?idxno=153427",
        "aitimes/issue_seed.html",
    );
    site.serve_fixture(
        "/2023/09/08/china-fights-back/",
        "wordpress/issue_seed.html",
    );
    site.serve_bytes(
        "/aitimes.xml",
        feed(
            "[9월8일] 기술 제재 1년…반격에 나선 중국",
            &site.url("/news/articleView.html?idxno=153427"),
        ),
        "application/rss+xml",
    );
    site.serve_bytes(
        "/wp.xml",
        feed(
            "기술 제재 1년…반격에 나선 중국",
            &site.url("/2023/09/08/china-fights-back/"),
        ),
        "application/rss+xml",
    );
    let db = TestDb::new();
    let scraper = scraper(db.store().await);

    let first = scraper
        .scrape_source(
            &source("aitimes", site.url("/aitimes.xml"), Format::Rss),
            false,
        )
        .await
        .unwrap();
    let second = scraper
        .scrape_source(
            &source("republisher", site.url("/wp.xml"), Format::Rss),
            false,
        )
        .await
        .unwrap();

    assert_eq!(first.issues.len(), 1);
    assert_eq!(first.issues[0].issue.briefs.len(), 8);
    assert_eq!(second.issues.len(), 1);
    assert_eq!(
        second.issues[0].duplicate_of.as_ref(),
        Some(&first.issues[0].issue.url)
    );
    assert_eq!(stored_count(scraper.store()).await, 1);
}

#[tokio::test]
async fn a_slightly_edited_copy_is_recognised_by_its_text() {
    let site = FakeSite::start().await;
    let original = fixture("aitimes/article_214100.html");
    // Another site copies the issue, drops one item's last sentence and retitles it.
    let expected: serde_json::Value =
        serde_json::from_str(&fixture("aitimes/article_214100.expected.json")).unwrap();
    let summary = expected["briefs"][1]["summary"].as_str().unwrap();
    let last_sentence = summary
        .rsplit_once(". ")
        .map(|(_, tail)| tail)
        .unwrap_or(summary);
    let edited = original
        .replace(last_sentence, "")
        .replace("[8월19일]", "[AI 브리핑]");
    assert_ne!(edited, original);
    site.serve_bytes(
        "/a/issue",
        original.into_bytes(),
        "text/html; charset=utf-8",
    );
    site.serve_bytes("/b/issue", edited.into_bytes(), "text/html; charset=utf-8");
    site.serve_bytes(
        "/a.xml",
        feed("원본", &site.url("/a/issue")),
        "application/rss+xml",
    );
    site.serve_bytes(
        "/b.xml",
        feed("사본", &site.url("/b/issue")),
        "application/rss+xml",
    );
    let db = TestDb::new();
    let scraper = scraper(db.store().await);

    scraper
        .scrape_source(&source("a", site.url("/a.xml"), Format::Rss), false)
        .await
        .unwrap();
    let copy = scraper
        .scrape_source(&source("b", site.url("/b.xml"), Format::Rss), false)
        .await
        .unwrap();

    assert_eq!(copy.issues.len(), 1);
    assert_eq!(
        copy.issues[0]
            .duplicate_of
            .as_ref()
            .map(|u| u.as_str().ends_with("/a/issue")),
        Some(true)
    );
}

#[tokio::test]
async fn a_failing_source_is_reported_and_the_others_still_scrape() {
    let site = aitimes_site().await;
    site.misbehave("/broken", Behaviour::Status(500));
    site.serve_bytes(
        "/garbage",
        (0..=255u8).cycle().take(10_000).collect(),
        "text/html",
    );
    let db = TestDb::new();
    let scraper = scraper(db.store().await);
    let broken = source("broken", site.url("/broken"), Format::Ndsoft);
    let garbage = source("garbage", site.url("/garbage"), Format::Auto);
    let good = aitimes_source(&site);

    let results = [
        scraper.scrape_source(&broken, false).await,
        scraper.scrape_source(&garbage, false).await,
        scraper.scrape_source(&good, false).await,
    ];

    assert!(
        matches!(&results[0], Err(ScrapeError::Fetch(FetchError::Status { status, .. })) if status.as_u16() == 500)
    );
    assert!(
        matches!(&results[1], Err(ScrapeError::Listing { .. })),
        "{:?}",
        results[1]
    );
    assert_eq!(results[2].as_ref().unwrap().issues.len(), 4);

    let states = scraper.store().source_states().await.unwrap();
    let state = |id: &str| states.iter().find(|s| s.id == id).unwrap().clone();
    assert!(state("broken").last_error.unwrap().contains("500"));
    assert_eq!(state("broken").consecutive_failures, 1);
    assert!(state("garbage").last_error.is_some());
    assert!(state("aitimes-briefing").last_success_at.is_some());
    assert_eq!(state("aitimes-briefing").issues, 4);
}

#[tokio::test]
async fn an_issue_page_that_fails_is_retried_on_the_next_pass() {
    let site = aitimes_site().await;
    site.misbehave(&article(214100), Behaviour::Status(503));
    let db = TestDb::new();
    let scraper = scraper(db.store().await);
    let source = aitimes_source(&site);

    let first = scraper.scrape_source(&source, false).await.unwrap();
    assert_eq!(first.issues.len(), 3);
    assert_eq!(first.entry_errors.len(), 1);
    assert!(first.entry_errors[0].contains("503"));

    site.serve_fixture(&article(214100), "aitimes/article_214100.html");
    let second = scraper.scrape_source(&source, false).await.unwrap();

    assert!(
        !second.not_modified,
        "the list must be read again while an entry is pending"
    );
    assert_eq!(second.issues.len(), 1);
    assert!(second.issues[0].issue.url.as_str().ends_with("214100"));
    assert_eq!(stored_count(scraper.store()).await, 4);
}

#[tokio::test]
async fn endless_bodies_redirect_loops_and_stalls_are_cut_off() {
    let site = FakeSite::start().await;
    site.misbehave("/endless", Behaviour::Endless);
    site.misbehave("/loop", Behaviour::RedirectLoop);
    site.misbehave("/stall", Behaviour::Stall(Duration::from_secs(30)));
    let fetcher = Fetcher::new(test_limits()).unwrap().allowing_private(true);

    let started = std::time::Instant::now();
    let endless = fetcher.get(&site.url("/endless"), None).await;
    assert!(
        matches!(endless, Err(FetchError::TooLarge { .. })),
        "{endless:?}"
    );
    let looped = fetcher.get(&site.url("/loop"), None).await;
    assert!(
        matches!(looped, Err(FetchError::Redirects { .. })),
        "{looped:?}"
    );
    let stalled = fetcher.get(&site.url("/stall"), None).await;
    assert!(
        matches!(stalled, Err(FetchError::Timeout { .. })),
        "{stalled:?}"
    );
    assert!(started.elapsed() < Duration::from_secs(15));
    let ftp = fetcher
        .get(&url::Url::parse("ftp://127.0.0.1/x").unwrap(), None)
        .await;
    assert!(matches!(ftp, Err(FetchError::Scheme(_))));
}

#[tokio::test]
async fn korean_charsets_are_decoded_from_the_wire() {
    let site = FakeSite::start().await;
    site.serve_bytes(
        "/euckr-header",
        fixture_bytes("euckr/article_euckr_nodecl.html"),
        "text/html; charset=EUC-KR",
    );
    site.serve_bytes(
        "/euckr-sniffed",
        fixture_bytes("euckr/article_euckr_nodecl.html"),
        "text/html",
    );
    site.serve_bytes(
        "/mismatch",
        real_fixture_bytes("korean_daejonilbo_mobile_1412361.html"),
        "text/html; charset=euc-kr",
    );
    let fetcher = Fetcher::new(test_limits()).unwrap().allowing_private(true);
    let page = |path: &'static str| {
        let fetcher = fetcher.clone();
        let url = site.url(path);
        async move {
            match fetcher.get(&url, None).await.unwrap() {
                Fetched::Page(p) => p,
                Fetched::NotModified => panic!("unexpected 304"),
            }
        }
    };
    for path in ["/euckr-header", "/euckr-sniffed"] {
        let p = page(path).await;
        let issue = issue_from_page(&p.text, &p.url, Format::Auto, None).unwrap();
        assert_eq!(
            issue.title, "인공지능 반도체 수출 규제, 국내 업계 영향은",
            "{path}"
        );
    }
    let p = page("/mismatch").await;
    assert!(p.text.contains("코로나19 극복 성금 기탁 줄 잇는다"));
    assert!(!p.text.contains('\u{fffd}'));
}

#[tokio::test]
async fn a_dry_run_stores_nothing_but_still_spots_duplicates() {
    let site = aitimes_site().await;
    let db = TestDb::new();
    let scraper = scraper(db.store().await);
    let source = aitimes_source(&site);

    let dry = scraper.scrape_source(&source, true).await.unwrap();
    assert_eq!(dry.issues.len(), 4);
    assert!(
        dry.issues
            .iter()
            .all(|s| s.id.is_none() && s.duplicate_of.is_none())
    );
    assert_eq!(stored_count(scraper.store()).await, 0);
    assert!(scraper.store().source_states().await.unwrap().is_empty());

    scraper.scrape_source(&source, false).await.unwrap();
    site.serve_fixture(&article(300002), "aitimes/article_214043.html");
    let list = list_with_extra_entries(&site, &[(&article(300002), "[8월23일] 재게시")]);
    site.serve_bytes(LIST, list.into_bytes(), "text/html; charset=utf-8");
    let dry = scraper.scrape_source(&source, true).await.unwrap();
    assert_eq!(dry.issues.len(), 1);
    assert!(
        dry.issues[0]
            .duplicate_of
            .as_ref()
            .unwrap()
            .as_str()
            .ends_with("214043")
    );
    assert_eq!(stored_count(scraper.store()).await, 4);
}

#[tokio::test]
async fn an_rss_source_scrapes_the_pages_its_items_link() {
    let site = aitimes_site().await;
    site.serve_fixture("/rss/allArticle.xml", "rss/allArticle.xml");
    let db = TestDb::new();
    let scraper = scraper(db.store().await);
    let rss = SourceConfig {
        id: SourceId::parse("aitimes-rss").unwrap(),
        list_url: site.url("/rss/allArticle.xml"),
        format: Format::Rss,
        ..SourceConfig::aitimes_briefing()
    };

    let report = scraper.scrape_source(&rss, false).await.unwrap();

    assert_eq!(report.issues.len(), 4, "{:?}", report.entry_errors);
    assert!(report.issues.iter().all(|s| !s.issue.briefs.is_empty()));
    assert_eq!(
        site.hits(&article(214145)),
        1,
        "the tracking parameters were dropped before fetching"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_sources_recording_the_same_issue_at_once_store_it_once() {
    let url =
        url::Url::parse("https://www.aitimes.com/news/articleView.html?idxno=153427").unwrap();
    let issue = issue_from_page(
        &fixture("aitimes/issue_seed.html"),
        &url,
        Format::Ndsoft,
        None,
    )
    .unwrap();
    let mut copy = issue.clone();
    copy.url = CanonicalUrl::parse("https://mirror.example/2023/09/08/").unwrap();
    let page = SourcePage {
        url: "https://example/",
        html: "",
        format: "ndsoft",
    };
    let (a, b) = (SourceId::parse("a").unwrap(), SourceId::parse("b").unwrap());

    for round in 0..5 {
        let db = TestDb::new();
        let store = db.store().await;
        let (x, y) = tokio::join!(
            store.record_issue(&a, &issue, &[], &page),
            store.record_issue(&b, &copy, &[], &page)
        );
        let results = [x.unwrap(), y.unwrap()];
        let new = results
            .iter()
            .filter(|r| matches!(r, Recorded::New { .. }))
            .count();
        assert_eq!(new, 1, "round {round}: {results:?}");
        assert_eq!(stored_count(&store).await, 1);
    }
}

#[tokio::test]
async fn an_entry_that_keeps_failing_backs_off_alone_and_is_given_up_without_slowing_its_source() {
    let site = aitimes_site().await;
    site.misbehave(&article(214100), Behaviour::Status(404));
    let db = TestDb::new();
    let scraper = scraper(db.store().await);
    let store = scraper.store().clone();
    let source = aitimes_source(&site); // polled every 10 minutes
    let url = briefbot::domain::CanonicalUrl::parse(site.url(&article(214100)).as_str())
        .unwrap()
        .to_string();
    let url = url.as_str();

    // First failure: tried again on the next pass; a second failure: it waits 10 minutes.
    scraper.scrape_source(&source, false).await.unwrap();
    scraper.scrape_source(&source, false).await.unwrap();
    assert_eq!(site.hits(&article(214100)), 2);
    let third = scraper.scrape_source(&source, false).await.unwrap();
    assert_eq!(
        site.hits(&article(214100)),
        2,
        "waiting for its own next try"
    );
    assert!(
        third.entry_errors.is_empty() && !third.not_modified,
        "the list is still read in full"
    );
    // The source itself is healthy: no source backoff, no error shown for it.
    let state = store.source_states().await.unwrap().remove(0);
    assert_eq!(state.consecutive_failures, 0);
    assert_eq!(
        briefbot::schedule::poll_once(&scraper, &source, Default::default())
            .await
            .failures,
        0,
        "the scheduler keeps the source's own interval"
    );

    // After the limit the entry is given up: never fetched again, and the list's validators
    // are kept again (the next pass is a 304).
    let failure = store.entry_failure(url).await.unwrap().unwrap();
    for _ in failure.failures..briefbot::store::outbox::MAX_ENTRY_FAILURES {
        store
            .record_entry_failure(
                "aitimes-briefing",
                url,
                "[8월19일] …",
                "404",
                source.poll_every,
                briefbot::store::now(),
            )
            .await
            .unwrap();
    }
    let given_up = store.given_up_entries().await.unwrap();
    assert_eq!(given_up.len(), 1);
    assert_eq!(given_up[0].url, url);
    scraper.scrape_source(&source, false).await.unwrap();
    let after = scraper.scrape_source(&source, false).await.unwrap();
    assert!(
        after.not_modified,
        "validators saved once nothing waits for a retry"
    );
    assert_eq!(site.hits(&article(214100)), 2);
    assert_eq!(stored_count(&store).await, 3);
}
