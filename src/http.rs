//! The operator's endpoint, served when `BRIEFBOT_HTTP_ADDR` is set:
//!
//! - `GET /healthz`: JSON of what the bot is doing — database, Discord gateway, delivery queue
//!   and every source's last success. `200` while the database answers, `503` when it does not
//!   within 5 seconds (a source that fails or a lost gateway is reported, not fatal: restarting
//!   would not help).
//! - `GET /metrics`: the same figures in the Prometheus / OpenMetrics text format.
//!
//! Every figure but the process's own counters ([`Telemetry`]) is read from the database when
//! asked, so it is true across restarts.

use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use chrono::{DateTime, Utc};
use prometheus_client::encoding::text::encode;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::info::Info;
use prometheus_client::registry::{Registry, Unit};
use serde::Serialize;
use tokio::net::TcpListener;
use tokio::sync::watch;

use crate::config::SourceConfig;
use crate::domain::DeliveryStatus;
use crate::store::{SourceState, Store, StoreError};
use crate::telemetry::{Labels, Telemetry};

/// What the endpoint reads.
#[derive(Clone)]
pub struct Endpoint {
    pub store: Store,
    pub sources: Vec<SourceConfig>,
    pub telemetry: Arc<Telemetry>,
    /// When the process started, on the monotonic clock (for the uptime).
    pub started: Instant,
    /// When the process started, on the wall clock (for `briefbot_start_time_seconds`).
    pub started_at: DateTime<Utc>,
}

/// Serves the endpoint on `listener` until `shutdown` turns true.
pub async fn serve(
    listener: TcpListener,
    endpoint: Endpoint,
    mut shutdown: watch::Receiver<bool>,
) -> std::io::Result<()> {
    let app = Router::new()
        .route("/healthz", get(healthz))
        .route("/metrics", get(metrics))
        .with_state(Arc::new(endpoint));
    axum::serve(listener, app)
        .with_graceful_shutdown(async move {
            let _ = shutdown.wait_for(|stop| *stop).await;
        })
        .await
}

#[derive(Debug, Serialize)]
struct Health {
    status: &'static str,
    version: &'static str,
    uptime_seconds: u64,
    database: &'static str,
    discord: &'static str,
    /// This process's gateway shards, `[first, last, total]`; null until the gateway starts.
    shards: Option<[u32; 3]>,
    /// Whether this process polls the sources and posts (holds the scheduler lease): `active`,
    /// always with one process on SQLite, or `standby`.
    scheduler: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    deliveries_pending: Option<i64>,
    /// Restarts of the delivery worker after it ended abnormally, since the process started.
    delivery_worker_restarts: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    delivery_worker_last_restart_reason: Option<String>,
    sources: Vec<SourceHealth>,
}

#[derive(Debug, Serialize)]
struct SourceHealth {
    id: String,
    name: String,
    issues: i64,
    last_attempt_at: Option<DateTime<Utc>>,
    last_success_at: Option<DateTime<Utc>>,
    consecutive_failures: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    last_error: Option<String>,
    /// Restarts of its polling loop after it ended abnormally, since the process started.
    restarts: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    last_restart_reason: Option<String>,
}

/// Every configured source with what the database knows of it (nothing yet for a source that
/// has not been polled).
fn source_health(
    sources: &[SourceConfig],
    states: &[SourceState],
    telemetry: &Telemetry,
) -> Vec<SourceHealth> {
    sources
        .iter()
        .map(|s| {
            let state = states.iter().find(|st| st.id == s.id.as_str());
            let (restarts, last_restart_reason) = telemetry.source_restarts(s.id.as_str());
            SourceHealth {
                id: s.id.to_string(),
                name: s.name.clone(),
                issues: state.map_or(0, |st| st.issues),
                last_attempt_at: state.and_then(|st| st.last_attempt_at),
                last_success_at: state.and_then(|st| st.last_success_at),
                consecutive_failures: state.map_or(0, |st| st.consecutive_failures),
                last_error: state
                    .filter(|st| st.consecutive_failures > 0)
                    .and_then(|st| st.last_error.clone()),
                restarts,
                last_restart_reason,
            }
        })
        .collect()
}

