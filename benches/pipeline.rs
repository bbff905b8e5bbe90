//! Pipeline benchmarks (the targets in BENCHMARKS.md). Run with `cargo bench --bench pipeline`.
//!
//! - parse and split one issue page (goal < 1 ms);
//! - generic main-text extraction of 100-300 KB real article pages (goal < 5 ms);
//! - near-duplicate check of one brief against 100,000 stored briefs in a real SQLite file
//!   (goal < 1 ms), on one held connection as an ingest makes it and as one call through the
//!   pool; the corpus is read into the page cache first. `BENCH_BRIEFS` changes the corpus
//!   size; with `BENCH_POSTGRES=postgres://postgres@127.0.0.1:5432/postgres` the briefs are
//!   stored on PostgreSQL instead, in a database `briefbot_bench_dedup_fresh` made anew each run.
//!   `BENCH_KEEP=1` keeps the corpus (`target/bench/dedup-N.db`, or the PostgreSQL database
//!   `briefbot_bench_dedup_N`) and a later run with it skips the ingest and the upgrade.
//!
//! A plain binary (`harness = false`): each case runs warm-up rounds, then reports the median,
//! the 99th percentile and the maximum of its timed rounds.

use std::time::{Duration, Instant};

use briefbot::config::DatabaseUrl;
use briefbot::domain::{Brief, Format, SourceId};
use briefbot::scrape::{article, issue_from_page};
use briefbot::store::{SourcePage, Store};
use url::Url;

mod common;
use common::{Rng, brief, read, root, sentence, vocabulary};

struct Stats {
    median: Duration,
    p99: Duration,
    max: Duration,
}

fn measure(warmup: usize, rounds: usize, mut f: impl FnMut()) -> Stats {
    for _ in 0..warmup {
        f();
    }
    Stats::of(
        (0..rounds)
            .map(|_| {
                let t = Instant::now();
                f();
                t.elapsed()
            })
            .collect(),
    )
}

impl Stats {
    fn of(mut times: Vec<Duration>) -> Self {
        times.sort();
        Stats {
            median: times[times.len() / 2],
            p99: times[(times.len() * 99 / 100).min(times.len() - 1)],
            max: times[times.len() - 1],
        }
    }
}

fn report(name: &str, size: usize, s: &Stats) {
    println!(
        "{name:<58} {:>7} KB  median {:>9.3} ms  p99 {:>9.3} ms  max {:>9.3} ms",
        size / 1024,
        s.median.as_secs_f64() * 1e3,
        s.p99.as_secs_f64() * 1e3,
        s.max.as_secs_f64() * 1e3
    );
}

fn parse_benches() {
    println!("## Parsing (200 rounds each after 20 warm-up rounds)");
    let url = Url::parse("https://www.aitimes.com/news/articleView.html?idxno=153427").unwrap();
    for (name, file) in [
        (
            "issue page, ndsoft profile: seed issue",
            "tests/fixtures/aitimes/issue_seed.html",
        ),
        (
            "issue page, ndsoft profile: [8월20일] issue",
            "tests/fixtures/aitimes/article_214145.html",
        ),
        (
            "issue page, wordpress profile: seed issue",
            "tests/fixtures/wordpress/issue_seed.html",
        ),
    ] {
        let html = read(root().join(file));
        let format = if file.contains("wordpress") {
            Format::Wordpress
        } else {
            Format::Ndsoft
        };
        let stats = measure(20, 200, || {
            let issue = issue_from_page(&html, &url, format, None).unwrap();
            assert!(!issue.briefs.is_empty());
        });
        report(name, html.len(), &stats);
    }
    let real = root().join("tests/fixtures/real");
    for file in [
        "korean_naver_news_607.html",
        "tagdiv_newspaper10_caymancompass_prison.html",
        "tagdiv_newspaper11_tdb_stluciatimes_dea.html",
        "tagdiv_newspaper12_lokalo_weinbergsbahnen.html",
        "tagdiv_newspaper_de_gutentach_sperrung.html",
    ] {
        let html = read(real.join(file));
        let page = Url::parse("https://news.example/article/1").unwrap();
        let stats = measure(20, 200, || {
            let a = article::parse_article_generic(&html, &page).unwrap();
            assert!(!a.lines.is_empty());
        });
        report(&format!("generic extraction: {file}"), html.len(), &stats);
        let stripped = briefbot::scrape::html::without_scripts_and_styles(&html);
        let parse_only = measure(20, 200, || {
            let doc = dom_query::Document::from(stripped.as_str());
            assert!(doc.root().first_child().is_some());
        });
        report(
            "    of which parsing the HTML without scripts (dom_query)",
            html.len(),
            &parse_only,
        );
        let strip = measure(20, 200, || {
            assert!(!briefbot::scrape::html::without_scripts_and_styles(&html).is_empty());
        });
        report(
            "    of which dropping scripts and styles",
            html.len(),
            &strip,
        );
    }
}

