//! The running bot as one value: [`App::build`] opens and binds everything `briefbot run`
//! needs from its settings and sources, [`App::run_until`] runs it until told to stop. The
//! command line and the tests start it the same way (the tests' `spawn_app`), so what they run is
//! what an operator runs.
//!
//! What runs, and who runs it:
//! - the scheduler lease ([`leader`]), held by the one process that polls and posts;
//! - while this process holds it, the polling loops ([`schedule`]) and the delivery worker
//!   (inside [`bot::run`]);
//! - always, the gateway shards of this process, answering interactions ([`bot`]), and the
//!   operator's endpoint ([`crate::http`]) when `BRIEFBOT_HTTP_ADDR` is set.
//!
//! Shutdown goes in that order backwards: the polls and the post in flight finish and are
//! recorded, the gateway closes, and only then is the lease given up, so a standby never posts
//! while a post of this process is still on its way.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;

use anyhow::Context;
use tokio::net::TcpListener;
use tokio::sync::watch;

use crate::bot;
use crate::config::{ConfigError, Settings, SourceConfig};
use crate::leader;
use crate::schedule;
use crate::scrape::Scraper;
use crate::scrape::fetch::Fetcher;
use crate::store::{RunLock, Store};
use crate::telemetry::Telemetry;

/// Everything `briefbot run` holds, opened and bound but not yet running.
pub struct App {
    settings: Settings,
    sources: Vec<SourceConfig>,
    store: Store,
    discord: serenity::http::Http,
    listener: Option<TcpListener>,
    telemetry: Arc<Telemetry>,
    /// One process per SQLite file (README: Deployment); released when the app is dropped.
    _run_lock: RunLock,
}

impl App {
    /// Checks the settings, takes the SQLite file's run lock, opens (and migrates) the
    /// database, binds the endpoint's address and sets up the Discord client. Every failure is
    /// one clear error before any work starts: a missing token is a [`ConfigError`], another
    /// process on the same SQLite file a [`crate::store::StoreError::InUse`], an address in use
    /// says which.
    pub async fn build(settings: Settings, sources: Vec<SourceConfig>) -> anyhow::Result<Self> {
        let Some(token) = settings.discord_token.as_ref() else {
            return Err(ConfigError::env(
                "DISCORD_TOKEN",
                "not set; `briefbot run` needs the bot's token (see README: Discord set-up). `briefbot scrape` works without one",
            )
            .into());
        };
        // Taken before anything touches the database.
        let run_lock = Store::lock_for_run(&settings.database_url)?;
        let store = Store::open(&settings.database_url).await?;
        let listener = match settings.http_addr {
            Some(addr) => Some(
                TcpListener::bind(addr)
                    .await
                    .with_context(|| format!("cannot listen on BRIEFBOT_HTTP_ADDR {addr}"))?,
            ),
            None => None,
        };
        let discord = bot::http_client(token, settings.api_proxy.as_ref())
            .context("cannot set up the HTTP client for Discord")?;
        Ok(Self {
            settings,
            sources,
            store,
            discord,
            listener,
            telemetry: Arc::new(Telemetry::default()),
            _run_lock: run_lock,
        })
    }

    /// The address `/healthz` and `/metrics` are served on (the port the system chose, when
    /// the settings asked for port 0), if the endpoint is on.
    pub fn http_addr(&self) -> Option<SocketAddr> {
        self.listener.as_ref().and_then(|l| l.local_addr().ok())
    }

    /// The app's database.
    pub fn store(&self) -> &Store {
        &self.store
    }

    /// What the process counts (the endpoint shows it).
    pub fn telemetry(&self) -> Arc<Telemetry> {
        self.telemetry.clone()
    }

    /// Runs until `shutdown` resolves (or the gateway connection ends for good), then stops in
    /// order and returns once everything has.
    pub async fn run_until(self, shutdown: impl Future<Output = ()>) -> anyhow::Result<()> {
        let Self {
            settings,
            sources,
            store,
            discord,
            listener,
            telemetry,
            _run_lock,
        } = self;
        tracing::info!(database = %settings.database_url, sources = sources.len(), "briefbot started");
        let fetcher =
            Fetcher::new(settings.fetch.clone()).context("cannot build the HTTP client")?;
        let scraper = Scraper::new(fetcher, store.clone());
        let (stop, stopped) = watch::channel(false);
        // The lease is given up only once the work it covers has stopped (`release`, below).
        let (release, released) = watch::channel(false);
        let (leadership, lease) =
            leader::hold(store.clone(), telemetry.clone(), settings.lease, released);
        let scheduler = tokio::spawn({
            let (sources, telemetry) = (sources.clone(), telemetry.clone());
            let (mut leadership, mut shutdown) = (leadership.clone(), stopped.clone());
            async move {
                while let Some(stop) = leadership.gate(&mut shutdown).await {
                    schedule::run(scraper.clone(), sources.clone(), telemetry.clone(), stop).await;
                }
            }
        });
        let started = Instant::now();
        let endpoint = listener.map(|listener| {
            if let Ok(addr) = listener.local_addr() {
                tracing::info!(%addr, "serving /healthz and /metrics");
            }
            let endpoint = crate::http::Endpoint {
                store: store.clone(),
                sources: sources.clone(),
                telemetry: telemetry.clone(),
                started,
                started_at: chrono::Utc::now(),
            };
            tokio::spawn(crate::http::serve(listener, endpoint, stopped.clone()))
        });
        let bot = bot::Bot {
            store,
            sources,
            started,
            guild_id: settings.guild_id,
            telemetry,
            shards: settings.shards,
            leadership,
        };
        let mut gateway = tokio::spawn(bot::run(discord, bot, settings.delivery, stopped));
        let ended = tokio::select! {
            () = shutdown => None,
            ended = &mut gateway => Some(ended),
        };
        tracing::info!("stopping: finishing the work in flight");
        let _ = stop.send(true);
        scheduler.await.context("the scheduler ended abnormally")?;
        let ended = match ended {
            Some(ended) => ended,
            None => gateway.await,
        };
        // Nothing of this process's work is in flight any more: a standby may take over at once.
        let _ = release.send(true);
        let _ = lease.await;
        if let Some(endpoint) = endpoint {
            endpoint
                .await
                .context("the HTTP endpoint ended abnormally")?
                .context("the HTTP endpoint failed")?;
        }
        ended.context("the Discord task ended abnormally")?
    }
}

/// Resolves on SIGINT (Ctrl-C) or SIGTERM.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        if let Err(e) = tokio::signal::ctrl_c().await {
            tracing::error!(error = %e, "cannot listen for Ctrl-C");
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(e) => {
                tracing::error!(error = %e, "cannot listen for SIGTERM");
                std::future::pending::<()>().await;
            }
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {}
        _ = term => {}
    }
}
