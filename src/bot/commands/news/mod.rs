//! `/news latest`, `/news search` and `/news date`: lookups anyone can run, each parsed into a
//! [`News`] variant and answered as embeds of issues (or, for a search, a page of results with
//! ◀ ▶ buttons: [`search`]).

pub mod search;

use chrono::{DateTime, NaiveDate, TimeZone, Utc};
use serenity::all::{
    CommandOptionType, CreateCommand, CreateCommandOption, CreateEmbed, ResolvedValue,
};

use super::{CommandError, Invocation, Options, Reply, SOURCE, Who, command, option};
use crate::bot::Bot;
use crate::config::SourceConfig;
use crate::domain::{SourceId, kst};
use crate::render::{self, ItemFilter, escape_markdown};
use crate::store::StoredIssue;

pub const NAME: &str = "news";
pub const WHO: Who = Who::Anyone;
const LATEST: &str = "latest";
const SEARCH: &str = "search";
const DATE: &str = "date";
const COUNT: &str = "count";
const QUERY: &str = "query";
const DAY: &str = "day";

fn sub(name: &str, ko: &str, description: &str, ko_description: &str) -> CreateCommandOption {
    option(
        CommandOptionType::SubCommand,
        name,
        ko,
        description,
        ko_description,
    )
}

fn source_option() -> CreateCommandOption {
    option(
        CommandOptionType::String,
        SOURCE,
        "출처",
        "Only this source",
        "이 출처만",
    )
    .set_autocomplete(true)
    .max_length(64)
}

/// The `/news` command and its subcommands.
pub fn definition() -> CreateCommand {
    command(
        NAME,
        "뉴스",
        "Look up AI news briefs",
        "AI 뉴스 브리핑을 찾아봅니다",
        WHO,
    )
    .add_option(
        sub(LATEST, "최신", "The latest issues", "최신 브리핑")
            .add_sub_option(
                option(
                    CommandOptionType::Integer,
                    COUNT,
                    "개수",
                    "How many issues (1-10, default 1)",
                    "몇 개인지 (1-10, 기본 1)",
                )
                .min_int_value(1)
                .max_int_value(10),
            )
            .add_sub_option(source_option()),
    )
    .add_option(
        sub(
            SEARCH,
            "검색",
            "Search every brief",
            "모든 브리핑에서 찾습니다",
        )
        .add_sub_option(
            option(
                CommandOptionType::String,
                QUERY,
                "검색어",
                "Words to find (Korean or English)",
                "찾을 단어 (한국어 또는 영어)",
            )
            .required(true)
            .min_length(1)
            .max_length(100),
        )
        .add_sub_option(source_option()),
    )
    .add_option(
        sub(
            DATE,
            "날짜",
            "The issues of a day (KST)",
            "그날(한국 시간)의 브리핑",
        )
        .add_sub_option(
            option(
                CommandOptionType::String,
                DAY,
                "날짜",
                "The day, as YYYY-MM-DD",
                "YYYY-MM-DD 형식의 날짜",
            )
            .required(true)
            .max_length(10),
        )
        .add_sub_option(source_option()),
    )
}

/// A lookup, its options checked. `source` is `None` for every source.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum News {
    /// The latest `count` issues, 1 to 10.
    Latest {
        count: i64,
        source: Option<SourceId>,
    },
    /// Briefs matching `query`, 1 to 100 characters, trimmed.
    Search {
        query: String,
        source: Option<SourceId>,
    },
    /// The issues published on a day (KST).
    Date {
        day: NaiveDate,
        source: Option<SourceId>,
    },
}

