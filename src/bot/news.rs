//! `/news latest`, `/news search` and `/news date`: lookups anyone can run. Each is a plain
//! function from validated options to what to show, wrapped by [`handle`].

use chrono::{DateTime, NaiveDate, TimeZone, Utc};
use serenity::all::{
    ButtonStyle, CommandInteraction, CommandOptionType, ComponentInteraction, CreateActionRow,
    CreateButton, CreateCommand, CreateCommandOption, CreateEmbed, CreateInteractionResponse,
    ResolvedValue,
};
use serenity::http::Http;

use super::Bot;
use crate::domain::{DiscordId, IdOutOfRange, kst};
use crate::output::kst_time;
use crate::render::{self, IssueView, ItemFilter, escape_markdown};
use crate::store::search::{Hit, Page};
use crate::store::{StoreError, StoredIssue};

/// Results per page of `/news search`.
pub const PAGE: i64 = 5;
/// How long a search's page buttons keep working.
pub const SESSION_TTL: chrono::Duration = chrono::Duration::hours(24);
/// The prefix of a page button's custom_id: `ns:{session}:{page}`.
const PAGE_BUTTON: &str = "ns";

fn sub(name: &str, ko: &str, description: &str, ko_description: &str) -> CreateCommandOption {
    CreateCommandOption::new(CommandOptionType::SubCommand, name, description)
        .name_localized("ko", ko)
        .description_localized("ko", ko_description)
}

fn source_option() -> CreateCommandOption {
    CreateCommandOption::new(CommandOptionType::String, "source", "Only this source")
        .name_localized("ko", "출처")
        .description_localized("ko", "이 출처만")
        .set_autocomplete(true)
        .max_length(64)
}

/// The `/news` command and its subcommands.
pub fn definition() -> CreateCommand {
    CreateCommand::new("news")
        .name_localized("ko", "뉴스")
        .description("Look up AI news briefs")
        .description_localized("ko", "AI 뉴스 브리핑을 찾아봅니다")
        .add_option(
            sub("latest", "최신", "The latest issues", "최신 브리핑")
                .add_sub_option(
                    CreateCommandOption::new(
                        CommandOptionType::Integer,
                        "count",
                        "How many issues (1-10, default 1)",
                    )
                    .name_localized("ko", "개수")
                    .description_localized("ko", "몇 개인지 (1-10, 기본 1)")
                    .min_int_value(1)
                    .max_int_value(10),
                )
                .add_sub_option(source_option()),
        )
        .add_option(
            sub(
                "search",
                "검색",
                "Search every brief",
                "모든 브리핑에서 찾습니다",
            )
            .add_sub_option(
                CreateCommandOption::new(
                    CommandOptionType::String,
                    "query",
                    "Words to find (Korean or English)",
                )
                .name_localized("ko", "검색어")
                .description_localized("ko", "찾을 단어 (한국어 또는 영어)")
                .required(true)
                .min_length(1)
                .max_length(100),
            )
            .add_sub_option(source_option()),
        )
        .add_option(
            sub(
                "date",
                "날짜",
                "The issues of a day (KST)",
                "그날(한국 시간)의 브리핑",
            )
            .add_sub_option(
                CreateCommandOption::new(
                    CommandOptionType::String,
                    "day",
                    "The day, as YYYY-MM-DD",
                )
                .name_localized("ko", "날짜")
                .description_localized("ko", "YYYY-MM-DD 형식의 날짜")
                .required(true)
                .max_length(10),
            )
            .add_sub_option(source_option()),
        )
}

/// What a lookup shows: a text, and the issues (or a results embed) under it.
#[derive(Debug, Clone, Default)]
pub struct Answer {
    pub text: String,
    pub embeds: Vec<CreateEmbed>,
    /// Further messages (an issue too long for one message, or more issues).
    pub followups: Vec<Vec<CreateEmbed>>,
    /// The ◀ ▶ buttons of a search.
    pub components: Vec<CreateActionRow>,
}

impl Answer {
    fn say(text: impl Into<String>) -> Self {
        Self {
            text: text.into(),
            ..Self::default()
        }
    }
}

/// The subcommand and its options.
#[derive(Debug, Clone, Default)]
pub struct NewsOptions {
    pub sub: String,
    pub count: Option<i64>,
    pub query: Option<String>,
    pub day: Option<String>,
    pub source: Option<String>,
    /// Who asked (only they may turn a search's pages).
    pub user_id: i64,
}

