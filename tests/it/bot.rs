//! The bot end to end: the whole app (`spawn_app`) with the real serenity client over a
//! websocket and HTTP to a fake Discord, a real database, the real scraper against the fake
//! news site.

use std::time::Duration;

use briefbot::config::DatabaseUrl;
use serde_json::{Value, json};

use crate::support::app::{GUILD, TestApp, spawn_app};
use crate::support::discord::{autocomplete, button_press, command};
use crate::support::{eventually, eventually_async};

const CHANNEL: u64 = 100;
const OTHER_CHANNEL: u64 = 200;
const ADMIN: u64 = 11;
const MEMBER: u64 = 12;
/// MANAGE_GUILD (1 << 5), as Discord sends a member's permissions.
const MANAGE_GUILD: &str = "32";
/// SEND_MESSAGES and VIEW_CHANNEL only.
const PLAIN: &str = "3072";
const EPHEMERAL: u64 = 1 << 6;

/// Sends a slash command from `user` (with these permissions) in [`CHANNEL`] and waits for the
/// bot's final answer.
async fn ask(
    bot: &TestApp,
    name: &str,
    options: Value,
    user: u64,
    permissions: &str,
) -> (u64, Value) {
    bot.discord
        .interact(command(
            name,
            options,
            Some(GUILD),
            CHANNEL,
            user,
            permissions,
        ))
        .await
}

fn string_option(name: &str, value: &str) -> Value {
    json!({ "name": name, "type": 3, "value": value })
}

fn is_ephemeral(data: &Value) -> bool {
    data["flags"].as_u64().is_some_and(|f| f & EPHEMERAL != 0)
}

#[tokio::test]
async fn commands_are_registered_with_korean_names_and_admin_permissions() {
    let bot = spawn_app().await;
    let commands = bot.discord.registered_commands(&GUILD.to_string()).await;
    let names: Vec<&str> = commands
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        [
            "subscribe",
            "unsubscribe",
            "subscriptions",
            "repost",
            "status",
            "news"
        ]
    );
    for c in commands.as_array().unwrap() {
        assert!(c["name_localizations"]["ko"].is_string(), "{c}");
        assert!(c["description_localizations"]["ko"].is_string(), "{c}");
        let subcommands = c["options"].as_array().into_iter().flatten();
        let nested = subcommands
            .clone()
            .flat_map(|o| o["options"].as_array().into_iter().flatten());
        for o in subcommands.chain(nested) {
            assert!(o["name_localizations"]["ko"].is_string(), "{o}");
            assert!(o["description_localizations"]["ko"].is_string(), "{o}");
        }
        let admin = c["name"] != "subscriptions" && c["name"] != "news";
        assert_eq!(c["default_member_permissions"] == json!("32"), admin, "{c}");
    }
    assert_eq!(bot.discord.identified(), 1);
    bot.shutdown().await;
}

#[tokio::test]
async fn an_admin_subscribes_and_the_next_issue_arrives_as_embeds() {
    let bot = spawn_app().await;

    let (kind, reply) = ask(&bot, "subscribe", json!([]), ADMIN, MANAGE_GUILD).await;
    assert_eq!(kind, 5, "deferred first");
    assert!(
        reply["content"].as_str().unwrap().contains("subscribed"),
        "{reply}"
    );
    assert_eq!(reply["allowed_mentions"]["parse"], json!([]));

    bot.scrape().await;
    bot.wait_for_messages(CHANNEL, 1).await;
    let posted = &bot.discord.messages(CHANNEL)[0];
    let embeds = posted.embeds();
    assert_eq!(embeds.len(), 1 + 6);
    assert!(embeds[0]["url"].as_str().unwrap().ends_with("idxno=214043"));
    assert_eq!(posted.body["allowed_mentions"]["parse"], json!([]));

    // The next issue arrives too, once.
    bot.list(&[214100, 214043]);
    bot.scrape().await;
    bot.delivered().await;
    assert_eq!(bot.discord.messages(CHANNEL).len(), 2);
    bot.shutdown().await;
}

