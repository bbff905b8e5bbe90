//! Several `briefbot run` processes on one PostgreSQL database (SPEC §7): three processes, each
//! running one of three gateway shards, one fake Discord that routes each guild's events to its
//! shard's session (Discord's `(guild_id >> 22) % shards`) and enforces the global limit of 50
//! requests a second, one fake news site. Every channel gets every issue exactly once, however
//! many processes could post it; the process holding the scheduler lease is killed (SIGKILL) and
//! another takes over; each guild's interactions are answered once, by its shard's process.
//! Runs only when the suite runs on PostgreSQL (`BRIEFBOT_TEST_POSTGRES`).

use std::collections::HashMap;
use std::time::Duration;

use briefbot::store::outbox::ALL_SOURCES;
use serde_json::{Value, json};

use crate::support::discord::{FakeDiscord, command};
use crate::support::site::ndsoft_list;
use crate::support::{FakeSite, TestDb, eventually, fixture};

const SHARDS: u64 = 3;
/// One guild on each shard: `(id >> 22) % 3` is 0, 1 and 2.
const GUILDS: [u64; 3] = [3 << 22, 4 << 22, 5 << 22];
const CHANNELS: u64 = 200;
const FIRST_CHANNEL: u64 = 10_000;
const LIST: &str = "/news/list.html";
/// Manage Server, as a member who may use every command has it.
const MEMBER: u64 = 77;
const PERMISSIONS: &str = "32";

fn guild_of(channel: u64) -> u64 {
    GUILDS[((channel - FIRST_CHANNEL) % SHARDS) as usize]
}

struct Process {
    child: tokio::process::Child,
    http: std::net::SocketAddr,
    shard: u64,
}

async fn health(addr: std::net::SocketAddr) -> Option<Value> {
    let answer = reqwest::get(format!("http://{addr}/healthz")).await.ok()?;
    serde_json::from_str(&answer.text().await.ok()?).ok()
}

/// The processes whose `/healthz` says `scheduler: active`.
async fn active(processes: &[Process]) -> Vec<u64> {
    let mut active = Vec::new();
    for p in processes {
        if let Some(h) = health(p.http).await
            && h["scheduler"] == "active"
        {
            active.push(p.shard);
        }
    }
    active
}