fn parse(cmd: &CommandInteraction) -> Result<NewsOptions, IdOutOfRange> {
    let mut o = NewsOptions {
        user_id: DiscordId::try_from(cmd.user.id)?.get(),
        ..NewsOptions::default()
    };
    for opt in cmd.data.options() {
        if let ResolvedValue::SubCommand(inner) = opt.value {
            o.sub = opt.name.to_owned();
            for i in inner {
                match (i.name, i.value) {
                    ("count", ResolvedValue::Integer(n)) => o.count = Some(n),
                    ("query", ResolvedValue::String(s)) => o.query = Some(s.to_owned()),
                    ("day", ResolvedValue::String(s)) => o.day = Some(s.to_owned()),
                    ("source", ResolvedValue::String(s)) => o.source = Some(s.to_owned()),
                    _ => {}
                }
            }
        }
    }
    Ok(o)
}

/// Answers `/news …`: deferred first (a lookup may take more than a moment), then the answer
/// and any further messages.
pub async fn handle(http: &Http, bot: &Bot, cmd: &CommandInteraction) {
    let options = match parse(cmd) {
        Ok(options) => options,
        Err(e) => {
            // Not before 2084 (see `DiscordId`): left unanswered rather than stored as another id.
            tracing::warn!(error = %e, "/news ignored");
            return;
        }
    };
    let valid = validate(bot, &options);
    let ephemeral = valid.is_err();
    let deferred = if ephemeral {
        cmd.defer_ephemeral(http).await
    } else {
        cmd.defer(http).await
    };
    if let Err(e) = deferred {
        tracing::warn!(error = %e, "could not defer /news");
        return;
    }
    let answer = match valid {
        Err(message) => Answer::say(message),
        Ok(()) => match run(bot, &options).await {
            Ok(answer) => answer,
            Err(e) => {
                tracing::error!(error = %e, "/news failed");
                Answer::say(
                    "Something went wrong on briefbot's side; please try again in a minute. (잠시 후 다시 시도해 주세요.)",
                )
            }
        },
    };
    let edit = super::edit_reply()
        .content(&answer.text)
        .embeds(answer.embeds)
        .components(answer.components);
    if let Err(e) = cmd.edit_response(http, edit).await {
        tracing::warn!(error = %e, "could not answer /news");
        return;
    }
    for embeds in answer.followups {
        let followup = super::followup().embeds(embeds);
        if let Err(e) = cmd.create_followup(http, followup).await {
            tracing::warn!(error = %e, "could not send a /news follow-up");
            return;
        }
    }
}

/// Checks options against what is accepted; the error says what is.
pub fn validate(bot: &Bot, o: &NewsOptions) -> Result<(), String> {
    if let Some(source) = o.source.as_deref().map(str::trim).filter(|s| !s.is_empty())
        && !source.eq_ignore_ascii_case("all")
        && !bot.sources.iter().any(|s| s.id.as_str() == source)
    {
        let known: Vec<&str> = bot.sources.iter().map(|s| s.id.as_str()).collect();
        return Err(format!(
            "There is no source `{}`; choose one of: {}.",
            escape_markdown(source),
            known.join(", ")
        ));
    }
    match o.sub.as_str() {
        "latest" => match o.count {
            Some(n) if !(1..=10).contains(&n) => {
                Err(format!("`count` is from 1 to 10; {n} is not."))
            }
            _ => Ok(()),
        },
        "search" => {
            let q = o.query.as_deref().unwrap_or("").trim();
            let n = q.chars().count();
            if n == 0 || n > 100 {
                Err(format!("`query` is 1 to 100 characters; this one has {n}."))
            } else {
                Ok(())
            }
        }
        "date" => match parse_day(o.day.as_deref().unwrap_or("")) {
            Some(_) => Ok(()),
            None => Err(format!(
                "`day` is a date like 2026-08-21 (year-month-day, Korean time); `{}` is not one.",
                escape_markdown(o.day.as_deref().unwrap_or(""))
            )),
        },
        other => Err(format!("Unknown subcommand `{}`.", escape_markdown(other))),
    }
}

fn parse_day(s: &str) -> Option<NaiveDate> {
    NaiveDate::parse_from_str(s.trim(), "%Y-%m-%d").ok()
}

fn source_filter(o: &NewsOptions) -> Option<&str> {
    o.source
        .as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty() && !s.eq_ignore_ascii_case("all"))
}

