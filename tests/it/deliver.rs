//! The delivery worker, one step at a time, posting through the real serenity HTTP client to a
//! fake Discord, from a real outbox (either backend) filled by the real scraper: the world of
//! `TestApp::idle`.

use std::time::Duration;

use briefbot::deliver::{DeliverySettings, Step};
use briefbot::domain::DeliveryStatus;
use briefbot::domain::Keywords;
use briefbot::store::outbox::ALL_SOURCES;

use crate::support::app::{
    ADMIN, TestApp, aitimes_source, deliverer, deliverer_with, drain, fast_delivery,
};
use crate::support::discord::FakeDiscord;
use crate::support::site::{aitimes_article, ndsoft_briefing};
use crate::support::{issue_of, scraper};

const GUILD: i64 = crate::support::app::GUILD as i64;

#[tokio::test]
async fn a_subscribed_channel_gets_each_new_issue_once_as_embeds() {
    let w = TestApp::idle(&[214100, 214043]).await;
    let (site, discord, store) = (&w.site, &w.discord, &w.store);
    w.subscribe(100).await;
    let scraper = scraper(store.clone());
    scraper
        .scrape_source(&aitimes_source(site), false)
        .await
        .unwrap();

    let steps = drain(&mut deliverer(store, discord)).await;

    assert_eq!(steps.len(), 2, "{steps:?}");
    let posted = discord.messages(100);
    assert_eq!(posted.len(), 2);
    // Oldest first: [8월18일] (214043, 6 items) then [8월19일] (214100, 5 items).
    let first = posted[0].embeds();
    assert_eq!(first.len(), 7);
    assert!(first[0]["title"].as_str().unwrap().contains("8월18일"));
    assert!(first[0]["url"].as_str().unwrap().ends_with("idxno=214043"));
    assert_eq!(first[0]["footer"]["text"], "AI타임스 뉴스 브리핑");
    assert!(first[0]["timestamp"].is_string());
    assert!(first[1]["title"].as_str().unwrap().starts_with("■ "));
    assert_eq!(posted[1].embeds().len(), 6);
    for m in &posted {
        assert_eq!(
            m.body["allowed_mentions"]["parse"],
            serde_json::json!([]),
            "no pings: {}",
            m.body
        );
        assert_eq!(m.body["enforce_nonce"], true);
        assert!(m.nonce().unwrap().len() <= 25);
    }

    // A new issue appears: only it is posted.
    site.list_aitimes(&[214145, 214100, 214043]);
    scraper
        .scrape_source(&aitimes_source(site), false)
        .await
        .unwrap();
    let mut again = deliverer(store, discord);
    drain(&mut again).await;
    assert_eq!(discord.messages(100).len(), 3);
    assert_eq!(again.step().await.unwrap(), Step::Idle);
}

#[tokio::test]
async fn issues_stored_before_the_subscription_are_not_posted() {
    let w = TestApp::idle(&[214043]).await;
    let (site, discord, store) = (&w.site, &w.discord, &w.store);
    let scraper = scraper(store.clone());
    scraper
        .scrape_source(&aitimes_source(site), false)
        .await
        .unwrap();
    w.subscribe(100).await;

    drain(&mut deliverer(store, discord)).await;
    assert!(discord.messages(100).is_empty());

    site.list_aitimes(&[214100, 214043]);
    scraper
        .scrape_source(&aitimes_source(site), false)
        .await
        .unwrap();
    drain(&mut deliverer(store, discord)).await;
    assert_eq!(
        discord.messages(100).len(),
        1,
        "the issue first seen after subscribing arrives"
    );
}

#[tokio::test]
async fn keyword_subscriptions_get_only_matching_items_and_unsubscribing_stops_posts() {
    let w = TestApp::idle(&[214100]).await;
    let (site, discord, store) = (&w.site, &w.discord, &w.store);
    let expected: serde_json::Value = serde_json::from_str(&crate::support::fixture(
        "aitimes/article_214100.expected.json",
    ))
    .unwrap();
    let headline = expected["briefs"][2]["headline"].as_str().unwrap();
    let keyword: String = headline
        .split_whitespace()
        .next()
        .unwrap()
        .trim_matches(|c: char| !c.is_alphanumeric())
        .to_owned();
    store
        .subscribe(
            GUILD,
            100,
            ALL_SOURCES,
            Keywords::parse(&keyword).unwrap().as_ref(),
            ADMIN,
        )
        .await
        .unwrap();
    store
        .subscribe(
            GUILD,
            101,
            "aitimes-briefing",
            Keywords::parse("존재하지않는키워드").unwrap().as_ref(),
            ADMIN,
        )
        .await
        .unwrap();
    w.subscribe(102).await;
    assert!(store.unsubscribe(102, ALL_SOURCES).await.unwrap());
    let scraper = scraper(store.clone());
    scraper
        .scrape_source(&aitimes_source(site), false)
        .await
        .unwrap();

    drain(&mut deliverer(store, discord)).await;

    let posted = discord.messages(100);
    assert_eq!(posted.len(), 1);
    let items: Vec<String> = posted[0].embeds()[1..]
        .iter()
        .map(|e| {
            format!(
                "{} {}",
                e["title"].as_str().unwrap(),
                e["description"].as_str().unwrap_or("")
            )
        })
        .collect();
    assert!(
        !items.is_empty() && items.len() < 5,
        "only matching items: {items:?}"
    );
    assert!(
        items
            .iter()
            .all(|t| t.to_lowercase().contains(&keyword.to_lowercase())),
        "{items:?}"
    );
    assert!(
        discord.messages(101).is_empty(),
        "no item matches: nothing posted"
    );
    assert!(discord.messages(102).is_empty(), "unsubscribed");
}

#[tokio::test]
async fn items_a_channel_already_has_are_left_out_and_repost_sends_everything_again() {
    let w = TestApp::idle(&[214145]).await;
    let (site, discord, store) = (&w.site, &w.discord, &w.store);
    w.subscribe(100).await;
    let scraper = scraper(store.clone());
    scraper
        .scrape_source(&aitimes_source(site), false)
        .await
        .unwrap();
    drain(&mut deliverer(store, discord)).await;

    // 214199 repeats one item of 214145.
    site.list_aitimes(&[214199, 214145]);
    let report = scraper
        .scrape_source(&aitimes_source(site), false)
        .await
        .unwrap();
    drain(&mut deliverer(store, discord)).await;
    let posted = discord.messages(100);
    assert_eq!(posted.len(), 2);
    assert_eq!(
        posted[1].embeds().len(),
        1 + 6 - 1,
        "the repeated item is left out"
    );

    let issue = report.issues[0].id.unwrap();
    store.enqueue_repost(GUILD, 100, issue).await.unwrap();
    drain(&mut deliverer(store, discord)).await;
    let posted = discord.messages(100);
    assert_eq!(posted.len(), 3);
    assert_eq!(
        posted[2].embeds().len(),
        1 + 6,
        "a repost is the whole issue"
    );
}

