//! Fan-out through the real delivery worker and serenity's HTTP client, against the fake
//! Discord enforcing Discord's limits (50 requests a second in all, 5 messages per channel in 5
//! seconds). Run with `cargo bench --bench fanout [CASE]`; the cases:
//!
//! - `one`: an issue of one message to 1,000 channels. Floor 20 s; goal 22 s, no channel
//!   answered 429 more than once.
//! - `split`: an issue of three messages to 1,000 channels. Floor 60 s (3,000 posts).
//! - `reposts`: 100 reposts queued first (10 servers with 10 each, the most a server may have),
//!   then the one-message issue to 1,000 channels: how long those channels wait.
//! - `doubt`: the one-message issue to 1,000 channels, the answers to 100 of the posts lost
//!   (created, answered 502) and the nonces forgotten: what looking for in-doubt posts costs.
//! - `fleet` (PostgreSQL only): three processes on one database, as `briefbot run` has them —
//!   each takes or waits for the scheduler lease, and only the holder posts — fan the
//!   one-message issue out to 1,000 channels; the holder is killed after 500 messages and
//!   another finishes. Every channel must get it once.
//!
//! The cases run on a SQLite file; with
//! `BENCH_POSTGRES=postgres://postgres@127.0.0.1:5432/postgres` they run on PostgreSQL, in a
//! database `briefbot_bench_fanout_fresh` made anew for each case.

#[allow(dead_code)]
#[path = "../tests/it/support/discord.rs"]
mod discord;

mod common;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use briefbot::config::DatabaseUrl;
use briefbot::deliver::{Deliverer, DeliverySettings, Step};
use briefbot::domain::{Brief, CanonicalUrl, Format, Issue, SourceId};
use briefbot::leader::Leadership;
use briefbot::scrape::issue_from_page;
use briefbot::store::outbox::ALL_SOURCES;
use briefbot::store::{SourcePage, Store};

const CHANNELS: i64 = 1000;

/// The `[8월18일]` fixture issue: one message of 7 embeds.
fn one_message_issue() -> (Issue, String) {
    let page = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/aitimes/article_214043.html"
    ))
    .unwrap();
    let page_url =
        url::Url::parse("https://www.aitimes.com/news/articleView.html?idxno=214043").unwrap();
    let mut issue = issue_from_page(&page, &page_url, Format::Ndsoft, None).unwrap();
    issue.published_at = Some(chrono::Utc::now());
    (issue, page)
}

/// The first `n` items of the search corpus, all distinct.
fn three_message_issue_items(n: usize) -> Vec<Brief> {
    let corpus: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/fixtures/search/corpus.json"
        ))
        .unwrap(),
    )
    .unwrap();
    corpus["briefs"].as_array().unwrap()[..n]
        .iter()
        .map(|b| Brief {
            headline: b["headline"].as_str().unwrap().to_owned(),
            summary: b["summary"].as_str().unwrap().to_owned(),
        })
        .collect()
}

/// 24 distinct items of the search corpus: the lead and 9 items, 10 items, 5 items.
fn three_message_issue() -> Issue {
    let briefs = three_message_issue_items(24);
    common::issue(
        "https://www.aitimes.com/news/articleView.html?idxno=1",
        "[벤치] 세 메시지 이슈".into(),
        Some(chrono::Utc::now()),
        "세 개의 메시지로 나뉘는 이슈입니다.".into(),
        briefs,
    )
}

struct Bench {
    store: Store,
    url: DatabaseUrl,
    discord: discord::FakeDiscord,
    _dir: tempfile::TempDir,
}

