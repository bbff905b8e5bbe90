//! The Discord side: serenity's gateway client with only the GUILDS intent, slash-command
//! registration, and the interaction handler that hands each command to [`commands`].

pub mod commands;

use std::sync::Arc;
use std::time::{Duration, Instant};

use serenity::all::{
    ClientBuilder, ConnectionStage, Context, EventHandler, GatewayIntents, Guild, GuildChannel,
    GuildId, Interaction, Ready, ShardManager, UnavailableGuild,
};
use serenity::builder::{
    CreateAllowedMentions, CreateInteractionResponseFollowup, CreateInteractionResponseMessage,
    EditInteractionResponse,
};
use serenity::http::{Http, HttpBuilder};
use tokio::sync::watch;
use url::Url;

use anyhow::Context as _;

use crate::config::{Secret, Shards, SourceConfig};
use crate::deliver::{self, Deliverer, DeliverySettings};
use crate::domain::DiscordId;
use crate::store::Store;
use crate::telemetry::Telemetry;

/// What command handlers share.
pub struct Bot {
    pub store: Store,
    pub sources: Vec<SourceConfig>,
    pub started: Instant,
    /// Register commands in this guild only (instant) instead of globally.
    pub guild_id: Option<u64>,
    /// The gateway's state and the counts of the operator's endpoint.
    pub telemetry: Arc<Telemetry>,
    /// The gateway shards this process runs.
    pub shards: crate::config::Shards,
    /// Whether this process posts the deliveries (holds the scheduler lease).
    pub leadership: crate::leader::Leadership,
}

/// Interaction replies start from these, the one place that says that none can ping: an
/// immediate or ephemeral reply and a button's update ([`reply`]), the edit that answers a
/// deferral ([`edit_reply`]) and follow-ups ([`followup`]). (serenity's client default, set in
/// [`http_client`] too, covers the others but not the edit of a deferred reply.)
pub fn reply() -> CreateInteractionResponseMessage {
    CreateInteractionResponseMessage::new().allowed_mentions(CreateAllowedMentions::new())
}

/// The edit that answers a deferred interaction; see [`reply`].
pub fn edit_reply() -> EditInteractionResponse {
    EditInteractionResponse::new().allowed_mentions(CreateAllowedMentions::new())
}

/// A follow-up message of an interaction; see [`reply`].
pub fn followup() -> CreateInteractionResponseFollowup {
    CreateInteractionResponseFollowup::new().allowed_mentions(CreateAllowedMentions::new())
}

/// How long a Discord REST call may take, answer included: serenity sets no limit, so a proxy
/// that accepts and never answers would hold the delivery worker for ever. A post that times
/// out may still have been created: the worker treats it as in doubt (see [`crate::deliver`]).
pub const REST_TIMEOUT: Duration = Duration::from_secs(15);

/// serenity's HTTP client, with [`REST_TIMEOUT`]. With a proxy every REST call goes to it
/// (serenity only honours a proxy with its ratelimiter off; the delivery worker paces posts and
/// waits out 429s itself). Its default `allowed_mentions` allows nothing, for whatever sets none
/// (see [`reply`]).
pub fn http_client(token: &Secret, proxy: Option<&Url>) -> Result<Http, reqwest::Error> {
    http_client_with_timeout(token, proxy, REST_TIMEOUT)
}

/// [`http_client`] with another timeout (tests of a Discord that never answers).
pub fn http_client_with_timeout(
    token: &Secret,
    proxy: Option<&Url>,
    timeout: Duration,
) -> Result<Http, reqwest::Error> {
    let client = reqwest::Client::builder()
        .use_rustls_tls()
        .connect_timeout(timeout.min(Duration::from_secs(5)))
        .timeout(timeout)
        .build()?;
    let builder = HttpBuilder::new(token.expose())
        .client(client)
        .default_allowed_mentions(CreateAllowedMentions::new());
    Ok(match proxy {
        Some(url) => builder
            .proxy(url.as_str().trim_end_matches('/'))
            .ratelimiter_disabled(true)
            .build(),
        None => builder.build(),
    })
}

