//! What the benchmarks share: fixture paths and a deterministic corpus of realistic briefs.

#![allow(dead_code)]

use std::path::PathBuf;

use briefbot::domain::{Brief, CanonicalUrl, Issue};
use chrono::{DateTime, Utc};

pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

pub fn read(path: PathBuf) -> String {
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// A deterministic xorshift generator, so every run builds the same corpus.
pub struct Rng(pub u64);

impl Rng {
    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[(self.next() % items.len() as u64) as usize]
    }
}

/// Words of the 401 real AI Times titles and leads: Korean with English names and numbers.
pub fn vocabulary() -> Vec<String> {
    let json: serde_json::Value = serde_json::from_str(&read(
        root().join("tests/fixtures/real/aitimes_articles_2026-08.json"),
    ))
    .unwrap();
    let mut words = Vec::new();
    for item in json["items"].as_array().unwrap() {
        for field in ["title", "lead"] {
            words.extend(
                item[field]
                    .as_str()
                    .unwrap_or_default()
                    .split_whitespace()
                    .map(str::to_owned),
            );
        }
    }
    words
}

pub fn sentence(rng: &mut Rng, words: &[String], len: usize) -> String {
    let mut s: Vec<&str> = (0..len).map(|_| rng.pick(words).as_str()).collect();
    s.dedup();
    s.join(" ")
}

pub fn brief(rng: &mut Rng, words: &[String]) -> Brief {
    let headline = sentence(rng, words, 7);
    let summary = format!(
        "{}. {}. {}.",
        sentence(rng, words, 12),
        sentence(rng, words, 10),
        sentence(rng, words, 11)
    );
    Brief { headline, summary }
}

/// An issue of these items as the scraper gives one: its text is its items, one a line.
pub fn issue(
    url: &str,
    title: String,
    published_at: Option<DateTime<Utc>>,
    lead: String,
    briefs: Vec<Brief>,
) -> Issue {
    Issue {
        url: CanonicalUrl::parse(url).unwrap(),
        title,
        published_at,
        lead,
        text: items_text(&briefs),
        briefs,
    }
}

/// The text of a page that holds these items, one a line.
pub fn items_text(briefs: &[Brief]) -> String {
    briefs
        .iter()
        .map(|b| format!("{} {}", b.headline, b.summary))
        .collect::<Vec<_>>()
        .join("\n")
}

/// The URL of database `name` on the PostgreSQL server at `server`: created when missing, and
/// created anew when its name ends in `_fresh`.
#[allow(dead_code)]
pub async fn postgres_database(server: &str, name: &str) -> String {
    use sqlx::Connection;
    let mut admin = sqlx::PgConnection::connect(server)
        .await
        .unwrap_or_else(|e| panic!("BENCH_POSTGRES: cannot connect to {server}: {e}"));
    if name.ends_with("_fresh") {
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "DROP DATABASE IF EXISTS {name} WITH (FORCE)"
        )))
        .execute(&mut admin)
        .await
        .unwrap();
    }
    let exists: bool =
        sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)")
            .bind(name)
            .fetch_one(&mut admin)
            .await
            .unwrap();
    if !exists {
        sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
            .execute(&mut admin)
            .await
            .unwrap();
    }
    let mut url = url::Url::parse(server).unwrap();
    url.set_path(name);
    url.to_string()
}