async fn healthz(State(endpoint): State<Arc<Endpoint>>) -> Response {
    let read = async {
        let states = endpoint.store.source_states().await?;
        let pending = endpoint.store.pending_deliveries().await?;
        Ok::<_, StoreError>((states, pending))
    };
    // Without the database there is nothing true to say of the sources: they are left out.
    let (database, pending, sources) = match within_deadline(read).await {
        Ok((states, pending)) => (
            "ok",
            Some(pending),
            source_health(&endpoint.sources, &states, &endpoint.telemetry),
        ),
        Err(e) => {
            tracing::error!(error = %e, "healthz: the database does not answer");
            ("error", None, Vec::new())
        }
    };
    let healthy = database == "ok";
    let health = Health {
        status: if healthy { "ok" } else { "unavailable" },
        version: env!("CARGO_PKG_VERSION"),
        uptime_seconds: endpoint.started.elapsed().as_secs(),
        database,
        discord: if endpoint.telemetry.unauthorized() {
            "unauthorized"
        } else if endpoint.telemetry.connected() {
            "connected"
        } else {
            "connecting"
        },
        shards: endpoint.telemetry.shards(),
        scheduler: if endpoint.telemetry.leading() {
            "active"
        } else {
            "standby"
        },
        deliveries_pending: pending,
        delivery_worker_restarts: endpoint.telemetry.worker_restarts().0,
        delivery_worker_last_restart_reason: endpoint.telemetry.worker_restarts().1,
        sources,
    };
    let code = if healthy {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (code, axum::Json(health)).into_response()
}

async fn metrics(State(endpoint): State<Arc<Endpoint>>) -> Response {
    match render_metrics(&endpoint).await {
        Ok(text) => (
            [(
                header::CONTENT_TYPE,
                "application/openmetrics-text; version=1.0.0; charset=utf-8",
            )],
            text,
        )
            .into_response(),
        Err(e) => {
            tracing::error!(error = %e, "metrics could not be encoded");
            StatusCode::INTERNAL_SERVER_ERROR.into_response()
        }
    }
}

/// How long the endpoint waits for the database before it reports it as not answering.
const DATABASE_DEADLINE: Duration = Duration::from_secs(5);

/// A database read, or an error when it takes longer than [`DATABASE_DEADLINE`] (a check must
/// answer, also when every connection is busy).
async fn within_deadline<T>(
    read: impl Future<Output = Result<T, StoreError>>,
) -> Result<T, String> {
    match tokio::time::timeout(DATABASE_DEADLINE, read).await {
        Ok(Ok(value)) => Ok(value),
        Ok(Err(e)) => Err(e.to_string()),
        Err(_) => Err(format!("no answer within {DATABASE_DEADLINE:?}")),
    }
}

fn gauge(value: i64) -> Gauge {
    let g = Gauge::default();
    g.set(value);
    g
}

/// The metrics as OpenMetrics text. The database's figures are left out (and
/// `briefbot_database_up` is 0) when it does not answer.
async fn render_metrics(endpoint: &Endpoint) -> Result<String, std::fmt::Error> {
    let mut registry = Registry::with_prefix("briefbot");
    registry.register(
        "build",
        "The running version",
        Info::new(vec![("version", env!("CARGO_PKG_VERSION"))]),
    );
    registry.register_with_unit(
        "start_time",
        "When the process started, in seconds since the Unix epoch",
        Unit::Seconds,
        gauge(endpoint.started_at.timestamp()),
    );
    registry.register(
        "gateway_connected",
        "1 while the Discord gateway is connected",
        gauge(i64::from(endpoint.telemetry.connected())),
    );
    let t = &endpoint.telemetry;
    registry.register(
        "messages_posted",
        "Messages posted to channels since the process started",
        t.messages_posted.clone(),
    );
    registry.register(
        "discord_rate_limited",
        "429 Too Many Requests answers to posts since the process started",
        t.rate_limited.clone(),
    );
    registry.register(
        "discord_unauthorized",
        "1 once Discord rejected the bot token (401): nothing is posted until it is replaced",
        gauge(i64::from(t.unauthorized())),
    );
    registry.register(
        "delivery_reconciliations",
        "Looks for an in-doubt part among a channel's messages since the process started",
        t.reconciliations.clone(),
    );
    registry.register(
        "interactions",
        "Interactions handled since the process started, by type",
        t.interactions.clone(),
    );
    registry.register(
        "scrapes",
        "Scrape passes since the process started, by source and outcome",
        t.scrapes.clone(),
    );
    registry.register(
        "delivery_worker_restarts",
        "Restarts of the delivery worker after it ended abnormally (a panic)",
        t.worker_restarts.clone(),
    );
    registry.register(
        "source_restarts",
        "Restarts of a source's polling loop after it ended abnormally, by source",
        t.source_restarts.clone(),
    );
    let read = async {
        let states = endpoint.store.source_states().await?;
        let deliveries = endpoint.store.delivery_counts().await?;
        let subscriptions = endpoint.store.subscription_counts().await?;
        Ok::<_, StoreError>((states, deliveries, subscriptions))
    };
    let read = within_deadline(read).await;
    if let Err(e) = &read {
        tracing::error!(error = %e, "metrics: the database does not answer");
    }
    registry.register(
        "database_up",
        "1 when the database answered this scrape",
        gauge(i64::from(read.is_ok())),
    );
    if let Ok((states, deliveries, (active, paused))) = read {
        let issues = Family::<Labels, Gauge>::default();
        let failures = Family::<Labels, Gauge>::default();
        let attempt = Family::<Labels, Gauge>::default();
        let success = Family::<Labels, Gauge>::default();
        for s in source_health(&endpoint.sources, &states, &endpoint.telemetry) {
            let labels = vec![("source", s.id.clone())];
            issues.get_or_create(&labels).set(s.issues);
            failures.get_or_create(&labels).set(s.consecutive_failures);
            if let Some(t) = s.last_attempt_at {
                attempt.get_or_create(&labels).set(t.timestamp());
            }
            if let Some(t) = s.last_success_at {
                success.get_or_create(&labels).set(t.timestamp());
            }
        }
        registry.register("source_issues", "Issues stored, by source", issues);
        registry.register(
            "source_consecutive_failures",
            "Polls of the source that failed in a row (0 after a success)",
            failures,
        );
        registry.register_with_unit(
            "source_last_attempt_timestamp",
            "When the source was last polled",
            Unit::Seconds,
            attempt,
        );
        registry.register_with_unit(
            "source_last_success_timestamp",
            "When the source was last polled successfully",
            Unit::Seconds,
            success,
        );
        let by_status = Family::<Labels, Gauge>::default();
        for status in DeliveryStatus::ALL {
            let n = deliveries
                .iter()
                .find(|(s, _)| *s == status)
                .map_or(0, |(_, n)| *n);
            by_status
                .get_or_create(&vec![("status", status.as_str().to_owned())])
                .set(n);
        }
        registry.register(
            "deliveries",
            "Deliveries of issues to channels, by status",
            by_status,
        );
        let by_state = Family::<Labels, Gauge>::default();
        by_state
            .get_or_create(&vec![("state", "active".to_owned())])
            .set(active);
        by_state
            .get_or_create(&vec![("state", "paused".to_owned())])
            .set(paused);
        registry.register(
            "subscriptions",
            "Channel subscriptions; paused ones were refused by Discord",
            by_state,
        );
    }
    let mut text = String::new();
    encode(&mut text, &registry)?;
    Ok(text)
}
