//! Several `briefbot run` processes on one PostgreSQL database (README: Deployment): three
//! processes, each running one of three gateway shards, one fake Discord that routes each guild's
//! events to its shard's session (Discord's `(guild_id >> 22) % shards`) and enforces the global
//! limit of 50 requests a second, one fake news site. Every channel gets every issue exactly once,
//! however many processes could post it; the process holding the scheduler lease is killed
//! (SIGKILL) and another takes over; each guild's interactions are answered once, by its shard's
//! process. Runs only when the suite runs on PostgreSQL (`BRIEFBOT_TEST_POSTGRES`).

use std::collections::HashMap;
use std::time::Duration;

use briefbot::domain::DeliveryStatus;
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
    // A frozen process accepts the connection and never answers.
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(2))
        .build()
        .ok()?;
    let answer = client
        .get(format!("http://{addr}/healthz"))
        .send()
        .await
        .ok()?;
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
        let counts: HashMap<DeliveryStatus, i64> =
            store.delivery_counts().await.unwrap().into_iter().collect();
        if counts.get(&DeliveryStatus::Sent).copied().unwrap_or(0) >= count
            && !counts.contains_key(&DeliveryStatus::Pending)
        {
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

/// Every one of `channels` channels has each of `titles` once as a lead, and no message twice
/// (by nonce).
fn each_channel_has_each_issue_once(discord: &FakeDiscord, channels: u64, titles: &[String]) {
    for c in 0..channels {
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

/// Waits until `issues` issues are delivered to every one of `channels` channels, then checks
/// each channel has each of them once and nothing went over the global limit.
async fn all_posted_once(
    db: &TestDb,
    discord: &FakeDiscord,
    channels: u64,
    issues: usize,
    secs: u64,
) {
    delivered(db, (issues as u64 * channels) as i64, secs).await;
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
    each_channel_has_each_issue_once(discord, channels, &titles);
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
    crate::support::write_sources(dir, &site.url(LIST), "1s");

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
            .env("BRIEFBOT_LEASE_TTL", SHORT_LEASE)
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
    all_posted_once(&db, &discord, CHANNELS, 4, 180).await;
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
    all_posted_once(&db, &discord, CHANNELS, 5, 120).await;

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

    let ttl = Duration::from_secs(3);
    let mut lease = first
        .try_lease(ttl)
        .await
        .unwrap()
        .expect("the first takes the lease");
    assert!(
        second.try_lease(ttl).await.unwrap().is_none(),
        "held by the first"
    );
    assert!(lease.renew().await, "renewed by its holder");

    // The first process dies: its claim goes with its presence connection, its lease expires.
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
        lease = second.try_lease(ttl).await.unwrap();
        if lease.is_some() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let mut lease = lease.expect("the lease passes on once it expired");
    assert!(lease.renew().await);
}

fn lost<T>(written: Result<T, briefbot::store::StoreError>) -> bool {
    matches!(written, Err(briefbot::store::StoreError::LeaseLost))
}

/// Issue 19: the lease is a row with an expiry and a generation, the fencing token. A holder
/// that did not renew in time (hung) loses it to another process, and then every write of its
/// work is refused, and its claims are ignored by the new holder, even though it lives.
#[tokio::test]
async fn a_former_lease_holder_writes_nothing_and_its_claims_end_with_its_lease() {
    let Some(db) = TestDb::postgres_only("the lease is shared on PostgreSQL") else {
        return;
    };
    let old = db.store().await;
    let new = db.store().await;
    for channel in [1, 2] {
        old.subscribe(GUILDS[0] as i64, channel, ALL_SOURCES, None, 1)
            .await
            .unwrap();
    }
    crate::support::record(&old, "aitimes-briefing", &crate::support::issue_of(1, 0, 3)).await;
    let now = briefbot::store::now();
    let ttl = Duration::from_secs(3);
    let _hung = old.try_lease(ttl).await.unwrap().expect("taken");
    assert!(old.may_post());
    let claimed = old.due_delivery(now, &[]).await.unwrap().unwrap();
    let message = briefbot::render::Message {
        content: None,
        embeds: Vec::new(),
    };
    old.freeze(&claimed, std::slice::from_ref(&message), &[])
        .await
        .unwrap()
        .unwrap();

    // The holder hangs (it renews nothing): by its own clock it stops acting at half the
    // lease, and once the lease expires another process takes it.
    tokio::time::sleep(ttl / 2 + Duration::from_millis(100)).await;
    assert!(
        !old.may_post(),
        "stopped by its own clock before the expiry"
    );
    let mut taken = None;
    for _ in 0..100 {
        taken = new.try_lease(ttl).await.unwrap();
        if taken.is_some() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let _lease = taken.expect("taken over after the expiry");

    // The old holder wakes up: none of its writes lands.
    assert!(lost(old.record_attempt(claimed.id, 0, now).await));
    assert!(lost(old.record_part_sent(claimed.id, 0, 42).await));
    assert!(lost(
        old.finish_delivery(&claimed, DeliveryStatus::Sent, &[], None)
            .await
    ));
    assert!(lost(
        old.retry_delivery(
            claimed.id,
            now,
            "x",
            briefbot::store::outbox::Failure::Other
        )
        .await
    ));
    assert!(lost(old.fail_and_pause(&claimed, "x").await));
    assert!(lost(old.due_delivery(now, &[]).await));
    // Nor does its scheduler store an issue (or owe a channel its post).
    let issue = crate::support::issue_of(2, 3, 3);
    let page = briefbot::store::SourcePage {
        url: issue.url.as_str(),
        html: "",
        format: "auto",
    };
    let source = briefbot::domain::SourceId::parse("aitimes-briefing").unwrap();
    assert!(lost(old.record_issue(&source, &issue, &[], &page).await));
    assert!(new.issue_for_url(&issue.url).await.unwrap().is_none());
    let frozen = new.frozen(claimed.id).await.unwrap().unwrap();
    assert!(
        frozen.parts[0].attempted_at.is_none() && frozen.parts[0].message_id.is_none(),
        "{frozen:?}"
    );

    // The new holder takes the delivery the old one still claims (it never released it).
    let mut got = Vec::new();
    while let Some(d) = new.due_delivery(now, &got).await.unwrap() {
        got.push(d.channel_id);
        assert!(got.len() <= 2);
    }
    assert!(got.contains(&claimed.channel_id), "{got:?}");
}

/// The server drops every connection between two calls (a restart, a failover): a pooled
/// connection idle for a second or more is checked before it is handed out, so the next call
/// gets a new one and its answer. (One used within the last second is handed out unchecked: the
/// call then fails once, as it would had the server gone a moment later; RELIABILITY.md.)
#[tokio::test]
async fn a_call_after_the_server_dropped_every_connection_gets_its_answer() {
    let Some(db) = TestDb::postgres_only("connections to a server") else {
        return;
    };
    let store = db.store().await;
    crate::support::record(&store, "aitimes", &crate::support::issue_of(1, 0, 3)).await;
    assert_eq!(store.latest(1, None).await.unwrap().len(), 1);
    db.drop_connections();
    tokio::time::sleep(Duration::from_millis(1100)).await;
    assert_eq!(store.latest(1, None).await.unwrap().len(), 1);
    assert_eq!(store.latest(1, None).await.unwrap().len(), 1);
}

/// The world of the hang and partition tests (issue 19): a fake site listing one issue, the
/// sources file, a fake Discord that forgets nonces at once (so only the outbox and the lease
/// can prevent doubles), and `channels` channels subscribed, spread over the three guilds.
async fn small_fleet(db: &TestDb, channels: u64) -> (FakeSite, FakeDiscord) {
    let site = FakeSite::start().await;
    for n in [214043, 214100, 214145] {
        site.serve_fresh_fixture(
            &format!("/news/articleView.html?idxno={n}"),
            &format!("aitimes/article_{n}.html"),
        );
    }
    publish(&site, &[214043]);
    crate::support::write_sources(db.dir.path(), &site.url(LIST), "1s");
    let discord = FakeDiscord::start().await;
    discord.forget_nonces_after(Duration::ZERO);
    discord.set_guilds(&GUILDS);
    let store = db.store().await;
    for c in 0..channels {
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
    (site, discord)
}

/// Lists these issues (newest first) on the fake site's list page.
fn publish(site: &FakeSite, issues: &[u32]) {
    let entries: Vec<(String, &str)> = issues
        .iter()
        .rev()
        .map(|n| {
            (
                format!("/news/articleView.html?idxno={n}"),
                "[8월] 뉴스 브리핑",
            )
        })
        .collect();
    site.serve_bytes(LIST, ndsoft_list(&entries), "text/html; charset=utf-8");
}

/// The lease of the hang and partition tests: short, so a takeover takes seconds.
const SHORT_LEASE: &str = "6s";

/// Starts shard `shard` of three with a short lease and its log in `shard{N}.log`.
fn start_shard(
    dir: &std::path::Path,
    discord: &FakeDiscord,
    shard: u64,
    database_url: Option<String>,
) -> Process {
    let http = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let mut command = crate::support::briefbot_run(dir, &discord.base);
    command
        .env("DISCORD_TOKEN", "fleet-token")
        .env("BRIEFBOT_SHARDS", format!("{shard}/{SHARDS}"))
        .env("BRIEFBOT_HTTP_ADDR", http.to_string())
        .env("BRIEFBOT_LEASE_TTL", SHORT_LEASE)
        .stderr(std::fs::File::create(dir.join(format!("shard{shard}.log"))).unwrap());
    if let Some(url) = database_url {
        command.env("DATABASE_URL", url);
    }
    Process {
        child: command.spawn().unwrap(),
        http,
        shard,
    }
}

fn signal(p: &Process, signal: &str) {
    let pid = p.child.id().unwrap().to_string();
    let status = std::process::Command::new("kill")
        .args([&format!("-{signal}"), &pid])
        .status()
        .unwrap();
    assert!(status.success());
}

/// Waits (at most a minute from `since`) until one of `others` says it holds the lease.
async fn taken_over(others: &[Process], since: std::time::Instant) -> u64 {
    loop {
        let next = active(others).await;
        if let [one] = next[..] {
            return one;
        }
        assert!(
            since.elapsed() < Duration::from_secs(60),
            "no other process took over within a minute: {next:?}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

const SMALL: u64 = 30;

/// README: Deployment, issue 19 item 2: the leader frozen with SIGSTOP in the middle of a fan-out,
/// for longer than its lease, and an issue published meanwhile. Before, its advisory lock lived on
/// with its connection: nobody took over, and nothing was posted until it was thawed. Now another
/// process takes over within a minute and every channel gets every issue once; the thawed leader,
/// which had posts in flight, posts nothing more (the fake forgets nonces at once: only the lease's
/// own clock and fencing token prevent doubles).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_frozen_leader_is_replaced_within_a_minute_and_posts_nothing_more_when_thawed() {
    let Some(db) = TestDb::postgres_only("the lease is shared on PostgreSQL") else {
        return;
    };
    let dir = db.dir.path();
    let (site, discord) = small_fleet(&db, SMALL).await;
    let mut processes: Vec<Process> = (0..SHARDS)
        .map(|shard| start_shard(dir, &discord, shard, None))
        .collect();
    eventually(60, "every shard identified", || discord.identified() >= 3).await;
    all_posted_once(&db, &discord, SMALL, 1, 60).await;
    let leaders = active(&processes).await;
    assert_eq!(leaders.len(), 1, "{leaders:?}");
    let index = processes
        .iter()
        .position(|p| p.shard == leaders[0])
        .unwrap();
    let frozen = processes.remove(index);

    // The next issue; the leader frozen once it has posted a few of its messages.
    let before = discord.all_messages();
    publish(&site, &[214043, 214100]);
    eventually(60, "the fan-out begins", || {
        discord.all_messages() >= before + 5
    })
    .await;
    signal(&frozen, "STOP");
    let since = std::time::Instant::now();
    publish(&site, &[214043, 214100, 214145]);

    let next = taken_over(&processes, since).await;
    all_posted_once(&db, &discord, SMALL, 3, 60).await;
    let took = since.elapsed();
    assert!(took < Duration::from_secs(60), "{took:?}");
    eprintln!("frozen leader replaced, every issue posted, {took:?} after the freeze");

    // Thawed, the old leader finds its lease gone: it posts and writes nothing more.
    let posted = discord.all_messages();
    signal(&frozen, "CONT");
    tokio::time::sleep(Duration::from_secs(8)).await;
    assert_eq!(
        discord.all_messages(),
        posted,
        "the thawed leader posted again"
    );
    all_posted_once(&db, &discord, SMALL, 3, 5).await;
    let h = health(frozen.http)
        .await
        .expect("the thawed process answers");
    assert_eq!(h["scheduler"], "standby", "{h}");
    assert_eq!(active(&processes).await, [next]);
    let log = std::fs::read_to_string(dir.join(format!("shard{}.log", frozen.shard))).unwrap();
    assert!(log.contains("scheduler lease was lost"), "{log}");
}

/// README: Deployment, issue 19 items 2-4: the leader's database traffic blackholed (a partition:
/// its connections stay open, nothing passes) in the middle of a fan-out, while it still reaches
/// Discord; then its connections cut and restored, so it reconnects. Each process reaches
/// PostgreSQL through a proxy of its own. Before, the blackholed leader kept its advisory lock (the
/// server never saw its connection end): nobody took over. Now another takes over within a minute,
/// every issue reaches every channel once, and the reconnected old leader posts nothing that was
/// already posted.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_leader_cut_off_from_the_database_is_replaced_and_posts_nothing_twice_when_it_reconnects()
{
    let Some(db) = TestDb::postgres_only("the lease is shared on PostgreSQL") else {
        return;
    };
    let dir = db.dir.path();
    let (site, discord) = small_fleet(&db, SMALL).await;
    let briefbot::config::DatabaseUrl::Postgres(url) = db.url.clone() else {
        unreachable!()
    };
    let upstream = {
        let parsed = url::Url::parse(&url).unwrap();
        let host = parsed.host_str().unwrap().to_owned();
        tokio::net::lookup_host((host.as_str(), parsed.port().unwrap_or(5432)))
            .await
            .unwrap()
            .next()
            .unwrap()
    };
    let mut proxies = Vec::new();
    let mut processes = Vec::new();
    for shard in 0..SHARDS {
        let proxy = crate::support::proxy::DbProxy::start(upstream).await;
        processes.push(start_shard(dir, &discord, shard, Some(proxy.url(&url))));
        proxies.push(proxy);
    }
    eventually(60, "every shard identified", || discord.identified() >= 3).await;
    all_posted_once(&db, &discord, SMALL, 1, 60).await;
    let leaders = active(&processes).await;
    assert_eq!(leaders.len(), 1, "{leaders:?}");
    let leader = leaders[0] as usize;
    let index = processes
        .iter()
        .position(|p| p.shard == leaders[0])
        .unwrap();
    let cut_off = processes.remove(index);

    let before = discord.all_messages();
    publish(&site, &[214043, 214100]);
    eventually(60, "the fan-out begins", || {
        discord.all_messages() >= before + 5
    })
    .await;
    proxies[leader].blackhole();
    let since = std::time::Instant::now();
    publish(&site, &[214043, 214100, 214145]);

    let next = taken_over(&processes, since).await;
    all_posted_once(&db, &discord, SMALL, 3, 60).await;
    let took = since.elapsed();
    assert!(took < Duration::from_secs(60), "{took:?}");
    eprintln!("cut-off leader replaced, every issue posted, {took:?} after the partition");

    // Its connections cut and the way open again: it reconnects and posts nothing more.
    let posted = discord.all_messages();
    proxies[leader].cut_and_restore();
    let mut standby = false;
    for _ in 0..40 {
        tokio::time::sleep(Duration::from_millis(500)).await;
        if health(cut_off.http)
            .await
            .is_some_and(|h| h["scheduler"] == "standby")
        {
            standby = true;
            break;
        }
    }
    assert!(standby, "the old leader stands by once reconnected");
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(
        discord.all_messages(),
        posted,
        "the old leader posted again"
    );
    all_posted_once(&db, &discord, SMALL, 3, 5).await;
    assert_eq!(active(&processes).await, [next]);
}