/// Light rewording that changes the headline too (so the check must go past the exact
/// headline key to the n-gram index): a word dropped from each, punctuation and quotes changed,
/// a particle appended. A dropped word may be the one that names the story (its subject, a
/// model, an amount): then the rule rightly calls it another story, and the query is counted as
/// not matched.
fn reworded(rng: &mut Rng, b: &Brief) -> Brief {
    let drop_one = |rng: &mut Rng, text: &str| {
        let mut words: Vec<&str> = text.split_whitespace().collect();
        let drop = (rng.next() % words.len() as u64) as usize;
        words.remove(drop);
        words.join(" ")
    };
    Brief {
        headline: format!("“{}”", drop_one(rng, &b.headline)),
        // Sentence ends only: a decimal point is part of a number (`3.5조원`), not punctuation.
        summary: format!("{} 등", drop_one(rng, &b.summary).replace(". ", "… ")),
    }
}

/// Reads a corpus's files into the page cache: the SQLite file, or every relation of the
/// PostgreSQL database (`pg_prewarm`, a contrib module; skipped with a note where it is not
/// installed).
async fn prewarm(url: &DatabaseUrl) {
    let started = Instant::now();
    match url {
        DatabaseUrl::Sqlite(url) => {
            let file = url.trim_start_matches("sqlite://");
            for path in [file.to_owned(), format!("{file}-wal")] {
                if let Ok(mut f) = std::fs::File::open(&path) {
                    std::io::copy(&mut f, &mut std::io::sink()).unwrap();
                }
            }
        }
        DatabaseUrl::Postgres(url) => {
            use sqlx::Connection;
            let mut conn = sqlx::PgConnection::connect(url).await.unwrap();
            let warmed = async {
                sqlx::query("CREATE EXTENSION IF NOT EXISTS pg_prewarm")
                    .execute(&mut conn)
                    .await?;
                sqlx::query_scalar::<_, Option<i64>>(
                    "SELECT sum(pg_prewarm(c.oid, 'read'))::bigint FROM pg_class c
                     WHERE c.relkind IN ('r', 'i', 't')
                       AND c.relnamespace = 'public'::regnamespace",
                )
                .fetch_one(&mut conn)
                .await
            }
            .await;
            if let Err(e) = warmed {
                println!("prewarm: skipped ({e}): the first checks may read from disk");
                return;
            }
        }
    }
    println!(
        "prewarm: the corpus read into the page cache in {:.1} s",
        started.elapsed().as_secs_f64()
    );
}

/// Times `check` on each query after 100 of them as warm-up: the times, and how many found a
/// story.
async fn time_checks(
    queries: &[Brief],
    mut check: impl AsyncFnMut(&Brief) -> Option<i64>,
) -> (Stats, usize) {
    for q in queries.iter().take(100) {
        check(q).await;
    }
    let mut times = Vec::with_capacity(queries.len());
    let mut matched = 0;
    for q in queries {
        let t = Instant::now();
        let story = check(q).await;
        times.push(t.elapsed());
        matched += usize::from(story.is_some());
    }
    (Stats::of(times), matched)
}

