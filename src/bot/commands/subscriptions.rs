//! `/subscriptions`: the server's subscriptions, for anyone in it.

use std::fmt::Write as _;

use serenity::all::CreateCommand;

use super::{CommandError, Invocation, Reply, Who, command, describe, truncate};
use crate::bot::Bot;

pub const NAME: &str = "subscriptions";
pub const WHO: Who = Who::Member;

pub fn definition() -> CreateCommand {
    command(
        NAME,
        "구독목록",
        "List this server's news subscriptions",
        "이 서버의 뉴스 구독 목록을 봅니다",
        WHO,
    )
}

pub async fn run(bot: &Bot, inv: &Invocation) -> Result<Reply, CommandError> {
    let subs = bot.store.subscriptions(inv.guild()).await?;
    if subs.is_empty() {
        return Ok(Reply::private(
            "This server has no subscriptions yet. An admin can add one with /subscribe.",
        ));
    }
    let mut text = String::from("**Subscriptions**\n");
    for s in subs {
        let _ = write!(
            text,
            "• <#{}> — {}",
            s.channel_id,
            describe(bot, &s.source_key, s.keywords.as_ref())
        );
        if let Some(reason) = s.pause_reason.as_deref().filter(|_| s.paused_at.is_some()) {
            let _ = write!(
                text,
                " — ⏸ paused: {reason} (run /subscribe again to resume)"
            );
        }
        text.push('\n');
    }
    Ok(Reply::private(truncate(&text, 1900)))
}
