//! Fan-out of one issue to 1,000 subscribed channels through the real delivery worker and
//! serenity's HTTP client, against the fake Discord enforcing Discord's limits (50 requests a
//! second in all, 5 messages per channel in 5 seconds). The floor is 20 s; the goal 22 s, with no
//! channel answered 429 more than once. Run with `cargo bench --bench fanout`.

#[allow(dead_code)]
#[path = "../tests/it/support/discord.rs"]
mod discord;

use std::collections::HashMap;
use std::time::Instant;

use briefbot::config::DatabaseUrl;
use briefbot::deliver::{Deliverer, DeliverySettings, Step};
use briefbot::domain::{Format, SourceId};
use briefbot::scrape::issue_from_page;
use briefbot::store::outbox::ALL_SOURCES;
use briefbot::store::{SourcePage, Store};

const CHANNELS: i64 = 1000;

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let dir = tempfile::tempdir().unwrap();
    let url = DatabaseUrl::Sqlite(format!(
        "sqlite://{}",
        dir.path().join("fanout.db").display()
    ));
    let store = Store::open(&url).await.unwrap();
    for channel in 1..=CHANNELS {
        store
            .subscribe(1, channel, ALL_SOURCES, None, 1)
            .await
            .unwrap();
    }
    let page = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/aitimes/article_214043.html"
    ))
    .unwrap();
    let page_url =
        url::Url::parse("https://www.aitimes.com/news/articleView.html?idxno=214043").unwrap();
    let mut issue = issue_from_page(&page, &page_url, Format::Ndsoft, None).unwrap();
    issue.published_at = Some(chrono::Utc::now());
    let source = SourceId::parse("aitimes-briefing").unwrap();
    let stored = SourcePage {
        url: page_url.as_str(),
        html: &page,
        format: "ndsoft",
    };
    store
        .record_issue(&source, &issue, &[], &stored)
        .await
        .unwrap();
    assert_eq!(store.pending_deliveries().await.unwrap(), CHANNELS);

    let discord = discord::FakeDiscord::start().await;
    discord.enforce_limits();
    let names = HashMap::from([(
        "aitimes-briefing".to_owned(),
        "AI타임스 뉴스 브리핑".to_owned(),
    )]);
    let mut deliverer = Deliverer::new(
        store.clone(),
        discord.http(),
        names,
        DeliverySettings::default(),
    );

    let started = Instant::now();
    let mut retries = 0;
    loop {
        match deliverer.step().await.unwrap() {
            Step::Idle => {
                if store.pending_deliveries().await.unwrap() == 0 {
                    break;
                }
                tokio::time::sleep(std::time::Duration::from_millis(50)).await;
            }
            Step::Retry { .. } => retries += 1,
            _ => {}
        }
    }
    let elapsed = started.elapsed();
    let limited = discord.rate_limited();
    println!(
        "## Fan-out of one issue to {CHANNELS} channels (fake Discord enforcing 50 req/s and 5 msg/5 s per channel)"
    );
    println!(
        "posted {} messages in {:.2} s ({:.1} messages/s)",
        discord.all_messages(),
        elapsed.as_secs_f64(),
        discord.all_messages() as f64 / elapsed.as_secs_f64()
    );
    println!(
        "429 answers: {} in all, at most {} in one channel; deliveries put off: {retries}",
        limited.values().sum::<usize>(),
        limited.values().max().copied().unwrap_or(0)
    );
    assert_eq!(discord.all_messages() as i64, CHANNELS);
}
