//! Slash commands (README: Slash commands), one file each: its name, its definition with Korean
//! localizations, who may run it, how its options parse, and its `run`, a plain function from
//! parsed options to the reply. [`Command::parse`] turns an interaction into a [`Command`] once, so
//! a command's `run` never sees a string it must check again; [`handle`] refuses, defers, runs and
//! answers. A refusal anywhere is a [`CommandError::User`], so `?` carries it to the one place that
//! answers.

pub mod news;
pub mod repost;
pub mod status;
pub mod subscribe;
pub mod subscriptions;
pub mod unsubscribe;

use serenity::all::{
    AutocompleteChoice, ChannelType, CommandInteraction, CommandOptionType, CreateActionRow,
    CreateAutocompleteResponse, CreateCommand, CreateCommandOption, CreateEmbed,
    CreateInteractionResponse, Permissions, ResolvedOption, ResolvedValue, Unresolved,
};
use serenity::http::Http;

use super::Bot;
use crate::config::SourceConfig;
use crate::domain::{DiscordId, IdOutOfRange, Keywords};
use crate::store::StoreError;
use crate::store::outbox::ALL_SOURCES;

pub use news::News;
pub use repost::Repost;
pub use subscribe::Subscribe;
pub use unsubscribe::Unsubscribe;

/// The option that names a source, in every command that has one (and the only one that
/// autocompletes).
const SOURCE: &str = "source";
/// The option that names a channel (default: the one the command was used in).
const CHANNEL: &str = "channel";
/// The value the `source` option takes for every source.
const ALL: &str = "all";

/// Every command briefbot registers, in the order Discord lists them.
pub fn definitions() -> Vec<CreateCommand> {
    vec![
        subscribe::definition(),
        unsubscribe::definition(),
        subscriptions::definition(),
        repost::definition(),
        status::definition(),
        news::definition(),
    ]
}

/// A command as the member asked for it, its options parsed and checked.
#[derive(Debug, Clone)]
pub enum Command {
    Subscribe(Subscribe),
    Unsubscribe(Unsubscribe),
    Subscriptions,
    Repost(Repost),
    Status,
    News(News),
}

impl Command {
    /// Reads a command and its options; the error is the private reply that says what is
    /// accepted. `sources` are the configured ones a `source` option may name.
    pub fn parse(cmd: &CommandInteraction, sources: &[SourceConfig]) -> Result<Self, Reply> {
        let options = Options {
            given: cmd.data.options(),
            here: id(cmd.channel_id).map_err(out_of_range)?,
        };
        Ok(match cmd.data.name.as_str() {
            subscribe::NAME => Self::Subscribe(Subscribe::parse(&options, sources)?),
            unsubscribe::NAME => Self::Unsubscribe(Unsubscribe::parse(&options, sources)?),
            subscriptions::NAME => Self::Subscriptions,
            repost::NAME => Self::Repost(Repost::parse(&options)?),
            status::NAME => Self::Status,
            news::NAME => Self::News(News::parse(options, sources)?),
            _ => return Err(Reply::private("Unknown command.")),
        })
    }

    pub fn name(&self) -> &'static str {
        match self {
            Self::Subscribe(_) => subscribe::NAME,
            Self::Unsubscribe(_) => unsubscribe::NAME,
            Self::Subscriptions => subscriptions::NAME,
            Self::Repost(_) => repost::NAME,
            Self::Status => status::NAME,
            Self::News(_) => news::NAME,
        }
    }

    /// Who may run it (its registration says the same to Discord).
    pub fn who(&self) -> Who {
        match self {
            Self::Subscribe(_) => subscribe::WHO,
            Self::Unsubscribe(_) => unsubscribe::WHO,
            Self::Subscriptions => subscriptions::WHO,
            Self::Repost(_) => repost::WHO,
            Self::Status => status::WHO,
            Self::News(_) => news::WHO,
        }
    }

    /// Whether it is deferred before it runs, and who then sees the answer. Work that may take
    /// more than a second is, because Discord drops an interaction not answered within three
    /// seconds: a lookup, and every write, which waits for the database's write lock as long as
    /// another write holds it (the start-up index rebuild of a big database holds it for
    /// longer than that).
    pub fn deferral(&self) -> Option<Deferral> {
        match self {
            Self::Subscribe(_) | Self::Unsubscribe(_) | Self::Repost(_) | Self::Status => {
                Some(Deferral::Private)
            }
            Self::News(_) => Some(Deferral::Public),
            Self::Subscriptions => None,
        }
    }

    /// Runs a command its invoker may run (see [`Command::who`]).
    pub async fn run(self, bot: &Bot, inv: &Invocation) -> Result<Reply, CommandError> {
        match self {
            Self::Subscribe(c) => c.run(bot, inv).await,
            Self::Unsubscribe(c) => c.run(bot, inv).await,
            Self::Subscriptions => subscriptions::run(bot, inv).await,
            Self::Repost(c) => c.run(bot, inv).await,
            Self::Status => status::run(bot, inv).await,
            Self::News(c) => c.run(bot, inv).await,
        }
    }
}