struct Handler {
    bot: Arc<Bot>,
}

#[serenity::async_trait]
impl EventHandler for Handler {
    async fn ready(&self, ctx: Context, ready: Ready) {
        // serenity's own shard id for this connection, and the total this process was started
        // with (READY carries both too, when Discord sends them).
        let total = self.bot.telemetry.shards().map_or(1, |[_, _, total]| total);
        let shard = (ctx.shard_id.0, total);
        // One shard in all: connected now. With more, the watcher says so once every shard of
        // this process is.
        if shard.1 == 1 {
            self.bot.telemetry.set_connected(true);
        }
        // The commands are the application's, not a shard's: the process that runs shard 0
        // registers them, once, whichever processes run the other shards.
        if shard.0 != 0 {
            tracing::info!(shard = shard.0, total = shard.1, user = %ready.user.name, "shard connected to Discord");
            return;
        }
        let commands = commands::definitions();
        let result = match self.bot.guild_id {
            Some(guild) => GuildId::new(guild).set_commands(&ctx.http, commands).await,
            None => serenity::all::Command::set_global_commands(&ctx.http, commands).await,
        };
        match result {
            Ok(registered) => tracing::info!(
                user = %ready.user.name,
                guilds = ready.guilds.len(),
                commands = registered.len(),
                scope = if self.bot.guild_id.is_some() { "guild" } else { "global" },
                "connected to Discord; slash commands registered"
            ),
            Err(e) => tracing::error!(error = %e, "registering slash commands failed"),
        }
    }

    /// The bot was removed from a server (an outage sends this too, with `unavailable`: then
    /// nothing changes). As rssbot drops subscribers whose chat is gone.
    async fn guild_delete(
        &self,
        _ctx: Context,
        incomplete: UnavailableGuild,
        _full: Option<Guild>,
    ) {
        if incomplete.unavailable {
            return;
        }
        let Ok(guild) = DiscordId::try_from(incomplete.id).map(DiscordId::get) else {
            // Not a server the database can hold (none before 2084), so none it has.
            return;
        };
        match self.bot.store.remove_guild(guild).await {
            Ok(removed) => tracing::info!(
                guild,
                removed,
                "removed from a server; its subscriptions are gone"
            ),
            Err(e) => {
                tracing::error!(guild, error = %e, "could not remove a server's subscriptions")
            }
        }
    }

    async fn channel_delete(
        &self,
        _ctx: Context,
        channel: GuildChannel,
        _messages: Option<Vec<serenity::all::Message>>,
    ) {
        let Ok(id) = DiscordId::try_from(channel.id).map(DiscordId::get) else {
            // Not a channel the database can hold (none before 2084), so none it has.
            return;
        };
        match self.bot.store.remove_channel(id).await {
            Ok(0) => {}
            Ok(removed) => tracing::info!(
                channel = id,
                removed,
                "a subscribed channel was deleted; its subscriptions are gone"
            ),
            Err(e) => {
                tracing::error!(channel = id, error = %e, "could not remove a deleted channel's subscriptions")
            }
        }
    }

    async fn interaction_create(&self, ctx: Context, interaction: Interaction) {
        let kind = match &interaction {
            Interaction::Command(_) => "command",
            Interaction::Autocomplete(_) => "autocomplete",
            Interaction::Component(_) => "component",
            _ => "other",
        };
        self.bot.telemetry.interaction(kind);
        match interaction {
            Interaction::Command(cmd) => commands::handle(&ctx.http, &self.bot, &cmd).await,
            Interaction::Autocomplete(cmd) => {
                commands::autocomplete(&ctx.http, &self.bot, &cmd).await
            }
            Interaction::Component(comp) => {
                commands::news::search::handle_button(&ctx.http, &self.bot, &comp).await
            }
            _ => {}
        }
    }
}

