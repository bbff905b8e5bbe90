//! Lookups against 100,000 stored briefs of realistic Korean/English text: `/news search`
//! query time, `/news latest` query time, and whole `/news search` interactions answered end to
//! end through the real serenity client and the fake Discord on loopback. Goals: search p99
//! ≤ 10 ms, latest ≤ 2 ms, interaction p99 ≤ 50 ms (PostgreSQL: search p99 ≤ 20 ms at
//! 1,000,000). Run with `cargo bench --bench lookup`; `BENCH_BRIEFS` changes the size,
//! `BENCH_DB=path` keeps the corpus in that file and reuses it on the next run, and
//! `BENCH_POSTGRES=postgres://postgres@127.0.0.1:5432/postgres` runs the same on PostgreSQL.
//! There, `BENCH_BULK=1` builds a new corpus without its GIN index and creates the index once at
//! the end (twice as fast at 1,000,000 briefs, and a tighter index than one grown issue by
//! issue), then analyzes the database.

mod common;
#[allow(dead_code)]
#[path = "../tests/it/support/discord.rs"]
mod discord;

use std::time::{Duration, Instant};

use briefbot::bot::{self, Bot};
use briefbot::config::{DatabaseUrl, Secret, SourceConfig};
use briefbot::deliver::DeliverySettings;
use briefbot::domain::{Brief, SourceId};
use briefbot::store::{SourcePage, Store};
use common::{Rng, brief, sentence, vocabulary};
use serde_json::json;

/// Queries of every kind: Korean of one to four syllables, with particles, English, mixed,
/// several words, and one that finds nothing.
const QUERIES: &[&str] = &[
    "칩",
    "중국",
    "반도체",
    "엔비디아",
    "중국은",
    "엔비디아의",
    "모델을",
    "GPT-4",
    "ChatGPT",
    "llm",
    "AI",
    "오픈AI 모델",
    "삼성 메모리",
    "구글 클라우드",
    "데이터센터 전력",
    "존재하지않는말",
];

