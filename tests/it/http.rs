//! The operator's endpoint (`BRIEFBOT_HTTP_ADDR`): `/healthz` and `/metrics` over a real socket,
//! reading a real SQLite file.

use std::sync::Arc;
use std::time::Instant;

use briefbot::config::SourceConfig;
use briefbot::domain::{Brief, CanonicalUrl, Issue, SourceId, kst};
use briefbot::http::{Endpoint, serve};
use briefbot::store::Store;
use briefbot::telemetry::Telemetry;
use chrono::{DateTime, SecondsFormat, TimeZone, Utc};
use serde_json::Value;

use crate::support::{TestDb, record};

/// Serves the endpoint on a free loopback port; returns its base URL, the stop switch and the
/// counters it shows.
async fn start(
    store: Store,
    sources: Vec<SourceConfig>,
) -> (String, tokio::sync::watch::Sender<bool>, Arc<Telemetry>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let telemetry = Arc::new(Telemetry::default());
    let endpoint = Endpoint {
        store,
        sources,
        telemetry: telemetry.clone(),
        started: Instant::now(),
        started_at: Utc.with_ymd_and_hms(2026, 11, 28, 0, 0, 0).unwrap(),
    };
    tokio::spawn(serve(listener, endpoint, stopped));
    (base, stop, telemetry)
}

async fn get(url: &str) -> (u16, String, String) {
    let response = reqwest::get(url).await.unwrap();
    let status = response.status().as_u16();
    let kind = response
        .headers()
        .get("content-type")
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default();
    (status, kind, response.text().await.unwrap())
}

/// When the test issue was published and its source last scraped: two hours before the test
/// runs, so the issue is always inside the catch-up window, whatever the date.
fn two_hours_ago() -> DateTime<Utc> {
    briefbot::store::now() - chrono::Duration::hours(2)
}

async fn store_with_an_issue_owed_to_two_channels(db: &TestDb, at: DateTime<Utc>) -> Store {
    let store = db.store().await;
    let source = SourceId::parse("aitimes-briefing").unwrap();
    store
        .upsert_source(&source, "AI타임스 뉴스 브리핑")
        .await
        .unwrap();
    store.record_scrape_success(&source, at).await.unwrap();
    store.subscribe(1, 10, "*", None, 5).await.unwrap();
    store
        .subscribe(1, 11, "aitimes-briefing", None, 5)
        .await
        .unwrap();
    let issue = Issue {
        url: CanonicalUrl::parse("https://www.aitimes.com/news/articleView.html?idxno=9").unwrap(),
        title: format!(
            "[{}] 뉴스 브리핑",
            at.with_timezone(&kst()).format("%-m월%-d일")
        ),
        published_at: Some(at),
        lead: "오늘의 소식입니다.".into(),
        text: "엔비디아, 새 칩 공개".into(),
        briefs: vec![Brief {
            headline: "엔비디아, 새 칩 공개".into(),
            summary: "엔비디아가 새 칩을 공개했다.".into(),
        }],
    };
    record(&store, "aitimes-briefing", &issue).await;
    store
}

