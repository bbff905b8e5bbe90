//! The `briefbot` binary as an operator runs it.

use std::path::Path;
use std::process::Output;

use briefbot::domain::DeliveryStatus;
use briefbot::domain::Keywords;
use briefbot::store::Recorded;

use crate::support::{FakeSite, TestDb, fixture_path, real_fixture_path};

const LIST: &str = "/news/articleList.html?sc_sub_section_code=S2N110&view_type=sm";

async fn briefbot(dir: &Path, env: &[(&str, &str)], args: &[&str]) -> Output {
    let mut cmd = tokio::process::Command::new(env!("CARGO_BIN_EXE_briefbot"));
    cmd.current_dir(dir)
        .args(args)
        .env_remove("DATABASE_URL")
        .env_remove("BRIEFBOT_SOURCES")
        .env_remove("DISCORD_TOKEN")
        .env("RUST_LOG", "warn");
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.output().await.unwrap()
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

async fn site_with_issues() -> FakeSite {
    let site = FakeSite::start().await;
    site.serve_fixture(LIST, "aitimes/list.html");
    for idxno in [214199, 214145, 214100, 214043] {
        site.serve_fixture(
            &format!("/news/articleView.html?idxno={idxno}"),
            &format!("aitimes/article_{idxno}.html"),
        );
    }
    site
}

fn write_sources(dir: &Path, site: &FakeSite) {
    let toml = format!(
        "[[sources]]\nid = \"aitimes-briefing\"\nname = \"AI타임스 뉴스 브리핑\"\nlist_url = \"{}\"\nformat = \"ndsoft\"\npoll_every = \"10m\"\ntitle_filter = '^\\[\\d{{1,2}}월\\s*\\d{{1,2}}일\\]'\n",
        site.url(LIST)
    );
    std::fs::write(dir.join("sources.toml"), toml).unwrap();
}

#[tokio::test]
async fn scrape_dry_run_prints_json_issues_and_creates_no_database() {
    let site = site_with_issues().await;
    let db = TestDb::new();
    write_sources(db.dir.path(), &site);

    let out = briefbot(db.dir.path(), &[], &["scrape", "--dry-run", "--json"]).await;

    assert!(out.status.success(), "{}", stderr(&out));
    let lines: Vec<serde_json::Value> = stdout(&out)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 4);
    for issue in &lines {
        for key in [
            "source",
            "url",
            "title",
            "published_at",
            "lead",
            "briefs",
            "text",
            "duplicate_of",
        ] {
            assert!(issue.get(key).is_some(), "missing {key} in {issue}");
        }
        assert_eq!(issue["source"], "aitimes-briefing");
        assert!(issue["duplicate_of"].is_null());
        assert!(issue["published_at"].as_str().unwrap().ends_with('Z'));
        assert!(issue["briefs"][0]["headline"].is_string());
        assert!(issue["briefs"][0]["summary"].is_string());
    }
    assert!(!db.created(), "a dry run must not create the database");
}

#[tokio::test]
async fn scrape_then_latest_reads_back_what_was_stored() {
    let site = site_with_issues().await;
    let db = TestDb::new();
    write_sources(db.dir.path(), &site);

    let scrape = briefbot(db.dir.path(), &[], &["scrape"]).await;
    assert!(scrape.status.success(), "{}", stderr(&scrape));
    assert!(stdout(&scrape).contains("■ "));
    assert!(stderr(&scrape).contains("aitimes-briefing: 4 new issue(s)"));

    let latest = briefbot(db.dir.path(), &[], &["latest", "--count", "2", "--json"]).await;
    assert!(latest.status.success(), "{}", stderr(&latest));
    let titles: Vec<String> = stdout(&latest)
        .lines()
        .map(|l| {
            serde_json::from_str::<serde_json::Value>(l).unwrap()["title"]
                .as_str()
                .unwrap()
                .to_owned()
        })
        .collect();
    assert_eq!(titles.len(), 2);
    assert!(
        titles[0].starts_with("[8월21일]") && titles[1].starts_with("[8월20일]"),
        "{titles:?}"
    );

    let again = briefbot(db.dir.path(), &[], &["scrape", "--json"]).await;
    assert!(again.status.success());
    assert_eq!(stdout(&again), "", "nothing new the second time");
}