fn dedup_bench(rt: &tokio::runtime::Runtime) {
    let n: usize = std::env::var("BENCH_BRIEFS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(100_000);
    let per_issue = 5;
    let words = vocabulary();
    // `BENCH_KEEP=1` keeps the corpus for the next run (which then skips the ingest and the
    // upgrade): a SQLite file under `target/bench/`, a PostgreSQL database of its own.
    let keep = std::env::var_os("BENCH_KEEP").is_some();
    let dir = tempfile::tempdir().unwrap();
    let kept = root().join("target/bench");
    rt.block_on(async {
        let (url, engine) = match std::env::var("BENCH_POSTGRES") {
            Ok(server) => {
                let name = if keep {
                    format!("briefbot_bench_dedup_{n}")
                } else {
                    "briefbot_bench_dedup_fresh".to_owned()
                };
                let url = common::postgres_database(&server, &name).await;
                (DatabaseUrl::Postgres(url), "PostgreSQL")
            }
            Err(_) => {
                let file = if keep {
                    std::fs::create_dir_all(&kept).unwrap();
                    kept.join(format!("dedup-{n}.db"))
                } else {
                    dir.path().join("bench.db")
                };
                (
                    DatabaseUrl::Sqlite(format!("sqlite://{}", file.display())),
                    "SQLite file",
                )
            }
        };
        println!("\n## Near-duplicate check against {n} stored briefs ({engine}, LSH band index)");
        let store = Store::open(&url).await.unwrap();
        let source = SourceId::parse("bench").unwrap();
        let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
        let mut sample = Vec::new();
        // A kept corpus is whole when its last issue is stored (one transaction each).
        let last = store.latest(1, None).await.unwrap();
        let whole = format!("https://bench.example/issue/{}", n / per_issue - 1);
        let reuse = last.first().is_some_and(|i| i.url.as_str() == whole);
        assert!(
            last.is_empty() || reuse,
            "the kept corpus is partial: delete it"
        );
        let started = Instant::now();
        // The last 1,000 issues stored, each timed: what the statements' plans cost once the
        // tables are full (a plan kept from when they were small shows here).
        let mut last_issues = Vec::new();
        for i in 0..n / per_issue {
            let briefs: Vec<Brief> = (0..per_issue).map(|_| brief(&mut rng, &words)).collect();
            if i % 97 == 0 {
                sample.push(briefs[0].clone());
            }
            let issue = common::issue(
                &format!("https://bench.example/issue/{i}"),
                format!("[{i}] {}", briefs[0].headline),
                None,
                sentence(&mut rng, &words, 30),
                briefs,
            );
            if reuse {
                continue;
            }
            let page = SourcePage {
                url: issue.url.as_str(),
                html: "",
                format: "bench",
            };
            let t = Instant::now();
            store
                .record_issue(&source, &issue, &[], &page)
                .await
                .unwrap();
            if i >= (n / per_issue).saturating_sub(1000) {
                last_issues.push(t.elapsed());
            }
        }
        let load = started.elapsed();
        if reuse {
            println!("ingest: skipped, the kept corpus of {n} briefs is used (BENCH_KEEP)");
        } else {
            println!(
                "ingest: {n} briefs in {} issues took {:.1} s ({:.0} briefs/s, each with its own \
                 near-duplicate check)",
                n / per_issue,
                load.as_secs_f64(),
                n as f64 / load.as_secs_f64()
            );
            report(
                &format!("record_issue of {per_issue} briefs, the last 1,000 of the ingest"),
                0,
                &Stats::of(last_issues),
            );
        }

        // The corpus read into memory before it is measured: this machine's kernel pages out
        // file pages untouched for a minute (DAMON proactive reclaim, BENCHMARKS.md), so a kept
        // corpus, or a fresh one after the other backend's run, would otherwise be read from
        // disk by the checks.
        prewarm(&url).await;

        let fresh: Vec<Brief> = (0..1000).map(|_| brief(&mut rng, &words)).collect();
        let near: Vec<Brief> = sample
            .iter()
            .cycle()
            .take(1000)
            .map(|b| reworded(&mut rng, b))
            .collect();
        // What a check computes before it asks the database: the brief's shingles, band keys,
        // headline key and story.
        let stats = Stats::of(
            fresh
                .iter()
                .map(|b| {
                    let t = Instant::now();
                    std::hint::black_box(briefbot::dedup::BriefPrints::of(&b.headline, &b.summary));
                    t.elapsed()
                })
                .collect(),
        );
        report(
            "of which the brief's own prints (BriefPrints::of)",
            0,
            &stats,
        );
        for (name, queries, expect_match) in [
            ("new brief (no match)", &fresh, false),
            ("reworded stored brief (match)", &near, true),
        ] {
            // The check as an ingest makes it, on the connection it holds (every brief of an
            // issue is checked inside the issue's transaction)...
            let mut lookup = store.story_lookup().await.unwrap();
            let (stats, matched) =
                time_checks(queries, async |q| lookup.story_of(q).await.unwrap()).await;
            drop(lookup);
            report(&format!("story_of: {name}"), 0, &stats);
            println!(
                "    matched {matched} of {} (expected {})",
                queries.len(),
                if expect_match { "all" } else { "none" }
            );
            // ...and as one call of `Store::story_of`, a connection taken from the pool and
            // given back (sqlx tests it with a round trip when it comes back).
            let (stats, _) = time_checks(queries, async |q| store.story_of(q).await.unwrap()).await;
            report("  the same through the pool, one call each", 0, &stats);
        }

        // The upgrade from the previous rule: every brief's story told apart again on open.
        if keep {
            store.close().await;
            return;
        }
        briefbot::store::testing::as_previous_rule(&store, &[])
            .await
            .unwrap();
        store.close().await;
        let started = Instant::now();
        let reopened = Store::open(&url).await.unwrap();
        println!(
            "re-fingerprinting {n} briefs on open (the upgrade from the previous rule): {:.1} s",
            started.elapsed().as_secs_f64()
        );
        reopened.close().await;
    });
}

fn main() {
    // `cargo bench` passes `--bench`; a name filter may follow.
    let filter: Option<String> = std::env::args().skip(1).find(|a| !a.starts_with('-'));
    let wants = |name: &str| filter.as_deref().is_none_or(|f| name.contains(f));
    if wants("parse") {
        parse_benches();
    }
    if wants("dedup") {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        dedup_bench(&rt);
    }
}