/// Waits until the store has sent `count` deliveries and none is pending.
async fn delivered(db: &TestDb, count: i64, secs: u64) {
    let store = db.store().await;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(secs);
    loop {
        let counts: HashMap<String, i64> =
            store.delivery_counts().await.unwrap().into_iter().collect();
        if counts.get("sent").copied().unwrap_or(0) >= count && !counts.contains_key("pending") {
            store.close().await;
            return;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "{count} deliveries sent within {secs} s: {counts:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Every channel has each of `titles` once as a lead, and no message twice (by nonce).
fn each_channel_has_each_issue_once(discord: &FakeDiscord, titles: &[String]) {
    for c in 0..CHANNELS {
        let channel = FIRST_CHANNEL + c;
        let messages = discord.messages(channel);
        let mut nonces: Vec<&str> = messages.iter().filter_map(|m| m.nonce()).collect();
        let all = nonces.len();
        nonces.sort_unstable();
        nonces.dedup();
        assert_eq!(nonces.len(), all, "channel {channel} got a message twice");
        assert_eq!(all, messages.len(), "every message carries a nonce");
        for title in titles {
            let leads = messages
                .iter()
                // Titles are posted with Discord markdown escaped (`\[8월21일\]`).
                .filter(|m| {
                    m.embeds()
                        .first()
                        .and_then(|e| e["title"].as_str())
                        .map(|t| t.replace('\\', ""))
                        == Some(title.replace('\\', ""))
                })
                .count();
            assert_eq!(
                leads,
                1,
                "channel {channel}: issue {title:?} posted {leads} times; leads: {:?}",
                messages
                    .iter()
                    .map(|m| m.embeds().first().map(|e| e["title"].clone()))
                    .collect::<Vec<_>>()
            );
        }
    }
}

/// Waits until `issues` issues are delivered to every channel, then checks each channel has
/// each of them once and nothing went over the global limit.
async fn all_posted_once(db: &TestDb, discord: &FakeDiscord, issues: usize, secs: u64) {
    delivered(db, (issues as u64 * CHANNELS) as i64, secs).await;
    let store = db.store().await;
    let titles: Vec<String> = store
        .latest(10, None)
        .await
        .unwrap()
        .into_iter()
        .map(|i| i.title)
        .collect();
    store.close().await;
    assert_eq!(titles.len(), issues, "{titles:?}");
    each_channel_has_each_issue_once(discord, &titles);
    assert_eq!(discord.globally_limited(), 0, "over the global limit");
}

/// Sends `/news latest` in a guild's channel and checks it is answered, once.
async fn ask_latest(discord: &FakeDiscord, guild: u64, channel: u64) {
    let payload = command(
        "news",
        json!([{ "name": "latest", "type": 1, "options": [] }]),
        Some(guild),
        channel,
        MEMBER,
        PERMISSIONS,
    );
    let token = payload["token"].as_str().unwrap().to_owned();
    let (_, data) = discord.interact(payload).await;
    assert!(data["embeds"].is_array(), "{data}");
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(discord.callbacks(&token), 1, "guild {guild} answered once");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_processes_post_every_issue_once_and_another_takes_over_when_the_leader_dies() {
    let Some(db) = TestDb::postgres_only("several processes share one PostgreSQL database") else {
        return;
    };
    let dir = db.dir.path();
    let site = FakeSite::start().await;
    let article = |n: u32| format!("/news/articleView.html?idxno={n}");
    let first_four = [214043, 214100, 214145, 214199];
    for n in first_four {
        site.serve_fresh_fixture(&article(n), &format!("aitimes/article_{n}.html"));
    }
    let entries: Vec<(String, &str)> = first_four
        .iter()
        .rev()
        .map(|n| (article(*n), "[8월] 뉴스 브리핑"))
        .collect();
    site.serve_bytes(LIST, ndsoft_list(&entries), "text/html; charset=utf-8");
    // The fifth issue comes out after the leader dies: the real seed issue, published an hour ago.
    let seed = fixture("aitimes/issue_seed.html")
        .replace(
            "https://www.aitimes.com",
            site.base.as_str().trim_end_matches('/'),
        )
        .replace(
            "2023-09-08T07:00:00+09:00",
            &(chrono::Utc::now() - chrono::Duration::hours(1)).to_rfc3339(),
        );
    site.serve_bytes(
        &article(999_001),
        seed.into_bytes(),
        "text/html; charset=utf-8",
    );
    std::fs::write(
        dir.join("sources.toml"),
        format!(
            "[[sources]]\nid = \"aitimes-briefing\"\nname = \"AI타임스\"\nlist_url = \"{}\"\nformat = \"ndsoft\"\npoll_every = \"1s\"\n",
            site.url(LIST)
        ),
    )
    .unwrap();

    let discord = FakeDiscord::start().await;
    discord.enforce_limits();
    discord.set_guilds(&GUILDS);
    let store = db.store().await;
    for c in 0..CHANNELS {
        let channel = FIRST_CHANNEL + c;
        store
            .subscribe(
                guild_of(channel) as i64,
                channel as i64,
                ALL_SOURCES,
                None,
                1,
            )
            .await
            .unwrap();
    }
    store.close().await;

    let mut processes = Vec::new();
    for shard in 0..SHARDS {
        let http = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap();
        let child = crate::support::briefbot_run(dir, &discord.base)
            .env("DISCORD_TOKEN", "fleet-token")
            .env("BRIEFBOT_SHARDS", format!("{shard}/{SHARDS}"))
            .env("BRIEFBOT_HTTP_ADDR", http.to_string())
            .stderr(std::fs::File::create(dir.join(format!("shard{shard}.log"))).unwrap())
            .spawn()
            .unwrap();
        processes.push(Process { child, http, shard });
    }
    eventually(60, "every shard identified", || discord.identified() >= 3).await;
    let mut shards: Vec<Value> = discord.identified_shards();
    shards.sort_by_key(|s| s[0].as_u64());
    assert_eq!(shards, [json!([0, 3]), json!([1, 3]), json!([2, 3])]);

    // The first four issues, to 200 channels: one process polls, and one posts them.
    all_posted_once(&db, &discord, 4, 180).await;
    let leaders = active(&processes).await;
    assert_eq!(
        leaders.len(),
        1,
        "one process holds the scheduler lease: {leaders:?}"
    );
    for p in &processes {
        let h = health(p.http).await.unwrap();
        assert_eq!(h["shards"], json!([p.shard, p.shard, SHARDS]), "{h}");
    }

    // Each guild's interactions reach its own shard's process only, and are answered once.
    for (shard, guild) in GUILDS.iter().enumerate() {
        let channel = FIRST_CHANNEL + shard as u64;
        assert_eq!(guild_of(channel), *guild);
        ask_latest(&discord, *guild, channel).await;
    }

    // The leader dies without a word; another process takes the lease within a minute.
    let leader = leaders[0];
    let index = processes.iter().position(|p| p.shard == leader).unwrap();
    let mut dead = processes.remove(index);
    dead.child.start_kill().unwrap();
    dead.child.wait().await.unwrap();
    let died = std::time::Instant::now();
    let mut next = Vec::new();
    while next.is_empty() {
        assert!(
            died.elapsed() < Duration::from_secs(60),
            "no process took over"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
        next = active(&processes).await;
    }
    assert_eq!(next.len(), 1, "{next:?}");

    // The next issue is polled and posted by the new leader, once to every channel.
    let mut entries = entries;
    entries.insert(0, (article(999_001), "[9월8일] 뉴스 브리핑"));
    site.serve_bytes(LIST, ndsoft_list(&entries), "text/html; charset=utf-8");
    all_posted_once(&db, &discord, 5, 120).await;

    // The surviving shards still answer their guilds.
    for p in &processes {
        ask_latest(&discord, GUILDS[p.shard as usize], FIRST_CHANNEL + p.shard).await;
    }
    let log = std::fs::read_to_string(dir.join(format!("shard{}.log", next[0]))).unwrap();
    assert!(log.contains("now holds the scheduler lease"), "{log}");
}

/// Two processes' stores on one database: a delivery one of them claimed is not handed to the
/// other while the first lives, and is handed over at once when it dies; the scheduler lease is
/// held by one at a time and passes on when its holder's connection ends.
#[tokio::test]
async fn claims_and_the_lease_last_as_long_as_their_process() {
    let Some(db) = TestDb::postgres_only("claims and the lease are PostgreSQL's") else {
        return;
    };
    let first = db.store().await;
    let second = db.store().await;
    for channel in [1, 2] {
        first
            .subscribe(GUILDS[0] as i64, channel, ALL_SOURCES, None, 1)
            .await
            .unwrap();
    }
    crate::support::record(
        &first,
        "aitimes-briefing",
        &crate::support::issue_of(1, 0, 3),
    )
    .await;
    let now = briefbot::store::now();
    let a = first.due_delivery(now, &[]).await.unwrap().unwrap();
    // Asked again, the first process gets its own claim back; the second gets the other one.
    assert_eq!(
        first.due_delivery(now, &[]).await.unwrap().unwrap().id,
        a.id
    );
    let b = second.due_delivery(now, &[]).await.unwrap().unwrap();
    assert_ne!(a.id, b.id);
    assert!(
        second
            .due_delivery(now, &[b.channel_id])
            .await
            .unwrap()
            .is_none()
    );

    // A process that stops posting (it lost the lease, but lives) gives its claims up.
    assert_eq!(first.release_claims().await.unwrap(), 1);
    let next = second.due_delivery(now, &[b.channel_id]).await.unwrap();
    assert_eq!(
        next.map(|d| d.id),
        Some(a.id),
        "released to the next poster"
    );
    // Claimed by the second now: the first, alive, does not get it back until it is released.
    assert!(
        first
            .due_delivery(now, &[b.channel_id])
            .await
            .unwrap()
            .is_none()
    );
    second.release_claims().await.unwrap();
    let back = first.due_delivery(now, &[b.channel_id]).await.unwrap();
    assert_eq!(back.map(|d| d.id), Some(a.id));

    let lease = first
        .try_lease()
        .await
        .unwrap()
        .expect("the first takes the lease");
    assert!(
        second.try_lease().await.unwrap().is_none(),
        "held by the first"
    );

    // The first process dies: its lease and its claim go with its connections.
    drop(lease);
    first.close().await;
    drop(first);
    let mut taken = None;
    for _ in 0..100 {
        if let Some(d) = second.due_delivery(now, &[b.channel_id]).await.unwrap() {
            taken = Some(d);
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(
        taken.map(|d| d.id),
        Some(a.id),
        "the dead process's claim is void"
    );
    let mut lease = None;
    for _ in 0..100 {
        lease = second.try_lease().await.unwrap();
        if lease.is_some() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let mut lease = lease.expect("the lease passes on");
    assert!(lease.held(Duration::from_secs(5)).await);
}