#[tokio::test]
async fn a_rate_limited_post_is_retried_and_exists_once() {
    let w = TestApp::idle(&[214043]).await;
    let (discord, store) = (&w.discord, &w.store);
    discord.script(100, &[429]);
    w.subscribe(100).await;
    w.scrape().await;
    let telemetry = std::sync::Arc::new(briefbot::telemetry::Telemetry::default());
    let mut d = deliverer(store, discord).with_telemetry(telemetry.clone());

    let first = d.step().await.unwrap();
    assert!(
        matches!(first, Step::Retry { after, .. } if after >= Duration::from_secs(1)),
        "{first:?}"
    );
    assert_eq!(d.step().await.unwrap(), Step::Idle, "waits out the 429");
    tokio::time::sleep(Duration::from_millis(1100)).await;
    assert!(matches!(d.step().await.unwrap(), Step::Sent { .. }));

    assert_eq!(discord.messages(100).len(), 1);
    assert_eq!(discord.requests(100), 2);
    assert_eq!(telemetry.rate_limited.get(), 1);
    assert_eq!(telemetry.messages_posted.get(), 1);
}

#[tokio::test]
async fn a_channel_that_refuses_is_paused_after_three_attempts_and_others_still_get_posts() {
    let w = TestApp::idle(&[214043]).await;
    let (site, discord, store) = (&w.site, &w.discord, &w.store);
    discord.break_channel(100, 403);
    w.subscribe(100).await;
    w.subscribe(200).await;
    w.scrape().await;

    let steps = drain(&mut deliverer(store, discord)).await;

    assert_eq!(discord.requests(100), 3, "{steps:?}");
    assert!(
        steps
            .iter()
            .any(|s| matches!(s, Step::Paused { reason, .. } if reason.contains("403")))
    );
    assert_eq!(discord.messages(200).len(), 1);
    let subs = store.subscriptions(GUILD).await.unwrap();
    let dead = subs.iter().find(|s| s.channel_id == 100).unwrap();
    assert!(dead.paused_at.is_some());
    assert!(dead.pause_reason.as_deref().unwrap().contains("403"));

    // The next issue is not tried on the paused channel.
    site.list_aitimes(&[214100, 214043]);
    w.scrape().await;
    drain(&mut deliverer(store, discord)).await;
    assert_eq!(discord.requests(100), 3);
    assert_eq!(discord.messages(200).len(), 2);
}

#[tokio::test]
async fn a_lost_answer_is_found_in_the_channel_and_not_posted_again_after_the_nonce_is_forgotten() {
    let w = TestApp::idle(&[214043]).await;
    let (store, discord) = (&w.store, &w.discord);
    // Discord creates the message, the answer is lost (a 502 on the way back), and by the
    // retry Discord has forgotten the nonce.
    discord.lose_answers(100, 1);
    discord.forget_nonces_after(Duration::ZERO);
    w.subscribe(100).await;
    w.scrape().await;

    let steps = drain(&mut deliverer(store, discord)).await;

    assert!(matches!(steps[0], Step::Retry { .. }), "{steps:?}");
    assert!(matches!(steps.last(), Some(Step::Sent { .. })), "{steps:?}");
    assert_eq!(discord.requests(100), 1, "not posted again");
    assert_eq!(discord.reads(100), 1, "one look at the channel");
    assert_eq!(discord.messages(100).len(), 1);
}

#[tokio::test]
async fn a_post_that_times_out_is_in_doubt_and_found_instead_of_posted_twice() {
    let w = TestApp::idle(&[214043]).await;
    let (store, discord) = (&w.store, &w.discord);
    // Discord creates the message and never answers; the client gives up.
    discord.stall_answers(100, 1);
    discord.forget_nonces_after(Duration::ZERO);
    w.subscribe(100).await;
    w.scrape().await;
    let mut worker = deliverer_with(
        store,
        discord.http_with_timeout(Duration::from_millis(500)),
        fast_delivery(),
    );

    let started = std::time::Instant::now();
    let first = worker.step().await.unwrap();
    assert!(matches!(first, Step::Retry { .. }), "{first:?}");
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "the timeout ended the wait"
    );
    let steps = drain(&mut worker).await;

    assert!(matches!(steps.last(), Some(Step::Sent { .. })), "{steps:?}");
    assert_eq!(discord.requests(100), 1);
    assert_eq!(discord.messages(100).len(), 1);
}

#[tokio::test]
async fn a_crash_between_the_post_and_its_record_posts_nothing_twice_after_a_restart() {
    let w = TestApp::idle(&[214100, 214043]).await;
    let (db, discord) = (&w.db, &w.discord);
    discord.forget_nonces_after(Duration::ZERO);
    {
        let store = &w.store;
        w.subscribe(100).await;
        w.scrape().await;
        // The first delivery is posted; the process dies before it records anything: the
        // message exists at Discord, the outbox still has the part attempted but not recorded.
        let d = store
            .due_delivery(briefbot::store::now(), &[])
            .await
            .unwrap()
            .unwrap();
        let mut worker = deliverer(store, discord);
        assert!(matches!(worker.step().await.unwrap(), Step::Sent { .. }));
        crate::support::forget_posting(store, d.id).await;
    }
    assert_eq!(discord.messages(100).len(), 1);

    // A new process on the same database, hours later as far as Discord's nonces go.
    let store = db.store().await;
    drain(&mut deliverer(&store, discord)).await;
    assert_eq!(
        discord.messages(100).len(),
        2,
        "the interrupted one once, the other once"
    );
    assert_eq!(discord.requests(100), 2);

    let store = db.store().await;
    assert_eq!(deliverer(&store, discord).step().await.unwrap(), Step::Idle);
    assert_eq!(discord.messages(100).len(), 2);
}

#[tokio::test]
async fn without_read_message_history_an_in_doubt_part_relies_on_the_nonce_and_status_says_so() {
    let w = TestApp::idle(&[214043]).await;
    let (store, discord) = (&w.store, &w.discord);
    discord.lose_answers(100, 1);
    discord.deny_history(100);
    w.subscribe(100).await;
    w.scrape().await;

    let steps = drain(&mut deliverer(store, discord)).await;

    assert!(matches!(steps.last(), Some(Step::Sent { .. })), "{steps:?}");
    assert_eq!(discord.requests(100), 2, "posted again with the same nonce");
    assert_eq!(
        discord.messages(100).len(),
        1,
        "inside Discord's window the nonce holds"
    );
    let denied = store.history_denied(GUILD).await.unwrap();
    assert_eq!(denied.iter().map(|(c, _)| *c).collect::<Vec<_>>(), [100]);
}