/// Runs a validated lookup.
pub async fn run(bot: &Bot, o: &NewsOptions) -> Result<Answer, StoreError> {
    let source = source_filter(o);
    match o.sub.as_str() {
        "latest" => {
            let issues = bot.store.latest(o.count.unwrap_or(1), source).await?;
            if issues.is_empty() {
                return Ok(Answer::say(
                    "No issue is stored yet; the first one arrives with the next scrape.",
                ));
            }
            Ok(issues_answer(bot, String::new(), &issues))
        }
        "date" => {
            let day = parse_day(o.day.as_deref().unwrap_or("")).unwrap_or_default();
            let (start, end) = kst_day(day);
            let issues = bot.store.issues_between(start, end, source).await?;
            if issues.is_empty() {
                let nearest = bot.store.nearest_issue_time(start, source).await?;
                return Ok(Answer::say(match nearest {
                    Some(t) => format!(
                        "No issue was published on {day} (KST). The nearest day with one is {}: try `/news date day:{}`.",
                        t.with_timezone(&kst()).format("%Y-%m-%d"),
                        t.with_timezone(&kst()).format("%Y-%m-%d")
                    ),
                    None => "No issue is stored yet.".to_owned(),
                }));
            }
            Ok(issues_answer(
                bot,
                format!("Issues of {day} (KST):"),
                &issues,
            ))
        }
        "search" => {
            let query = o.query.as_deref().unwrap_or("").trim();
            let Page { hits, total } = bot.store.search_page(query, source, PAGE, 0).await?;
            if total == 0 {
                return Ok(Answer::say(format!(
                    "No brief matches “{}”. Try fewer or shorter words (한 단어씩 검색해 보세요).",
                    escape_markdown(query)
                )));
            }
            bot.store
                .expire_sessions(crate::store::now() - SESSION_TTL)
                .await?;
            let session = bot
                .store
                .create_session(o.user_id, query, source, total)
                .await?;
            Ok(Answer {
                embeds: vec![results_embed(query, &hits, 1, total)],
                components: page_buttons(session, 1, total),
                ..Answer::default()
            })
        }
        _ => Ok(Answer::say("Unknown subcommand.")),
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

fn issues_answer(bot: &Bot, text: String, issues: &[StoredIssue]) -> Answer {
    let mut messages: Vec<Vec<CreateEmbed>> = Vec::new();
    for issue in issues {
        let name = bot
            .sources
            .iter()
            .find(|s| s.id == issue.source_id)
            .map_or(issue.source_id.as_str(), |s| s.name.as_str());
        let view = IssueView {
            title: &issue.title,
            url: issue.url.as_str(),
            source_name: name,
            published_at: issue.published_at,
            lead: &issue.lead,
            briefs: &issue.briefs,
        };
        for m in render::render_issue(&view, &ItemFilter::All, &Default::default()) {
            messages.push(m.embeds.iter().map(crate::discord::embed).collect());
        }
    }
    let mut messages = messages.into_iter();
    Answer {
        text,
        embeds: messages.next().unwrap_or_default(),
        followups: messages.collect(),
        components: Vec::new(),
    }
}

/// One search result as lines of an embed, the matched words in bold: an item's headline, its
/// summary and the issue it belongs to (linked); or an issue's title (linked) and the sentence
/// of its lead story that matched. Nothing else is bold, so the matches stand out.
fn result_lines(query: &str, hit: &Hit) -> String {
    use crate::search::highlight;
    let when = kst_time(hit.published_at.unwrap_or(hit.first_seen_at));
    let excerpt = highlight(hit.excerpt(query), query, 300);
    if hit.is_issue() {
        format!(
            "[{}]({})\n{excerpt}\nlead story · {when}",
            highlight(&hit.issue_title, query, 200),
            hit.issue_url,
        )
    } else {
        format!(
            "■ {}\n{excerpt}\n[{}]({}) · {when}",
            highlight(&hit.headline, query, 200),
            escape_markdown(&render::cut(&hit.issue_title, 100)),
            hit.issue_url,
        )
    }
}

/// One page of search results as an embed.
fn results_embed(query: &str, hits: &[Hit], page: i64, total: i64) -> CreateEmbed {
    let mut description = String::new();
    for hit in hits {
        description.push_str(&result_lines(query, hit));
        description.push_str("\n\n");
    }
    CreateEmbed::new()
        .title(render::cut(
            &format!("Search: {}", escape_markdown(query)),
            render::MAX_TITLE,
        ))
        .description(render::cut(description.trim_end(), render::MAX_DESCRIPTION))
        .footer(serenity::all::CreateEmbedFooter::new(format!(
            "page {page} of {} · {total}{} results",
            pages(total),
            if total >= crate::store::search::MAX_RESULTS {
                "+"
            } else {
                ""
            }
        )))
}

fn pages(total: i64) -> i64 {
    ((total + PAGE - 1) / PAGE).max(1)
}

/// ◀ ▶ for page `page` of a search, or none when everything fits on one page.
fn page_buttons(session: i64, page: i64, total: i64) -> Vec<CreateActionRow> {
    let last = pages(total);
    if last <= 1 {
        return Vec::new();
    }
    let button = |target: i64, label: &str, disabled: bool| {
        CreateButton::new(format!("{PAGE_BUTTON}:{session}:{target}"))
            .label(label)
            .style(ButtonStyle::Secondary)
            .disabled(disabled)
    };
    vec![CreateActionRow::Buttons(vec![
        button(page - 1, "◀", page <= 1),
        button(page + 1, "▶", page >= last),
    ])]
}

/// Parses a page button's custom_id.
fn parse_button(custom_id: &str) -> Option<(i64, i64)> {
    let mut parts = custom_id.split(':');
    (parts.next()? == PAGE_BUTTON).then_some(())?;
    let session = parts.next()?.parse().ok()?;
    let page = parts.next()?.parse().ok()?;
    Some((session, page))
}

/// What pressing a page button does: the page to show instead, or a private note.
pub enum Turn {
    Page {
        embed: Box<CreateEmbed>,
        components: Vec<CreateActionRow>,
        note: Option<String>,
    },
    Note(String),
}

/// Turns a search's page: only for the member who searched, only while the search is kept,
/// saying so kindly when its results changed in the meantime.
pub async fn turn_page(bot: &Bot, custom_id: &str, user_id: i64) -> Result<Turn, StoreError> {
    let expired = "This search has expired; run `/news search` again. (검색이 만료되었습니다. 다시 검색해 주세요.)";
    let Some((id, page)) = parse_button(custom_id) else {
        return Ok(Turn::Note(expired.to_owned()));
    };
    let Some(session) = bot.store.session(id).await? else {
        return Ok(Turn::Note(expired.to_owned()));
    };
    if session.created_at < crate::store::now() - SESSION_TTL {
        return Ok(Turn::Note(expired.to_owned()));
    }
    if session.user_id != user_id {
        return Ok(Turn::Note(
            "Only the member who searched can turn these pages; run `/news search` yourself to browse. (검색한 사람만 넘길 수 있어요.)".to_owned(),
        ));
    }
    let source = session.source_id.as_deref();
    let page = page.max(1);
    let Page { mut hits, total } = bot
        .store
        .search_page(&session.query, source, PAGE, (page - 1) * PAGE)
        .await?;
    let changed = total != session.total;
    if changed {
        bot.store.update_session_total(id, total).await?;
    }
    let note = changed.then(|| {
        "The results changed since this search (new briefs arrived); showing the current ones. (결과가 바뀌었습니다.)".to_owned()
    });
    // Fewer results than when the button was made: the last page there is now.
    let page = page.min(pages(total));
    if hits.is_empty() && total > 0 {
        hits = bot
            .store
            .search(&session.query, source, PAGE, (page - 1) * PAGE)
            .await?;
    }
    Ok(Turn::Page {
        embed: Box::new(results_embed(&session.query, &hits, page, total)),
        components: page_buttons(id, page, total),
        note,
    })
}

/// Answers a page button.
pub async fn handle_button(http: &Http, bot: &Bot, comp: &ComponentInteraction) {
    let Ok(user) = DiscordId::try_from(comp.user.id).map(DiscordId::get) else {
        // No search can be this user's (see `DiscordId`).
        return;
    };
    let response = match turn_page(bot, &comp.data.custom_id, user).await {
        Ok(Turn::Page {
            embed,
            components,
            note,
        }) => CreateInteractionResponse::UpdateMessage(
            super::reply()
                .content(note.unwrap_or_default())
                .embed(*embed)
                .components(components),
        ),
        Ok(Turn::Note(text)) => {
            CreateInteractionResponse::Message(super::reply().content(text).ephemeral(true))
        }
        Err(e) => {
            tracing::error!(error = %e, "turning a search page failed");
            CreateInteractionResponse::Message(
                super::reply()
                    .content(
                        "Something went wrong on briefbot's side; please try again in a minute.",
                    )
                    .ephemeral(true),
            )
        }
    };
    if let Err(e) = comp.create_response(http, response).await {
        tracing::warn!(error = %e, "could not answer a page button");
    }
}