impl Bench {
    async fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let url = match std::env::var("BENCH_POSTGRES") {
            Ok(server) => DatabaseUrl::Postgres(
                common::postgres_database(&server, "briefbot_bench_fanout_fresh").await,
            ),
            Err(_) => DatabaseUrl::Sqlite(format!(
                "sqlite://{}",
                dir.path().join("fanout.db").display()
            )),
        };
        let store = Store::open(&url).await.unwrap();
        for channel in 1..=CHANNELS {
            store
                .subscribe(1, channel, ALL_SOURCES, None, 1)
                .await
                .unwrap();
        }
        let discord = discord::FakeDiscord::start().await;
        discord.enforce_limits();
        println!("(on {})", store.engine());
        Self {
            store,
            url,
            discord,
            _dir: dir,
        }
    }

    async fn record(&self, issue: &Issue, html: &str) -> i64 {
        let page = SourcePage {
            url: issue.url.as_str(),
            html,
            format: "ndsoft",
        };
        match self
            .store
            .record_issue(
                &SourceId::parse("aitimes-briefing").unwrap(),
                issue,
                &[],
                &page,
            )
            .await
            .unwrap()
        {
            briefbot::store::Recorded::New { id } => id,
            other => panic!("{other:?}"),
        }
    }

    fn deliverer(&self) -> Deliverer {
        let names = HashMap::from([("aitimes-briefing".to_owned(), "AI타임스".to_owned())]);
        Deliverer::new(
            self.store.clone(),
            self.discord.http(),
            names,
            DeliverySettings::default(),
        )
    }

    /// Steps until nothing is pending; calls `each` after every step with the elapsed time.
    async fn drain(&self, mut each: impl FnMut(Duration)) -> (Duration, usize) {
        let mut deliverer = self.deliverer();
        let started = Instant::now();
        let mut retries = 0;
        loop {
            match deliverer.step().await.unwrap() {
                Step::Idle => {
                    if self.store.pending_deliveries().await.unwrap() == 0 {
                        break;
                    }
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
                Step::Retry { .. } => retries += 1,
                _ => {}
            }
            each(started.elapsed());
        }
        (started.elapsed(), retries)
    }

    /// The database's size in bytes, its log checkpointed into it first.
    async fn size(&self) -> u64 {
        briefbot::store::testing::size_on_disk(&self.store)
            .await
            .unwrap()
    }

    fn report_limits(&self, retries: usize) {
        let limited = self.discord.rate_limited();
        println!(
            "429 answers: {} in all, at most {} in one channel; deliveries put off: {retries}",
            limited.values().sum::<usize>(),
            limited.values().max().copied().unwrap_or(0)
        );
    }
}

async fn one() {
    let b = Bench::new().await;
    let before = b.size().await;
    let (issue, html) = one_message_issue();
    b.record(&issue, &html).await;
    let stored = b.size().await;
    let (elapsed, retries) = b.drain(|_| {}).await;
    let after = b.size().await;
    println!("## one: an issue of one message to {CHANNELS} channels");
    println!(
        "posted {} messages in {:.2} s ({:.1} messages/s; floor 20 s)",
        b.discord.all_messages(),
        elapsed.as_secs_f64(),
        b.discord.all_messages() as f64 / elapsed.as_secs_f64()
    );
    b.report_limits(retries);
    let pruned = b
        .store
        .prune(chrono::Utc::now() + chrono::Duration::days(2))
        .await
        .unwrap();
    let kept = b.size().await;
    let kib = |bytes: u64| bytes as f64 / 1024.0;
    let (day_kib, frozen_kib) = (
        kib(kept.saturating_sub(stored)),
        kib(after.saturating_sub(kept)),
    );
    println!(
        "size: the first issue {:.0} KiB; its {CHANNELS} deliveries {:.0} KiB, of which {frozen_kib:.0} KiB of frozen messages that the prune removes a day later ({} rows) and {day_kib:.0} KiB kept 30 days",
        kib(stored - before),
        kib(after - stored),
        pruned.parts
    );
    // What one more issue costs once the database has some (the first one also allocates the
    // first pages of every table): 12 issues of 6 distinct items with the same page, too old
    // to be posted.
    let corpus = three_message_issue_items(72);
    let at_start = b.size().await;
    for (n, items) in corpus.chunks(6).enumerate() {
        let mut more = issue.clone();
        more.url = CanonicalUrl::parse(&format!("https://bench.example/issue/{n}")).unwrap();
        more.briefs = items.to_vec();
        more.text = common::items_text(items);
        more.published_at = Some(chrono::Utc::now() - chrono::Duration::days(40));
        b.record(&more, &html).await;
    }
    let issue_kib = kib(b.size().await - at_start) / 12.0;
    // Pages are kept 30 days; the rest of an issue for ever.
    let page_kib = kib(html.len() as u64);
    println!("each further issue: {issue_kib:.0} KiB, of which its page {page_kib:.0} KiB");
    println!(
        "projected after a year of one such issue a day: {:.0} MiB (30 days of deliveries, channel stories and pages, a day of frozen messages, 365 issues)",
        (30.0 * (day_kib + page_kib) + frozen_kib + 365.0 * (issue_kib - page_kib)) / 1024.0
    );
    assert_eq!(b.discord.all_messages() as i64, CHANNELS);
}

