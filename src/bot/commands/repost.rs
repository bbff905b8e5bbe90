//! `/repost`: posts an issue again, on purpose, even where it was posted before.

use serenity::all::{CommandOptionType, CreateCommand};

use super::{
    CommandError, Invocation, Options, Reply, Who, channel_option, command, option, truncate,
};
use crate::bot::Bot;
use crate::domain::CanonicalUrl;
use crate::render::escape_markdown;
use crate::store::outbox::MAX_PENDING_REPOSTS;

pub const NAME: &str = "repost";
pub const WHO: Who = Who::Admin;
const ISSUE: &str = "issue";

pub fn definition() -> CreateCommand {
    command(
        NAME,
        "다시게시",
        "Post an issue again",
        "브리핑을 다시 게시합니다",
        WHO,
    )
    .add_option(
        option(
            CommandOptionType::String,
            ISSUE,
            "브리핑",
            "The issue's URL, or latest (default)",
            "브리핑 주소 또는 latest (기본)",
        )
        .max_length(500),
    )
    .add_option(channel_option(
        "Where to post (default: this channel)",
        "게시할 채널 (기본: 이 채널)",
    ))
}

#[derive(Debug, Clone)]
pub struct Repost {
    pub issue: Wanted,
    pub channel: i64,
}

/// Which issue to post again.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Wanted {
    Latest,
    Url(CanonicalUrl),
}

impl Repost {
    pub(super) fn parse(options: &Options) -> Result<Self, Reply> {
        let wanted = options
            .string(ISSUE)
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .unwrap_or("latest");
        let issue = if wanted.eq_ignore_ascii_case("latest") {
            Wanted::Latest
        } else {
            let url = CanonicalUrl::parse(wanted).map_err(|_| {
                Reply::private("`issue` takes an issue's http(s) URL, or `latest`.")
            })?;
            Wanted::Url(url)
        };
        Ok(Self {
            issue,
            channel: options.channel()?,
        })
    }

    pub async fn run(self, bot: &Bot, inv: &Invocation) -> Result<Reply, CommandError> {
        let channel = self.channel;
        let issue = match self.issue {
            Wanted::Latest => bot
                .store
                .latest(1, None)
                .await?
                .into_iter()
                .next()
                .map(|i| (i.id, i.title)),
            Wanted::Url(url) => match bot.store.issue_for_url(&url).await? {
                Some(id) => bot.store.issue(id).await?.map(|i| (i.id, i.title)),
                None => None,
            },
        };
        let (issue_id, title) = issue.ok_or_else(|| {
            Reply::private("No stored issue matches that; /news latest shows what is stored.")
        })?;
        if bot
            .store
            .enqueue_repost(inv.guild(), channel, issue_id)
            .await?
            .is_none()
        {
            return Err(Reply::private(format!(
                "This server already has {MAX_PENDING_REPOSTS} reposts waiting to go out; try again once they are posted (a few seconds each). (대기 중인 재게시가 많습니다. 잠시 후 다시 시도해 주세요.)"
            ))
            .into());
        }
        Ok(Reply::private(format!(
            "Reposting “{}” to <#{channel}>.",
            escape_markdown(&truncate(&title, 200))
        )))
    }
}
