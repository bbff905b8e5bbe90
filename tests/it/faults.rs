//! The source fault matrix (RELIABILITY.md: Scraping, issue 10): `briefbot run`, the real
//! binary, with fifteen sources on one fake site, thirteen of them broken in a different way,
//! and the fake Discord. Each fault is logged once with its source and its cause, backed off and
//! retried; the good sources are scraped and posted meanwhile, the next good issue too, and
//! `/healthz` answers throughout.

use std::collections::HashMap;
use std::time::Duration;

use briefbot::store::outbox::ALL_SOURCES;

use crate::support::discord::FakeDiscord;
use crate::support::site::ndsoft_list;
use crate::support::{Behaviour, FakeSite, TestDb, eventually, fixture_bytes};

const CHANNEL: u64 = 4242;

fn rss(items: impl Iterator<Item = (String, String)>) -> Vec<u8> {
    let items: String = items
        .map(|(title, link)| {
            format!("<item><title>{title}</title><link>{link}</link><description>요약</description></item>")
        })
        .collect();
    format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?><rss version=\"2.0\"><channel><title>t</title><link>http://127.0.0.1/</link><description>d</description>{items}</channel></rss>"
    )
    .into_bytes()
}

/// The WARN and ERROR lines of a log, by the `source=` they name.
fn warnings_by_source(log: &str) -> HashMap<String, Vec<String>> {
    let mut out: HashMap<String, Vec<String>> = HashMap::new();
    for line in log.lines() {
        if !(line.contains(" WARN ") || line.contains(" ERROR ")) {
            continue;
        }
        if let Some(at) = line.find("source=") {
            let id: String = line[at + 7..]
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '-')
                .collect();
            out.entry(id).or_default().push(line.to_owned());
        }
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_source_fault_is_logged_once_backed_off_and_contained() {
    let db = TestDb::new();
    let dir = db.dir.path();
    let site = FakeSite::start().await;
    let closed_port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };

    // The good sources: an NDSoft list, and a feed whose one page is EUC-KR served as UTF-8.
    let issue = |n: u32| format!("/news/articleView.html?idxno={n}");
    site.serve_fresh_fixture(&issue(214199), "aitimes/article_214199.html");
    site.serve_fresh_fixture(&issue(214145), "aitimes/article_214145.html");
    site.serve_bytes(
        "/good/list.html",
        ndsoft_list(&[(issue(214145), "[8월21일] 첫 호")]),
        "text/html; charset=utf-8",
    );
    site.serve_bytes(
        "/euckr/article.html",
        fixture_bytes("euckr/article_euckr.html"),
        "text/html; charset=utf-8",
    );
    site.serve_bytes(
        "/euckr/feed.xml",
        rss(std::iter::once((
            "반도체".to_owned(),
            site.url("/euckr/article.html").to_string(),
        ))),
        "application/rss+xml",
    );

    // The broken ones.
    site.misbehave("/e404/list.html", Behaviour::Status(404));
    site.misbehave("/e503/list.html", Behaviour::Status(503));
    site.misbehave(
        "/stall/list.html",
        Behaviour::Stall(Duration::from_secs(600)),
    );
    site.misbehave(
        "/trickle/list.html",
        Behaviour::Trickle(Duration::from_secs(1)),
    );
    site.misbehave("/unmodified/list.html", Behaviour::AlwaysNotModified);
    site.misbehave("/garbage/list.html", Behaviour::Garbage(64 * 1024));
    site.misbehave("/huge/list.html", Behaviour::Huge(50 * 1024 * 1024));
    site.misbehave("/gzip/list.html", Behaviour::GzipBomb(64 * 1024 * 1024));
    site.misbehave("/loop/list.html", Behaviour::RedirectLoop);
    site.serve_bytes(
        "/relayout/list.html",
        b"<html><body><div class=\"new-design\"><a href=\"/x\">x</a></div></body></html>".to_vec(),
        "text/html",
    );
    site.serve_bytes(
        "/blank/article.html",
        b"<html><body></body></html>".to_vec(),
        "text/html",
    );
    site.serve_bytes(
        "/blank/list.html",
        ndsoft_list(&[("/blank/article.html".into(), "[8월22일] 빈 호")]),
        "text/html",
    );
    site.serve_bytes(
        "/many/feed.xml",
        rss((0..1_000).map(|i| {
            (
                format!("item {i}"),
                site.url(&format!("/many/{i}")).to_string(),
            )
        })),
        "application/rss+xml",
    );

    let sources: Vec<(&str, String, &str)> = vec![
        ("good", site.url("/good/list.html").to_string(), "ndsoft"),
        ("euckr", site.url("/euckr/feed.xml").to_string(), "rss"),
        (
            "refused",
            format!("http://127.0.0.1:{closed_port}/list.html"),
            "ndsoft",
        ),
        ("e404", site.url("/e404/list.html").to_string(), "ndsoft"),
        ("e503", site.url("/e503/list.html").to_string(), "ndsoft"),
        ("stall", site.url("/stall/list.html").to_string(), "ndsoft"),
        (
            "trickle",
            site.url("/trickle/list.html").to_string(),
            "ndsoft",
        ),
        (
            "unmodified",
            site.url("/unmodified/list.html").to_string(),
            "ndsoft",
        ),
        (
            "garbage",
            site.url("/garbage/list.html").to_string(),
            "auto",
        ),
        ("huge", site.url("/huge/list.html").to_string(), "ndsoft"),
        ("gzip", site.url("/gzip/list.html").to_string(), "ndsoft"),
        ("loop", site.url("/loop/list.html").to_string(), "ndsoft"),
        (
            "relayout",
            site.url("/relayout/list.html").to_string(),
            "ndsoft",
        ),
        ("blank", site.url("/blank/list.html").to_string(), "ndsoft"),
        ("many", site.url("/many/feed.xml").to_string(), "rss"),
    ];
    let toml: String = sources
        .iter()
        .map(|(id, url, format)| {
            format!("[[sources]]\nid = \"{id}\"\nlist_url = \"{url}\"\nformat = \"{format}\"\npoll_every = \"1s\"\n\n")
        })
        .collect();
    std::fs::write(dir.join("sources.toml"), toml).unwrap();

    let store = db.store().await;
    store
        .subscribe(7, CHANNEL as i64, ALL_SOURCES, None, 1)
        .await
        .unwrap();
    let discord = FakeDiscord::start().await;
    let http_addr = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap()
    };
    let log_path = dir.join("run.log");
    // The database and sources.toml are in `dir`, where the defaults look for them.
    let mut child = crate::support::briefbot_run(dir, &discord.base)
        .env("DISCORD_TOKEN", "fault-matrix-token")
        .env("BRIEFBOT_HTTP_ADDR", http_addr.to_string())
        .stderr(std::fs::File::create(&log_path).unwrap())
        .spawn()
        .unwrap();

    // The good source's issue is posted while every broken one fails, stalls or trickles.
    let titles = |discord: &FakeDiscord| -> Vec<String> {
        discord
            .messages(CHANNEL)
            .iter()
            .filter_map(|m| {
                m.embeds()
                    .first()
                    .and_then(|e| e["title"].as_str())
                    .map(str::to_owned)
            })
            .collect()
    };
    let posted =
        |discord: &FakeDiscord, what: &str| titles(discord).iter().any(|t| t.contains(what));
    eventually(60, "the good source's first issue is posted", || {
        posted(&discord, "8월20일")
    })
    .await;
    let healthz = reqwest::get(format!("http://{http_addr}/healthz"))
        .await
        .unwrap();
    assert_eq!(healthz.status(), 200, "the bot answers while sources fail");

    // The next good issue comes out too.
    site.serve_bytes(
        "/good/list.html",
        ndsoft_list(&[
            (issue(214199), "[8월22일] 둘째 호"),
            (issue(214145), "[8월21일] 첫 호"),
        ]),
        "text/html; charset=utf-8",
    );
    eventually(30, "the good source's next issue is posted", || {
        posted(&discord, "8월21일")
    })
    .await;
    // Let the broken sources fail and back off a few times (1 s, 2 s, 4 s …).
    tokio::time::sleep(Duration::from_secs(8)).await;
    let log = std::fs::read_to_string(&log_path).unwrap();
    child.start_kill().unwrap();
    let _ = child.wait().await;

    // Each good issue once, the EUC-KR page mislabelled as UTF-8 with its Korean intact.
    let mut titles = titles(&discord);
    titles.sort();
    assert_eq!(titles.len(), 3, "{titles:?}");
    assert!(titles[0].starts_with("\\[8월20일\\]"), "{titles:?}");
    assert!(titles[1].starts_with("\\[8월21일\\]"), "{titles:?}");
    assert_eq!(titles[2], "인공지능 반도체 수출 규제, 국내 업계 영향은");

    // Each broken source: one warning, naming it and the cause, however often it was retried.
    let warned = warnings_by_source(&log);
    for (id, cause) in [
        ("refused", "Connection refused"),
        ("e404", "the server answered 404 Not Found"),
        ("e503", "the server answered 503 Service Unavailable"),
        ("unmodified", "the server answered 304 Not Modified"),
        ("garbage", "no entries found"),
        ("huge", "the body is larger than 8388608 bytes"),
        ("gzip", "the body is larger than 8388608 bytes"),
        ("loop", "more than 5 redirects"),
        (
            "relayout",
            "no entries found: the page does not look like a ndsoft list page",
        ),
        ("blank", "no article text found on the page"),
    ] {
        let lines = warned.get(id).cloned().unwrap_or_default();
        assert_eq!(lines.len(), 1, "{id}: {lines:#?}\n{log}");
        assert!(lines[0].contains(cause), "{id}: {}", lines[0]);
    }
    // Retried with backoff: more than once, and far less than once a second.
    for path in ["/e503/list.html", "/e404/list.html", "/garbage/list.html"] {
        let hits = site.hits(path);
        assert!((2..=6).contains(&hits), "{path}: {hits} requests");
    }
    // The stalled and trickling sources are still waiting on their first answer (their
    // timeout is 30 s) and held nothing else up.
    assert!(!warned.contains_key("stall") && !warned.contains_key("trickle"));
    // A feed of 1,000 items costs at most MAX_ENTRIES fetches a pass, not 1,000; each failing
    // item is warned about once.
    let fetched: Vec<usize> = (0..1_000)
        .filter(|i| site.hits(&format!("/many/{i}")) > 0)
        .collect();
    assert_eq!(
        fetched,
        (0..briefbot::scrape::MAX_ENTRIES).collect::<Vec<_>>(),
        "only the newest items are fetched"
    );
    assert_eq!(
        warned.get("many").map_or(0, Vec::len),
        briefbot::scrape::MAX_ENTRIES,
        "one warning per failing item"
    );
    // Nothing from a broken source was stored.
    for (id, ..) in &sources[2..] {
        assert!(store.latest(1, Some(*id)).await.unwrap().is_empty(), "{id}");
    }
    assert!(discord.unguarded().is_empty());
}