async fn split() {
    let b = Bench::new().await;
    b.record(&three_message_issue(), "").await;
    let (elapsed, retries) = b.drain(|_| {}).await;
    println!("## split: an issue of three messages to {CHANNELS} channels");
    println!(
        "posted {} messages in {:.2} s ({:.1} messages/s; floor 60 s)",
        b.discord.all_messages(),
        elapsed.as_secs_f64(),
        b.discord.all_messages() as f64 / elapsed.as_secs_f64()
    );
    b.report_limits(retries);
    assert_eq!(b.discord.all_messages() as i64, 3 * CHANNELS);
}

async fn reposts() {
    let b = Bench::new().await;
    let old = {
        let mut issue = three_message_issue();
        issue.published_at = Some(chrono::Utc::now() - chrono::Duration::days(40));
        issue
    };
    let old_id = b.record(&old, "").await;
    // 10 servers, 10 reposts each (the most a server may have waiting), to 100 channels.
    for server in 0..10 {
        for i in 0..10 {
            let channel = 5_000 + server * 10 + i;
            assert!(
                b.store
                    .enqueue_repost(100 + server, channel, old_id)
                    .await
                    .unwrap()
                    .is_some()
            );
        }
    }
    let (issue, html) = one_message_issue();
    b.record(&issue, &html).await;
    let subscribed = |b: &Bench| {
        (1..=CHANNELS)
            .filter(|c| !b.discord.messages(*c as u64).is_empty())
            .count() as i64
    };
    let mut all_new_at = None;
    let mut steps = 0;
    let (elapsed, retries) = b
        .drain(|t| {
            steps += 1;
            // Checking every channel is slow: every 50 steps, then every step near the end.
            if all_new_at.is_none()
                && (steps % 50 == 0 || b.discord.all_messages() as i64 >= CHANNELS)
                && subscribed(&b) == CHANNELS
            {
                all_new_at = Some(t);
            }
        })
        .await;
    println!(
        "## reposts: 100 reposts (3 messages each) queued first, then an issue of one message to {CHANNELS} channels"
    );
    println!(
        "the {CHANNELS} channels had the new issue after {:.2} s (floor 20 s; `one` alone: ~21 s); all {} messages after {:.2} s",
        all_new_at.unwrap_or(elapsed).as_secs_f64(),
        b.discord.all_messages(),
        elapsed.as_secs_f64()
    );
    b.report_limits(retries);
    assert_eq!(b.discord.all_messages() as i64, CHANNELS + 300);
}

async fn doubt() {
    let b = Bench::new().await;
    b.discord.forget_nonces_after(Duration::ZERO);
    for channel in (1..=CHANNELS).step_by(10) {
        b.discord.lose_answers(channel as u64, 1);
    }
    let (issue, html) = one_message_issue();
    b.record(&issue, &html).await;
    let (elapsed, retries) = b.drain(|_| {}).await;
    let posts: usize = (1..=CHANNELS).map(|c| b.discord.requests(c as u64)).sum();
    let reads: usize = (1..=CHANNELS).map(|c| b.discord.reads(c as u64)).sum();
    println!("## doubt: one message to {CHANNELS} channels, 100 answers lost, nonces forgotten");
    println!(
        "{} messages in {:.2} s; {posts} posts and {reads} channel reads for 100 in-doubt posts: {:.2} extra requests each (and one GET /users/@me per process)",
        b.discord.all_messages(),
        elapsed.as_secs_f64(),
        (posts + reads - CHANNELS as usize) as f64 / 100.0
    );
    b.report_limits(retries);
    assert_eq!(b.discord.all_messages() as i64, CHANNELS, "no post doubled");
}