/// Issue 19, item 7: the "denies Read Message History" flag is cleared once a look in the
/// channel works again (before, `/status` kept asking for a permission granted since).
#[tokio::test]
async fn the_history_flag_is_cleared_once_the_permission_is_granted() {
    let w = TestApp::idle(&[]).await;
    let (store, discord) = (&w.store, &w.discord);
    discord.lose_answers(100, 1);
    discord.deny_history(100);
    w.subscribe(100).await;
    crate::support::record(store, "aitimes-briefing", &issue_of(1, 0, 3)).await;
    drain(&mut deliverer(store, discord)).await;
    assert_eq!(store.history_denied(GUILD).await.unwrap().len(), 1);

    discord.allow_history(100);
    discord.lose_answers(100, 1);
    crate::support::record(store, "aitimes-briefing", &issue_of(2, 20, 3)).await;
    drain(&mut deliverer(store, discord)).await;

    assert_eq!(discord.messages(100).len(), 2);
    assert!(store.history_denied(GUILD).await.unwrap().is_empty());
}

/// Issue 19, item 7: a refusal (403) that arrives after `/unsubscribe` cancelled its delivery
/// leaves it cancelled. Before, `fail_and_pause` had no `status = 'pending'` guard: the
/// delivery became `failed`, and the channel's next resume posted it again.
#[tokio::test]
async fn a_refusal_after_unsubscribe_leaves_the_delivery_cancelled() {
    let w = TestApp::idle(&[]).await;
    let store = &w.store;
    w.subscribe(100).await;
    crate::support::record(store, "aitimes-briefing", &issue_of(1, 0, 3)).await;
    let d = store
        .due_delivery(briefbot::store::now(), &[])
        .await
        .unwrap()
        .unwrap();
    assert!(store.unsubscribe(100, ALL_SOURCES).await.unwrap());

    store
        .fail_and_pause(&d, "Discord answered 403 Forbidden")
        .await
        .unwrap();

    assert_eq!(
        store.delivery_counts().await.unwrap(),
        [(DeliveryStatus::Cancelled, 1)]
    );
    // Subscribed again, paused and resumed: nothing of the cancelled post is owed.
    w.subscribe(100).await;
    briefbot::store::testing::pause_channel(store, 100, briefbot::store::now(), "403")
        .await
        .unwrap();
    let resumed = store
        .subscribe(GUILD, 100, ALL_SOURCES, None, ADMIN)
        .await
        .unwrap();
    assert_eq!(
        resumed,
        briefbot::store::outbox::Subscribed::Resumed { owed: 0 }
    );
}

#[tokio::test]
async fn the_fake_forgets_nonces_as_discord_does() {
    // The unkind part the tests above depend on: past the window, a repeated nonce is a
    // second message.
    let discord = FakeDiscord::start().await;
    discord.forget_nonces_after(Duration::from_millis(200));
    let http = discord.http();
    let send = |nonce: &'static str| {
        let http = http.clone();
        async move {
            serenity::model::id::ChannelId::new(5)
                .send_message(
                    &*http,
                    serenity::builder::CreateMessage::new()
                        .content("x")
                        .allowed_mentions(serenity::builder::CreateAllowedMentions::new())
                        .nonce(serenity::model::channel::Nonce::String(nonce.into()))
                        .enforce_nonce(true),
                )
                .await
                .unwrap()
                .id
        }
    };
    let first = send("n1").await;
    assert_eq!(
        send("n1").await,
        first,
        "inside the window: the same message"
    );
    tokio::time::sleep(Duration::from_millis(250)).await;
    assert_ne!(send("n1").await, first, "after it: a second message");
    assert_eq!(discord.messages(5).len(), 2);
    // Listing: newest first, no nonces, `after` pages forward.
    let listed = serenity::model::id::ChannelId::new(5)
        .messages(&*http, serenity::builder::GetMessages::new().limit(10))
        .await
        .unwrap();
    assert_eq!(listed.len(), 2);
    assert!(listed[0].id > listed[1].id);
    assert!(listed.iter().all(|m| m.nonce.is_none()));
    let after = serenity::model::id::ChannelId::new(5)
        .messages(
            &*http,
            serenity::builder::GetMessages::new().after(first).limit(10),
        )
        .await
        .unwrap();
    assert_eq!(after.len(), 1);
    // Snowflakes carry their creation time.
    let created = (first.get() >> 22) + 1_420_070_400_000;
    let now = chrono::Utc::now().timestamp_millis() as u64;
    assert!(now.abs_diff(created) < 60_000);
}

#[tokio::test]
async fn issues_older_than_the_catch_up_window_are_stored_but_not_posted() {
    let w = TestApp::idle(&[214043]).await;
    let (store, discord) = (&w.store, &w.discord);
    // The fixture as it is: published in August, months before "now".
    w.site
        .serve_fixture(&aitimes_article(214043), "aitimes/article_214043.html");
    w.subscribe(100).await;

    let report = w.scrape().await;
    drain(&mut deliverer(store, discord)).await;

    assert_eq!(report.issues.len(), 1);
    assert!(discord.messages(100).is_empty());
    assert_eq!(store.pending_deliveries().await.unwrap(), 0);
}

#[tokio::test]
async fn paced_posts_stay_under_discords_limits_without_429s() {
    let w = TestApp::idle(&[214043]).await;
    let (discord, store) = (&w.discord, &w.store);
    discord.enforce_limits();
    for channel in 1..=60 {
        w.subscribe(channel).await;
    }
    w.scrape().await;
    // Discord's real pacing, not the tests' fast one.
    let mut worker = deliverer_with(store, discord.http(), DeliverySettings::default());

    let started = std::time::Instant::now();
    let steps = drain(&mut worker).await;

    assert_eq!(discord.all_messages(), 60);
    assert!(
        discord.rate_limited().is_empty(),
        "{:?}",
        discord.rate_limited()
    );
    assert!(steps.iter().all(|s| matches!(s, Step::Sent { .. })));
    assert!(
        started.elapsed() >= Duration::from_millis(59 * 20),
        "paced at under 50 a second"
    );
}

/// The item headlines of a channel's posts, in order.
fn headlines(discord: &FakeDiscord, channel: u64) -> Vec<String> {
    discord
        .messages(channel)
        .iter()
        .flat_map(|m| m.embeds())
        .filter_map(|e| e["title"].as_str().map(str::to_owned))
        .filter(|t| t.starts_with("■ "))
        .collect()
}

