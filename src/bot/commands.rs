//! Slash commands (SPEC §4): their definitions with Korean localizations, and thin handlers
//! around plain functions that take parsed options and return the reply text.

use std::fmt::Write as _;

use serenity::all::{
    AutocompleteChoice, ChannelType, CommandInteraction, CommandOptionType,
    CreateAutocompleteResponse, CreateCommand, CreateCommandOption, CreateInteractionResponse,
    Permissions, ResolvedValue, Unresolved,
};
use serenity::http::Http;

use super::Bot;
use crate::domain::{CanonicalUrl, DiscordId, IdOutOfRange};
use crate::render::escape_markdown;
use crate::store::StoreError;
use crate::store::outbox::{ALL_SOURCES, MAX_PENDING_REPOSTS, Subscribed};

/// At most this many keywords per subscription, each at most [`MAX_KEYWORD`] characters.
pub const MAX_KEYWORDS: usize = 20;
pub const MAX_KEYWORD: usize = 50;

/// The value the `source` option takes for every source.
const ALL: &str = "all";

/// Who may run a command.
const ADMIN: Permissions = Permissions::MANAGE_GUILD;

fn option(
    kind: CommandOptionType,
    name: &str,
    ko_name: &str,
    description: &str,
    ko: &str,
) -> CreateCommandOption {
    CreateCommandOption::new(kind, name, description)
        .name_localized("ko", ko_name)
        .description_localized("ko", ko)
}

fn source_option(description: &str, ko: &str) -> CreateCommandOption {
    option(CommandOptionType::String, "source", "출처", description, ko)
        .set_autocomplete(true)
        .max_length(64)
}

fn channel_option(description: &str, ko: &str) -> CreateCommandOption {
    option(
        CommandOptionType::Channel,
        "channel",
        "채널",
        description,
        ko,
    )
    .channel_types(vec![ChannelType::Text, ChannelType::News])
}

fn admin_command(name: &str, ko_name: &str, description: &str, ko: &str) -> CreateCommand {
    CreateCommand::new(name)
        .name_localized("ko", ko_name)
        .description(description)
        .description_localized("ko", ko)
        .default_member_permissions(ADMIN)
        .dm_permission(false)
}

/// Every command briefbot registers.
pub fn definitions() -> Vec<CreateCommand> {
    vec![
        admin_command(
            "subscribe",
            "구독",
            "Post new news issues to a channel",
            "새 뉴스 브리핑을 채널에 게시합니다",
        )
        .add_option(source_option(
            "Which source (default: all)",
            "어느 출처인지 (기본: 전체)",
        ))
        .add_option(
            option(
                CommandOptionType::String,
                "keywords",
                "키워드",
                "Only items containing one of these words, comma-separated",
                "이 단어 중 하나가 들어간 항목만 (쉼표로 구분)",
            )
            .max_length(500),
        )
        .add_option(channel_option(
            "Where to post (default: this channel)",
            "게시할 채널 (기본: 이 채널)",
        )),
        admin_command(
            "unsubscribe",
            "구독취소",
            "Stop posting news issues to a channel",
            "채널에 뉴스 브리핑 게시를 멈춥니다",
        )
        .add_option(source_option(
            "Which source (default: all)",
            "어느 출처인지 (기본: 전체)",
        ))
        .add_option(channel_option(
            "Which channel (default: this channel)",
            "어느 채널인지 (기본: 이 채널)",
        )),
        CreateCommand::new("subscriptions")
            .name_localized("ko", "구독목록")
            .description("List this server's news subscriptions")
            .description_localized("ko", "이 서버의 뉴스 구독 목록을 봅니다")
            .dm_permission(false),
        admin_command(
            "repost",
            "다시게시",
            "Post an issue again",
            "브리핑을 다시 게시합니다",
        )
        .add_option(
            option(
                CommandOptionType::String,
                "issue",
                "브리핑",
                "The issue's URL, or latest (default)",
                "브리핑 주소 또는 latest (기본)",
            )
            .max_length(500),
        )
        .add_option(channel_option(
            "Where to post (default: this channel)",
            "게시할 채널 (기본: 이 채널)",
        )),
        admin_command(
            "status",
            "상태",
            "Show briefbot's health",
            "briefbot의 상태를 봅니다",
        ),
        super::news::definition(),
    ]
}

