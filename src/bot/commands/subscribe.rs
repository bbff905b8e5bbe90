//! `/subscribe`: posts the new issues of a source (or of every source) to a channel.

use serenity::all::{CommandOptionType, CreateCommand};

use super::{
    CommandError, Invocation, Options, Reply, SOURCE, Who, channel_option, command, describe,
    option, source_key, source_option,
};
use crate::bot::Bot;
use crate::config::SourceConfig;
use crate::domain::{Keywords, KeywordsError};
use crate::store::outbox::Subscribed;

pub const NAME: &str = "subscribe";
pub const WHO: Who = Who::Admin;
const KEYWORDS: &str = "keywords";

pub fn definition() -> CreateCommand {
    command(
        NAME,
        "구독",
        "Post new news issues to a channel",
        "새 뉴스 브리핑을 채널에 게시합니다",
        WHO,
    )
    .add_option(source_option(
        "Which source (default: all)",
        "어느 출처인지 (기본: 전체)",
    ))
    .add_option(
        option(
            CommandOptionType::String,
            KEYWORDS,
            "키워드",
            "Only items containing one of these words, comma-separated",
            "이 단어 중 하나가 들어간 항목만 (쉼표로 구분)",
        )
        .max_length(500),
    )
    .add_option(channel_option(
        "Where to post (default: this channel)",
        "게시할 채널 (기본: 이 채널)",
    ))
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Subscribe {
    /// The stored key of the source: a configured source's id, or every source.
    pub source: String,
    pub keywords: Option<Keywords>,
    pub channel: i64,
}

impl Subscribe {
    pub(super) fn parse(options: &Options, sources: &[SourceConfig]) -> Result<Self, Reply> {
        Ok(Self {
            source: source_key(sources, options.string(SOURCE))?,
            keywords: parse_keywords(options.string(KEYWORDS))?,
            channel: options.channel()?,
        })
    }

    pub async fn run(self, bot: &Bot, inv: &Invocation) -> Result<Reply, CommandError> {
        let Self {
            source,
            keywords,
            channel,
        } = self;
        let done = bot
            .store
            .subscribe(
                inv.guild(),
                channel,
                &source,
                keywords.as_ref(),
                inv.user_id,
            )
            .await?;
        let what = describe(bot, &source, keywords.as_ref());
        Ok(Reply::public(match done {
            Subscribed::New => format!(
                "<#{channel}> is subscribed to {what}: new issues published from now on are posted there."
            ),
            Subscribed::Updated => format!("<#{channel}>'s subscription to {what} is updated."),
            Subscribed::Resumed { owed: 0 } => format!(
                "<#{channel}> is resumed and subscribed to {what}; it missed nothing from the last 3 days."
            ),
            Subscribed::Resumed { owed } => format!(
                "<#{channel}> is resumed and subscribed to {what}: the {owed} issue(s) of the last 3 days it missed while paused are posted now."
            ),
        }))
    }
}

/// The `keywords` option: `None` when none were typed; a refusal saying what is accepted.
fn parse_keywords(typed: Option<&str>) -> Result<Option<Keywords>, Reply> {
    Keywords::parse(typed.unwrap_or_default()).map_err(|e| {
        Reply::private(match e {
            KeywordsError::TooLong { max } => format!(
                "Each keyword may be at most {max} characters; separate keywords with commas."
            ),
            KeywordsError::TooMany { max } => {
                format!("At most {max} keywords, separated by commas.")
            }
        })
    })
}