#[tokio::test]
async fn a_split_issue_posts_exactly_its_frozen_parts_whatever_reached_the_channel_meanwhile() {
    let w = TestApp::idle(&[]).await;
    let (store, discord) = (&w.store, &w.discord);
    w.subscribe(100).await;
    // 14 items: the lead and 9 items, then 5 items.
    let split = issue_of(1, 0, 14);
    crate::support::record(store, "aitimes-briefing", &split).await;
    let settings = DeliverySettings {
        retry_base: Duration::from_secs(3),
        ..fast_delivery()
    };
    let mut worker = deliverer_with(store, discord.http(), settings);
    // The second part is refused once: the first part is out, the second waits 2-3 seconds.
    discord.script(100, &[200, 403]);
    let first = worker.step().await.unwrap();
    assert!(matches!(first, Step::Retry { .. }), "{first:?}");
    assert_eq!(discord.messages(100).len(), 1);
    let frozen_rest: Vec<String> = split.briefs[9..]
        .iter()
        .map(|b| format!("■ {}", b.headline))
        .collect();

    // Meanwhile another issue reaches the channel, carrying one of the items of the second
    // part: a recomputed split would now leave it out and shift the rest.
    let mut other = issue_of(2, 40, 3);
    other.briefs.push(split.briefs[12].clone());
    crate::support::record(store, "aitimes-briefing", &other).await;
    tokio::time::sleep(Duration::from_millis(10)).await;
    let between = worker.step().await.unwrap();
    assert!(matches!(between, Step::Sent { .. }), "{between:?}");

    tokio::time::sleep(Duration::from_millis(3100)).await;
    drain(&mut worker).await;
    let posted = discord.messages(100);
    assert_eq!(posted.len(), 3);
    let rest: Vec<String> = posted[2]
        .embeds()
        .iter()
        .map(|e| e["title"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(rest, frozen_rest, "the second part as it was fixed");
    let all = headlines(discord, 100);
    for b in &split.briefs {
        let h = format!("■ {}", b.headline);
        let n = all.iter().filter(|t| **t == h).count();
        let expected = if *b == split.briefs[12] { 2 } else { 1 };
        assert_eq!(n, expected, "{h}");
    }
}

#[tokio::test]
async fn unsubscribing_during_a_split_post_stops_its_remaining_parts() {
    let w = TestApp::idle(&[]).await;
    let (store, discord) = (&w.store, &w.discord);
    w.subscribe(100).await;
    crate::support::record(store, "aitimes-briefing", &issue_of(1, 0, 14)).await;
    discord.script(100, &[200, 429]);
    let mut worker = deliverer(store, discord);
    assert!(matches!(worker.step().await.unwrap(), Step::Retry { .. }));

    assert!(store.unsubscribe(100, ALL_SOURCES).await.unwrap());
    tokio::time::sleep(Duration::from_millis(1100)).await;
    drain(&mut worker).await;

    assert_eq!(discord.messages(100).len(), 1, "the rest never goes out");
    assert_eq!(
        store.delivery_counts().await.unwrap(),
        [(DeliveryStatus::Cancelled, 1)]
    );
}

#[tokio::test]
async fn a_delivery_that_waited_past_the_catch_up_window_is_not_posted() {
    let w = TestApp::idle(&[]).await;
    let (store, discord) = (&w.store, &w.discord);
    w.subscribe(100).await;
    let mut issue = issue_of(1, 0, 3);
    issue.published_at =
        Some(briefbot::store::now() - chrono::Duration::days(3) + chrono::Duration::seconds(1));
    crate::support::record(store, "aitimes-briefing", &issue).await;
    // Discord refuses once (a definite answer: nothing was created), and the retry comes when
    // the issue is past three days old.
    discord.script(100, &[403]);
    let mut worker = deliverer(store, discord);
    assert!(matches!(worker.step().await.unwrap(), Step::Retry { .. }));
    tokio::time::sleep(Duration::from_millis(2200)).await;

    let steps = drain(&mut worker).await;

    assert_eq!(steps, [Step::Skipped { delivery: 1 }]);
    assert!(discord.messages(100).is_empty());
    assert_eq!(
        store.delivery_counts().await.unwrap(),
        [(DeliveryStatus::Skipped, 1)]
    );
}

#[tokio::test]
async fn a_rejected_token_stops_posting_and_a_rejected_message_fails_alone() {
    let w = TestApp::idle(&[]).await;
    let (store, discord) = (&w.store, &w.discord);
    w.subscribe(100).await;
    w.subscribe(200).await;
    crate::support::record(store, "aitimes-briefing", &issue_of(1, 0, 3)).await;
    discord.script(100, &[400]);
    let telemetry = std::sync::Arc::new(briefbot::telemetry::Telemetry::default());
    let mut worker = deliverer(store, discord).with_telemetry(telemetry.clone());

    // A 400: that delivery fails with Discord's reason; the channel is not paused.
    let steps = drain(&mut worker).await;
    assert!(
        matches!(&steps[0], Step::Failed { reason, .. } if reason.contains("400") && reason.contains("50006")),
        "{steps:?}"
    );
    assert_eq!(discord.requests(100), 1, "not retried");
    assert_eq!(discord.messages(200).len(), 1);
    assert!(
        store
            .subscriptions(GUILD)
            .await
            .unwrap()
            .iter()
            .all(|s| s.paused_at.is_none())
    );

    // A 401: nothing more is posted, and the endpoint can tell.
    crate::support::record(store, "aitimes-briefing", &issue_of(2, 20, 3)).await;
    discord.break_channel(100, 401);
    discord.break_channel(200, 401);
    assert_eq!(worker.step().await.unwrap(), Step::Unauthorized);
    assert!(telemetry.unauthorized());
    assert_eq!(
        store.pending_deliveries().await.unwrap(),
        2,
        "kept for a valid token"
    );
}

#[tokio::test]
async fn server_errors_do_not_pause_a_channel_and_refusals_pause_all_its_subscriptions() {
    let w = TestApp::idle(&[]).await;
    let (store, discord) = (&w.store, &w.discord);
    w.subscribe(100).await;
    store
        .subscribe(
            GUILD,
            100,
            "aitimes-briefing",
            Keywords::parse("오픈AI").unwrap().as_ref(),
            ADMIN,
        )
        .await
        .unwrap();
    crate::support::record(store, "aitimes-briefing", &issue_of(1, 0, 3)).await;
    // Two 502s and a 403: one refusal, not three.
    discord.script(100, &[502, 502, 403]);
    let steps = drain(&mut deliverer(store, discord)).await;
    assert!(matches!(steps.last(), Some(Step::Sent { .. })), "{steps:?}");
    assert!(!steps.iter().any(|s| matches!(s, Step::Paused { .. })));

    // Three refusals in a row pause the channel: every subscription of it.
    crate::support::record(store, "aitimes-briefing", &issue_of(2, 20, 3)).await;
    discord.script(100, &[403, 404, 403]);
    let steps = drain(&mut deliverer(store, discord)).await;
    assert!(
        matches!(steps.last(), Some(Step::Paused { .. })),
        "{steps:?}"
    );
    let subs = store.subscriptions(GUILD).await.unwrap();
    assert_eq!(subs.len(), 2);
    assert!(subs.iter().all(|s| s.paused_at.is_some()), "{subs:?}");
}

#[tokio::test]
async fn unsubscribing_one_of_two_overlapping_subscriptions_keeps_the_post_the_other_wants() {
    let w = TestApp::idle(&[]).await;
    let (store, discord) = (&w.store, &w.discord);
    // Every source, and this one: one delivery for the channel.
    w.subscribe(100).await;
    store
        .subscribe(GUILD, 100, "aitimes-briefing", None, ADMIN)
        .await
        .unwrap();
    crate::support::record(store, "aitimes-briefing", &issue_of(1, 0, 3)).await;
    assert_eq!(store.pending_deliveries().await.unwrap(), 1);

    assert!(store.unsubscribe(100, ALL_SOURCES).await.unwrap());
    drain(&mut deliverer(store, discord)).await;
    assert_eq!(
        discord.messages(100).len(),
        1,
        "the other subscription still wants it"
    );

    // With none left, a pending post is cancelled.
    crate::support::record(store, "aitimes-briefing", &issue_of(2, 20, 3)).await;
    assert!(store.unsubscribe(100, "aitimes-briefing").await.unwrap());
    drain(&mut deliverer(store, discord)).await;
    assert_eq!(discord.messages(100).len(), 1);
    assert_eq!(
        store.delivery_counts().await.unwrap(),
        [(DeliveryStatus::Cancelled, 1), (DeliveryStatus::Sent, 1)]
    );
}

#[tokio::test]
async fn a_resumed_channel_gets_what_it_missed_while_paused_within_the_catch_up_window() {
    let w = TestApp::idle(&[]).await;
    let (store, discord) = (&w.store, &w.discord);
    w.subscribe(100).await;
    crate::support::record(store, "aitimes-briefing", &issue_of(1, 0, 3)).await;
    discord.script(100, &[403, 403, 403]);
    let steps = drain(&mut deliverer(store, discord)).await;
    assert!(
        matches!(steps.last(), Some(Step::Paused { .. })),
        "{steps:?}"
    );
    // Stored while paused: one recent issue, one already past the window.
    crate::support::record(store, "aitimes-briefing", &issue_of(2, 20, 3)).await;
    let mut old = issue_of(3, 40, 3);
    old.published_at = Some(briefbot::store::now() - chrono::Duration::days(4));
    crate::support::record(store, "aitimes-briefing", &old).await;
    drain(&mut deliverer(store, discord)).await;
    assert!(discord.messages(100).is_empty());

    let resumed = store
        .subscribe(GUILD, 100, ALL_SOURCES, None, ADMIN)
        .await
        .unwrap();
    assert_eq!(
        resumed,
        briefbot::store::outbox::Subscribed::Resumed { owed: 2 }
    );
    drain(&mut deliverer(store, discord)).await;

    let titles: Vec<String> = discord
        .messages(100)
        .iter()
        .map(|m| m.embeds()[0]["title"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(titles, ["\\[테스트\\] 이슈 1", "\\[테스트\\] 이슈 2"]);
}

/// Issue 19, item 1: a channel paused by 403s, the hourly prune a day later, then `/subscribe`
/// to resume it. The failed delivery's frozen messages were pruned with every finished
/// delivery's, its stories were not, and the resume read "stories, no parts" as every part
/// posted: `sent`, nothing in the channel, its stories remembered there. Now a delivery that can
/// still be resumed keeps its messages.
#[tokio::test]
async fn a_channel_resumed_a_day_after_its_pause_gets_the_issue_that_paused_it_once() {
    let w = TestApp::idle(&[]).await;
    let (store, discord) = (&w.store, &w.discord);
    w.subscribe(100).await;
    w.subscribe(200).await;
    crate::support::record(store, "aitimes-briefing", &issue_of(1, 0, 3)).await;
    discord.script(100, &[403, 403, 403]);
    let steps = drain(&mut deliverer(store, discord)).await;
    assert!(
        steps.iter().any(|s| matches!(s, Step::Paused { .. })),
        "{steps:?}"
    );
    assert_eq!(discord.messages(200).len(), 1);

    // The prune as it runs 30 hours later.
    let now = briefbot::store::now();
    store
        .prune(now + chrono::Duration::hours(30))
        .await
        .unwrap();
    let paused = store.delivery_counts().await.unwrap();
    assert_eq!(
        paused,
        [(DeliveryStatus::Failed, 1), (DeliveryStatus::Sent, 1)]
    );
    let failed = store.due_delivery(now, &[]).await.unwrap();
    assert!(failed.is_none(), "a failed delivery is not due");
    assert!(
        store
            .frozen(1)
            .await
            .unwrap()
            .is_some_and(|f| !f.parts.is_empty()),
        "a delivery that can still be resumed keeps its frozen messages"
    );
    let resumed = store
        .subscribe(GUILD, 100, ALL_SOURCES, None, ADMIN)
        .await
        .unwrap();
    assert_eq!(
        resumed,
        briefbot::store::outbox::Subscribed::Resumed { owed: 1 }
    );
    drain(&mut deliverer(store, discord)).await;

    let titles: Vec<String> = discord
        .messages(100)
        .iter()
        .map(|m| m.embeds()[0]["title"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(titles, ["\\[테스트\\] 이슈 1"]);
    assert_eq!(
        store.delivery_counts().await.unwrap(),
        [(DeliveryStatus::Sent, 2)]
    );
    // Still kept past the catch-up window by nothing: a month on, it goes like the others.
    let pruned = store.prune(now + chrono::Duration::days(31)).await.unwrap();
    assert_eq!(pruned.deliveries, 2);
}

/// Issue 19, item 1: a delivery with stories but no frozen messages (what the prune of the
/// version before left) is frozen again and posted, never read as posted.
#[tokio::test]
async fn a_delivery_whose_frozen_messages_are_gone_is_frozen_again_not_read_as_posted() {
    let w = TestApp::idle(&[]).await;
    let (store, discord) = (&w.store, &w.discord);
    w.subscribe(100).await;
    crate::support::record(store, "aitimes-briefing", &issue_of(1, 0, 3)).await;
    discord.script(100, &[403, 403, 403]);
    drain(&mut deliverer(store, discord)).await;
    briefbot::store::testing::forget_parts(store, 1)
        .await
        .unwrap();

    store
        .subscribe(GUILD, 100, ALL_SOURCES, None, ADMIN)
        .await
        .unwrap();
    let steps = drain(&mut deliverer(store, discord)).await;

    assert_eq!(
        steps,
        [Step::Sent {
            delivery: 1,
            parts: 1
        }]
    );
    assert_eq!(discord.messages(100).len(), 1);
}

/// Issue 19, item 5: one delivery whose frozen messages cannot be read. Before, the worker
/// picked it again a second later, for ever (it is the oldest due), and no channel got the
/// next issue. Now it backs off on its own and fails with the reason, and the others go on.
#[tokio::test]
async fn one_unreadable_delivery_fails_alone_and_every_other_channel_gets_the_next_issue() {
    let w = TestApp::idle(&[]).await;
    let (store, discord) = (&w.store, &w.discord);
    for channel in [100, 200, 300] {
        w.subscribe(channel).await;
    }
    crate::support::record(store, "aitimes-briefing", &issue_of(1, 0, 3)).await;
    // Channel 100's post is frozen and answered 500: pending, its messages stored.
    discord.script(100, &[500]);
    let mut worker = deliverer(store, discord);
    assert!(matches!(
        worker.step().await.unwrap(),
        Step::Retry { delivery: 1, .. }
    ));
    briefbot::store::testing::corrupt_parts(store, 1)
        .await
        .unwrap();
    crate::support::record(store, "aitimes-briefing", &issue_of(2, 20, 3)).await;

    let mut failed = Vec::new();
    for _ in 0..40 {
        match worker.step().await {
            Ok(Step::Idle) => break,
            Ok(Step::Failed { delivery, reason }) => failed.push((delivery, reason)),
            Ok(_) | Err(_) => {}
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }

    for channel in [200, 300] {
        assert_eq!(discord.messages(channel).len(), 2, "channel {channel}");
    }
    assert_eq!(discord.messages(100).len(), 1, "the next issue, in 100 too");
    assert_eq!(failed.len(), 1, "{failed:?}");
    assert_eq!(failed[0].0, 1);
    assert!(failed[0].1.contains("unreadable"), "{}", failed[0].1);
    assert_eq!(store.pending_deliveries().await.unwrap(), 0);
    // `/status` names it with its reason.
    let listed = store
        .failed_deliveries(GUILD, briefbot::store::now() - chrono::Duration::days(3))
        .await
        .unwrap();
    assert_eq!(listed.len(), 1, "{listed:?}");
    assert_eq!((listed[0].id, listed[0].channel_id), (1, 100));
    assert!(
        listed[0]
            .last_error
            .as_deref()
            .is_some_and(|e| e.contains("unreadable")),
        "{listed:?}"
    );
}

#[tokio::test]
async fn posts_owed_to_a_removed_channel_are_cancelled() {
    let w = TestApp::idle(&[]).await;
    let (store, discord) = (&w.store, &w.discord);
    w.subscribe(100).await;
    w.subscribe(200).await;
    crate::support::record(store, "aitimes-briefing", &issue_of(1, 0, 3)).await;
    store.enqueue_repost(GUILD, 100, 1).await.unwrap();

    assert_eq!(store.remove_channel(100).await.unwrap(), 1);
    drain(&mut deliverer(store, discord)).await;

    assert!(
        discord.messages(100).is_empty(),
        "neither the new post nor the repost"
    );
    assert_eq!(discord.messages(200).len(), 1);
    assert_eq!(
        store.delivery_counts().await.unwrap(),
        [(DeliveryStatus::Cancelled, 2), (DeliveryStatus::Sent, 1)]
    );
}

#[tokio::test]
async fn a_channel_waiting_on_its_limit_does_not_hold_back_the_others() {
    let w = TestApp::idle(&[]).await;
    let (store, discord) = (&w.store, &w.discord);
    discord.enforce_limits();
    crate::support::record(store, "aitimes-briefing", &issue_of(1, 0, 3)).await;
    // Ten reposts to one channel, asked first; then one to each of five other channels.
    for _ in 0..10 {
        store.enqueue_repost(GUILD, 100, 1).await.unwrap().unwrap();
    }
    for channel in 201..=205 {
        store.enqueue_repost(8, channel, 1).await.unwrap().unwrap();
    }
    // Discord's pacing: 5 posts per channel in 5 seconds.
    let mut worker = deliverer_with(store, discord.http(), DeliverySettings::default());
    let started = std::time::Instant::now();

    // The first five reposts go out, then channel 100 must wait 5 s: the others go first.
    for _ in 0..10 {
        assert!(matches!(worker.step().await.unwrap(), Step::Sent { .. }));
    }
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "{:?}",
        started.elapsed()
    );
    for channel in 201..=205 {
        assert_eq!(discord.messages(channel).len(), 1, "channel {channel}");
    }
    assert_eq!(discord.messages(100).len(), 5);
    drain(&mut worker).await;
    assert_eq!(discord.messages(100).len(), 10);
    assert!(
        discord.rate_limited().is_empty(),
        "{:?}",
        discord.rate_limited()
    );
}

/// Discord counts a channel's 5 posts in 5 s from when each arrives; the worker counts from
/// when it sends. A first post that takes 200 ms to arrive must not make the sixth, sent 5 s
/// after it, a 429.
#[tokio::test]
async fn a_post_that_arrives_late_does_not_make_the_channels_sixth_a_429() {
    let w = TestApp::idle(&[]).await;
    let (store, discord) = (&w.store, &w.discord);
    discord.enforce_limits();
    crate::support::record(store, "aitimes-briefing", &issue_of(1, 0, 3)).await;
    for _ in 0..6 {
        store.enqueue_repost(GUILD, 100, 1).await.unwrap().unwrap();
    }
    discord.arrive_late(100, Duration::from_millis(200));
    let mut worker = deliverer_with(store, discord.http(), DeliverySettings::default());

    drain(&mut worker).await;

    assert_eq!(discord.messages(100).len(), 6);
    assert!(
        discord.rate_limited().is_empty(),
        "{:?}",
        discord.rate_limited()
    );
}

#[tokio::test]
async fn a_server_may_have_ten_reposts_waiting_and_new_issues_go_before_them() {
    let w = TestApp::idle(&[]).await;
    let (store, discord) = (&w.store, &w.discord);
    w.subscribe(300).await;
    let mut old = issue_of(1, 0, 3);
    old.published_at = Some(briefbot::store::now() - chrono::Duration::days(40));
    crate::support::record(store, "aitimes-briefing", &old).await;
    for _ in 0..10 {
        assert!(store.enqueue_repost(GUILD, 100, 1).await.unwrap().is_some());
    }
    assert_eq!(
        store.enqueue_repost(GUILD, 101, 1).await.unwrap(),
        None,
        "the eleventh"
    );
    assert!(
        store.enqueue_repost(8, 101, 1).await.unwrap().is_some(),
        "another server"
    );
    // A new issue, queued after the reposts of an older one, goes first.
    crate::support::record(store, "aitimes-briefing", &issue_of(2, 20, 3)).await;

    let first = deliverer(store, discord).step().await.unwrap();
    assert!(matches!(first, Step::Sent { .. }));
    assert_eq!(discord.messages(300).len(), 1);
    assert!(discord.messages(100).is_empty());
}

#[tokio::test]
async fn pruning_forgets_only_what_no_guarantee_needs() {
    let w = TestApp::idle(&[]).await;
    let (store, discord) = (&w.store, &w.discord);
    w.subscribe(100).await;
    w.subscribe(200).await;
    crate::support::record(store, "aitimes-briefing", &issue_of(1, 0, 3)).await;
    discord.break_channel(200, 500);
    let mut worker = deliverer(store, discord);
    worker.step().await.unwrap(); // sent to 100
    worker.step().await.unwrap(); // 200 answers 500: pending, its part in doubt
    let now = briefbot::store::now();

    // A day on: the frozen messages of the finished delivery go, nothing else.
    let pruned = store.prune(now + chrono::Duration::days(2)).await.unwrap();
    assert_eq!(
        (pruned.parts, pruned.deliveries, pruned.channel_stories),
        (1, 0, 0)
    );
    assert_eq!(
        store
            .channel_stories(100, now - chrono::Duration::days(1))
            .await
            .unwrap()
            .len(),
        3
    );

    // A month on: the finished delivery, the channel's stories, the page and the bands go; the
    // pending delivery stays whole.
    let pruned = store.prune(now + chrono::Duration::days(31)).await.unwrap();
    assert_eq!(pruned.deliveries, 1);
    assert_eq!(pruned.channel_stories, 3);
    assert_eq!(pruned.pages, 0, "a hand-recorded issue has no page");
    assert!(pruned.bands > 0);
    assert_eq!(store.pending_deliveries().await.unwrap(), 1);
    let pending = store
        .due_delivery(now + chrono::Duration::days(40), &[])
        .await
        .unwrap()
        .unwrap();
    let frozen = store.frozen(pending.id).await.unwrap().unwrap();
    assert!(
        frozen.parts[0].attempted_at.is_some(),
        "still in doubt, still reconcilable"
    );
    // Nothing more to forget.
    assert_eq!(
        store.prune(now + chrono::Duration::days(31)).await.unwrap(),
        Default::default()
    );
}

/// Hostile text on a scraped page (issue 10): mass and role/user/channel mentions, every kind
/// of markdown, masked links, bidi overrides and zero-width characters, a 5,000-character
/// headline. Scraped, stored and posted through serenity to the fake Discord, nothing can ping,
/// format, hide or reorder text, and every field stays within Discord's limits.
#[tokio::test]
async fn hostile_scraped_text_is_posted_inert_and_within_limits() {
    let w = TestApp::idle(&[214199]).await;
    let (site, discord, store) = (&w.site, &w.discord, &w.store);
    let long = "가나다라 ".repeat(1_000);
    let items = [
        (
            "&lt;@123&gt; 님 @everyone 축하",
            "&lt;#456&gt; 채널 @here &lt;@&amp;789&gt; 역할",
        ),
        (
            long.as_str(),
            "[가면 링크](https://evil.example/x) 와 &lt;https://evil.example&gt;",
        ),
        (
            "\u{202E}방향 바꾸기\u{202C} \u{2066}격리\u{2069}",
            "숨\u{200B}김\u{FEFF} ||스포일러|| `코드` ~~취소~~",
        ),
        (
            "# 제목인 척",
            "-# 작은 글씨 &gt; 인용 **굵게** __밑줄__ *기울임*",
        ),
    ];
    let body: String = items
        .iter()
        .map(|(h, s)| format!("<p><strong>■ {h}</strong><br>{s}</p>"))
        .collect();
    let published = (chrono::Utc::now() - chrono::Duration::hours(1)).to_rfc3339();
    let page = format!(
        "<html><head><title>@everyone 속보</title>\
         <meta property=\"og:title\" content=\"@everyone [8월21일] &lt;@&amp;1&gt; **속보** \u{202E}뒤집기\">\
         <meta property=\"article:published_time\" content=\"{published}\"></head>\
         <body><article id=\"article-view-content-div\"><p>@here 오늘의 [브리핑](https://evil.example) 입니다. 1. 목록 &gt; 인용</p>{body}</article></body></html>"
    );
    site.serve_bytes(
        &aitimes_article(214199),
        page.into_bytes(),
        "text/html; charset=utf-8",
    );
    w.subscribe(100).await;
    w.scrape().await;
    drain(&mut deliverer(store, discord)).await;

    let posted = discord.messages(100);
    assert!(!posted.is_empty());
    assert!(
        discord.unguarded().is_empty(),
        "every message set allowed_mentions"
    );
    let utf16 = |s: &str| s.encode_utf16().count();
    let mut fields = Vec::new();
    for m in &posted {
        assert_eq!(m.body["allowed_mentions"]["parse"], serde_json::json!([]));
        let embeds = m.embeds();
        assert!(embeds.len() <= 10);
        let mut total = 0;
        for e in &embeds {
            let title = e["title"].as_str().unwrap_or_default();
            let description = e["description"].as_str().unwrap_or_default();
            let footer = e["footer"]["text"].as_str().unwrap_or_default();
            assert!(utf16(title) <= 256, "title of {} units", utf16(title));
            assert!(utf16(description) <= 4096);
            total += utf16(title) + utf16(description) + utf16(footer);
            fields.extend([title.to_owned(), description.to_owned()]);
        }
        assert!(total <= 6000);
        if let Some(content) = m.body["content"].as_str() {
            fields.push(content.to_owned());
        }
    }
    let all = fields.join("\n");
    for raw in [
        "@everyone",
        "@here",
        "<@",
        "<#",
        "](",
        "||",
        "~~",
        "**",
        "__",
    ] {
        assert!(
            !all.contains(raw),
            "{raw:?} reached Discord unescaped:\n{all}"
        );
    }
    for c in ['\u{202E}', '\u{202C}', '\u{2066}', '\u{2069}', '\u{FEFF}'] {
        assert!(!all.contains(c), "{c:?} reached Discord");
    }
    assert!(
        fields
            .iter()
            .all(|f| !f.starts_with('#') && !f.starts_with("-#") && !f.starts_with('>')),
        "a line that Discord would format:\n{all}"
    );
    // The text itself is all there, escaped, not lost.
    assert!(
        all.contains("@\u{200B}everyone") && all.contains("\\[가면 링크\\]"),
        "{all}"
    );
    assert!(all.contains("방향 바꾸기 격리"), "{all}");
    assert!(
        all.contains("가나다라 가나다라") && all.contains('…'),
        "the long headline is cut"
    );
}

const SAMSUNG: (&str, &str) = (
    "삼성전자, 3분기 영업이익 10조원 돌파",
    "삼성전자가 3분기 영업이익 10조원을 넘어섰다고 밝혔습니다. 메모리 반도체 가격 회복이 실적을 이끌었습니다.",
);
const SEOUL: (&str, &str) = (
    "서울시, 생성 AI 민원 상담 서비스 도입",
    "서울시가 시민 민원에 24시간 답하는 생성 AI 상담 서비스를 도입한다고 밝혔습니다. 다산콜센터 상담 자료를 학습했습니다.",
);
const HYNIX: (&str, &str) = (
    "SK하이닉스, 3분기 영업이익 5조원 돌파",
    "SK하이닉스가 3분기 영업이익 5조원을 넘어섰다고 밝혔습니다. 메모리 반도체 가격 회복이 실적을 이끌었습니다.",
);
const BUSAN: (&str, &str) = (
    "부산시, 생성 AI 민원 상담 서비스 도입",
    "부산시가 시민 민원에 24시간 답하는 생성 AI 상담 서비스를 도입한다고 밝혔습니다. 120바로콜센터 상담 자료를 학습했습니다.",
);

/// Every embed title of a channel's messages after the first `skip`.
fn titles(discord: &FakeDiscord, channel: u64, skip: usize) -> Vec<String> {
    discord
        .messages(channel)
        .iter()
        .skip(skip)
        .flat_map(|m| m.embeds())
        .filter_map(|e| e["title"].as_str().map(str::to_owned))
        .collect()
}

#[tokio::test]
async fn a_database_of_the_previous_rule_tells_twins_apart_on_open_and_keeps_what_channels_received()
 {
    let w = TestApp::idle(&[214199]).await;
    let (site, discord) = (&w.site, &w.discord);
    w.subscribe(100).await;
    site.serve_bytes(
        &aitimes_article(214199),
        ndsoft_briefing(
            "[8월21일] 실적 발표",
            "오늘의 소식입니다.",
            &[SAMSUNG, SEOUL],
        ),
        "text/html; charset=utf-8",
    );
    w.scrape().await;
    drain(&mut deliverer(&w.store, discord)).await;
    assert_eq!(titles(discord, 100, 0).len(), 3);

    // The template twins arrive; the previous rule put them in the stories the channel has.
    site.list_aitimes(&[214145, 214199]);
    site.serve_bytes(
        &aitimes_article(214145),
        ndsoft_briefing(
            "[8월20일] 또 실적 발표",
            "다음 소식입니다.",
            &[HYNIX, BUSAN],
        ),
        "text/html; charset=utf-8",
    );
    w.scrape().await;
    let id_of = async |idxno: u32| {
        let url = briefbot::domain::CanonicalUrl::parse(site.url(&aitimes_article(idxno)).as_str())
            .unwrap();
        w.store.issue_for_url(&url).await.unwrap().unwrap()
    };
    let (first, second) = (id_of(214199).await, id_of(214145).await);
    let old = w.store.brief_rows(first).await.unwrap();
    let new = w.store.brief_rows(second).await.unwrap();
    assert_ne!(new[0].1, old[0].1, "the current rule tells the twins apart");
    assert_eq!(
        briefbot::store::testing::unprinted_briefs(&w.store)
            .await
            .unwrap(),
        0,
        "each brief is stored with its terms"
    );
    briefbot::store::testing::as_previous_rule(
        &w.store,
        &[(new[0].0, old[0].1), (new[1].0, old[1].1)],
    )
    .await
    .unwrap();

    // The upgrade: opening the database tells them apart again, and stores each brief's terms.
    let store = w.db.store().await;
    assert_eq!(
        briefbot::store::testing::unprinted_briefs(&store)
            .await
            .unwrap(),
        0
    );
    let rows = store.brief_rows(second).await.unwrap();
    assert_eq!(
        rows[0].1, rows[0].0,
        "SK하이닉스 is a story of its own again"
    );
    assert_eq!(rows[1].1, rows[1].0, "부산시 is a story of its own again");
    let had = store
        .channel_stories(100, chrono::Utc::now() - chrono::Duration::days(1))
        .await
        .unwrap();
    assert!(
        had.contains(&old[0].1) && had.contains(&old[1].1),
        "{had:?}"
    );
    assert!(
        !had.contains(&rows[0].1) && !had.contains(&rows[1].1),
        "{had:?}"
    );
    drain(&mut deliverer(&store, discord)).await;
    let posted = titles(discord, 100, 1);
    assert_eq!(posted.len(), 3, "lead and both twins: {posted:?}");
    assert!(
        posted.iter().any(|t| t.contains("SK하이닉스")),
        "{posted:?}"
    );
    assert!(posted.iter().any(|t| t.contains("부산시")), "{posted:?}");

    // What the channel received before the upgrade still counts: a rewording is left out.
    site.list_aitimes(&[214100, 214145, 214199]);
    site.serve_bytes(
        &aitimes_article(214100),
        ndsoft_briefing(
            "[8월19일] 세 번째 소식",
            "마지막 소식입니다.",
            &[
                (
                    "삼성전자 3분기 영업이익 10조원 넘어",
                    "삼성전자의 3분기 영업이익이 10조 원을 넘었다고 밝혔습니다. 메모리 반도체 가격 회복 덕분입니다.",
                ),
                (
                    "네이버, 사우디에 디지털 트윈 플랫폼 구축",
                    "네이버가 사우디아라비아 주택부와 함께 5개 도시를 디지털 트윈으로 구축하는 사업을 수주했다고 밝혔습니다.",
                ),
            ],
        ),
        "text/html; charset=utf-8",
    );
    scraper(store.clone())
        .scrape_source(&aitimes_source(site), false)
        .await
        .unwrap();
    drain(&mut deliverer(&store, discord)).await;
    let posted = titles(discord, 100, 2);
    assert_eq!(posted.len(), 2, "lead and the new story only: {posted:?}");
    assert!(posted.iter().any(|t| t.contains("네이버")), "{posted:?}");
}