fn percentile(times: &mut [Duration], p: usize) -> f64 {
    times.sort();
    times[(times.len() * p / 100).min(times.len() - 1)].as_secs_f64() * 1e3
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let n: usize = std::env::var("BENCH_BRIEFS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(100_000);
    let per_issue = 5;
    // BENCH_DB keeps the corpus in a file of your choosing and reuses it on the next run.
    // BENCH_POSTGRES (a server's URL) runs on PostgreSQL instead, in the database
    // `briefbot_bench_{n}`, created when missing and reused when it holds the corpus.
    let dir = tempfile::tempdir().unwrap();
    let path = std::env::var_os("BENCH_DB")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| dir.path().join("lookup.db"));
    let (url, engine) = match std::env::var("BENCH_POSTGRES") {
        Ok(server) => (
            DatabaseUrl::Postgres(
                common::postgres_database(&server, &format!("briefbot_bench_{n}")).await,
            ),
            "PostgreSQL, tsvector + GIN index",
        ),
        Err(_) => (
            DatabaseUrl::Sqlite(format!("sqlite://{}", path.display())),
            "SQLite file, FTS5 index",
        ),
    };
    // Opening an existing corpus of an older version migrates it: a rebuilt search index is
    // refilled here, so this is the upgrade's cost.
    let opening = Instant::now();
    let store = Store::open(&url).await.unwrap();
    let reuse = !store.latest(1, None).await.unwrap().is_empty();
    if reuse {
        println!(
            "opened the stored corpus in {:.1} s (migrations and index refill included)",
            opening.elapsed().as_secs_f64()
        );
    }
    // BENCH_BULK: the GIN indexes of a PostgreSQL corpus are dropped while it is built and
    // created again, as they were defined, once it is.
    let bulk = match (&url, std::env::var_os("BENCH_BULK")) {
        (DatabaseUrl::Postgres(url), Some(_)) if !reuse => Some((url, drop_gin_indexes(url).await)),
        _ => None,
    };
    let words = vocabulary();
    let mut rng = Rng(0x2545_f491_4f6c_dd1d);
    let source = SourceId::parse("aitimes-briefing").unwrap();
    let started = Instant::now();
    let base = chrono::Utc::now() - chrono::Duration::days(400);
    for i in (0..n / per_issue).filter(|_| !reuse) {
        let briefs: Vec<Brief> = (0..per_issue).map(|_| brief(&mut rng, &words)).collect();
        let issue = common::issue(
            &format!("https://bench.example/issue/{i}"),
            format!("[{i}] {}", briefs[0].headline),
            Some(base + chrono::Duration::minutes(i as i64 * 30)),
            sentence(&mut rng, &words, 30),
            briefs,
        );
        let page = SourcePage {
            url: issue.url.as_str(),
            html: "",
            format: "bench",
        };
        store
            .record_issue(&source, &issue, &[], &page)
            .await
            .unwrap();
    }
    if let Some((url, indexes)) = &bulk {
        use sqlx::Connection;
        let mut conn = sqlx::PgConnection::connect(url).await.unwrap();
        sqlx::query("SET maintenance_work_mem = '1GB'")
            .execute(&mut conn)
            .await
            .unwrap();
        for definition in indexes {
            sqlx::query(sqlx::AssertSqlSafe(definition.clone()))
                .execute(&mut conn)
                .await
                .unwrap();
        }
        sqlx::query("VACUUM ANALYZE")
            .execute(&mut conn)
            .await
            .unwrap();
    }
    println!("## Lookups against {n} stored briefs ({engine})");
    if !reuse {
        let secs = started.elapsed().as_secs_f64();
        println!(
            "corpus built in {secs:.0} s: {:.0} issues a second through Store::record_issue",
            (n / per_issue) as f64 / secs
        );
    }

    let mut times = Vec::new();
    let mut by_query = vec![Vec::new(); QUERIES.len()];
    let mut counts = Vec::new();
    for round in 0..1100 {
        let q = QUERIES[round % QUERIES.len()];
        let t = Instant::now();
        let page = store.search_page(q, None, 5, 0).await.unwrap();
        let (hits, count) = (page.hits, page.total);
        if round >= 100 {
            times.push(t.elapsed());
            by_query[round % QUERIES.len()].push(t.elapsed());
        }
        if round < QUERIES.len() {
            counts.push(format!("{q}: {count}"));
        }
        assert!(hits.len() <= 5);
    }
    println!("matches per query: {}", counts.join(", "));
    let medians: Vec<String> = QUERIES
        .iter()
        .zip(&mut by_query)
        .map(|(q, times)| format!("{q}: {:.1}", percentile(times, 50)))
        .collect();
    println!("median ms per query: {}", medians.join(", "));
    println!(
        "/news search query (first page and result count): median {:.2} ms, p99 {:.2} ms",
        percentile(&mut times, 50),
        percentile(&mut times, 99)
    );
    let mut times = Vec::new();
    for round in 0..1100 {
        let t = Instant::now();
        let latest = store.latest(1, None).await.unwrap();
        if round >= 100 {
            times.push(t.elapsed());
        }
        assert_eq!(latest.len(), 1);
    }
    println!(
        "/news latest query: median {:.3} ms, p99 {:.3} ms",
        percentile(&mut times, 50),
        percentile(&mut times, 99)
    );

    // Whole interactions: gateway event in, deferral and answer out, over loopback.
    let fake = discord::FakeDiscord::start().await;
    let http = bot::http_client(
        &Secret::new("bench-token".into()),
        Some(&url::Url::parse(&fake.base).unwrap()),
    )
    .unwrap();
    let bot = Bot {
        store: store.clone(),
        sources: vec![SourceConfig::aitimes_briefing()],
        started: Instant::now(),
        guild_id: Some(7),
        shards: briefbot::config::Shards::Auto,
        leadership: briefbot::leader::Leadership::always(),
        telemetry: Default::default(),
    };
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let task = tokio::spawn(bot::run(http, bot, DeliverySettings::default(), stopped));
    fake.registered_commands("7").await;
    let mut times = Vec::new();
    for round in 0..300 {
        let q = QUERIES[round % QUERIES.len()];
        let options = json!([{ "name": "search", "type": 1, "options": [{ "name": "query", "type": 3, "value": q }] }]);
        let payload = discord::command("news", options, Some(7), 100, 1, "3072");
        let t = Instant::now();
        fake.interact(payload).await;
        if round >= 50 {
            times.push(t.elapsed());
        }
    }
    println!(
        "/news search interaction, end to end on loopback: median {:.2} ms, p99 {:.2} ms, max {:.2} ms",
        percentile(&mut times, 50),
        percentile(&mut times, 99),
        percentile(&mut times, 100)
    );
    stop.send(true).unwrap();
    let _ = task.await;
}

/// Drops the GIN indexes of the database at `url` and returns their definitions.
async fn drop_gin_indexes(url: &str) -> Vec<String> {
    use sqlx::Connection;
    let mut conn = sqlx::PgConnection::connect(url).await.unwrap();
    let indexes: Vec<(String, String)> = sqlx::query_as(
        "SELECT indexrelid::regclass::text, pg_get_indexdef(indexrelid)
         FROM pg_index JOIN pg_class c ON c.oid = indexrelid JOIN pg_am am ON am.oid = c.relam
         WHERE am.amname = 'gin'",
    )
    .fetch_all(&mut conn)
    .await
    .unwrap();
    for (name, _) in &indexes {
        sqlx::query(sqlx::AssertSqlSafe(format!("DROP INDEX {name}")))
            .execute(&mut conn)
            .await
            .unwrap();
    }
    indexes.into_iter().map(|(_, def)| def).collect()
}
