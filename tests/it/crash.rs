//! The crash matrix: `briefbot run` as an operator runs it, against the fake Discord (which
//! forgets nonces at once, so only the outbox can prevent doubles), killed with SIGKILL again
//! and again while it fans one split issue out to 50 channels, and restarted each time.

use std::collections::HashMap;
use std::path::Path;
use std::time::Duration;

use briefbot::store::Store;
use briefbot::store::outbox::ALL_SOURCES;

use crate::support::discord::FakeDiscord;
use crate::support::{FakeSite, TestDb, eventually, issue_of, record};

const CHANNELS: u64 = 50;
const FIRST_CHANNEL: u64 = 1000;
const LIST: &str = "/news/list.html";

fn start(dir: &Path, discord: &FakeDiscord, log: &str) -> tokio::process::Child {
    // The database and sources.toml are in `dir`, where the defaults look for them.
    crate::support::briefbot_run(dir, &discord.base)
        .env("DISCORD_TOKEN", "crash-test-token")
        .stderr(std::fs::File::create(dir.join(log)).unwrap())
        .spawn()
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_at_any_point_and_restarted_every_channel_gets_every_part_exactly_once() {
    let db = TestDb::new();
    let dir = db.dir.path();
    let site = FakeSite::start().await;
    site.serve_bytes(
        LIST,
        b"<html><body><section id=\"section-list\"><ul class=\"type1\"></ul></section></body></html>"
            .to_vec(),
        "text/html; charset=utf-8",
    );
    crate::support::write_sources(dir, &site.url(LIST), "1h");
    let discord = FakeDiscord::start().await;
    discord.forget_nonces_after(Duration::ZERO);
    // 50 subscribed channels, and one issue of 14 items owed to each: two messages apiece.
    let store = db.store().await;
    for c in 0..CHANNELS {
        store
            .subscribe(7, (FIRST_CHANNEL + c) as i64, ALL_SOURCES, None, 1)
            .await
            .unwrap();
    }
    let issue = issue_of(1, 0, 14);
    record(&store, "aitimes-briefing", &issue).await;
    assert_eq!(store.pending_deliveries().await.unwrap(), CHANNELS as i64);
    let expected = 2 * CHANNELS as usize;

    // Each round starts the bot and kills it (SIGKILL) once Discord has created this many
    // more messages; some rounds first make Discord stall or lose its answers, so the kill
    // lands between a post and its bookkeeping.
    enum Fault {
        None,
        /// Every channel's next post is created and never answered.
        Stall,
        /// Every channel's next post is created and answered with a 502.
        Lose,
    }
    let rounds: [(Fault, usize); 11] = [
        (Fault::None, 0), // as soon as it is connected: before (or at) its first post
        (Fault::None, 1),
        (Fault::Stall, 1), // a post created, its answer never coming
        (Fault::None, 9),  // mid-split somewhere
        (Fault::Lose, 5),  // answers lost: parts in doubt, in backoff
        (Fault::None, 1),  // right after the restart's first look or post
        (Fault::None, 12),
        (Fault::Stall, 1),
        (Fault::None, 20),
        (Fault::Lose, 3),
        (Fault::None, 7),
    ];
    let mut logs = Vec::new();
    let mut rounds_run = 0;
    for (round, (fault, more)) in rounds.iter().enumerate() {
        let before = discord.all_messages();
        if before + more > expected {
            break;
        }
        for c in 0..CHANNELS {
            match fault {
                Fault::Stall => discord.stall_answers(FIRST_CHANNEL + c, 1),
                Fault::Lose => discord.lose_answers(FIRST_CHANNEL + c, 1),
                Fault::None => {}
            }
        }
        let identified = discord.identified();
        let log = format!("round{round}.log");
        let mut child = start(dir, &discord, &log);
        logs.push(log);
        if *more == 0 {
            eventually(30, "the bot connects", || discord.identified() > identified).await;
        } else {
            eventually(60, "the posts of this round", || {
                discord.all_messages() >= before + more
            })
            .await;
        }
        child.start_kill().unwrap();
        child.wait().await.unwrap();
        discord.clear_faults();
        rounds_run += 1;
    }

    // The last run goes to the end and stops cleanly.
    let mut child = start(dir, &discord, "final.log");
    eventually(120, "every part posted", || {
        discord.all_messages() >= expected
    })
    .await;
    let store = Store::open(&db.url).await.unwrap();
    for _ in 0..500 {
        if store.pending_deliveries().await.unwrap() == 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    let pid = child.id().unwrap().to_string();
    std::process::Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .unwrap();
    child.wait().await.unwrap();

    let first_part: Vec<String> = std::iter::once(issue.title.clone())
        .chain(
            issue.briefs[..9]
                .iter()
                .map(|b| format!("■ {}", b.headline)),
        )
        .collect();
    let second_part: Vec<String> = issue.briefs[9..]
        .iter()
        .map(|b| format!("■ {}", b.headline))
        .collect();
    let mut wrong = HashMap::new();
    for c in 0..CHANNELS {
        let titles: Vec<Vec<String>> = discord
            .messages(FIRST_CHANNEL + c)
            .iter()
            .map(|m| {
                m.embeds()
                    .iter()
                    .map(|e| e["title"].as_str().unwrap_or("").replace('\\', ""))
                    .collect()
            })
            .collect();
        if titles != [first_part.clone(), second_part.clone()] {
            wrong.insert(FIRST_CHANNEL + c, titles.len());
        }
    }
    let logs: String = logs
        .iter()
        .chain(std::iter::once(&"final.log".to_owned()))
        .map(|l| std::fs::read_to_string(dir.join(l)).unwrap_or_default())
        .collect::<Vec<_>>()
        .join("\n----\n");
    let tail: String = {
        let chars: Vec<char> = logs.chars().collect();
        chars[chars.len().saturating_sub(6000)..].iter().collect()
    };
    assert!(
        wrong.is_empty(),
        "channels without exactly their two parts (channel: messages): {wrong:?}\n{tail}"
    );
    assert_eq!(store.pending_deliveries().await.unwrap(), 0);
    assert!(
        !logs.contains("crash-test-token"),
        "the token is never logged"
    );
    // The kills did land between posts and their bookkeeping: restarts found such posts.
    assert_eq!(rounds_run, rounds.len(), "every kill point was reached");
    let found = logs.matches("posted after all").count();
    assert!(
        found >= 2,
        "in-doubt parts found after restarts: {found}\n{tail}"
    );
}

/// README: Deployment: one process per SQLite file. A second `briefbot run` on the same file
/// (started by mistake, by a second service manager, twice by a script) refuses to start with one
/// line and exit code 2, and the first goes on alone: an issue stored afterwards is posted once.
/// Before, both ran, and both posted it (the fake forgets nonces at once, as Discord does after
/// minutes).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_run_on_the_same_sqlite_file_refuses_to_start_and_the_first_posts_once() {
    let db = TestDb::sqlite();
    let dir = db.dir.path();
    let site = FakeSite::start().await;
    site.serve_bytes(
        LIST,
        b"<html><body><section id=\"section-list\"><ul class=\"type1\"></ul></section></body></html>"
            .to_vec(),
        "text/html; charset=utf-8",
    );
    crate::support::write_sources(dir, &site.url(LIST), "1h");
    let discord = FakeDiscord::start().await;
    discord.forget_nonces_after(Duration::ZERO);
    let store = db.store().await;
    store
        .subscribe(7, FIRST_CHANNEL as i64, ALL_SOURCES, None, 1)
        .await
        .unwrap();

    let mut first = start(dir, &discord, "first.log");
    eventually(30, "the first connects", || discord.identified() >= 1).await;
    let second = start(dir, &discord, "second.log");
    let mut second = second;
    let code = tokio::time::timeout(Duration::from_secs(30), second.wait())
        .await
        .expect("the second stops at once")
        .unwrap();
    let said = std::fs::read_to_string(dir.join("second.log")).unwrap();
    assert_eq!(code.code(), Some(2), "{said}");
    assert_eq!(said.lines().count(), 1, "one line: {said}");
    assert!(
        said.contains("another `briefbot run` is using the database"),
        "{said}"
    );

    // The first still runs, and posts the next issue once.
    record(&store, "aitimes-briefing", &issue_of(1, 0, 3)).await;
    eventually(30, "the issue posted", || discord.all_messages() >= 1).await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert!(first.try_wait().unwrap().is_none(), "the first still runs");
    assert_eq!(discord.messages(FIRST_CHANNEL).len(), 1);
    assert_eq!(store.pending_deliveries().await.unwrap(), 0);
    first.start_kill().unwrap();
    first.wait().await.unwrap();
}
