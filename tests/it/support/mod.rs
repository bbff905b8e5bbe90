//! Test support: fixture files, a fake news site, and a fresh store per test.

pub mod discord;
pub mod site;

use std::path::PathBuf;
use std::time::Duration;

use briefbot::config::DatabaseUrl;
use briefbot::domain::{Issue, SourceId};
use briefbot::scrape::Scraper;
use briefbot::scrape::fetch::{FetchLimits, Fetcher};
use briefbot::store::{Recorded, SourcePage, Store};
pub use site::{Behaviour, FakeSite};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

pub fn fixture_path(rel: &str) -> PathBuf {
    root().join("tests/fixtures").join(rel)
}

pub fn fixture_bytes(rel: &str) -> Vec<u8> {
    std::fs::read(fixture_path(rel)).unwrap_or_else(|e| panic!("fixture {rel}: {e}"))
}

pub fn fixture(rel: &str) -> String {
    String::from_utf8(fixture_bytes(rel))
        .unwrap_or_else(|e| panic!("fixture {rel} is not UTF-8: {e}"))
}

/// The real third-party pages in `tests/fixtures/real/` (see the README there).
pub fn real_fixture_path(name: &str) -> PathBuf {
    fixture_path("real").join(name)
}

pub fn real_fixture_bytes(name: &str) -> Vec<u8> {
    std::fs::read(real_fixture_path(name)).unwrap_or_else(|e| panic!("real fixture {name}: {e}"))
}

pub fn real_fixture(name: &str) -> String {
    String::from_utf8(real_fixture_bytes(name))
        .unwrap_or_else(|e| panic!("{name} is not UTF-8: {e}"))
}

/// `briefbot run` as an operator starts it, in `dir` (where its database and sources file are
/// unless the caller says otherwise), against the fake Discord at `discord_base`, registering
/// commands in guild 7, killed when dropped. The caller adds the token, settings and stderr.
pub fn briefbot_run(dir: &std::path::Path, discord_base: &str) -> tokio::process::Command {
    let mut command = tokio::process::Command::new(env!("CARGO_BIN_EXE_briefbot"));
    command
        .arg("run")
        .current_dir(dir)
        .env_remove("DATABASE_URL")
        .env_remove("BRIEFBOT_SOURCES")
        .env_remove("BRIEFBOT_HTTP_ADDR")
        .env_remove("BRIEFBOT_SHARDS")
        .env("RUST_LOG", "info")
        .env("DISCORD_API_PROXY", discord_base)
        .env("BRIEFBOT_GUILD_ID", "7")
        .stdout(std::process::Stdio::null())
        .kill_on_drop(true);
    command
}

/// A fresh SQLite file in its own temporary directory (removed when dropped).
pub struct TestDb {
    pub dir: tempfile::TempDir,
    pub url: DatabaseUrl,
}

impl TestDb {
    pub fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let url = DatabaseUrl::Sqlite(format!(
            "sqlite://{}",
            dir.path().join("briefbot.db").display()
        ));
        Self { dir, url }
    }

    pub async fn store(&self) -> Store {
        Store::open(&self.url).await.unwrap()
    }
}

/// Limits short enough for tests of timeouts and endless bodies.
pub fn test_limits() -> FetchLimits {
    FetchLimits {
        connect_timeout: Duration::from_secs(2),
        total_timeout: Duration::from_secs(3),
        max_redirects: 5,
        max_body_bytes: 2 * 1024 * 1024,
    }
}

pub fn scraper(store: Store) -> Scraper {
    Scraper::new(Fetcher::new(test_limits()).unwrap(), store)
}

/// Stores a hand-built issue as the scraper would, under `source`, without a page to keep.
pub async fn record(store: &Store, source: &str, issue: &Issue) -> Recorded {
    let page = SourcePage {
        url: issue.url.as_str(),
        html: "",
        format: "auto",
    };
    store
        .record_issue(&SourceId::parse(source).unwrap(), issue, &[], &page)
        .await
        .unwrap()
}

/// As if the process died right after Discord created every message of a delivery and before
/// the outbox recorded any: its parts attempted but not recorded, the delivery pending, and
/// the channel's stories not remembered.
pub async fn forget_posting(store: &Store, delivery_id: i64) {
    briefbot::store::testing::forget_posting(store, delivery_id)
        .await
        .unwrap();
}

/// A hand-built issue of `items` distinct briefs from the search corpus (starting at `from`),
/// published an hour ago: more than nine items split it over two messages.
pub fn issue_of(idxno: u32, from: usize, items: usize) -> briefbot::domain::Issue {
    let corpus: serde_json::Value =
        serde_json::from_str(&crate::support::fixture("search/corpus.json")).unwrap();
    let briefs: Vec<briefbot::domain::Brief> = corpus["briefs"].as_array().unwrap()
        [from..from + items]
        .iter()
        .map(|b| briefbot::domain::Brief {
            headline: b["headline"].as_str().unwrap().to_owned(),
            summary: b["summary"].as_str().unwrap().to_owned(),
        })
        .collect();
    briefbot::domain::Issue {
        url: briefbot::domain::CanonicalUrl::parse(&format!(
            "https://www.aitimes.com/news/articleView.html?idxno={idxno}"
        ))
        .unwrap(),
        title: format!("[테스트] 이슈 {idxno}"),
        published_at: Some(briefbot::store::now() - chrono::Duration::hours(1)),
        lead: format!("이슈 {idxno}의 리드입니다."),
        text: briefs
            .iter()
            .map(|b| format!("{} {}", b.headline, b.summary))
            .collect::<Vec<_>>()
            .join("\n"),
        briefs,
    }
}

/// Waits up to `secs` seconds for `done`, looking every 2 ms (a test that kills a process the
/// moment something happens needs to see it soon).
pub async fn eventually(secs: u64, what: &str, done: impl Fn() -> bool) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(secs);
    while !done() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "{what} within {secs} s"
        );
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
}
