//! Test support: fixture files, a fake news site, and a fresh store per test.

pub mod app;
/// The benchmarks' generator of realistic briefs and issues.
#[path = "../../../benches/common/mod.rs"]
pub mod common;
pub mod discord;
pub mod pairs;
pub mod proxy;
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

/// Writes `dir/sources.toml` with the one AI Times source (NDSoft) listing `list_url`, polled
/// every `poll_every`: what a `briefbot` started in `dir` reads.
pub fn write_sources(dir: &std::path::Path, list_url: &url::Url, poll_every: &str) {
    let toml = format!(
        "[[sources]]\nid = \"aitimes-briefing\"\nname = \"AI타임스 뉴스 브리핑\"\nlist_url = \"{list_url}\"\nformat = \"ndsoft\"\npoll_every = \"{poll_every}\"\n"
    );
    std::fs::write(dir.join("sources.toml"), toml).unwrap();
}

/// `briefbot run` as an operator starts it, in `dir` (where its database and sources file are
/// unless the caller says otherwise), against the fake Discord at `discord_base`, registering
/// commands in guild 7, killed when dropped. The caller adds the token, settings and stderr.
pub fn briefbot_run(dir: &std::path::Path, discord_base: &str) -> tokio::process::Command {
    // `BRIEFBOT_TEST_BIN` runs another build instead (an older one, to show a test fails there).
    let binary = std::env::var("BRIEFBOT_TEST_BIN")
        .unwrap_or_else(|_| env!("CARGO_BIN_EXE_briefbot").into());
    let mut command = tokio::process::Command::new(binary);
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

/// The variable that runs the suite on PostgreSQL: a URL of the server whose databases the tests
/// may create and drop (`postgres://postgres@127.0.0.1:5432/postgres`). Unset: SQLite.
pub const POSTGRES_ENV: &str = "BRIEFBOT_TEST_POSTGRES";

/// A fresh database in its own temporary directory: a SQLite file there, or, with
/// [`POSTGRES_ENV`] set, a new PostgreSQL database (dropped when this is) whose URL a `.env`
/// file in the directory gives every `briefbot` started there, as an operator's would.
pub struct TestDb {
    pub dir: tempfile::TempDir,
    pub url: DatabaseUrl,
    postgres: Option<Postgres>,
}

struct Postgres {
    admin: String,
    name: String,
}

impl TestDb {
    pub fn new() -> Self {
        match std::env::var(POSTGRES_ENV) {
            Ok(admin) => Self::postgres(admin),
            Err(_) => Self::sqlite(),
        }
    }

    /// A fresh PostgreSQL database when the suite runs on PostgreSQL; otherwise `None`, and a
    /// line on stderr saying why the test has nothing to do on SQLite.
    pub fn postgres_only(why: &str) -> Option<Self> {
        let db = Self::new();
        if !db.is_postgres() {
            eprintln!("runs on PostgreSQL only (set {POSTGRES_ENV}): {why}");
            return None;
        }
        Some(db)
    }

    /// A SQLite file, whichever backend the suite runs on.
    pub fn sqlite() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let url = DatabaseUrl::Sqlite(format!(
            "sqlite://{}",
            dir.path().join("briefbot.db").display()
        ));
        Self {
            dir,
            url,
            postgres: None,
        }
    }

    fn postgres(admin: String) -> Self {
        let dir = tempfile::tempdir().unwrap();
        {}
        static NEXT: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .subsec_nanos();
        let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let name = format!("briefbot_test_{}_{n}_{nanos}", std::process::id());
        admin_sql(&admin, format!("CREATE DATABASE {name}"));
        let mut url = url::Url::parse(&admin).expect("BRIEFBOT_TEST_POSTGRES is a URL");
        url.set_path(&name);
        std::fs::write(dir.path().join(".env"), format!("DATABASE_URL={url}\n")).unwrap();
        Self {
            dir,
            url: DatabaseUrl::Postgres(url.to_string()),
            postgres: Some(Postgres { admin, name }),
        }
    }

    pub async fn store(&self) -> Store {
        Store::open(&self.url).await.unwrap()
    }

    /// Whether the database holds anything yet (a SQLite file exists; a PostgreSQL database
    /// has its tables).
    pub fn created(&self) -> bool {
        match &self.postgres {
            None => self.dir.path().join("briefbot.db").exists(),
            Some(_) => {
                let url = self.url.clone();
                std::thread::spawn(move || {
                    tokio::runtime::Builder::new_current_thread()
                        .enable_all()
                        .build()
                        .unwrap()
                        .block_on(async move {
                            let DatabaseUrl::Postgres(url) = url else {
                                unreachable!()
                            };
                            let mut conn =
                                <sqlx::PgConnection as sqlx::Connection>::connect(&url)
                                    .await
                                    .unwrap();
                            sqlx::query_scalar::<_, bool>(
                                "SELECT EXISTS (SELECT 1 FROM pg_tables WHERE tablename = 'issues')",
                            )
                            .fetch_one(&mut conn)
                            .await
                            .unwrap()
                        })
                })
                .join()
                .unwrap()
            }
        }
    }

    pub fn is_postgres(&self) -> bool {
        self.postgres.is_some()
    }

    /// As when the PostgreSQL server restarts or fails over: every connection to the database
    /// ends, the clients not told.
    pub fn drop_connections(&self) {
        let pg = self.postgres.as_ref().expect("a PostgreSQL database");
        admin_sql(
            &pg.admin,
            format!(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity
                 WHERE datname = '{}' AND pid <> pg_backend_pid()",
                pg.name
            ),
        );
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        if let Some(pg) = &self.postgres {
            // FORCE: a process the test started may still hold a connection.
            admin_sql(
                &pg.admin,
                format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", pg.name),
            );
        }
    }
}

/// Runs one statement on the PostgreSQL server as its administrator, from a thread of its own
/// (so it works inside and outside a runtime, and in `Drop`).
fn admin_sql(admin: &str, sql: String) {
    let admin = admin.to_owned();
    std::thread::spawn(move || {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap()
            .block_on(async move {
                let mut conn = <sqlx::PgConnection as sqlx::Connection>::connect(&admin)
                    .await
                    .unwrap_or_else(|e| panic!("{POSTGRES_ENV}: cannot connect: {e}"));
                sqlx::query(sqlx::AssertSqlSafe(sql.clone()))
                    .execute(&mut conn)
                    .await
                    .unwrap_or_else(|e| panic!("{sql}: {e}"));
            })
    })
    .join()
    .unwrap();
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
    common::issue(
        &format!("https://www.aitimes.com/news/articleView.html?idxno={idxno}"),
        format!("[테스트] 이슈 {idxno}"),
        Some(briefbot::store::now() - chrono::Duration::hours(1)),
        format!("이슈 {idxno}의 리드입니다."),
        briefs,
    )
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

/// [`eventually`] for a check that must await (a database query), looking every 10 ms.
pub async fn eventually_async<F, Fut>(secs: u64, what: &str, done: F)
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = tokio::time::Instant::now() + Duration::from_secs(secs);
    while !done().await {
        assert!(
            tokio::time::Instant::now() < deadline,
            "{what} within {secs} s"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}
