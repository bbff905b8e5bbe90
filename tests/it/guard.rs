//! Scraped links and redirects reach only public addresses (RELIABILITY.md, issue 10 item 4).
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

/// The public site's feed links to private addresses and names, directly and by redirect, and
/// to one good page; scraped by `fetcher`. Returns the scrape's report with the sites, the
/// scraper and its database (which must outlive the scraper's further use).
async fn scrape_a_feed_of_private_links(
    fetcher: Fetcher,
) -> (
    briefbot::scrape::SourceReport,
    FakeSite,
    FakeSite,
    Scraper,
    TestDb,
) {
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
    let scraper = Scraper::new(fetcher, db.store().await);
    let source = rss_source("public-feed", public.url("/feed.xml"), false);
    let report = scraper.scrape_source(&source, false).await.unwrap();
    (report, public, lan, scraper, db)
}

/// Each private link and redirect of [`scrape_a_feed_of_private_links`] was refused, saying
/// why, and the good page alone was stored.
fn assert_only_the_good_page_was_fetched(report: &briefbot::scrape::SourceReport) {
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
}

#[tokio::test]
async fn links_and_redirects_to_private_addresses_are_refused_and_never_stored() {
    let (report, public, lan, scraper, _db) = scrape_a_feed_of_private_links(test_fetcher()).await;

    assert_only_the_good_page_was_fetched(&report);
    assert_eq!(
        lan.hits("/article"),
        0,
        "the private host was never reached"
    );
    assert_eq!(public.hits("/to-metadata"), 1);
    assert_eq!(public.hits("/to-lan"), 1);

    // A source allowed to reach private addresses fetches the LAN page (and only 127.x is
    // ever dialled: its feed links nowhere else).
    let lan_page = format!("http://lan.test:{}/article", lan.base.port().unwrap());
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

/// An HTTP forward proxy on 127.0.0.1, as an operator's `HTTP_PROXY`: it resolves and fetches
/// whatever absolute URL it is asked for (with the tests' names: `lan.test` on 127.0.0.2,
/// `internal.test` on 127.0.0.3, where nothing listens), answers with what it got, and records
/// each URL it was asked for.
struct ForwardProxy {
    url: url::Url,
    asked: std::sync::Arc<std::sync::Mutex<Vec<url::Url>>>,
    server: tokio::task::JoinHandle<()>,
}

impl Drop for ForwardProxy {
    fn drop(&mut self) {
        self.server.abort();
    }
}

impl ForwardProxy {
    async fn start() -> Self {
        use axum::extract::{Request, State};
        use axum::response::{IntoResponse, Response};

        type Asked = std::sync::Arc<std::sync::Mutex<Vec<url::Url>>>;
        async fn forward(
            State((asked, client)): State<(Asked, reqwest::Client)>,
            request: Request,
        ) -> Response {
            let target = url::Url::parse(&request.uri().to_string()).unwrap();
            asked.lock().unwrap().push(target.clone());
            let Ok(answer) = client.get(target).send().await else {
                return axum::http::StatusCode::BAD_GATEWAY.into_response();
            };
            let mut response = Response::builder().status(answer.status().as_u16());
            for (name, value) in answer.headers() {
                response = response.header(name.as_str(), value.as_bytes());
            }
            response
                .body(axum::body::Body::from(answer.bytes().await.unwrap()))
                .unwrap()
        }

        let asked = Asked::default();
        let client = reqwest::Client::builder()
            .no_proxy()
            .redirect(reqwest::redirect::Policy::none())
            .resolve("lan.test", "127.0.0.2:0".parse().unwrap())
            .resolve("internal.test", "127.0.0.3:0".parse().unwrap())
            .build()
            .unwrap();
        let app = axum::Router::new()
            .fallback(forward)
            .with_state((asked.clone(), client));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = url::Url::parse(&format!("http://{}/", listener.local_addr().unwrap())).unwrap();
        let server = tokio::spawn(async move {
            axum::serve(listener, app).await.unwrap();
        });
        Self { url, asked, server }
    }

    fn asked(&self) -> Vec<url::Url> {
        self.asked.lock().unwrap().clone()
    }
}

/// Through a proxy (`HTTP_PROXY`), the proxy resolves the names, so briefbot's resolver never
/// sees them: every name is resolved and checked before the request is handed to the proxy,
/// hop by hop (issue 19 item 7).
#[tokio::test]
async fn through_a_proxy_private_names_are_refused_before_the_proxy_is_asked() {
    let proxy = ForwardProxy::start().await;
    let fetcher = Fetcher::for_tests_through(
        test_limits(),
        vec![ip("127.0.0.1")],
        vec![
            ("internal.test".into(), ip("10.20.30.40")),
            ("lan.test".into(), ip("127.0.0.2")),
        ],
        proxy.url.clone(),
    )
    .unwrap();

    let (report, public, lan, _, _db) = scrape_a_feed_of_private_links(fetcher).await;

    assert_only_the_good_page_was_fetched(&report);
    let asked = proxy.asked();
    assert!(
        asked.iter().any(|u| u.path() == "/good") && asked.iter().any(|u| u.path() == "/to-lan"),
        "the public pages went through the proxy: {asked:?}"
    );
    assert!(
        asked.iter().all(|u| u.host_str() == public.base.host_str()),
        "the proxy was asked for public addresses only: {asked:?}"
    );
    assert_eq!(
        lan.hits("/article"),
        0,
        "the private host was never reached"
    );
}