#[tokio::test]
async fn healthz_and_metrics_report_sources_deliveries_and_the_gateway() {
    let db = TestDb::new();
    let at = two_hours_ago();
    let store = store_with_an_issue_owed_to_two_channels(&db, at).await;
    let sources = vec![
        SourceConfig::aitimes_briefing(),
        SourceConfig {
            id: SourceId::parse("never-polled").unwrap(),
            name: "Never polled".into(),
            ..SourceConfig::aitimes_briefing()
        },
    ];
    let (base, stop, telemetry) = start(store, sources).await;
    telemetry.messages_posted.inc_by(7);
    telemetry.interaction("command");
    telemetry.scrape("aitimes-briefing", true);
    telemetry.scrape("aitimes-briefing", false);
    telemetry.scrape("aitimes-briefing", true);
    telemetry.source_restarted("aitimes-briefing", "a parser panicked");
    telemetry.worker_restarted("a bug in the worker");

    let (status, kind, body) = get(&format!("{base}/healthz")).await;
    assert_eq!(status, 200, "{body}");
    assert!(kind.starts_with("application/json"), "{kind}");
    let health: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(health["status"], "ok");
    assert_eq!(health["database"], "ok");
    assert_eq!(health["discord"], "connecting");
    assert_eq!(health["deliveries_pending"], 2);
    assert_eq!(health["sources"][0]["id"], "aitimes-briefing");
    assert_eq!(health["sources"][0]["issues"], 1);
    assert_eq!(health["sources"][0]["consecutive_failures"], 0);
    assert_eq!(
        health["sources"][0]["last_success_at"],
        at.to_rfc3339_opts(SecondsFormat::Secs, true)
    );
    assert_eq!(health["sources"][0]["restarts"], 1);
    assert_eq!(
        health["sources"][0]["last_restart_reason"],
        "a parser panicked"
    );
    assert_eq!(health["sources"][1]["restarts"], 0);
    assert_eq!(health["delivery_worker_restarts"], 1);
    assert_eq!(
        health["delivery_worker_last_restart_reason"],
        "a bug in the worker"
    );
    assert_eq!(health["sources"][1]["id"], "never-polled");
    assert_eq!(health["sources"][1]["issues"], 0);
    assert_eq!(health["sources"][1]["last_success_at"], Value::Null);

    let (status, kind, text) = get(&format!("{base}/metrics")).await;
    assert_eq!(status, 200, "{text}");
    assert!(kind.starts_with("application/openmetrics-text"), "{kind}");
    let last_success = format!(
        "briefbot_source_last_success_timestamp_seconds{{source=\"aitimes-briefing\"}} {}",
        at.timestamp()
    );
    for line in [
        "briefbot_database_up 1",
        "briefbot_gateway_connected 0",
        "briefbot_start_time_seconds 1795824000",
        "briefbot_source_issues{source=\"aitimes-briefing\"} 1",
        "briefbot_source_issues{source=\"never-polled\"} 0",
        "briefbot_source_consecutive_failures{source=\"aitimes-briefing\"} 0",
        last_success.as_str(),
        "briefbot_deliveries{status=\"pending\"} 2",
        "briefbot_deliveries{status=\"sent\"} 0",
        "briefbot_subscriptions{state=\"active\"} 2",
        "briefbot_subscriptions{state=\"paused\"} 0",
        "briefbot_messages_posted_total 7",
        "briefbot_discord_rate_limited_total 0",
        "briefbot_interactions_total{type=\"command\"} 1",
        "briefbot_scrapes_total{source=\"aitimes-briefing\",outcome=\"ok\"} 2",
        "briefbot_scrapes_total{source=\"aitimes-briefing\",outcome=\"error\"} 1",
        "briefbot_source_restarts_total{source=\"aitimes-briefing\"} 1",
        "briefbot_delivery_worker_restarts_total 1",
    ] {
        assert!(text.lines().any(|l| l == line), "no `{line}` in\n{text}");
    }
    assert!(text.contains("briefbot_build_info{version=\""), "{text}");
    assert!(
        !text.contains("last_success_timestamp_seconds{source=\"never-polled\"}"),
        "a source never polled has no last success:\n{text}"
    );
    assert!(text.trim_end().ends_with("# EOF"), "{text}");

    let (status, _, _) = get(&format!("{base}/nothing-here")).await;
    assert_eq!(status, 404);
    stop.send(true).unwrap();
}

#[tokio::test]
async fn a_database_that_does_not_answer_makes_healthz_unavailable() {
    let db = TestDb::new();
    let store = store_with_an_issue_owed_to_two_channels(&db, two_hours_ago()).await;
    let (base, _stop, _) = start(store.clone(), vec![SourceConfig::aitimes_briefing()]).await;
    store.close().await;

    let (status, _, body) = get(&format!("{base}/healthz")).await;
    assert_eq!(status, 503, "{body}");
    let health: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(health["status"], "unavailable");
    assert_eq!(health["database"], "error");
    assert_eq!(health["sources"], serde_json::json!([]));
    assert!(health.get("deliveries_pending").is_none(), "{health}");

    let (status, _, text) = get(&format!("{base}/metrics")).await;
    assert_eq!(status, 200);
    assert!(
        text.lines().any(|l| l == "briefbot_database_up 0"),
        "{text}"
    );
    assert!(!text.contains("briefbot_deliveries"), "{text}");
}