#[tokio::test]
async fn a_failing_source_makes_scrape_exit_non_zero_after_the_others_ran() {
    let site = site_with_issues().await;
    let db = TestDb::new();
    let toml = format!(
        "[[sources]]\nid = \"down\"\nlist_url = \"{}\"\n\n[[sources]]\nid = \"up\"\nlist_url = \"{}\"\nformat = \"ndsoft\"\ntitle_filter = '^\\['\n",
        site.url("/missing"),
        site.url(LIST)
    );
    std::fs::write(db.dir.path().join("sources.toml"), toml).unwrap();

    let out = briefbot(db.dir.path(), &[], &["scrape", "--json"]).await;

    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("down:"), "{}", stderr(&out));
    assert!(stderr(&out).contains("404"), "{}", stderr(&out));
    assert!(
        stdout(&out).lines().count() >= 4,
        "the healthy source still scraped"
    );
}

#[tokio::test]
async fn bad_configuration_stops_with_one_clear_line() {
    let db = TestDb::new();
    std::fs::write(
        db.dir.path().join("sources.toml"),
        "[[sources]]\nid = \"a\"\nlist_url = \"https://example.com/\"\npoll_every = \"0s\"\n",
    )
    .unwrap();

    let out = briefbot(db.dir.path(), &[], &["scrape"]).await;

    assert_eq!(out.status.code(), Some(2));
    let err = stderr(&out);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(
        err.contains("sources.toml: sources[0].poll_every: '0s' is shorter than the minimum of 1s"),
        "{err}"
    );
    assert!(!err.contains("panicked"));

    let out = briefbot(db.dir.path(), &[("DATABASE_URL", "mysql://x")], &["latest"]).await;
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("environment: DATABASE_URL"),
        "{}",
        stderr(&out)
    );
}

#[tokio::test]
async fn a_postgres_server_that_does_not_answer_gets_a_clear_error_without_the_password() {
    let db = TestDb::new();
    let out = briefbot(
        db.dir.path(),
        &[(
            "DATABASE_URL",
            "postgres://user:hunter2@127.0.0.1:1/briefbot",
        )],
        &["migrate"],
    )
    .await;
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    assert!(
        err.contains("cannot open the database postgres://user:redacted@127.0.0.1:1/briefbot"),
        "{err}"
    );
    assert!(!err.contains("hunter2"), "{err}");
    assert!(!err.contains("panicked"), "{err}");
}

#[tokio::test]
async fn parse_prints_each_page_and_an_error_object_for_bad_ones() {
    let db = TestDb::new();
    let seed = fixture_path("aitimes/issue_seed.html");
    let tagdiv = real_fixture_path("tagdiv_newspaper12_lokalo_weinbergsbahnen.html");
    let missing = db.dir.path().join("missing.html");
    let args = [
        "parse",
        "--json",
        seed.to_str().unwrap(),
        missing.to_str().unwrap(),
        tagdiv.to_str().unwrap(),
    ];

    let out = briefbot(db.dir.path(), &[], &args).await;

    assert_eq!(
        out.status.code(),
        Some(1),
        "a bad page makes the exit code non-zero"
    );
    let lines: Vec<serde_json::Value> = stdout(&out)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 3);
    assert_eq!(lines[0]["briefs"].as_array().unwrap().len(), 8);
    assert!(lines[0].get("source").is_none() && lines[0].get("duplicate_of").is_none());
    assert_eq!(lines[1]["path"], missing.to_str().unwrap());
    assert!(lines[1]["error"].as_str().unwrap().contains("cannot read"));
    assert!(
        lines[2]["title"]
            .as_str()
            .unwrap()
            .starts_with("Weinbergsbahnen")
    );
}