/// Why a command gives no answer of its own.
#[derive(Debug, thiserror::Error)]
pub enum CommandError {
    /// A refusal, or nothing found: this reply says so.
    #[error("{}", .0.text)]
    User(Reply),
    /// Something on briefbot's side: logged, and the member is asked to try again.
    #[error(transparent)]
    Unexpected(#[from] StoreError),
}

impl From<Reply> for CommandError {
    fn from(reply: Reply) -> Self {
        Self::User(reply)
    }
}

/// What the member sees when briefbot fails them.
const UNEXPECTED: &str = "Something went wrong on briefbot's side; please try again in a minute. (briefbot에 문제가 생겼습니다. 잠시 후 다시 시도해 주세요.)";

/// Who may run a command.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Who {
    /// Anyone, anywhere.
    Anyone,
    /// Anyone in a server (not in direct messages).
    Member,
    /// Members with Manage Server, in a server.
    Admin,
}

/// The permission admin commands need.
const ADMIN: Permissions = Permissions::MANAGE_GUILD;

impl Who {
    /// The registration's side of it: Discord hides the command from the others.
    fn register(self, command: CreateCommand) -> CreateCommand {
        match self {
            Self::Anyone => command,
            Self::Member => command.dm_permission(false),
            Self::Admin => command
                .default_member_permissions(ADMIN)
                .dm_permission(false),
        }
    }

    /// The bot's own check, from the interaction (a server may override the registration's
    /// default permissions); the refusal says why.
    pub fn admits(self, inv: &Invocation) -> Result<(), Reply> {
        if self != Self::Anyone && inv.guild_id.is_none() {
            return Err(Reply::private(
                "This command works in a server, not in direct messages. (이 명령은 서버에서만 쓸 수 있습니다.)",
            ));
        }
        if self == Self::Admin && !inv.is_admin() {
            return Err(Reply::private(
                "You need the Manage Server permission to use this command. (이 명령에는 서버 관리 권한이 필요합니다.)",
            ));
        }
        Ok(())
    }
}

/// Who sees a deferred answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Deferral {
    /// Only the invoker.
    Private,
    /// Everyone in the channel.
    Public,
}

/// A reply: what to say and show, and whether only the invoker sees it.
#[derive(Debug, Clone, Default)]
pub struct Reply {
    pub text: String,
    pub ephemeral: bool,
    pub embeds: Vec<CreateEmbed>,
    /// Further messages (an issue too long for one message, or more issues).
    pub followups: Vec<Vec<CreateEmbed>>,
    /// The ◀ ▶ buttons of a search.
    pub components: Vec<CreateActionRow>,
}

impl Reply {
    fn private(text: impl Into<String>) -> Self {
        Self {
            text: text.into(),
            ephemeral: true,
            ..Self::default()
        }
    }

    fn public(text: impl Into<String>) -> Self {
        Self {
            text: text.into(),
            ..Self::default()
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
    pub fn of(cmd: &CommandInteraction) -> Result<Self, IdOutOfRange> {
        Ok(Self {
            guild_id: cmd.guild_id.map(id).transpose()?,
            channel_id: id(cmd.channel_id)?,
            user_id: id(cmd.user.id)?,
            permissions: cmd.member.as_ref().and_then(|m| m.permissions),
        })
    }

    fn is_admin(&self) -> bool {
        self.permissions
            .is_some_and(|p| p.contains(ADMIN) || p.administrator())
    }

    /// The server: a command that needs one is refused in direct messages before it runs
    /// ([`Who::admits`]).
    fn guild(&self) -> i64 {
        self.guild_id.unwrap_or_default()
    }
}

/// A Discord id as the store keeps it, checked ([`DiscordId`]: none is out of range before 2084).
pub(crate) fn id(id: impl TryInto<DiscordId, Error = IdOutOfRange>) -> Result<i64, IdOutOfRange> {
    id.try_into().map(DiscordId::get)
}

fn out_of_range(e: IdOutOfRange) -> Reply {
    Reply::private(format!("Discord sent an id briefbot cannot store ({e})."))
}

/// A command's (or a subcommand's) options as Discord resolved them, read by name.
struct Options<'a> {
    given: Vec<ResolvedOption<'a>>,
    /// The channel the command was used in.
    here: i64,
}

impl<'a> Options<'a> {
    fn string(&self, name: &str) -> Option<&'a str> {
        self.given.iter().find_map(|o| match o.value {
            ResolvedValue::String(s) if o.name == name => Some(s),
            _ => None,
        })
    }

    fn integer(&self, name: &str) -> Option<i64> {
        self.given.iter().find_map(|o| match o.value {
            ResolvedValue::Integer(n) if o.name == name => Some(n),
            _ => None,
        })
    }

    /// The `channel` option, or the channel the command was used in.
    fn channel(&self) -> Result<i64, Reply> {
        let given = self.given.iter().find_map(|o| match &o.value {
            _ if o.name != CHANNEL => None,
            ResolvedValue::Channel(c) => Some(id(c.id)),
            ResolvedValue::Unresolved(Unresolved::Channel(c)) => Some(id(*c)),
            _ => None,
        });
        match given {
            Some(channel) => channel.map_err(out_of_range),
            None => Ok(self.here),
        }
    }
}