impl News {
    /// Reads the subcommand and its options; the error says what is accepted.
    pub(super) fn parse(options: Options, sources: &[SourceConfig]) -> Result<Self, Reply> {
        let here = options.here;
        let (sub, given) = options
            .given
            .into_iter()
            .find_map(|o| match o.value {
                ResolvedValue::SubCommand(inner) => Some((o.name, inner)),
                _ => None,
            })
            .unwrap_or_default();
        let options = Options { given, here };
        let source = match options
            .string(SOURCE)
            .map(str::trim)
            .filter(|s| !s.is_empty() && !s.eq_ignore_ascii_case("all"))
        {
            None => None,
            Some(typed) => match sources.iter().find(|s| s.id.as_str() == typed) {
                Some(known) => Some(known.id.clone()),
                None => {
                    let known: Vec<&str> = sources.iter().map(|s| s.id.as_str()).collect();
                    return Err(Reply::private(format!(
                        "There is no source `{}`; choose one of: {}.",
                        escape_markdown(typed),
                        known.join(", ")
                    )));
                }
            },
        };
        match sub {
            LATEST => match options.integer(COUNT) {
                Some(n) if !(1..=10).contains(&n) => Err(Reply::private(format!(
                    "`count` is from 1 to 10; {n} is not."
                ))),
                count => Ok(Self::Latest {
                    count: count.unwrap_or(1),
                    source,
                }),
            },
            SEARCH => {
                let query = options.string(QUERY).unwrap_or("").trim();
                let n = query.chars().count();
                if n == 0 || n > 100 {
                    return Err(Reply::private(format!(
                        "`query` is 1 to 100 characters; this one has {n}."
                    )));
                }
                Ok(Self::Search {
                    query: query.to_owned(),
                    source,
                })
            }
            DATE => {
                let typed = options.string(DAY).unwrap_or("");
                match NaiveDate::parse_from_str(typed.trim(), "%Y-%m-%d") {
                    Ok(day) => Ok(Self::Date { day, source }),
                    Err(_) => Err(Reply::private(format!(
                        "`day` is a date like 2026-08-21 (year-month-day, Korean time); `{}` is not one.",
                        escape_markdown(typed)
                    ))),
                }
            }
            other => Err(Reply::private(format!(
                "Unknown subcommand `{}`.",
                escape_markdown(other)
            ))),
        }
    }

    pub async fn run(self, bot: &Bot, inv: &Invocation) -> Result<Reply, CommandError> {
        match self {
            Self::Latest { count, source } => {
                let issues = bot
                    .store
                    .latest(count, source.as_ref().map(SourceId::as_str))
                    .await?;
                if issues.is_empty() {
                    return Ok(Reply::public(
                        "No issue is stored yet; the first one arrives with the next scrape.",
                    ));
                }
                Ok(issues_reply(bot, String::new(), &issues))
            }
            Self::Date { day, source } => {
                let source = source.as_ref().map(SourceId::as_str);
                let (start, end) = kst_day(day);
                let issues = bot.store.issues_between(start, end, source).await?;
                if issues.is_empty() {
                    let nearest = bot.store.nearest_issue_time(start, source).await?;
                    return Ok(Reply::public(match nearest {
                        Some(t) => format!(
                            "No issue was published on {day} (KST). The nearest day with one is {}: try `/news date day:{}`.",
                            t.with_timezone(&kst()).format("%Y-%m-%d"),
                            t.with_timezone(&kst()).format("%Y-%m-%d")
                        ),
                        None => "No issue is stored yet.".to_owned(),
                    }));
                }
                Ok(issues_reply(
                    bot,
                    format!("Issues of {day} (KST):"),
                    &issues,
                ))
            }
            Self::Search { query, source } => {
                search::first_page(bot, inv.user_id, &query, source.as_ref()).await
            }
        }
    }
}

/// The UTC bounds of a KST calendar day.
pub fn kst_day(day: NaiveDate) -> (DateTime<Utc>, DateTime<Utc>) {
    let start = kst()
        .from_local_datetime(&day.and_hms_opt(0, 0, 0).unwrap_or_default())
        .single()
        .map(|t| t.with_timezone(&Utc))
        .unwrap_or_default();
    (start, start + chrono::Duration::days(1))
}

/// Issues rendered as they are posted: the first message under `text`, the others as
/// follow-ups.
fn issues_reply(bot: &Bot, text: String, issues: &[StoredIssue]) -> Reply {
    let mut messages: Vec<Vec<CreateEmbed>> = Vec::new();
    for issue in issues {
        let name = bot
            .sources
            .iter()
            .find(|s| s.id == issue.source_id)
            .map_or(issue.source_id.as_str(), |s| s.name.as_str());
        for m in render::render_issue(&issue.view(name), &ItemFilter::All, &Default::default()) {
            messages.push(m.embeds.iter().map(crate::discord::embed).collect());
        }
    }
    let mut messages = messages.into_iter();
    Reply {
        text,
        embeds: messages.next().unwrap_or_default(),
        followups: messages.collect(),
        ..Reply::default()
    }
}