/// `parse` says, for each item, which stored item it would be left out as the same story as,
/// and why; with no database it says none and creates none.
#[tokio::test]
async fn parse_says_which_stored_story_each_item_repeats_and_why() {
    let page = fixture_path("aitimes/article_214199.html");
    let args = ["parse", "--json", page.to_str().unwrap()];
    let empty = TestDb::new();
    let out = briefbot(empty.dir.path(), &[], &args).await;
    assert!(out.status.success(), "{}", stderr(&out));
    let parsed: serde_json::Value = serde_json::from_str(stdout(&out).trim()).unwrap();
    let briefs = parsed["briefs"].as_array().unwrap();
    assert!(!briefs.is_empty());
    assert!(
        briefs.iter().all(|b| b.get("same_story_as").is_none()),
        "{parsed}"
    );
    assert!(!empty.created(), "parse creates no database");

    let (site, _discord, db, _addr) = world_for_run().await;
    let scraped = briefbot(db.dir.path(), &[], &["scrape"]).await;
    assert!(scraped.status.success(), "{}", stderr(&scraped));
    assert!(site.hits("/news/articleView.html?idxno=214199") > 0);
    let out = briefbot(db.dir.path(), &[], &args).await;
    assert!(out.status.success(), "{}", stderr(&out));
    let parsed: serde_json::Value = serde_json::from_str(stdout(&out).trim()).unwrap();
    for brief in parsed["briefs"].as_array().unwrap() {
        let same = &brief["same_story_as"];
        assert!(
            same["url"].as_str().unwrap().contains("idxno=21"),
            "{brief}"
        );
        assert!(same["headline"].is_string() && same["published_at"].is_string());
        assert!(
            same["why"].as_str().unwrap().contains("of terms shared"),
            "{brief}"
        );
    }
    // The item 214199 repeats from 214145 is the story of the earlier issue.
    assert!(
        parsed["briefs"]
            .as_array()
            .unwrap()
            .iter()
            .any(|b| b["same_story_as"]["url"]
                .as_str()
                .unwrap()
                .contains("idxno=214145")),
        "{parsed}"
    );
    let text = briefbot(
        db.dir.path(),
        &[],
        &args[..1]
            .iter()
            .chain(&args[2..])
            .copied()
            .collect::<Vec<_>>(),
    )
    .await;
    assert!(
        stdout(&text).contains("left out where it was posted: '"),
        "{}",
        stdout(&text)
    );
}

#[tokio::test]
async fn parse_takes_the_address_a_local_file_came_from() {
    let db = TestDb::new();
    let page = fixture_path("aitimes/article_214018.html");
    let out = briefbot(
        db.dir.path(),
        &[],
        &[
            "parse",
            "--format",
            "ndsoft",
            "--url",
            "https://mirror.example/a?id=1&utm_source=x",
            "--json",
            page.to_str().unwrap(),
        ],
    )
    .await;
    assert!(out.status.success(), "{}", stderr(&out));
    let issue: serde_json::Value = serde_json::from_str(stdout(&out).trim()).unwrap();
    assert_eq!(issue["url"], "https://mirror.example/a?id=1");
    assert_eq!(issue["briefs"].as_array().unwrap().len(), 0);

    let bad = briefbot(
        db.dir.path(),
        &[],
        &["parse", "--format", "html", page.to_str().unwrap()],
    )
    .await;
    assert_eq!(bad.status.code(), Some(2));
    assert!(
        stderr(&bad).contains("unknown format 'html'"),
        "{}",
        stderr(&bad)
    );
}

#[tokio::test]
async fn run_needs_a_token() {
    let db = TestDb::new();
    let out = briefbot(db.dir.path(), &[], &["run"]).await;
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("environment: DISCORD_TOKEN: not set"),
        "{}",
        stderr(&out)
    );
}

#[tokio::test]
async fn run_stops_with_a_clear_error_when_the_http_address_is_taken() {
    let db = TestDb::new();
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap().to_string();
    let out = briefbot(
        db.dir.path(),
        &[
            ("DISCORD_TOKEN", "secret-token-value"),
            ("DISCORD_API_PROXY", "http://127.0.0.1:9"),
            ("BRIEFBOT_HTTP_ADDR", &addr),
        ],
        &["run"],
    )
    .await;
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    assert!(
        err.contains(&format!("cannot listen on BRIEFBOT_HTTP_ADDR {addr}")),
        "{err}"
    );
    assert!(
        !err.contains("secret-token-value") && !err.contains("panicked"),
        "{err}"
    );
}

