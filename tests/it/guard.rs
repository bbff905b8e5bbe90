//! Scraped links and redirects reach only public addresses (SPEC §6, issue 10 item 4).
//!
//! No test here sends a packet outside 127.0.0.0/8: the fetcher counts 127.0.0.1 as "public"
//! (`Fetcher::for_tests`), names resolve from a table, and every refused address is refused
//! before a connection is attempted, which the fake sites' hit counts confirm.

use std::net::IpAddr;

use briefbot::config::SourceConfig;
use briefbot::domain::{Format, SourceId};
use briefbot::scrape::Scraper;
use briefbot::scrape::fetch::{FetchError, Fetcher};

use crate::support::{Behaviour, FakeSite, TestDb, test_limits};

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

/// 127.0.0.1 plays a public host; `internal.test` is a name on a private network and
/// `lan.test` one on 127.0.0.2, which stays private.
fn test_fetcher() -> Fetcher {
    Fetcher::for_tests(
        test_limits(),
        vec![ip("127.0.0.1")],
        vec![
            ("internal.test".into(), ip("10.20.30.40")),
            ("lan.test".into(), ip("127.0.0.2")),
        ],
    )
    .unwrap()
}

fn feed(items: &[(&str, String)]) -> Vec<u8> {
    let items: String = items
        .iter()
        .enumerate()
        .map(|(i, (title, link))| {
            format!(
                "<item><title>{title}</title><link>{link}</link><description>요약 {i}</description><pubDate>Fri, 22 Aug 2025 07:00:0{i} +0900</pubDate></item>"
            )
        })
        .collect();
    format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?><rss version=\"2.0\"><channel><title>t</title><link>http://127.0.0.1/</link><description>d</description>{items}</channel></rss>"
    )
    .into_bytes()
}

fn rss_source(id: &str, list_url: url::Url, allow_private: bool) -> SourceConfig {
    SourceConfig {
        id: SourceId::parse(id).unwrap(),
        name: id.into(),
        list_url,
        format: Format::Rss,
        poll_every: std::time::Duration::from_secs(600),
        title_filter: None,
        allow_private,
    }
}

#[tokio::test]
async fn the_default_fetcher_refuses_loopback_before_connecting() {
    let site = FakeSite::start().await;
    site.serve_fixture("/page", "aitimes/article_214199.html");
    let fetcher = Fetcher::new(test_limits()).unwrap();

    let by_address = fetcher.get(&site.url("/page"), None).await;
    match &by_address {
        Err(FetchError::Refused { reason, .. }) => assert!(
            reason.starts_with("127.0.0.1 is a loopback (127.0.0.0/8) address"),
            "{reason}"
        ),
        other => panic!("expected a refusal, got {other:?}"),
    }
    let by_name = url::Url::parse(&format!(
        "http://localhost:{}/page",
        site.base.port().unwrap()
    ))
    .unwrap();
    match fetcher.get(&by_name, None).await {
        Err(e @ FetchError::Refused { .. }) => assert!(
            e.to_string().contains("localhost resolves to") && e.to_string().contains("loopback"),
            "{e}"
        ),
        other => panic!("expected a refusal, got {other:?}"),
    }
    assert_eq!(site.hits("/page"), 0, "nothing reached the site");

    // Allowed to, the same fetcher reaches it.
    assert!(
        fetcher
            .allowing_private(true)
            .get(&site.url("/page"), None)
            .await
            .is_ok()
    );
    assert_eq!(site.hits("/page"), 1);
}

