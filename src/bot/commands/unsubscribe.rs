//! `/unsubscribe`: stops posting a source's issues to a channel.

use serenity::all::CreateCommand;

use super::{
    CommandError, Invocation, Options, Reply, SOURCE, Who, channel_option, command, describe,
    source_key, source_option,
};
use crate::bot::Bot;
use crate::config::SourceConfig;

pub const NAME: &str = "unsubscribe";
pub const WHO: Who = Who::Admin;

pub fn definition() -> CreateCommand {
    command(
        NAME,
        "구독취소",
        "Stop posting news issues to a channel",
        "채널에 뉴스 브리핑 게시를 멈춥니다",
        WHO,
    )
    .add_option(source_option(
        "Which source (default: all)",
        "어느 출처인지 (기본: 전체)",
    ))
    .add_option(channel_option(
        "Which channel (default: this channel)",
        "어느 채널인지 (기본: 이 채널)",
    ))
}

#[derive(Debug, Clone)]
pub struct Unsubscribe {
    pub source: Which,
    pub channel: i64,
}

/// The source to unsubscribe from.
#[derive(Debug, Clone)]
pub enum Which {
    /// Its stored key: a configured source's id, or every source.
    Known(String),
    /// A name the sources file does not have: a source since removed from it can still be
    /// unsubscribed; if the channel has no subscription to it either, `refusal` says what
    /// sources there are.
    Unknown { typed: String, refusal: Reply },
}

impl Unsubscribe {
    pub(super) fn parse(options: &Options, sources: &[SourceConfig]) -> Result<Self, Reply> {
        let typed = options.string(SOURCE);
        let source = match source_key(sources, typed) {
            Ok(key) => Which::Known(key),
            Err(refusal) => Which::Unknown {
                typed: typed.map(str::trim).unwrap_or_default().to_owned(),
                refusal,
            },
        };
        Ok(Self {
            source,
            channel: options.channel()?,
        })
    }

    pub async fn run(self, bot: &Bot, inv: &Invocation) -> Result<Reply, CommandError> {
        let channel = self.channel;
        let source = match self.source {
            Which::Known(key) => key,
            Which::Unknown { typed, refusal } => bot
                .store
                .subscriptions(inv.guild())
                .await?
                .into_iter()
                .find(|s| s.channel_id == channel && s.source_key == typed)
                .map(|s| s.source_key)
                .ok_or(refusal)?,
        };
        let removed = bot.store.unsubscribe(channel, &source).await?;
        let what = describe(bot, &source, None);
        Ok(if removed {
            Reply::public(format!("<#{channel}> is no longer subscribed to {what}."))
        } else {
            Reply::private(format!(
                "<#{channel}> has no subscription to {what}; see /subscriptions."
            ))
        })
    }
}