/// Refuses, defers, runs and answers a command; no error reaches the member as anything but a
/// message.
pub async fn handle(http: &Http, bot: &Bot, cmd: &CommandInteraction) {
    let inv = match Invocation::of(cmd) {
        Ok(inv) => inv,
        Err(e) => {
            // Not before 2084 (see `DiscordId`): left unanswered rather than stored as another id.
            tracing::warn!(command = %cmd.data.name, error = %e, "interaction ignored");
            return;
        }
    };
    let command = Command::parse(cmd, &bot.sources).and_then(|command| {
        command.who().admits(&inv)?;
        Ok(command)
    });
    let command = match command {
        Ok(command) => command,
        Err(refusal) => {
            if let Err(e) = answer(http, cmd, None, refusal).await {
                tracing::warn!(command = %cmd.data.name, error = %e, "could not answer the interaction");
            }
            return;
        }
    };
    let name = command.name();
    let deferral = command.deferral();
    let deferred = match deferral {
        None => Ok(()),
        Some(Deferral::Private) => cmd.defer_ephemeral(http).await,
        Some(Deferral::Public) => cmd.defer(http).await,
    };
    if let Err(e) = deferred {
        tracing::warn!(command = name, error = %e, "could not defer the reply");
        return;
    }
    let reply = match command.run(bot, &inv).await {
        Ok(reply) | Err(CommandError::User(reply)) => reply,
        Err(CommandError::Unexpected(e)) => {
            tracing::error!(command = name, error = %e, "command failed");
            Reply::private(UNEXPECTED)
        }
    };
    if let Err(e) = answer(http, cmd, deferral, reply).await {
        tracing::warn!(command = name, error = %e, "could not answer the interaction");
    }
}

/// Sends a reply: as the interaction's response, or as the edit of its deferred response
/// (whose visibility the deferral set); then its follow-ups.
async fn answer(
    http: &Http,
    cmd: &CommandInteraction,
    deferral: Option<Deferral>,
    reply: Reply,
) -> serenity::Result<()> {
    let Reply {
        text,
        ephemeral,
        embeds,
        followups,
        components,
    } = reply;
    if deferral.is_some() {
        let edit = super::edit_reply()
            .content(text)
            .embeds(embeds)
            .components(components);
        cmd.edit_response(http, edit).await?;
    } else {
        let message = super::reply()
            .content(text)
            .embeds(embeds)
            .components(components)
            .ephemeral(ephemeral);
        cmd.create_response(http, CreateInteractionResponse::Message(message))
            .await?;
    }
    for embeds in followups {
        cmd.create_followup(http, super::followup().embeds(embeds))
            .await?;
    }
    Ok(())
}

/// An option with its Korean name and description.
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
    option(CommandOptionType::String, SOURCE, "출처", description, ko)
        .set_autocomplete(true)
        .max_length(64)
}

fn channel_option(description: &str, ko: &str) -> CreateCommandOption {
    option(CommandOptionType::Channel, CHANNEL, "채널", description, ko)
        .channel_types(vec![ChannelType::Text, ChannelType::News])
}

/// A command with its Korean name and description, registered for `who`.
fn command(name: &str, ko_name: &str, description: &str, ko: &str, who: Who) -> CreateCommand {
    who.register(
        CreateCommand::new(name)
            .name_localized("ko", ko_name)
            .description(description)
            .description_localized("ko", ko),
    )
}

/// The stored key of the `source` option of /subscribe and /unsubscribe: a known source's id,
/// or every source.
fn source_key(sources: &[SourceConfig], source: Option<&str>) -> Result<String, Reply> {
    match source.map(str::trim).filter(|s| !s.is_empty()) {
        None => Ok(ALL_SOURCES.to_owned()),
        Some(s) if s.eq_ignore_ascii_case(ALL) || s == ALL_SOURCES => Ok(ALL_SOURCES.to_owned()),
        Some(s) => match sources.iter().find(|src| src.id.as_str() == s) {
            Some(src) => Ok(src.id.to_string()),
            None => {
                let known: Vec<&str> = sources.iter().map(|s| s.id.as_str()).collect();
                Err(Reply::private(format!(
                    "There is no source `{}`. Choose one of: {}, or `all`.",
                    truncate(s, 64),
                    known.join(", ")
                )))
            }
        },
    }
}

/// A subscription's source and keywords, as the replies name them.
fn describe(bot: &Bot, source_key: &str, keywords: Option<&Keywords>) -> String {
    let source = if source_key == ALL_SOURCES {
        "every source".to_owned()
    } else {
        bot.sources
            .iter()
            .find(|s| s.id.as_str() == source_key)
            .map_or_else(|| format!("`{source_key}`"), |s| format!("**{}**", s.name))
    };
    match keywords {
        Some(k) => format!(
            "{source} (items matching: {})",
            crate::render::escape_markdown(&k.to_string())
        ),
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
    let Some(focused) = cmd.data.autocomplete().filter(|o| o.name == SOURCE) else {
        return;
    };
    let typed = focused.value.to_lowercase();
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