/// Connects to Discord, serves commands and runs the delivery worker until `shutdown` turns
/// true; then the post in flight finishes and is recorded before the connection closes.
pub async fn run(
    http: Http,
    bot: Bot,
    delivery: DeliverySettings,
    shutdown: watch::Receiver<bool>,
) -> anyhow::Result<()> {
    let names: std::collections::HashMap<String, String> = bot
        .sources
        .iter()
        .map(|s| (s.id.to_string(), s.name.clone()))
        .collect();
    let store = bot.store.clone();
    let telemetry = bot.telemetry.clone();
    let shards = bot.shards;
    let mut leadership = bot.leadership.clone();
    let claims = bot.store.clone();
    let handler = Handler { bot: Arc::new(bot) };
    let mut client = ClientBuilder::new_with_http(http, GatewayIntents::GUILDS)
        .event_handler(handler)
        .await?;
    let start = {
        let (http, telemetry) = (client.http.clone(), telemetry.clone());
        move |stop| {
            let mut deliverer =
                Deliverer::new(store.clone(), http.clone(), names.clone(), delivery.clone())
                    .with_telemetry(telemetry.clone());
            async move { deliver::run(&mut deliverer, stop).await }
        }
    };
    let worker = tokio::spawn({
        let mut shutdown = shutdown.clone();
        let telemetry = telemetry.clone();
        let mut start = start;
        async move {
            while let Some(stop) = leadership.gate(&mut shutdown).await {
                // A panic restarts the worker (supervised as the sources' loops are).
                deliver::supervise(
                    &mut start,
                    telemetry.clone(),
                    stop,
                    deliver::WORKER_RESTART_BASE,
                )
                .await;
                // Not posting any more: what this process claimed goes to the next poster now,
                // not when this process dies.
                if let Err(e) = claims.release_claims().await {
                    tracing::warn!(error = %e, "cannot release this process's delivery claims");
                }
            }
        }
    });
    let (first, last, total) = match shards {
        Shards::Range { first, last, total } => (first, last, total),
        Shards::Auto => {
            let recommended = client
                .http
                .get_bot_gateway()
                .await
                .context("cannot ask Discord how many gateway shards to run")?
                .shards
                .max(1);
            (0, recommended - 1, recommended)
        }
    };
    tracing::info!(first, last, total, "starting gateway shards");
    telemetry.set_shards(first, last, total);
    let shards = client.shard_manager.clone();
    let watcher = tokio::spawn(watch_connection(
        shards.clone(),
        telemetry,
        last - first + 1,
    ));
    // serenity's range is inclusive of its end: `first..last` starts shards first to last.
    let mut gateway =
        tokio::spawn(async move { client.start_shard_range(first..last, total).await });
    let mut shutdown = shutdown;
    let stopped = async move {
        let _ = shutdown.wait_for(|stop| *stop).await;
    };
    let ended = tokio::select! {
        () = stopped => {
            let _ = worker.await;
            shards.shutdown_all().await;
            let _ = gateway.await;
            Ok(())
        }
        ended = &mut gateway => match ended {
            Ok(Ok(())) => Ok(()),
            Ok(Err(e)) => Err(anyhow::Error::new(e).context("the Discord gateway connection ended")),
            Err(e) => Err(anyhow::Error::new(e).context("the Discord gateway task failed")),
        },
    };
    watcher.abort();
    ended
}

/// Keeps the telemetry's `connected` true while every shard of this process is connected.
/// serenity reports a lost connection through its shard manager (the runner is replaced), not
/// always as a stage-update event, so the manager is read every second; READY sets it at once.
async fn watch_connection(shards: Arc<ShardManager>, telemetry: Arc<Telemetry>, count: u32) {
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        let runners = shards.runners.lock().await;
        let up = runners
            .values()
            .filter(|runner| runner.stage == ConnectionStage::Connected)
            .count();
        telemetry.set_connected(up as u32 >= count);
    }
}
