//! The one harness of the tests that need the bot: [`spawn_app`] runs the whole app — built by
//! the library's [`App::build`] as `briefbot run` builds it, lease, scheduler, delivery worker,
//! gateway shards and endpoint — in this test process, against a fresh database (either
//! backend), the fake AI Times site and the fake Discord. [`TestApp::idle`] gives the same world
//! without the app running, for tests that drive the delivery worker one step at a time.
//!
//! Tests of the process itself (killed, frozen, cut off, started twice) run the real binary
//! instead: [`super::briefbot_run`].

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use briefbot::app::App;
use briefbot::config::{Settings, SourceConfig};
use briefbot::deliver::{Deliverer, DeliverySettings, Step};
use briefbot::scrape::SourceReport;
use briefbot::store::Store;
use briefbot::store::outbox::ALL_SOURCES;
use briefbot::telemetry::Telemetry;
use tokio::sync::oneshot;

use super::discord::FakeDiscord;
use super::site::AITIMES_LIST;
use super::{FakeSite, TestDb, scraper, test_limits};

/// The server the app registers its commands in (`BRIEFBOT_GUILD_ID`).
pub const GUILD: u64 = 7;
/// Who subscribes channels in the tests that subscribe through the store.
pub const ADMIN: i64 = 99;

/// The fake site, the fake Discord, a fresh database and, once spawned, the app running on
/// them.
pub struct TestApp {
    pub site: FakeSite,
    pub discord: FakeDiscord,
    pub store: Store,
    /// The AI Times source on the fake site, as the app's sources file would give it.
    pub source: SourceConfig,
    pub db: TestDb,
    running: Option<Running>,
}

struct Running {
    /// The operator's endpoint, like `http://127.0.0.1:PORT`.
    address: String,
    telemetry: Arc<Telemetry>,
    stop: oneshot::Sender<()>,
    task: tokio::task::JoinHandle<anyhow::Result<()>>,
}

/// The whole app on a fresh world. Returns once the app has registered its commands and made
/// its first poll (of an empty list, so nothing is stored yet and what a test does next is not
/// raced by it); the site then lists the AI Times issue 214043, which [`TestApp::scrape`] (or
/// the app's next poll, in an hour) stores.
pub async fn spawn_app() -> TestApp {
    let app = TestApp::idle(&[]).await.spawn().await;
    app.list(&[214043]);
    app
}

/// Pacing and retries fast enough for tests (Discord's own limits are kept by the fake only
/// when a test asks for them).
pub fn fast_delivery() -> DeliverySettings {
    DeliverySettings {
        min_interval: Duration::from_millis(1),
        retry_base: Duration::ZERO,
        idle_poll: Duration::from_millis(10),
        ..DeliverySettings::default()
    }
}

impl TestApp {
    /// A fresh world whose site lists these AI Times issues (their pages are served, published
    /// within the last day), without the app running.
    pub async fn idle(listed: &[u32]) -> Self {
        let site = FakeSite::aitimes(listed).await;
        let db = TestDb::new();
        Self {
            // Polled once at start; a test makes the next polls (`scrape`) when it wants them.
            source: SourceConfig {
                poll_every: Duration::from_secs(3600),
                ..aitimes_source(&site)
            },
            site,
            discord: FakeDiscord::start().await,
            store: db.store().await,
            db,
            running: None,
        }
    }

    /// Builds the app from settings as the environment would give them (the fake Discord as
    /// `DISCORD_API_PROXY`, guild 7, the endpoint on a free port) and runs it.
    pub async fn spawn(mut self) -> Self {
        let discord = self.discord.base.clone();
        let mut settings = Settings::from_lookup(|key| match key {
            "DISCORD_TOKEN" => Some("fake-token".to_owned()),
            "DISCORD_API_PROXY" => Some(discord.clone()),
            "BRIEFBOT_GUILD_ID" => Some(GUILD.to_string()),
            "BRIEFBOT_HTTP_ADDR" => Some("127.0.0.1:0".to_owned()),
            _ => None,
        })
        .expect("the test's settings are valid");
        settings.database_url = self.db.url.clone();
        settings.delivery = DeliverySettings {
            retry_base: DeliverySettings::default().retry_base,
            ..fast_delivery()
        };
        settings.fetch = test_limits();
        let app = App::build(settings, vec![self.source.clone()])
            .await
            .expect("the app starts");
        let address = format!("http://{}", app.http_addr().expect("the endpoint is on"));
        let telemetry = app.telemetry();
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(app.run_until(async {
            let _ = stopped.await;
        }));
        self.running = Some(Running {
            address,
            telemetry,
            stop,
            task,
        });
        self.discord.registered_commands(&GUILD.to_string()).await;
        self.polled_once().await;
        self
    }