/// What `briefbot run` needs: the fake site with issues, its sources file in a fresh database
/// directory, the fake Discord, and a free address for `/healthz`.
async fn world_for_run() -> (
    FakeSite,
    crate::support::discord::FakeDiscord,
    TestDb,
    std::net::SocketAddr,
) {
    let site = site_with_issues().await;
    let discord = crate::support::discord::FakeDiscord::start().await;
    let db = TestDb::new();
    write_sources(db.dir.path(), &site);
    let addr = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    (site, discord, db, addr)
}

#[tokio::test]
async fn run_connects_registers_commands_and_stops_cleanly_on_sigterm() {
    let (site, discord, db, addr) = world_for_run().await;
    let child = crate::support::briefbot_run(db.dir.path(), &discord.base)
        .env("DISCORD_TOKEN", "secret-token-value")
        .env("BRIEFBOT_HTTP_ADDR", addr.to_string())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();

    let commands = discord.registered_commands("7").await;
    assert_eq!(commands.as_array().unwrap().len(), 6);
    // Let the first scrape pass store the issues.
    for _ in 0..200 {
        if db.created() && site.hits("/news/articleView.html?idxno=214043") > 0 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    // The operator's endpoint sees the gateway connected and the source's issues stored.
    let mut health = serde_json::Value::Null;
    for _ in 0..200 {
        if let Ok(r) = reqwest::get(format!("http://{addr}/healthz")).await {
            health = serde_json::from_str(&r.text().await.unwrap()).unwrap();
            if health["discord"] == "connected" && health["sources"][0]["issues"].as_i64() > Some(0)
            {
                break;
            }
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert_eq!(health["status"], "ok", "{health}");
    assert_eq!(health["discord"], "connected", "{health}");
    assert!(
        health["sources"][0]["issues"].as_i64() > Some(0),
        "{health}"
    );
    // BRIEFBOT_SHARDS=auto: the shards Discord recommends (the fake says one), all here.
    assert_eq!(health["shards"], serde_json::json!([0, 0, 1]), "{health}");
    assert_eq!(health["scheduler"], "active", "{health}");
    assert_eq!(discord.identified_shards(), [serde_json::json!([0, 1])]);
    // The pass is counted when it ends.
    let mut metrics = String::new();
    for _ in 0..200 {
        metrics = reqwest::get(format!("http://{addr}/metrics"))
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        if metrics.contains("outcome=\"ok\"} 1") {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert!(
        metrics.contains("briefbot_gateway_connected 1") && metrics.contains("outcome=\"ok\"} 1"),
        "{metrics}"
    );
    let pid = child.id().unwrap().to_string();
    assert!(
        std::process::Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .unwrap()
            .success()
    );
    let out = tokio::time::timeout(std::time::Duration::from_secs(15), child.wait_with_output())
        .await
        .expect("briefbot stops within 15 s of SIGTERM")
        .unwrap();

    let log = stderr(&out);
    assert!(out.status.success(), "{log}");
    assert!(log.contains("slash commands registered"), "{log}");
    assert!(log.contains("stopping"), "{log}");
    assert!(log.contains("serving /healthz and /metrics"), "{log}");
    assert!(
        !log.contains("secret-token-value"),
        "the token must never be logged"
    );
}

/// `BRIEFBOT_SHARDS=I/N`: the process identifies as shard I of N, says so in `/healthz`, and
/// leaves registering the commands to the process with shard 0.
#[tokio::test]
async fn run_starts_the_shards_it_is_given() {
    let (_site, discord, db, addr) = world_for_run().await;
    let _child = crate::support::briefbot_run(db.dir.path(), &discord.base)
        .env("DISCORD_TOKEN", "shard-test-token")
        .env("BRIEFBOT_HTTP_ADDR", addr.to_string())
        .env("BRIEFBOT_SHARDS", "2/3")
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let mut health = serde_json::Value::Null;
    for _ in 0..500 {
        if let Ok(r) = reqwest::get(format!("http://{addr}/healthz")).await {
            health = serde_json::from_str(&r.text().await.unwrap()).unwrap();
            if health["discord"] == "connected" {
                break;
            }
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert_eq!(health["discord"], "connected", "{health}");
    assert_eq!(health["shards"], serde_json::json!([2, 2, 3]), "{health}");
    assert_eq!(discord.identified_shards(), [serde_json::json!([2, 3])]);
    // Commands are the application's: only the process with shard 0 registers them.
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    assert!(
        !discord.has_commands("7"),
        "shard 2 of 3 registered the commands"
    );
}

#[tokio::test]
async fn search_finds_stored_briefs_and_rejects_bad_queries() {
    let site = site_with_issues().await;
    let db = TestDb::new();
    write_sources(db.dir.path(), &site);
    assert!(
        briefbot(db.dir.path(), &[], &["scrape"])
            .await
            .status
            .success()
    );

    let out = briefbot(db.dir.path(), &[], &["search", "오픈AI의 매출", "--json"]).await;
    assert!(out.status.success(), "{}", stderr(&out));
    let hits: Vec<serde_json::Value> = stdout(&out)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert!(!hits.is_empty());
    assert!(
        hits[0]["headline"].as_str().unwrap().contains("매출"),
        "{:?}",
        hits[0]
    );
    assert!(hits[0]["issue_url"].as_str().unwrap().contains("idxno="));
    assert_eq!(hits[0]["kind"], "brief");

    // A word of one issue's lead story only: that issue, with the sentence that has the word.
    let out = briefbot(db.dir.path(), &[], &["search", "유니버스"]).await;
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    let lines: Vec<&str> = text.lines().collect();
    assert!(
        lines[0].starts_with("[8월21일] 오픈AI가 ‘컴퓨터 유즈’에 보인 자신감"),
        "{text}"
    );
    assert_eq!(
        lines[1],
        "  오픈AI는 2017년 ‘유니버스(Universe)’ 프로젝트로 AI가 화면을 보고 키보드와 마우스를 다루는 연구를 시작했습니다."
    );
    assert!(
        lines[2].contains("· lead story · ") && lines[2].ends_with("idxno=214199"),
        "{text}"
    );
    let out = briefbot(db.dir.path(), &[], &["search", "유니버스", "--json"]).await;
    let hit: serde_json::Value = serde_json::from_str(stdout(&out).trim()).unwrap();
    assert_eq!(hit["kind"], "issue");
    assert!(hit["headline"].as_str().unwrap().starts_with("[8월21일]"));

    let out = briefbot(db.dir.path(), &[], &["search", "' OR 1=1 --"]).await;
    assert!(out.status.success());
    assert_eq!(stdout(&out), "");

    let long = "가".repeat(101);
    let out = briefbot(db.dir.path(), &[], &["search", &long]).await;
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("1 to 100 characters"),
        "{}",
        stderr(&out)
    );
}

#[tokio::test]
async fn no_log_line_carries_the_bot_token_or_an_interaction_token() {
    let site = site_with_issues().await;
    let discord = crate::support::discord::FakeDiscord::start().await;
    let db = TestDb::new();
    write_sources(db.dir.path(), &site);
    let log = db.dir.path().join("run.log");
    let child = tokio::process::Command::new(env!("CARGO_BIN_EXE_briefbot"))
        .current_dir(db.dir.path())
        .env_remove("DATABASE_URL")
        .env_remove("BRIEFBOT_SOURCES")
        .env("RUST_LOG", "debug")
        .env("DISCORD_TOKEN", "secret-token-value.xyz")
        .env("DISCORD_API_PROXY", &discord.base)
        .env("BRIEFBOT_GUILD_ID", "7")
        .stdout(std::process::Stdio::null())
        .stderr(std::fs::File::create(&log).unwrap())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    discord.registered_commands("7").await;

    // Discord takes the interaction's answer and never replies: after its 15 s timeout the bot
    // logs an error that names the callback URL, which carries the interaction token.
    discord.stall_interactions();
    let interaction = crate::support::discord::command(
        "news",
        serde_json::json!([{ "name": "latest", "type": 1, "options": [] }]),
        Some(7),
        100,
        12,
        "3072",
    );
    let token = interaction["token"].as_str().unwrap().to_owned();
    discord.send_interaction(interaction);
    crate::support::eventually(40, "the bot gives up on the interaction", || {
        std::fs::read_to_string(&log).is_ok_and(|l| l.contains("could not defer"))
    })
    .await;
    let pid = child.id().unwrap().to_string();
    std::process::Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .unwrap();
    let _ =
        tokio::time::timeout(std::time::Duration::from_secs(15), child.wait_with_output()).await;

    let text = std::fs::read_to_string(&log).unwrap();
    for l in text.lines().filter(|l| l.contains(&token)).take(3) {
        let at = l.find(token.as_str()).unwrap();
        let from = l[..at].char_indices().rev().nth(80).map_or(0, |(i, _)| i);
        eprintln!("LEAK {}", &l[from..(at + 80).min(l.len())]);
    }
    assert!(
        !text.contains(&token),
        "the interaction token {token} is in the log:\n{text}"
    );
    assert!(
        !text.contains("secret-token-value.xyz"),
        "the bot token is in the log"
    );
}

/// Issue 19, item 7: the copy goes only into a database that holds nothing. Before, only its
/// issues and subscriptions were looked at, and a database holding other rows (a source of its
/// own, say) was mixed into.
#[tokio::test]
async fn migrate_from_sqlite_refuses_a_database_that_holds_anything() {
    let Some(db) = TestDb::postgres_only("the copy goes into PostgreSQL") else {
        return;
    };
    let lite = TestDb::sqlite();
    let from = lite.store().await;
    crate::support::record(
        &from,
        "aitimes-briefing",
        &crate::support::issue_of(1, 0, 3),
    )
    .await;
    from.close().await;
    // No issues and no subscriptions, but a source of its own: not empty.
    let to = db.store().await;
    to.upsert_source(
        &briefbot::domain::SourceId::parse("other-source").unwrap(),
        "Other",
    )
    .await
    .unwrap();
    let lite_url = lite.url.to_string();

    let out = briefbot(db.dir.path(), &[], &["migrate", "--from", &lite_url]).await;

    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("already holds rows in sources"),
        "{}",
        stderr(&out)
    );
    assert!(
        to.latest(10, None).await.unwrap().is_empty(),
        "nothing copied"
    );
}

/// `briefbot migrate --from sqlite://…` copies every table into an empty PostgreSQL database: the
/// same issues, briefs, subscriptions, deliveries (pending and finished), stories, validators,
/// failing entries and search sessions, with their ids; search finds the same; new rows get
/// new ids; a second copy is refused; a SQLite target or a missing file get a clear error.
#[tokio::test]
async fn migrate_from_sqlite_copies_everything_into_postgres() {
    use briefbot::domain::SourceId;
    use briefbot::store::outbox::{ALL_SOURCES, Failure};

    let Some(db) = TestDb::postgres_only("the copy goes into PostgreSQL") else {
        return;
    };
    let lite = TestDb::sqlite();
    let from = lite.store().await;
    let source = SourceId::parse("aitimes-briefing").unwrap();
    from.upsert_source(&source, "AI타임스").await.unwrap();
    from.record_scrape_success(&source, briefbot::store::now())
        .await
        .unwrap();
    for channel in [11, 12] {
        from.subscribe(7, channel, ALL_SOURCES, None, 1)
            .await
            .unwrap();
    }
    from.subscribe(
        7,
        13,
        "aitimes-briefing",
        Keywords::parse("엔비디아").unwrap().as_ref(),
        1,
    )
    .await
    .unwrap();
    crate::support::record(
        &from,
        "aitimes-briefing",
        &crate::support::issue_of(1, 0, 5),
    )
    .await;
    crate::support::record(
        &from,
        "aitimes-briefing",
        &crate::support::issue_of(2, 5, 12),
    )
    .await;
    let now = briefbot::store::now();
    let done = from.due_delivery(now, &[]).await.unwrap().unwrap();
    let stories = from.story_ids(done.issue_id).await.unwrap();
    assert!(
        from.finish_delivery(&done, DeliveryStatus::Sent, &stories, None)
            .await
            .unwrap()
    );
    let retried = from.due_delivery(now, &[]).await.unwrap().unwrap();
    from.retry_delivery(retried.id, now, "a 502", Failure::Other)
        .await
        .unwrap();
    from.save_validators(
        "https://www.aitimes.com/list",
        &briefbot::scrape::fetch::Validators {
            etag: Some("\"v1\"".into()),
            last_modified: None,
        },
    )
    .await
    .unwrap();
    from.record_entry_failure(
        "aitimes-briefing",
        "https://www.aitimes.com/news/articleView.html?idxno=9",
        "[8월1일] 뉴스 브리핑",
        "HTTP 503",
        std::time::Duration::from_secs(600),
        now,
    )
    .await
    .unwrap();
    let session = from.create_session(99, "오픈AI", None, 3).await.unwrap();
    from.close().await;
    drop(from);
    let lite_url = lite.url.to_string();

    let out = briefbot(db.dir.path(), &[], &["migrate", "--from", &lite_url]).await;
    assert!(out.status.success(), "{}", stderr(&out));
    let said = stderr(&out);
    assert!(
        said.contains("issues 2") && said.contains("briefs 17"),
        "{said}"
    );

    let from = lite.store().await;
    let to = db.store().await;
    assert_eq!(
        to.latest(10, None).await.unwrap(),
        from.latest(10, None).await.unwrap()
    );
    assert_eq!(
        to.subscriptions(7).await.unwrap(),
        from.subscriptions(7).await.unwrap()
    );
    assert_eq!(
        to.delivery_counts().await.unwrap(),
        from.delivery_counts().await.unwrap()
    );
    assert_eq!(
        to.due_delivery(now, &[]).await.unwrap(),
        from.due_delivery(now, &[]).await.unwrap()
    );
    assert_eq!(
        to.channel_stories(done.channel_id, now - chrono::Duration::days(1))
            .await
            .unwrap(),
        from.channel_stories(done.channel_id, now - chrono::Duration::days(1))
            .await
            .unwrap()
    );
    assert_eq!(
        to.source_states().await.unwrap(),
        from.source_states().await.unwrap()
    );
    assert_eq!(
        to.validators("https://www.aitimes.com/list").await.unwrap(),
        from.validators("https://www.aitimes.com/list")
            .await
            .unwrap()
    );
    assert_eq!(
        to.given_up_entries().await.unwrap(),
        from.given_up_entries().await.unwrap()
    );
    let failing = "https://www.aitimes.com/news/articleView.html?idxno=9";
    assert_eq!(
        to.entry_failure(failing).await.unwrap(),
        from.entry_failure(failing).await.unwrap()
    );
    assert_eq!(
        to.session(session).await.unwrap(),
        from.session(session).await.unwrap()
    );
    let keys = |hits: Vec<briefbot::store::search::Hit>| {
        hits.into_iter().map(|h| h.key).collect::<Vec<_>>()
    };
    for query in ["오픈AI", "엔비디아", "이슈"] {
        let mut pg = keys(to.search(query, None, 50, 0).await.unwrap());
        let mut sqlite = keys(from.search(query, None, 50, 0).await.unwrap());
        pg.sort_unstable();
        sqlite.sort_unstable();
        assert_eq!(pg, sqlite, "{query}");
    }

    // New rows get ids after the copied ones.
    let Recorded::New { id } =
        crate::support::record(&to, "aitimes-briefing", &crate::support::issue_of(3, 17, 3)).await
    else {
        panic!("the new issue was taken for a duplicate");
    };
    assert!(id > 2);
    assert_eq!(
        to.subscribe(7, 14, ALL_SOURCES, None, 1).await.unwrap(),
        briefbot::store::outbox::Subscribed::New
    );

    // A second copy would mix two databases: refused, nothing changed.
    let again = briefbot(db.dir.path(), &[], &["migrate", "--from", &lite_url]).await;
    assert_eq!(again.status.code(), Some(1));
    assert!(
        stderr(&again).contains("copy into an empty database"),
        "{}",
        stderr(&again)
    );
    assert_eq!(to.latest(10, None).await.unwrap().len(), 3);

    let missing = briefbot(
        db.dir.path(),
        &[],
        &["migrate", "--from", "sqlite:///nonexistent/briefbot.db"],
    )
    .await;
    assert_eq!(missing.status.code(), Some(1));
    assert!(stderr(&missing).contains("there is no database at sqlite:///nonexistent/briefbot.db"));
    let into_sqlite = briefbot(
        lite.dir.path(),
        &[("DATABASE_URL", "sqlite://other.db")],
        &["migrate", "--from", &lite_url],
    )
    .await;
    assert_eq!(into_sqlite.status.code(), Some(2));
    assert!(stderr(&into_sqlite).contains("migrate --from copies into PostgreSQL"));
}
