//! `/status`: briefbot's health, for the server's admins: each source's last scrape and error,
//! the delivery queue, paused channels and what gave up.

use std::fmt::Write as _;

use serenity::all::CreateCommand;

use super::{CommandError, Invocation, Reply, Who, command, truncate};
use crate::bot::Bot;
use crate::render::escape_markdown;

pub const NAME: &str = "status";
pub const WHO: Who = Who::Admin;

pub fn definition() -> CreateCommand {
    command(
        NAME,
        "상태",
        "Show briefbot's health",
        "briefbot의 상태를 봅니다",
        WHO,
    )
}

pub async fn run(bot: &Bot, inv: &Invocation) -> Result<Reply, CommandError> {
    let guild = inv.guild();
    let states = bot.store.source_states().await?;
    let mut paused: Vec<_> = bot
        .store
        .paused_subscriptions()
        .await?
        .into_iter()
        .filter(|s| s.guild_id == guild)
        .collect();
    // A channel is paused as a whole: once per channel.
    paused.sort_by_key(|s| s.channel_id);
    paused.dedup_by_key(|s| s.channel_id);
    let history_denied = bot.store.history_denied(guild).await?;
    let pending = bot.store.pending_deliveries().await?;
    let ts = |t: Option<chrono::DateTime<chrono::Utc>>| {
        t.map_or("never".to_owned(), |t| format!("<t:{}:R>", t.timestamp()))
    };
    let mut text = format!(
        "**briefbot {}** — up {}\nDelivery queue: {pending} pending\n",
        env!("CARGO_PKG_VERSION"),
        humantime::format_duration(std::time::Duration::from_secs(
            bot.started.elapsed().as_secs()
        ))
    );
    for s in &bot.sources {
        let state = states.iter().find(|st| st.id == s.id.as_str());
        let _ = write!(
            text,
            "• **{}** (`{}`): last success {}, {} issues stored",
            s.name,
            s.id,
            ts(state.and_then(|st| st.last_success_at)),
            state.map_or(0, |st| st.issues)
        );
        if let Some(st) = state.filter(|st| st.consecutive_failures > 0) {
            let _ = write!(
                text,
                "; last error {}: {}",
                ts(st.last_error_at),
                truncate(st.last_error.as_deref().unwrap_or(""), 200)
            );
        }
        if let (restarts @ 1.., why) = bot.telemetry.source_restarts(s.id.as_str()) {
            let _ = write!(
                text,
                "; its polling stopped abnormally and was restarted {restarts} time(s) (last: {})",
                truncate(why.as_deref().unwrap_or("unknown"), 120)
            );
        }
        text.push('\n');
    }
    for p in &paused {
        let _ = writeln!(
            text,
            "⏸ <#{}> paused: {} (run /subscribe there again to resume)",
            p.channel_id,
            truncate(
                p.pause_reason.as_deref().unwrap_or("refused by Discord"),
                200
            )
        );
    }
    for entry in bot
        .store
        .given_up_entries()
        .await?
        .iter()
        .filter(|e| bot.sources.iter().any(|s| s.id.as_str() == e.source_id))
        .take(5)
    {
        let _ = writeln!(
            text,
            "⛔ `{}` gave up on “{}” <{}> after {} failed tries since {}: {}",
            entry.source_id,
            escape_markdown(&truncate(&entry.title, 100)),
            entry.url,
            entry.failures,
            ts(Some(entry.first_failed_at)),
            truncate(&entry.last_error, 150)
        );
    }
    let since = chrono::Utc::now() - crate::store::outbox::CATCH_UP;
    for d in bot.store.failed_deliveries(guild, since).await? {
        let _ = writeln!(
            text,
            "✖ a post to <#{}> failed {}: {}",
            d.channel_id,
            ts(Some(d.finished_at)),
            truncate(d.last_error.as_deref().unwrap_or("unknown"), 200)
        );
    }
    if bot.telemetry.unauthorized() {
        text.push_str("⛔ Discord rejected the bot token (401): nothing is posted until briefbot is restarted with a valid DISCORD_TOKEN.\n");
    }
    for (channel, since) in &history_denied {
        let _ = writeln!(
            text,
            "⚠ <#{channel}> denies Read Message History (since {}): after a lost answer from Discord, briefbot cannot check whether a post went out and relies on Discord's short-lived nonce; grant the permission to rule out doubles",
            ts(Some(*since))
        );
    }
    Ok(Reply::private(truncate(&text, 1900)))
}