/// One `briefbot run` process as far as posting goes: its own store (its own connections and
/// presence lock), the lease keeper, and the delivery worker that runs while it leads.
struct Process {
    leadership: Leadership,
    tasks: Vec<tokio::task::JoinHandle<()>>,
    _shutdown: tokio::sync::watch::Sender<bool>,
}

impl Process {
    async fn start(b: &Bench) -> Self {
        let store = Store::open(&b.url).await.unwrap();
        let (shutdown_tx, shutdown) = tokio::sync::watch::channel(false);
        let (leadership, keeper) = briefbot::leader::hold(
            store.clone(),
            Arc::default(),
            briefbot::leader::LeaseSettings::default(),
            shutdown.clone(),
        );
        let mut deliverer = Deliverer::new(
            store.clone(),
            b.discord.http(),
            HashMap::from([("aitimes-briefing".to_owned(), "AI타임스".to_owned())]),
            DeliverySettings::default(),
        );
        let worker = tokio::spawn({
            let mut leadership = leadership.clone();
            let mut shutdown = shutdown.clone();
            async move {
                while let Some(stop) = leadership.gate(&mut shutdown).await {
                    briefbot::deliver::run(&mut deliverer, stop).await;
                    store.release_claims().await.unwrap();
                }
            }
        });
        Self {
            leadership,
            tasks: vec![keeper, worker],
            _shutdown: shutdown_tx,
        }
    }

    /// As SIGKILL: its tasks end where they are and its connections close with them.
    fn kill(self) {
        for task in self.tasks {
            task.abort();
        }
    }
}

async fn fleet() {
    if std::env::var("BENCH_POSTGRES").is_err() {
        println!("## fleet: runs on PostgreSQL only (set BENCH_POSTGRES)");
        return;
    }
    let b = Bench::new().await;
    let mut fleet = Vec::new();
    for _ in 0..3 {
        fleet.push(Process::start(&b).await);
    }
    while !fleet.iter().any(|p| p.leadership.is_leading()) {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let (issue, html) = one_message_issue();
    let started = Instant::now();
    b.record(&issue, &html).await;
    while b.discord.all_messages() < 500 {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let leader = fleet
        .iter()
        .position(|p| p.leadership.is_leading())
        .unwrap();
    fleet.remove(leader).kill();
    let killed = Instant::now();
    let at_kill = b.discord.all_messages();
    let mut resumed = None;
    while b.discord.all_messages() < CHANNELS as usize
        || b.store.pending_deliveries().await.unwrap() > 0
    {
        if resumed.is_none() && b.discord.all_messages() > at_kill + 1 {
            resumed = Some(killed.elapsed());
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let elapsed = started.elapsed();
    println!(
        "## fleet: three processes, one issue of one message to {CHANNELS} channels, the poster killed after 500"
    );
    println!(
        "posted {} messages in {:.2} s; after the kill, posting resumed in {:.2} s (the lease lasts {} s, renewed every {} s)",
        b.discord.all_messages(),
        elapsed.as_secs_f64(),
        resumed.unwrap_or_default().as_secs_f64(),
        briefbot::leader::LEASE_TTL.as_secs(),
        briefbot::leader::CHECK_EVERY.as_secs()
    );
    b.report_limits(0);
    let twice = (1..=CHANNELS)
        .filter(|c| b.discord.messages(*c as u64).len() != 1)
        .count();
    println!("channels without exactly one message: {twice}");
    assert_eq!(twice, 0, "every channel got the issue once");
    for p in fleet {
        p.kill();
    }
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let only = std::env::args().skip(1).find(|a| !a.starts_with('-'));
    let run = |case: &str| only.as_deref().is_none_or(|o| o == case);
    if run("one") {
        one().await;
    }
    if run("split") {
        split().await;
    }
    if run("reposts") {
        reposts().await;
    }
    if run("doubt") {
        doubt().await;
    }
    if run("fleet") {
        fleet().await;
    }
}