    async fn polled_once(&self) {
        for _ in 0..1500 {
            let states = self.store.source_states().await.unwrap();
            if states.iter().any(|s| s.last_attempt_at.is_some()) {
                return;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        panic!("the app never polled its source");
    }

    fn running(&self) -> &Running {
        self.running
            .as_ref()
            .expect("the app is running (TestApp::spawn)")
    }

    /// The operator's endpoint, like `http://127.0.0.1:PORT`.
    pub fn address(&self) -> &str {
        &self.running().address
    }

    /// What the running app counts.
    pub fn telemetry(&self) -> &Telemetry {
        &self.running().telemetry
    }

    /// Lists these issues on the site, newest first as given.
    pub fn list(&self, issues: &[u32]) {
        self.site.list_aitimes(issues);
    }

    /// One pass over the source, as the app's next poll would make.
    pub async fn scrape(&self) -> SourceReport {
        scraper(self.store.clone())
            .scrape_source(&self.source, false)
            .await
            .unwrap()
    }

    /// Subscribes a channel of [`GUILD`] to every source and every item.
    pub async fn subscribe(&self, channel: i64) {
        self.store
            .subscribe(GUILD as i64, channel, ALL_SOURCES, None, ADMIN)
            .await
            .unwrap();
    }

    /// Waits until the running app has delivered everything it owes.
    pub async fn delivered(&self) {
        for _ in 0..1500 {
            if self.store.pending_deliveries().await.unwrap() == 0 {
                return;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        panic!(
            "the outbox never drained: {} pending",
            self.store.pending_deliveries().await.unwrap()
        );
    }

    /// Waits until `channel` has at least `n` messages.
    pub async fn wait_for_messages(&self, channel: u64, n: usize) {
        for _ in 0..1500 {
            if self.discord.messages(channel).len() >= n {
                return;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        panic!(
            "channel {channel} has {} messages, expected {n}",
            self.discord.messages(channel).len()
        );
    }

    /// Stops the app as SIGTERM does and waits for it to finish cleanly.
    pub async fn shutdown(mut self) {
        self.stop().await;
    }

    /// Stops the app and builds and runs it again on the same database, site and Discord, as
    /// an operator's restart does.
    pub async fn restart(mut self) -> Self {
        self.stop().await;
        self.spawn().await
    }

    async fn stop(&mut self) {
        let running = self.running.take().expect("the app is running");
        running.stop.send(()).unwrap();
        tokio::time::timeout(Duration::from_secs(10), running.task)
            .await
            .expect("the app stops within 10 s")
            .unwrap()
            .unwrap();
    }
}

/// The built-in AI Times source, its list on the fake site.
pub fn aitimes_source(site: &FakeSite) -> SourceConfig {
    SourceConfig {
        list_url: site.url(AITIMES_LIST),
        ..SourceConfig::aitimes_briefing()
    }
}

/// A delivery worker on `store` (the world's, or the same database opened again as a new
/// process would), posting to the fake Discord with [`fast_delivery`].
pub fn deliverer(store: &Store, discord: &FakeDiscord) -> Deliverer {
    deliverer_with(store, discord.http(), fast_delivery())
}

/// A worker with its own HTTP client (a short timeout, say) or settings (Discord's pacing).
pub fn deliverer_with(
    store: &Store,
    http: Arc<serenity::http::Http>,
    settings: DeliverySettings,
) -> Deliverer {
    let names = HashMap::from([(
        "aitimes-briefing".to_owned(),
        "AI타임스 뉴스 브리핑".to_owned(),
    )]);
    Deliverer::new(store.clone(), http, names, settings)
}

/// Steps `worker` until nothing is due; returns the steps taken.
pub async fn drain(worker: &mut Deliverer) -> Vec<Step> {
    let mut steps = Vec::new();
    for _ in 0..100 {
        match worker.step().await.unwrap() {
            Step::Idle => return steps,
            step => steps.push(step),
        }
        // Retries fall due at once with a zero retry base (but not 429 waits of a second).
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    panic!("the outbox never drained: {steps:?}");
}