#[tokio::test]
async fn members_without_manage_server_are_refused_privately_and_nothing_changes() {
    let bot = spawn_app().await;
    bot.scrape().await;

    for name in ["subscribe", "repost", "unsubscribe", "status"] {
        let (kind, reply) = ask(&bot, name, json!([]), MEMBER, PLAIN).await;
        assert_eq!(kind, 4, "{name}");
        assert!(is_ephemeral(&reply), "{name}: {reply}");
        assert!(
            reply["content"].as_str().unwrap().contains("Manage Server"),
            "{name}: {reply}"
        );
    }
    assert!(
        bot.store
            .subscriptions(GUILD as i64)
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(bot.store.pending_deliveries().await.unwrap(), 0);
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert!(bot.discord.messages(CHANNEL).is_empty());

    // Anyone may list subscriptions.
    let (_, reply) = ask(&bot, "subscriptions", json!([]), MEMBER, PLAIN).await;
    assert!(
        reply["content"]
            .as_str()
            .unwrap()
            .contains("no subscriptions"),
        "{reply}"
    );
    bot.shutdown().await;
}

#[tokio::test]
async fn repost_posts_an_issue_again_after_a_deferred_reply() {
    let bot = spawn_app().await;
    ask(&bot, "subscribe", json!([]), ADMIN, MANAGE_GUILD).await;
    bot.scrape().await;
    bot.wait_for_messages(CHANNEL, 1).await;

    let (kind, reply) = ask(
        &bot,
        "repost",
        json!([string_option("issue", "latest")]),
        ADMIN,
        MANAGE_GUILD,
    )
    .await;

    assert_eq!(kind, 5, "deferred first");
    assert!(
        reply["content"].as_str().unwrap().starts_with("Reposting"),
        "{reply}"
    );
    bot.wait_for_messages(CHANNEL, 2).await;
    let posted = bot.discord.messages(CHANNEL);
    assert_eq!(posted[0].embeds(), posted[1].embeds());
    assert_ne!(posted[0].nonce(), posted[1].nonce());
    bot.shutdown().await;
}

#[tokio::test]
async fn keyword_subscriptions_unsubscribing_and_the_listing() {
    let bot = spawn_app().await;
    let channel = json!({ "name": "channel", "type": 7, "value": OTHER_CHANNEL.to_string() });
    ask(
        &bot,
        "subscribe",
        json!([
            string_option("keywords", "존재하지않는단어, 또없는말"),
            channel
        ]),
        ADMIN,
        MANAGE_GUILD,
    )
    .await;
    ask(
        &bot,
        "subscribe",
        json!([string_option("source", "aitimes-briefing")]),
        ADMIN,
        MANAGE_GUILD,
    )
    .await;

    let (_, listing) = ask(&bot, "subscriptions", json!([]), MEMBER, PLAIN).await;
    let text = listing["content"].as_str().unwrap();
    assert!(
        text.contains(&format!("<#{OTHER_CHANNEL}>")) && text.contains("존재하지않는단어"),
        "{text}"
    );
    assert!(text.contains(&format!("<#{CHANNEL}>")), "{text}");

    let (_, reply) = ask(
        &bot,
        "unsubscribe",
        json!([string_option("source", "aitimes-briefing")]),
        ADMIN,
        MANAGE_GUILD,
    )
    .await;
    assert!(
        reply["content"]
            .as_str()
            .unwrap()
            .contains("no longer subscribed"),
        "{reply}"
    );

    bot.scrape().await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(bot.discord.messages(CHANNEL).is_empty(), "unsubscribed");
    assert!(
        bot.discord.messages(OTHER_CHANNEL).is_empty(),
        "no item matches the keywords"
    );
    bot.shutdown().await;
}

#[tokio::test]
async fn bad_options_and_direct_messages_get_a_clear_private_answer() {
    let bot = spawn_app().await;

    let (_, reply) = ask(
        &bot,
        "subscribe",
        json!([string_option("source", "nope")]),
        ADMIN,
        MANAGE_GUILD,
    )
    .await;
    assert!(is_ephemeral(&reply));
    assert!(
        reply["content"]
            .as_str()
            .unwrap()
            .contains("aitimes-briefing"),
        "{reply}"
    );

    let long = "가".repeat(60);
    let (_, reply) = ask(
        &bot,
        "subscribe",
        json!([string_option("keywords", &long)]),
        ADMIN,
        MANAGE_GUILD,
    )
    .await;
    assert!(
        is_ephemeral(&reply) && reply["content"].as_str().unwrap().contains("at most 50"),
        "{reply}"
    );

    let (_, reply) = ask(
        &bot,
        "repost",
        json!([string_option("issue", "not a url")]),
        ADMIN,
        MANAGE_GUILD,
    )
    .await;
    assert!(
        reply["content"].as_str().unwrap().contains("URL"),
        "{reply}"
    );

    let (_, reply) = bot
        .discord
        .interact(command(
            "subscribe",
            json!([]),
            None,
            CHANNEL,
            ADMIN,
            MANAGE_GUILD,
        ))
        .await;
    assert!(
        is_ephemeral(&reply) && reply["content"].as_str().unwrap().contains("server"),
        "{reply}"
    );
    assert!(
        bot.store
            .subscriptions(GUILD as i64)
            .await
            .unwrap()
            .is_empty()
    );

    let (kind, reply) = bot
        .discord
        .interact(autocomplete(
            "subscribe",
            json!([{ "name": "source", "type": 3, "value": "ai", "focused": true }]),
            GUILD,
            CHANNEL,
        ))
        .await;
    assert_eq!(kind, 8);
    let choices = reply["choices"].as_array().unwrap();
    assert!(
        choices.len() <= 25 && choices.iter().any(|c| c["value"] == "aitimes-briefing"),
        "{reply}"
    );
    bot.shutdown().await;
}

#[tokio::test]
async fn status_shows_sources_queue_and_paused_channels() {
    let bot = spawn_app().await;
    ask(&bot, "subscribe", json!([]), ADMIN, MANAGE_GUILD).await;
    // Another channel whose posts Discord rejects for good (400): its delivery fails.
    bot.discord.break_channel(OTHER_CHANNEL, 400);
    let other = json!({ "name": "channel", "type": 7, "value": OTHER_CHANNEL.to_string() });
    ask(&bot, "subscribe", json!([other]), ADMIN, MANAGE_GUILD).await;
    bot.scrape().await;
    eventually_async(10, "the post to the broken channel failed", || async {
        let since = briefbot::store::now() - chrono::Duration::days(1);
        !bot.store
            .failed_deliveries(GUILD as i64, since)
            .await
            .unwrap()
            .is_empty()
    })
    .await;
    briefbot::store::testing::pause_channel(
        &bot.store,
        CHANNEL as i64,
        chrono::TimeZone::with_ymd_and_hms(&chrono::Utc, 2026, 11, 28, 0, 0, 0).unwrap(),
        "Discord answered 403 Forbidden: Missing Access",
    )
    .await
    .unwrap();
    bot.store
        .set_history_denied(CHANNEL as i64, true)
        .await
        .unwrap();
    for _ in 0..briefbot::store::outbox::MAX_ENTRY_FAILURES {
        bot.store
            .record_entry_failure(
                "aitimes-briefing",
                "https://www.aitimes.com/news/articleView.html?idxno=1",
                "[8월1일] 사라진 브리핑",
                "issue page: 404 Not Found",
                Duration::from_secs(600),
                briefbot::store::now(),
            )
            .await
            .unwrap();
    }

    let (kind, reply) = ask(&bot, "status", json!([]), ADMIN, MANAGE_GUILD).await;

    assert_eq!(kind, 5, "deferred first");
    let text = reply["content"].as_str().unwrap();
    assert!(text.contains(env!("CARGO_PKG_VERSION")), "{text}");
    assert!(
        text.contains("aitimes-briefing") && text.contains("1 issues stored"),
        "{text}"
    );
    assert!(text.contains("Delivery queue"), "{text}");
    assert!(
        text.contains(&format!("<#{CHANNEL}> paused: Discord answered 403")),
        "{text}"
    );
    assert!(
        text.contains(&format!("<#{CHANNEL}> denies Read Message History")),
        "{text}"
    );
    assert!(
        text.contains("gave up on “\\[8월1일\\] 사라진 브리핑”") && text.contains("8 failed tries"),
        "{text}"
    );
    assert!(
        text.contains(&format!("✖ a post to <#{OTHER_CHANNEL}> failed")) && text.contains("400"),
        "{text}"
    );
    let (_, listing) = ask(&bot, "subscriptions", json!([]), MEMBER, PLAIN).await;
    assert!(
        listing["content"].as_str().unwrap().contains("paused"),
        "{listing}"
    );
    bot.shutdown().await;
}

fn news(sub: &str, options: Value) -> Value {
    json!([{ "name": sub, "type": 1, "options": options }])
}

async fn ask_news(bot: &TestApp, sub: &str, options: Value) -> (u64, Value, Vec<Value>) {
    let payload = command(
        "news",
        news(sub, options),
        Some(GUILD),
        CHANNEL,
        MEMBER,
        PLAIN,
    );
    let token = payload["token"].as_str().unwrap().to_owned();
    let (kind, data) = bot.discord.interact(payload).await;
    tokio::time::sleep(Duration::from_millis(50)).await;
    (kind, data, bot.discord.followups(&token))
}

#[tokio::test]
async fn news_latest_and_date_show_issues_as_embeds_to_anyone() {
    let bot = spawn_app().await;
    bot.list(&[214100, 214043]);
    bot.scrape().await;

    let (kind, data, followups) = ask_news(&bot, "latest", json!([])).await;
    assert_eq!(kind, 5);
    assert!(!is_ephemeral(&data));
    let embeds = data["embeds"].as_array().unwrap();
    assert!(
        embeds[0]["url"].as_str().unwrap().ends_with("idxno=214100"),
        "{data}"
    );
    assert_eq!(embeds.len(), 1 + 5);
    assert!(followups.is_empty());

    let (_, data, followups) = ask_news(
        &bot,
        "latest",
        json!([{ "name": "count", "type": 4, "value": 2 }]),
    )
    .await;
    assert!(
        data["embeds"][0]["url"]
            .as_str()
            .unwrap()
            .ends_with("idxno=214100")
    );
    assert_eq!(followups.len(), 1);
    assert!(
        followups[0]["embeds"][0]["url"]
            .as_str()
            .unwrap()
            .ends_with("idxno=214043")
    );

    let latest = bot.store.latest(1, None).await.unwrap();
    let day = latest[0]
        .published_at
        .unwrap()
        .with_timezone(&briefbot::domain::kst())
        .format("%Y-%m-%d")
        .to_string();
    let (_, data, _) = ask_news(&bot, "date", json!([string_option("day", &day)])).await;
    assert!(!data["embeds"].as_array().unwrap().is_empty(), "{data}");

    let (_, data, _) = ask_news(&bot, "date", json!([string_option("day", "2020-01-01")])).await;
    let text = data["content"].as_str().unwrap();
    assert!(
        text.contains("No issue was published on 2020-01-01") && text.contains("nearest day"),
        "{text}"
    );
    bot.shutdown().await;
}

#[tokio::test]
async fn news_search_finds_korean_words_with_particles_and_bolds_them() {
    let bot = spawn_app().await;
    bot.list(&[214100, 214043]);
    bot.scrape().await;
    let expected: Value = serde_json::from_str(&crate::support::fixture(
        "aitimes/article_214100.expected.json",
    ))
    .unwrap();
    let headline = expected["briefs"][0]["headline"].as_str().unwrap();
    let word: String = headline
        .split_whitespace()
        .next()
        .unwrap()
        .chars()
        .filter(|c| c.is_alphanumeric())
        .collect();

    let (kind, data, _) = ask_news(
        &bot,
        "search",
        json!([string_option("query", &format!("{word}의"))]),
    )
    .await;

    assert_eq!(kind, 5);
    let embed = &data["embeds"][0];
    let description = embed["description"].as_str().unwrap();
    assert!(
        description.contains(&format!("**{word}**")),
        "{description}"
    );
    assert!(embed["title"].as_str().unwrap().contains(&word));
    bot.shutdown().await;
}

#[tokio::test]
async fn news_search_finds_an_issue_by_its_lead_story_and_title_and_shows_it_once() {
    let bot = spawn_app().await;
    for idxno in [214199, 214145] {
        bot.site.serve_fresh_fixture(
            &format!("/news/articleView.html?idxno={idxno}"),
            &format!("aitimes/article_{idxno}.html"),
        );
    }
    bot.list(&[214199, 214145, 214100]);
    bot.scrape().await;
    let link = "/news/articleView.html?idxno=214199)";

    // Only the lead story of the [8월21일] issue has the word; none of its items.
    let (_, data, _) = ask_news(&bot, "search", json!([string_option("query", "유니버스")])).await;
    let embed = &data["embeds"][0];
    let description = embed["description"]
        .as_str()
        .unwrap_or_else(|| panic!("{data}"));
    assert!(
        description.starts_with("[\\[8월21일\\] 오픈AI가 ‘컴퓨터 유즈’에 보인 자신감"),
        "the issue's title, linked: {description}"
    );
    assert!(description.contains(link), "{description}");
    assert!(
        description.contains(
            "\n오픈AI는 2017년 ‘**유니버스**\\(Universe\\)’ 프로젝트로 AI가 화면을 보고 키보드와 마우스를 다루는 연구를 시작했습니다.\n"
        ),
        "the lead's matching sentence, the word in bold: {description}"
    );
    assert!(description.contains("lead story"), "{description}");
    assert!(
        embed["footer"]["text"]
            .as_str()
            .unwrap()
            .ends_with(" 1 results"),
        "{embed}"
    );

    // In its title and its lead: one result, not two.
    let (_, data, _) = ask_news(&bot, "search", json!([string_option("query", "행동하는")])).await;
    let description = data["embeds"][0]["description"].as_str().unwrap();
    assert_eq!(description.matches(link).count(), 1, "{description}");
    assert!(
        description.contains("‘**행동하**는 AI’의 현재](")
            && description.contains("‘**행동하**는 AI’를 구현"),
        "{description}"
    );
    assert!(
        data["embeds"][0]["footer"]["text"]
            .as_str()
            .unwrap()
            .ends_with(" 1 results")
    );
    bot.shutdown().await;
}

#[tokio::test]
async fn news_bad_input_gets_a_private_answer_saying_what_is_accepted() {
    let bot = spawn_app().await;
    bot.scrape().await;
    let cases = [
        (
            "latest",
            json!([{ "name": "count", "type": 4, "value": 0 }]),
            "from 1 to 10",
        ),
        (
            "latest",
            json!([{ "name": "count", "type": 4, "value": 11 }]),
            "from 1 to 10",
        ),
        (
            "date",
            json!([string_option("day", "2023-13-45")]),
            "a date like",
        ),
        (
            "search",
            json!([string_option("query", &"가".repeat(101))]),
            "1 to 100 characters",
        ),
        (
            "search",
            json!([string_option("query", "   ")]),
            "1 to 100 characters",
        ),
        (
            "latest",
            json!([string_option("source", "nope")]),
            "no source",
        ),
    ];
    for (sub, options, says) in cases {
        let (_, data, _) = ask_news(&bot, sub, options.clone()).await;
        assert!(is_ephemeral(&data), "{sub} {options}: {data}");
        assert!(
            data["content"].as_str().unwrap().contains(says),
            "{sub} {options}: {data}"
        );
    }
    let (_, data, _) = ask_news(
        &bot,
        "search",
        json!([string_option("query", "' OR 1=1; DROP TABLE briefs; --")]),
    )
    .await;
    assert!(
        data["content"]
            .as_str()
            .unwrap()
            .starts_with("No brief matches"),
        "{data}"
    );
    assert_eq!(
        bot.store.latest(10, None).await.unwrap().len(),
        1,
        "nothing was harmed"
    );
    bot.shutdown().await;
}

#[tokio::test]
async fn search_pages_turn_by_button_for_the_searcher_only_and_survive_a_restart() {
    let bot = spawn_app().await;
    for idxno in [214199, 214145] {
        bot.site.serve_fresh_fixture(
            &format!("/news/articleView.html?idxno={idxno}"),
            &format!("aitimes/article_{idxno}.html"),
        );
    }
    bot.list(&[214199, 214145, 214100, 214043]);
    bot.scrape().await;
    let total = bot.store.search_count("AI", None).await.unwrap();
    assert!(
        total > 5,
        "the fixtures should give more than one page, got {total}"
    );

    let (_, first, _) = ask_news(&bot, "search", json!([string_option("query", "AI")])).await;
    let buttons = first["components"][0]["components"]
        .as_array()
        .unwrap()
        .clone();
    assert_eq!(buttons.len(), 2);
    assert_eq!(buttons[0]["disabled"], true, "no page before the first");
    let next = buttons[1]["custom_id"].as_str().unwrap().to_owned();
    assert!(next.len() <= 100);

    // Someone else presses ▶: a private note, the page stays.
    let (kind, note) = bot
        .discord
        .interact(button_press(&next, GUILD, CHANNEL, ADMIN))
        .await;
    assert_eq!(kind, 4);
    assert!(
        is_ephemeral(&note)
            && note["content"]
                .as_str()
                .unwrap()
                .contains("Only the member who searched"),
        "{note}"
    );

    // The searcher presses ▶: the message shows page 2.
    let (kind, page2) = bot
        .discord
        .interact(button_press(&next, GUILD, CHANNEL, MEMBER))
        .await;
    assert_eq!(kind, 7, "the message is updated in place");
    let footer = page2["embeds"][0]["footer"]["text"].as_str().unwrap();
    assert!(footer.starts_with("page 2 of"), "{footer}");
    assert_ne!(
        page2["embeds"][0]["description"],
        first["embeds"][0]["description"]
    );

    // A button of a search that is gone says so.
    let (_, gone) = bot
        .discord
        .interact(button_press("ns:999999:2", GUILD, CHANNEL, MEMBER))
        .await;
    assert!(
        gone["content"].as_str().unwrap().contains("expired"),
        "{gone}"
    );

    // After a restart (the app stopped and built again on the same database) the button
    // still works.
    let bot = bot.restart().await;
    let (kind, again) = bot
        .discord
        .interact(button_press(&next, GUILD, CHANNEL, MEMBER))
        .await;
    assert_eq!(kind, 7, "{again}");
    let footer = again["embeds"][0]["footer"]["text"].as_str().unwrap();
    assert!(footer.starts_with("page 2 of"), "{footer}");
    bot.shutdown().await;
}

#[tokio::test]
async fn no_reply_of_any_kind_and_no_post_can_ping() {
    let bot = spawn_app().await;
    // [8월20일] has `@everyone` in an item's headline and summary.
    for idxno in [214199, 214145] {
        bot.site.serve_fresh_fixture(
            &format!("/news/articleView.html?idxno={idxno}"),
            &format!("aitimes/article_{idxno}.html"),
        );
    }
    bot.list(&[214199, 214145, 214100, 214043]);

    // A command's deferred reply, and a refusal (ephemeral).
    ask(&bot, "subscribe", json!([]), ADMIN, MANAGE_GUILD).await;
    ask(&bot, "subscribe", json!([]), MEMBER, PLAIN).await;
    // Posts to the channel.
    bot.scrape().await;
    bot.wait_for_messages(CHANNEL, 4).await;
    // A deferred answer's edit, and its follow-ups.
    let (_, _, followups) = ask_news(
        &bot,
        "latest",
        json!([{ "name": "count", "type": 4, "value": 3 }]),
    )
    .await;
    assert!(!followups.is_empty());
    // A page turned (the message updated), and another member's press refused privately.
    let (_, first, _) = ask_news(&bot, "search", json!([string_option("query", "AI")])).await;
    let next = first["components"][0]["components"][1]["custom_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let (kind, _) = bot
        .discord
        .interact(button_press(&next, GUILD, CHANNEL, MEMBER))
        .await;
    assert_eq!(kind, 7);
    let (kind, refusal) = bot
        .discord
        .interact(button_press(&next, GUILD, CHANNEL, ADMIN))
        .await;
    assert!(kind == 4 && is_ephemeral(&refusal), "{refusal}");

    let guarded = bot.discord.guarded();
    // No command answers publicly at once any more (/subscribe defers): a public answer is a
    // deferred edit.
    for kind in [
        "ephemeral reply",
        "channel message",
        "deferred edit",
        "follow-up",
        "button update",
    ] {
        assert!(
            guarded.get(kind).is_some_and(|n| *n > 0),
            "no {kind} was sent: {guarded:?}"
        );
    }
    assert_eq!(bot.discord.unguarded(), Vec::<String>::new());
    let everyone = bot
        .discord
        .messages(CHANNEL)
        .iter()
        .any(|m| m.body.to_string().contains("everyone"));
    assert!(
        everyone,
        "the scraped @everyone was posted (escaped, allowed to ping no one)"
    );
    bot.shutdown().await;
}

#[tokio::test]
async fn the_gateway_state_follows_a_lost_connection_and_the_bot_answers_after_it_is_back() {
    let bot = spawn_app().await;
    // What the operator's endpoint says of Discord, as a monitor reads it.
    let discord = || async {
        let body = reqwest::get(format!("{}/healthz", bot.address()))
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        let health: Value = serde_json::from_str(&body).unwrap();
        health["discord"].as_str().unwrap().to_owned()
    };
    eventually_async(5, "connected", || async { discord().await == "connected" }).await;

    bot.discord.drop_gateway();
    eventually_async(10, "the lost connection noticed", || async {
        discord().await == "connecting"
    })
    .await;
    bot.discord.restore_gateway();
    eventually_async(60, "connected again", || async {
        discord().await == "connected"
    })
    .await;
    assert_eq!(bot.discord.identified(), 2);

    let (kind, data, _) = ask_news(&bot, "latest", json!([])).await;
    assert!(kind == 4 || kind == 5, "{kind} {data}");
    let commands = bot
        .telemetry()
        .interactions
        .get_or_create(&vec![("type", "command".to_owned())])
        .get();
    assert_eq!(commands, 1);
    bot.shutdown().await;
}

#[tokio::test]
async fn a_deleted_channel_and_a_server_that_removed_the_bot_lose_their_subscriptions() {
    let bot = spawn_app().await;
    let (store, guild) = (&bot.store, GUILD as i64);
    for channel in [CHANNEL, OTHER_CHANNEL] {
        store
            .subscribe(guild, channel as i64, "*", None, ADMIN as i64)
            .await
            .unwrap();
    }
    store
        .subscribe(8, 300, "*", None, ADMIN as i64)
        .await
        .unwrap();
    let channel_ids = |subs: Vec<briefbot::store::outbox::Subscription>| {
        subs.iter().map(|s| s.channel_id).collect::<Vec<_>>()
    };

    bot.discord.dispatch(
        "CHANNEL_DELETE",
        json!({ "id": CHANNEL.to_string(), "type": 0, "guild_id": GUILD.to_string(),
                "name": "news", "position": 0, "permission_overwrites": [], "nsfw": false }),
    );
    eventually_async(10, "the deleted channel's subscription is gone", || async {
        channel_ids(store.subscriptions(guild).await.unwrap()) == [OTHER_CHANNEL as i64]
    })
    .await;

    // An outage is not a removal.
    bot.discord
        .dispatch("GUILD_DELETE", json!({ "id": "8", "unavailable": true }));
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(channel_ids(store.subscriptions(8).await.unwrap()), [300]);
    bot.discord.dispatch("GUILD_DELETE", json!({ "id": "8" }));
    eventually_async(10, "the server's subscriptions are gone", || async {
        store.subscriptions(8).await.unwrap().is_empty()
    })
    .await;
    assert_eq!(
        channel_ids(store.subscriptions(guild).await.unwrap()),
        [OTHER_CHANNEL as i64]
    );
    bot.shutdown().await;
}

#[tokio::test]
async fn a_source_removed_from_the_sources_file_can_still_be_unsubscribed() {
    let bot = spawn_app().await;
    bot.store
        .subscribe(
            GUILD as i64,
            CHANNEL as i64,
            "gone-source",
            None,
            ADMIN as i64,
        )
        .await
        .unwrap();

    let (_, reply) = ask(
        &bot,
        "unsubscribe",
        json!([string_option("source", "gone-source")]),
        ADMIN,
        MANAGE_GUILD,
    )
    .await;

    assert!(
        reply["content"]
            .as_str()
            .unwrap()
            .contains("no longer subscribed"),
        "{reply}"
    );
    assert!(
        bot.store
            .subscriptions(GUILD as i64)
            .await
            .unwrap()
            .is_empty()
    );
    // A source that neither exists nor is subscribed is still refused, saying what exists.
    let (_, reply) = ask(
        &bot,
        "unsubscribe",
        json!([string_option("source", "never-was")]),
        ADMIN,
        MANAGE_GUILD,
    )
    .await;
    assert!(is_ephemeral(&reply), "{reply}");
    bot.shutdown().await;
}

#[tokio::test]
async fn repost_says_so_when_the_server_has_ten_reposts_waiting() {
    let bot = spawn_app().await;
    bot.scrape().await;
    let issue = bot.store.latest(1, None).await.unwrap()[0].id;
    // Ten reposts that cannot go out yet (the channel answers 500).
    bot.discord.break_channel(OTHER_CHANNEL, 500);
    for _ in 0..10 {
        bot.store
            .enqueue_repost(GUILD as i64, OTHER_CHANNEL as i64, issue)
            .await
            .unwrap()
            .unwrap();
    }

    let (_, reply) = ask(&bot, "repost", json!([]), ADMIN, MANAGE_GUILD).await;

    assert!(is_ephemeral(&reply), "{reply}");
    assert!(
        reply["content"]
            .as_str()
            .unwrap()
            .contains("10 reposts waiting"),
        "{reply}"
    );
    bot.shutdown().await;
}

/// Another connection's transaction holding the write lock the bot's writes wait for, as the
/// start-up index rebuild of a big database does: SQLite's lock on the whole file; on
/// PostgreSQL, an exclusive lock on the subscriptions table (reads go on).
enum WriteLock {
    Sqlite(sqlx::SqliteConnection),
    Postgres(sqlx::PgConnection),
}

impl WriteLock {
    async fn take(url: &DatabaseUrl) -> Self {
        use sqlx::Connection as _;
        match url {
            DatabaseUrl::Sqlite(url) => {
                let mut conn = sqlx::SqliteConnection::connect(url).await.unwrap();
                sqlx::query("BEGIN IMMEDIATE")
                    .execute(&mut conn)
                    .await
                    .unwrap();
                Self::Sqlite(conn)
            }
            DatabaseUrl::Postgres(url) => {
                let mut conn = sqlx::PgConnection::connect(url).await.unwrap();
                sqlx::query("BEGIN").execute(&mut conn).await.unwrap();
                sqlx::query("LOCK TABLE subscriptions IN EXCLUSIVE MODE")
                    .execute(&mut conn)
                    .await
                    .unwrap();
                Self::Postgres(conn)
            }
        }
    }

    async fn release(self) {
        match self {
            Self::Sqlite(mut conn) => {
                sqlx::query("ROLLBACK").execute(&mut conn).await.unwrap();
            }
            Self::Postgres(mut conn) => {
                sqlx::query("ROLLBACK").execute(&mut conn).await.unwrap();
            }
        }
    }
}

#[tokio::test]
async fn subscribe_is_deferred_at_once_while_a_long_write_holds_the_database() {
    let bot = spawn_app().await;
    let lock = WriteLock::take(&bot.db.url).await;
    let payload = command(
        "subscribe",
        json!([]),
        Some(GUILD),
        CHANNEL,
        ADMIN,
        MANAGE_GUILD,
    );
    let token = payload["token"].as_str().unwrap().to_owned();

    let answered = bot.discord.interact(payload);
    let write_held = async {
        // Answered (deferred) while the subscription still waits for the lock.
        eventually(5, "the deferral", || bot.discord.callbacks(&token) == 1).await;
        assert!(
            bot.store
                .subscriptions(GUILD as i64)
                .await
                .unwrap()
                .is_empty(),
            "the subscription waits for the lock"
        );
        lock.release().await;
    };
    let ((kind, reply), ()) = tokio::join!(answered, write_held);

    assert_eq!(kind, 5, "deferred first");
    assert!(is_ephemeral(&reply), "{reply}");
    assert!(
        reply["content"]
            .as_str()
            .unwrap()
            .starts_with(&format!("<#{CHANNEL}> is subscribed to every source")),
        "{reply}"
    );
    let subscribed = bot.store.subscriptions(GUILD as i64).await.unwrap();
    assert_eq!(subscribed.len(), 1);
    assert_eq!(subscribed[0].channel_id, CHANNEL as i64);
    bot.shutdown().await;
}