#[tokio::test]
async fn links_and_redirects_to_private_addresses_are_refused_and_never_stored() {
    let public = FakeSite::start().await;
    let lan = FakeSite::start_on("127.0.0.2").await;
    let lan_port = lan.base.port().unwrap();
    let lan_page = format!("http://lan.test:{lan_port}/article");
    lan.serve_fixture("/article", "aitimes/article_214145.html");
    public.serve_fixture("/good", "aitimes/article_214199.html");
    public.misbehave(
        "/to-metadata",
        Behaviour::RedirectTo("http://169.254.169.254/latest/meta-data/".into()),
    );
    public.misbehave("/to-lan", Behaviour::RedirectTo(lan_page.clone()));
    public.serve_bytes(
        "/feed.xml",
        feed(&[
            (
                "metadata by address",
                "http://169.254.169.254/latest/meta-data/iam".into(),
            ),
            ("private by address", "http://10.0.0.8/news/1".into()),
            ("private by name", "http://internal.test/news/2".into()),
            (
                "a redirect to metadata",
                public.url("/to-metadata").to_string(),
            ),
            ("a redirect to the LAN", public.url("/to-lan").to_string()),
            ("the LAN directly", lan_page.clone()),
            ("ipv6 loopback", "http://[::1]:1/x".into()),
            ("good", public.url("/good").to_string()),
        ]),
        "application/rss+xml",
    );
    let db = TestDb::new();
    let scraper = Scraper::new(test_fetcher(), db.store().await);
    let source = rss_source("public-feed", public.url("/feed.xml"), false);

    let report = scraper.scrape_source(&source, false).await.unwrap();

    assert_eq!(report.issues.len(), 1, "{:?}", report.entry_errors);
    assert!(
        report.issues[0]
            .issue
            .url
            .as_str()
            .ends_with("idxno=214199"),
        "the good page (by its canonical URL)"
    );
    let mut errors = report.entry_errors.clone();
    errors.sort();
    assert_eq!(errors.len(), 7, "{errors:#?}");
    let expect = [
        "169.254.169.254 is a link-local (169.254.0.0/16) address",
        "10.0.0.8 is a private (10.0.0.0/8) address",
        "internal.test resolves to 10.20.30.40, a private (10.0.0.0/8) address",
        "::1 is a loopback (::1) address",
        "lan.test resolves to 127.0.0.2, a loopback (127.0.0.0/8) address",
    ];
    for e in &errors {
        assert!(
            e.contains("not fetched: ") && e.contains("only public addresses are fetched"),
            "{e}"
        );
        assert!(expect.iter().any(|x| e.contains(x)), "{e}");
    }
    assert_eq!(
        errors
            .iter()
            .filter(|e| e.contains("169.254.169.254 is a link-local"))
            .count(),
        2,
        "the link and the redirect: {errors:#?}"
    );
    assert_eq!(
        lan.hits("/article"),
        0,
        "the private host was never reached"
    );
    assert_eq!(public.hits("/to-metadata"), 1);
    assert_eq!(public.hits("/to-lan"), 1);

    // A source allowed to reach private addresses fetches the LAN page (and only 127.x is
    // ever dialled: its feed links nowhere else).
    public.serve_bytes(
        "/lan-feed.xml",
        feed(&[
            ("a redirect to the LAN", public.url("/to-lan").to_string()),
            ("the LAN directly", lan_page.clone()),
        ]),
        "application/rss+xml",
    );
    let allowed = rss_source("lan-feed", public.url("/lan-feed.xml"), true);
    let report = scraper.scrape_source(&allowed, false).await.unwrap();
    assert!(report.entry_errors.is_empty(), "{:?}", report.entry_errors);
    assert_eq!(report.issues.len(), 2);
    assert_eq!(lan.hits("/article"), 2);
}

#[tokio::test]
async fn a_source_whose_list_is_on_a_private_address_may_reach_private_addresses() {
    // The operator points a source at a copy of a site on their own network.
    let lan = FakeSite::start_on("127.0.0.2").await;
    let port = lan.base.port().unwrap();
    lan.serve_fixture("/article", "aitimes/article_214145.html");
    lan.serve_bytes(
        "/feed.xml",
        feed(&[("on the LAN", format!("http://lan.test:{port}/article"))]),
        "application/rss+xml",
    );
    let db = TestDb::new();
    let scraper = Scraper::new(test_fetcher(), db.store().await);
    let list_url = url::Url::parse(&format!("http://lan.test:{port}/feed.xml")).unwrap();

    let report = scraper
        .scrape_source(&rss_source("local-copy", list_url, false), false)
        .await
        .unwrap();

    assert!(report.entry_errors.is_empty(), "{:?}", report.entry_errors);
    assert_eq!(report.issues.len(), 1);
}