/// A reply: what to say, and whether only the invoker sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    pub text: String,
    pub ephemeral: bool,
}

impl Reply {
    fn private(text: impl Into<String>) -> Self {
        Self {
            text: text.into(),
            ephemeral: true,
        }
    }

    fn public(text: impl Into<String>) -> Self {
        Self {
            text: text.into(),
            ephemeral: false,
        }
    }
}

/// Where a command was used, as the interaction says.
#[derive(Debug, Clone, Copy)]
pub struct Invocation {
    pub guild_id: Option<i64>,
    pub channel_id: i64,
    pub user_id: i64,
    /// The member's permissions in the channel, from the interaction itself.
    pub permissions: Option<Permissions>,
}

impl Invocation {
    fn is_admin(&self) -> bool {
        self.permissions
            .is_some_and(|p| p.contains(ADMIN) || p.administrator())
    }
}

fn id(id: impl TryInto<DiscordId, Error = IdOutOfRange>) -> Result<i64, IdOutOfRange> {
    id.try_into().map(DiscordId::get)
}

fn invocation(cmd: &CommandInteraction) -> Result<Invocation, IdOutOfRange> {
    Ok(Invocation {
        guild_id: cmd.guild_id.map(id).transpose()?,
        channel_id: id(cmd.channel_id)?,
        user_id: id(cmd.user.id)?,
        permissions: cmd.member.as_ref().and_then(|m| m.permissions),
    })
}

/// The options of a command, parsed.
#[derive(Debug, Clone, Default)]
pub struct Options {
    pub source: Option<String>,
    pub keywords: Option<String>,
    pub channel: Option<i64>,
    pub issue: Option<String>,
}

fn parse_options(cmd: &CommandInteraction) -> Result<Options, IdOutOfRange> {
    let mut o = Options::default();
    for opt in cmd.data.options() {
        match (opt.name, opt.value) {
            ("source", ResolvedValue::String(s)) => o.source = Some(s.to_owned()),
            ("keywords", ResolvedValue::String(s)) => o.keywords = Some(s.to_owned()),
            ("issue", ResolvedValue::String(s)) => o.issue = Some(s.to_owned()),
            ("channel", ResolvedValue::Channel(c)) => o.channel = Some(id(c.id)?),
            ("channel", ResolvedValue::Unresolved(Unresolved::Channel(c))) => {
                o.channel = Some(id(c)?)
            }
            _ => {}
        }
    }
    Ok(o)
}

/// Runs a command and answers it; no error escapes to the user as anything but a message.
pub async fn handle(http: &Http, bot: &Bot, cmd: &CommandInteraction) {
    if cmd.data.name == "news" {
        return super::news::handle(http, bot, cmd).await;
    }
    let (invocation, options) = match invocation(cmd).and_then(|i| Ok((i, parse_options(cmd)?))) {
        Ok(parsed) => parsed,
        Err(e) => {
            // Not before 2084 (see `DiscordId`): left unanswered rather than stored as another id.
            tracing::warn!(command = %cmd.data.name, error = %e, "interaction ignored");
            return;
        }
    };
    let name = cmd.data.name.as_str();
    // Work that may take more than a second is deferred first: Discord drops an interaction
    // that is not answered within three seconds.
    let deferred = matches!(name, "repost" | "status") && allowed(name, &invocation).is_ok();
    if deferred && let Err(e) = cmd.defer_ephemeral(http).await {
        tracing::warn!(command = name, error = %e, "could not defer the reply");
        return;
    }
    let reply = match run(bot, name, &invocation, &options).await {
        Ok(reply) => reply,
        Err(e) => {
            tracing::error!(command = name, error = %e, "command failed");
            Reply::private(
                "Something went wrong on briefbot's side; please try again in a minute. (briefbot에 문제가 생겼습니다. 잠시 후 다시 시도해 주세요.)",
            )
        }
    };
    let sent = if deferred {
        cmd.edit_response(http, super::edit_reply().content(&reply.text))
            .await
            .map(|_| ())
    } else {
        cmd.create_response(
            http,
            CreateInteractionResponse::Message(
                super::reply()
                    .content(&reply.text)
                    .ephemeral(reply.ephemeral),
            ),
        )
        .await
    };
    if let Err(e) = sent {
        tracing::warn!(command = name, error = %e, "could not answer the interaction");
    }
}

