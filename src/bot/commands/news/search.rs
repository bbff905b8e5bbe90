//! `/news search`: a page of results with ◀ ▶ buttons. The search is kept in the database as a
//! session (its query, source and total), so the buttons work for the member who searched, for
//! [`SESSION_TTL`], across restarts.

use serenity::all::{
    ButtonStyle, ComponentInteraction, CreateActionRow, CreateButton, CreateEmbed,
    CreateInteractionResponse,
};
use serenity::http::Http;

use crate::bot::Bot;
use crate::bot::commands::{CommandError, Reply, UNEXPECTED, id};
use crate::domain::SourceId;
use crate::output::kst_time;
use crate::render::{self, escape_markdown};
use crate::store::StoreError;
use crate::store::search::{Hit, Page};

/// Results per page of `/news search`.
pub const PAGE: i64 = 5;
/// How long a search's page buttons keep working.
pub const SESSION_TTL: chrono::Duration = chrono::Duration::hours(24);
/// The prefix of a page button's custom_id: `ns:{session}:{page}`.
const PAGE_BUTTON: &str = "ns";

/// Runs a search and shows its first page, with buttons to the others when there are some.
pub(super) async fn first_page(
    bot: &Bot,
    user_id: i64,
    query: &str,
    source: Option<&SourceId>,
) -> Result<Reply, CommandError> {
    let source = source.map(SourceId::as_str);
    let Page { hits, total } = bot.store.search_page(query, source, PAGE, 0).await?;
    if total == 0 {
        return Ok(Reply::public(format!(
            "No brief matches “{}”. Try fewer or shorter words (한 단어씩 검색해 보세요).",
            escape_markdown(query)
        )));
    }
    bot.store
        .expire_sessions(crate::store::now() - SESSION_TTL)
        .await?;
    let session = bot
        .store
        .create_session(user_id, query, source, total)
        .await?;
    Ok(Reply {
        embeds: vec![results_embed(query, &hits, 1, total)],
        components: page_buttons(session, 1, total),
        ..Reply::default()
    })
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
    let Ok(user) = id(comp.user.id) else {
        // No search can be this user's (see `DiscordId`).
        return;
    };
    let response = match turn_page(bot, &comp.data.custom_id, user).await {
        Ok(Turn::Page {
            embed,
            components,
            note,
        }) => CreateInteractionResponse::UpdateMessage(
            crate::bot::reply()
                .content(note.unwrap_or_default())
                .embed(*embed)
                .components(components),
        ),
        Ok(Turn::Note(text)) => {
            CreateInteractionResponse::Message(crate::bot::reply().content(text).ephemeral(true))
        }
        Err(e) => {
            tracing::error!(error = %e, "turning a search page failed");
            CreateInteractionResponse::Message(
                crate::bot::reply().content(UNEXPECTED).ephemeral(true),
            )
        }
    };
    if let Err(e) = comp.create_response(http, response).await {
        tracing::warn!(error = %e, "could not answer a page button");
    }
}