/// Whether the invoker may run `name` here; the refusal says why.
fn allowed(name: &str, inv: &Invocation) -> Result<(), Reply> {
    let needs_server = matches!(
        name,
        "subscribe" | "unsubscribe" | "subscriptions" | "repost" | "status"
    );
    if needs_server && inv.guild_id.is_none() {
        return Err(Reply::private(
            "This command works in a server, not in direct messages. (이 명령은 서버에서만 쓸 수 있습니다.)",
        ));
    }
    let admin_only = matches!(name, "subscribe" | "unsubscribe" | "repost" | "status");
    if admin_only && !inv.is_admin() {
        return Err(Reply::private(
            "You need the Manage Server permission to use this command. (이 명령에는 서버 관리 권한이 필요합니다.)",
        ));
    }
    Ok(())
}

/// A command as a plain function: checks, validates, acts, and says what happened.
pub async fn run(
    bot: &Bot,
    name: &str,
    inv: &Invocation,
    o: &Options,
) -> Result<Reply, StoreError> {
    if let Err(refusal) = allowed(name, inv) {
        return Ok(refusal);
    }
    let guild = inv.guild_id.unwrap_or_default();
    let channel = o.channel.unwrap_or(inv.channel_id);
    match name {
        "subscribe" => {
            let source = match source_key(bot, o.source.as_deref()) {
                Ok(s) => s,
                Err(r) => return Ok(r),
            };
            let keywords = match parse_keywords(o.keywords.as_deref()) {
                Ok(k) => k,
                Err(r) => return Ok(r),
            };
            let done = bot
                .store
                .subscribe(guild, channel, &source, keywords.as_deref(), inv.user_id)
                .await?;
            let what = describe(bot, &source, keywords.as_deref());
            Ok(Reply::public(match done {
                Subscribed::New => format!(
                    "<#{channel}> is subscribed to {what}: new issues published from now on are posted there."
                ),
                Subscribed::Updated => {
                    format!("<#{channel}>'s subscription to {what} is updated.")
                }
                Subscribed::Resumed { owed: 0 } => format!(
                    "<#{channel}> is resumed and subscribed to {what}; it missed nothing from the last 3 days."
                ),
                Subscribed::Resumed { owed } => format!(
                    "<#{channel}> is resumed and subscribed to {what}: the {owed} issue(s) of the last 3 days it missed while paused are posted now."
                ),
            }))
        }
        "unsubscribe" => {
            let source = match source_key(bot, o.source.as_deref()) {
                Ok(s) => s,
                // A source since removed from the sources file can still be unsubscribed.
                Err(r) => {
                    let asked = o.source.as_deref().map(str::trim).unwrap_or_default();
                    let subscribed = bot.store.subscriptions(guild).await?;
                    match subscribed
                        .into_iter()
                        .find(|s| s.channel_id == channel && s.source_key == asked)
                    {
                        Some(s) => s.source_key,
                        None => return Ok(r),
                    }
                }
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
        "subscriptions" => {
            let subs = bot.store.subscriptions(guild).await?;
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
                    describe(bot, &s.source_key, s.keywords.as_deref())
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
        "repost" => {
            let wanted = o
                .issue
                .as_deref()
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .unwrap_or("latest");
            let issue = if wanted.eq_ignore_ascii_case("latest") {
                bot.store
                    .latest(1, None)
                    .await?
                    .into_iter()
                    .next()
                    .map(|i| (i.id, i.title))
            } else {
                let Ok(url) = CanonicalUrl::parse(wanted) else {
                    return Ok(Reply::private(
                        "`issue` takes an issue's http(s) URL, or `latest`.",
                    ));
                };
                match bot.store.issue_for_url(&url).await? {
                    Some(id) => bot.store.issue(id).await?.map(|i| (i.id, i.title)),
                    None => None,
                }
            };
            let Some((issue_id, title)) = issue else {
                return Ok(Reply::private(
                    "No stored issue matches that; /news latest shows what is stored.",
                ));
            };
            if bot
                .store
                .enqueue_repost(guild, channel, issue_id)
                .await?
                .is_none()
            {
                return Ok(Reply::private(format!(
                    "This server already has {MAX_PENDING_REPOSTS} reposts waiting to go out; try again once they are posted (a few seconds each). (대기 중인 재게시가 많습니다. 잠시 후 다시 시도해 주세요.)"
                )));
            }
            Ok(Reply::private(format!(
                "Reposting “{}” to <#{channel}>.",
                escape_markdown(&truncate(&title, 200))
            )))
        }
        "status" => status(bot, guild).await,
        _ => Ok(Reply::private("Unknown command.")),
    }
}

async fn status(bot: &Bot, guild: i64) -> Result<Reply, StoreError> {
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

/// The stored key of the `source` option: a known source id, or every source.
fn source_key(bot: &Bot, source: Option<&str>) -> Result<String, Reply> {
    match source.map(str::trim).filter(|s| !s.is_empty()) {
        None => Ok(ALL_SOURCES.to_owned()),
        Some(s) if s.eq_ignore_ascii_case(ALL) || s == ALL_SOURCES => Ok(ALL_SOURCES.to_owned()),
        Some(s) => match bot.sources.iter().find(|src| src.id.as_str() == s) {
            Some(src) => Ok(src.id.to_string()),
            None => {
                let known: Vec<&str> = bot.sources.iter().map(|s| s.id.as_str()).collect();
                Err(Reply::private(format!(
                    "There is no source `{}`. Choose one of: {}, or `all`.",
                    truncate(s, 64),
                    known.join(", ")
                )))
            }
        },
    }
}

/// Comma-separated keywords, trimmed, without empties and repeats: `None` for none at all.
pub fn parse_keywords(raw: Option<&str>) -> Result<Option<String>, Reply> {
    let Some(raw) = raw else {
        return Ok(None);
    };
    let mut words: Vec<String> = Vec::new();
    for word in raw
        .split([',', '，', '、'])
        .map(str::trim)
        .filter(|w| !w.is_empty())
    {
        if word.chars().count() > MAX_KEYWORD {
            return Err(Reply::private(format!(
                "Each keyword may be at most {MAX_KEYWORD} characters; separate keywords with commas."
            )));
        }
        if !words.iter().any(|w| w.eq_ignore_ascii_case(word)) {
            words.push(word.to_owned());
        }
    }
    if words.len() > MAX_KEYWORDS {
        return Err(Reply::private(format!(
            "At most {MAX_KEYWORDS} keywords, separated by commas."
        )));
    }
    Ok((!words.is_empty()).then(|| words.join(", ")))
}

fn describe(bot: &Bot, source_key: &str, keywords: Option<&str>) -> String {
    let source = if source_key == ALL_SOURCES {
        "every source".to_owned()
    } else {
        bot.sources
            .iter()
            .find(|s| s.id.as_str() == source_key)
            .map_or_else(|| format!("`{source_key}`"), |s| format!("**{}**", s.name))
    };
    match keywords {
        Some(k) => format!("{source} (items matching: {})", escape_markdown(k)),
        None => source,
    }
}

fn truncate(s: &str, max_chars: usize) -> String {
    if s.chars().count() <= max_chars {
        s.to_owned()
    } else {
        let mut t: String = s.chars().take(max_chars.saturating_sub(1)).collect();
        t.push('…');
        t
    }
}

/// Suggests sources for the focused `source` option: at most 25, as Discord allows.
pub async fn autocomplete(http: &Http, bot: &Bot, cmd: &CommandInteraction) {
    let typed = cmd
        .data
        .autocomplete()
        .map(|o| o.value.to_lowercase())
        .unwrap_or_default();
    let mut choices = vec![AutocompleteChoice::new("all — every source (전체)", ALL)];
    choices.extend(
        bot.sources
            .iter()
            .filter(|s| {
                typed.is_empty()
                    || s.id.as_str().contains(&typed)
                    || s.name.to_lowercase().contains(&typed)
            })
            .map(|s| {
                AutocompleteChoice::new(
                    truncate(&format!("{} ({})", s.name, s.id), 100),
                    s.id.as_str(),
                )
            }),
    );
    choices.truncate(25);
    let response = CreateInteractionResponse::Autocomplete(
        CreateAutocompleteResponse::new().set_choices(choices),
    );
    if let Err(e) = cmd.create_response(http, response).await {
        tracing::debug!(error = %e, "autocomplete answer failed");
    }
}
