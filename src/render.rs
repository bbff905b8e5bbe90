//! Pure Discord rendering: an issue becomes one or more messages of embeds that Discord always
//! accepts (README: Slash commands, "How posts behave"). No serenity and no I/O here: the gateway
//! side turns [`Message`] and [`Embed`] into its own builders, sets `allowed_mentions` to none and
//! adds the nonce.
//!
//! What this module guarantees, for any input:
//!
//! - every limit in [`MAX_EMBEDS`], [`MAX_TITLE`], [`MAX_DESCRIPTION`], [`MAX_FOOTER`],
//!   [`MAX_TOTAL`] and [`MAX_CONTENT`] holds, counted conservatively in UTF-16 code units
//!   ([`discord_len`]);
//! - the lead embed comes first, then every brief that passes the filter and is not skipped, in
//!   order, each as its own embed in exactly one message: what does not fit in one message goes
//!   into the next, and a field that is too long is cut ([`cut`]) rather than the item dropped;
//! - scraped text is escaped ([`escape_markdown`]) before it is cut, so it can neither format
//!   nor form mention syntax, and a cut never splits an escape sequence.

use std::collections::HashSet;

use chrono::{DateTime, Utc};
use unicode_normalization::UnicodeNormalization;

use crate::domain::{Brief, Issue};

/// Embeds per message.
pub const MAX_EMBEDS: usize = 10;
/// Characters in an embed title.
pub const MAX_TITLE: usize = 256;
/// Characters in an embed description.
pub const MAX_DESCRIPTION: usize = 4096;
/// Characters in an embed footer.
pub const MAX_FOOTER: usize = 2048;
/// Characters across the titles, descriptions and footers of all embeds of one message.
pub const MAX_TOTAL: usize = 6000;
/// Characters of message content.
pub const MAX_CONTENT: usize = 2000;

/// Marks a cut; counts toward the limit of the field it ends.
const ELLIPSIS: char = '…';
/// Prefix of a brief item's embed title, as on the source page.
const ITEM_MARK: &str = "■ ";
/// Zero-width space: breaks `@everyone`, `@here` and `<@…>` without changing what a reader sees.
const ZWSP: char = '\u{200B}';
/// How far back from the limit a cut may move to land on a sentence or word boundary: the
/// boundary must lie in the last 30% of the allowed length.
const CUT_WINDOW_PERCENT: usize = 30;

/// What [`render_issue`] needs from an issue, borrowed.
#[derive(Debug, Clone, Copy)]
pub struct IssueView<'a> {
    pub title: &'a str,
    pub url: &'a str,
    pub source_name: &'a str,
    pub published_at: Option<DateTime<Utc>>,
    /// Paragraphs separated by `'\n'`.
    pub lead: &'a str,
    pub briefs: &'a [Brief],
}

impl<'a> IssueView<'a> {
    /// A view of a parsed or stored issue, posted under `source_name`.
    pub fn new(issue: &'a Issue, source_name: &'a str) -> Self {
        Self {
            title: &issue.title,
            url: issue.url.as_str(),
            source_name,
            published_at: issue.published_at,
            lead: &issue.lead,
            briefs: &issue.briefs,
        }
    }
}

/// One Discord embed, every field already escaped and within its limit. An empty `description`
/// means none (Discord rejects an empty string there, so leave the field out).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Embed {
    pub title: Option<String>,
    pub url: Option<String>,
    pub description: String,
    pub footer: Option<String>,
    pub timestamp: Option<DateTime<Utc>>,
}

impl Embed {
    /// What this embed counts toward [`MAX_TOTAL`]: title + description + footer.
    pub fn discord_len(&self) -> usize {
        self.title.as_deref().map_or(0, discord_len)
            + discord_len(&self.description)
            + self.footer.as_deref().map_or(0, discord_len)
    }
}

/// One Discord message. `content` is always `None` for now: everything goes in embeds. Stored
/// as JSON when a delivery's parts are frozen.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Message {
    pub content: Option<String>,
    pub embeds: Vec<Embed>,
}

impl Message {
    /// What the message's embeds count toward [`MAX_TOTAL`].
    pub fn embeds_len(&self) -> usize {
        self.embeds.iter().map(Embed::discord_len).sum()
    }
}

/// Which brief items a channel wants.
#[derive(Debug, Clone, Copy)]
pub enum ItemFilter<'a> {
    All,
    /// Items whose headline or summary contains any of these, ignoring case, Unicode
    /// compatibility forms (NFKC: `ＡＩ` matches `AI`) and runs of whitespace. Blank keywords are
    /// ignored; a list with no other keyword is the same as [`ItemFilter::All`].
    Keywords(&'a [String]),
}

/// Renders an issue: `skip` holds indices of briefs to leave out (already posted to that channel).
/// Returns an empty Vec when a keyword filter matches no item (nothing to post).
///
/// With [`ItemFilter::All`] the lead embed is always posted, even when every brief is skipped:
/// the issue itself is new. With keywords, the lead only ever comes with at least one matching,
/// unskipped item; when every match was skipped there is nothing new for the channel.
pub fn render_issue(
    issue: &IssueView<'_>,
    filter: &ItemFilter<'_>,
    skip: &HashSet<usize>,
) -> Vec<Message> {
    let Some(items) = selected_items(issue.briefs, filter, skip) else {
        return Vec::new();
    };
    let embeds = std::iter::once(lead_embed(issue))
        .chain(items.into_iter().map(|i| item_embed(&issue.briefs[i])))
        .collect();
    pack(embeds)
}

/// The indices of the briefs [`render_issue`] posts, in order; `None` when it posts nothing (a
/// keyword filter that no unskipped item matches).
pub fn selected_items(
    briefs: &[Brief],
    filter: &ItemFilter<'_>,
    skip: &HashSet<usize>,
) -> Option<Vec<usize>> {
    let matcher = Matcher::new(filter);
    let items: Vec<usize> = briefs
        .iter()
        .enumerate()
        .filter(|(i, brief)| !skip.contains(i) && matcher.matches(brief))
        .map(|(i, _)| i)
        .collect();
    if matcher.is_selective() && items.is_empty() {
        None
    } else {
        Some(items)
    }
}

/// Escapes Discord markdown so that scraped text shows exactly as written: `\ * _ ~ ` | [ ] ( )
/// <` everywhere; `> # -` and the `.` of `1.` at the start of a line (after any indentation);
/// `@everyone` and `@here` get a zero-width space after the `@`, and so does `<` (after its
/// backslash) when `@` or `#` follows, so `<@123>`, `<@&123>` and `<#123>` are no longer mention
/// syntax even as raw text.
pub fn escape_markdown(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + text.len() / 8);
    let mut line_start = true;
    let mut chars = text.char_indices().peekable();
    while let Some((i, c)) = chars.next() {
        let rest = &text[i + c.len_utf8()..];
        if c == '\n' {
            out.push(c);
            line_start = true;
            continue;
        }
        if line_start && c.is_whitespace() {
            out.push(c);
            continue;
        }
        let at_line_start = std::mem::replace(&mut line_start, false);
        match c {
            '\\' | '*' | '_' | '~' | '`' | '|' | '[' | ']' | '(' | ')' => {
                out.push('\\');
                out.push(c);
            }
            '<' => {
                out.push_str("\\<");
                if rest.starts_with(['@', '#']) {
                    out.push(ZWSP);
                }
            }
            '>' | '#' | '-' if at_line_start => {
                out.push('\\');
                out.push(c);
            }
            '@' => {
                out.push('@');
                if starts_with_mass_mention(rest) {
                    out.push(ZWSP);
                }
            }
            '0'..='9' if at_line_start => {
                // An ordered list item: `12. text`.
                out.push(c);
                while let Some(&(_, d)) = chars.peek() {
                    if !d.is_ascii_digit() {
                        break;
                    }
                    out.push(d);
                    chars.next();
                }
                if chars.next_if(|&(_, d)| d == '.').is_some() {
                    out.push_str("\\.");
                }
            }
            _ => out.push(c),
        }
    }
    out
}

/// Discord's length of `s`, counted conservatively as UTF-16 code units: an emoji outside the
/// Basic Multilingual Plane counts 2.
pub fn discord_len(s: &str) -> usize {
    s.chars().map(char::len_utf16).sum()
}

/// Cuts (already escaped) `text` to at most `max` UTF-16 code units, ellipsis included.
///
/// Text that fits is returned unchanged. Otherwise the cut lands on the last sentence boundary
/// (after `.`, `!`, `?`, `。`, `！`, `？`, closing quotes or brackets allowed, before whitespace;
/// or at a line break) in the last 30% of the allowed length; failing that on the last word
/// boundary (before whitespace) there; failing that on the last character that fits. Trailing
/// whitespace is dropped and `…` appended. A cut never splits a character or a backslash escape
/// (`\*`), so it cannot leave a dangling backslash that would escape the ellipsis.
pub fn cut(text: &str, max: usize) -> String {
    if discord_len(text) <= max {
        return text.to_owned();
    }
    let Some(budget) = max.checked_sub(ELLIPSIS.len_utf16()) else {
        return String::new();
    };
    let window_start = budget - budget * CUT_WINDOW_PERCENT / 100;
    let mut len = 0;
    let mut fits = 0;
    let mut sentence = None;
    let mut word = None;
    let mut after_terminator = false;
    let mut chars = text.char_indices().peekable();
    // Each turn consumes one atom: a character, or a backslash and the character it escapes.
    // `i` is therefore always a safe place to cut, and it fits when we get here.
    while let Some((i, c)) = chars.next() {
        if len >= window_start && c.is_whitespace() {
            if after_terminator || c == '\n' {
                sentence = Some(i);
            }
            word = Some(i);
        }
        let mut atom_len = c.len_utf16();
        let mut end = i + c.len_utf8();
        let mut last = c;
        if c == '\\'
            && let Some((j, escaped)) = chars.next()
        {
            atom_len += escaped.len_utf16();
            end = j + escaped.len_utf8();
            last = escaped;
        }
        if len + atom_len > budget {
            break;
        }
        len += atom_len;
        fits = end;
        after_terminator = match last {
            '.' | '!' | '?' | '。' | '！' | '？' => true,
            '"' | '\'' | '”' | '’' | '」' | '』' | ')' | ']' | '》' | '〉' => {
                after_terminator
            }
            _ => false,
        };
    }
    let at = sentence.or(word).unwrap_or(fits);
    let mut out = text[..at].trim_end().to_owned();
    out.push(ELLIPSIS);
    out
}

/// The lead embed: linked title, lead paragraphs, source name, publish time. The description
/// gets what the title and footer leave of [`MAX_TOTAL`], so the embed alone always fits a
/// message.
fn lead_embed(issue: &IssueView<'_>) -> Embed {
    let mut title = one_line(issue.title);
    if title.is_empty() {
        title = one_line(issue.url);
    }
    let title = cut(&escape_markdown(&title), MAX_TITLE);
    let footer = cut(
        &neutralise_mentions(&one_line(issue.source_name)),
        MAX_FOOTER,
    );
    let room = MAX_TOTAL - discord_len(&title) - discord_len(&footer);
    let description = cut(
        &escape_markdown(&paragraphs(issue.lead, "\n\n")),
        MAX_DESCRIPTION.min(room),
    );
    let url = issue.url.trim();
    Embed {
        title: Some(title).filter(|t| !t.is_empty()),
        url: Some(url.to_owned()).filter(|u| !u.is_empty()),
        description,
        footer: Some(footer).filter(|f| !f.is_empty()),
        timestamp: issue.published_at,
    }
}

/// One brief item: `■ headline` as the title, the summary as the description. At most
/// 256 + 4096 characters, so it always fits a message.
fn item_embed(brief: &Brief) -> Embed {
    let title = format!("{ITEM_MARK}{}", escape_markdown(&one_line(&brief.headline)));
    Embed {
        title: Some(cut(&title, MAX_TITLE)),
        url: None,
        description: cut(
            &escape_markdown(&paragraphs(&brief.summary, "\n")),
            MAX_DESCRIPTION,
        ),
        footer: None,
        timestamp: None,
    }
}

/// Packs embeds into messages in order, starting a new message when the next embed would break
/// [`MAX_EMBEDS`] or [`MAX_TOTAL`]. Every embed fits an empty message on its own.
fn pack(embeds: Vec<Embed>) -> Vec<Message> {
    let mut messages = Vec::new();
    let mut current: Vec<Embed> = Vec::new();
    let mut current_len = 0;
    for embed in embeds {
        let len = embed.discord_len();
        debug_assert!(len <= MAX_TOTAL, "an embed must fit a message on its own");
        if !current.is_empty() && (current.len() == MAX_EMBEDS || current_len + len > MAX_TOTAL) {
            messages.push(Message {
                content: None,
                embeds: std::mem::take(&mut current),
            });
            current_len = 0;
        }
        current_len += len;
        current.push(embed);
    }
    if !current.is_empty() {
        messages.push(Message {
            content: None,
            embeds: current,
        });
    }
    messages
}

/// Decides which briefs a filter lets through; keywords are folded once.
struct Matcher {
    keywords: Vec<String>,
}

impl Matcher {
    fn new(filter: &ItemFilter<'_>) -> Self {
        let keywords = match filter {
            ItemFilter::All => Vec::new(),
            ItemFilter::Keywords(keywords) => keywords
                .iter()
                .map(|k| fold(k))
                .filter(|k| !k.is_empty())
                .collect(),
        };
        Self { keywords }
    }

    /// Whether only some items pass.
    fn is_selective(&self) -> bool {
        !self.keywords.is_empty()
    }

    fn matches(&self, brief: &Brief) -> bool {
        if !self.is_selective() {
            return true;
        }
        let headline = fold(&brief.headline);
        let summary = fold(&brief.summary);
        self.keywords
            .iter()
            .any(|k| headline.contains(k.as_str()) || summary.contains(k.as_str()))
    }
}

/// Text as keyword matching sees it: NFKC, lowercase, whitespace runs as one space, trimmed.
fn fold(s: &str) -> String {
    let lower: String = s.nfkc().flat_map(char::to_lowercase).collect();
    words(&lower).join(" ")
}

fn words(s: &str) -> Vec<&str> {
    s.split_whitespace().collect()
}

/// Control characters other than whitespace dropped, and the invisible ones that can rearrange
/// or hide what is shown: bidirectional embeddings, overrides and isolates (U+202A–U+202E,
/// U+2066–U+2069: a scraped `U+202E` would show the rest of an embed backwards), and zero-width
/// spaces, word joiners and byte-order marks. Joiners inside emoji (U+200D) and the
/// left-to-right and right-to-left marks, which only nudge neutral characters, stay.
fn without_controls(s: &str) -> String {
    s.chars()
        .filter(|c| (!c.is_control() || c.is_whitespace()) && !is_layout_changing(*c))
        .collect()
}

fn is_layout_changing(c: char) -> bool {
    matches!(
        c,
        '\u{202A}'..='\u{202E}'
            | '\u{2066}'..='\u{2069}'
            | '\u{200B}'
            | '\u{2060}'..='\u{2064}'
            | '\u{FEFF}'
            | '\u{180E}'
            | '\u{061C}'
    )
}

/// A single line: whitespace runs (line breaks included) as one space, trimmed.
fn one_line(s: &str) -> String {
    words(&without_controls(s)).join(" ")
}

/// Non-blank lines, each with its whitespace runs as one space, joined by `separator`.
fn paragraphs(s: &str, separator: &str) -> String {
    without_controls(s)
        .lines()
        .map(one_line)
        .filter(|line| !line.is_empty())
        .collect::<Vec<_>>()
        .join(separator)
}

/// For fields Discord shows as plain text (the footer): no markdown to escape, but mention
/// syntax is still broken up, as in [`escape_markdown`].
fn neutralise_mentions(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for (i, c) in text.char_indices() {
        out.push(c);
        let rest = &text[i + c.len_utf8()..];
        let breaks = match c {
            '@' => starts_with_mass_mention(rest),
            '<' => rest.starts_with(['@', '#']),
            _ => false,
        };
        if breaks {
            out.push(ZWSP);
        }
    }
    out
}

/// Whether `rest` (the text after an `@`) makes it `@everyone` or `@here`, in any ASCII case.
fn starts_with_mass_mention(rest: &str) -> bool {
    ["everyone", "here"].iter().any(|word| {
        rest.get(..word.len())
            .is_some_and(|head| head.eq_ignore_ascii_case(word))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    use chrono::TimeZone;
    use proptest::prelude::*;

    fn brief(headline: &str, summary: &str) -> Brief {
        Brief {
            headline: headline.to_owned(),
            summary: summary.to_owned(),
        }
    }

    fn view<'a>(lead: &'a str, briefs: &'a [Brief]) -> IssueView<'a> {
        IssueView {
            title: "[9월11일] 기술 제재 1년…반격에 나선 중국",
            url: "https://www.aitimes.com/news/articleView.html?idxno=153427",
            source_name: "AI타임스 뉴스 브리핑",
            published_at: Some(Utc.with_ymd_and_hms(2023, 9, 10, 22, 0, 0).unwrap()),
            lead,
            briefs,
        }
    }

    fn no_skip() -> HashSet<usize> {
        HashSet::new()
    }

    fn seed_briefs() -> Vec<Brief> {
        vec![
            brief(
                "솔트룩스가 ‘세계 유일’이라고 밝힌 두가지…그 근거는",
                "코스닥 상장 기업인 솔트룩스가 7일 대형언어모델(LLM) ‘루시아GPT’를 공개했습니다.",
            ),
            brief(
                "엔비디아, AI 칩 수출 규제 영향 ‘제한적’",
                "엔비디아가 중국 수출 규제의 영향이 크지 않다고 밝혔습니다.",
            ),
            brief(
                "MS, UAE와 AI 협력 확대",
                "마이크로소프트가 UAE의 G42와 클라우드 협력을 확대합니다.",
            ),
            brief(
                "바이두 ‘어니봇’ 사용자 1억명 돌파",
                "바이두의 챗봇이 출시 한 달 만에 사용자 1억명을 넘었습니다.",
            ),
            brief(
                "구글, 제미나이 공개 임박",
                "구글이 차세대 모델 제미나이를 곧 공개할 예정입니다.",
            ),
            brief(
                "네이버, 하이퍼클로바X 기업용 출시",
                "네이버가 기업용 생성 AI 서비스를 내놓았습니다.",
            ),
            brief(
                "오픈AI, 첫 개발자 행사 연다",
                "오픈AI가 11월 샌프란시스코에서 개발자 행사를 엽니다.",
            ),
            brief(
                "삼성전자, 온디바이스 AI 칩 개발",
                "삼성전자가 스마트폰용 AI 칩을 개발하고 있습니다.",
            ),
        ]
    }

    const SEED_LEAD: &str = "미국이 인공지능(AI) 등 첨단 기술에 대한 중국 수출 제재에 나선 지 이제 1년이 되고 있습니다.\n\
        중국도 그동안 칼을 갈며 반격을 준비해 왔습니다.  \n\
        \n\
        이어 국내외 주요 뉴스입니다.";

    fn titles(messages: &[Message]) -> Vec<String> {
        messages
            .iter()
            .flat_map(|m| &m.embeds)
            .map(|e| e.title.clone().unwrap_or_default())
            .collect()
    }

    fn assert_within_limits(messages: &[Message]) {
        for message in messages {
            assert!(!message.embeds.is_empty());
            assert!(message.embeds.len() <= MAX_EMBEDS);
            assert!(message.embeds_len() <= MAX_TOTAL);
            assert!(message.content.as_deref().map_or(0, discord_len) <= MAX_CONTENT);
            for embed in &message.embeds {
                assert!(embed.title.as_deref().map_or(0, discord_len) <= MAX_TITLE);
                assert!(discord_len(&embed.description) <= MAX_DESCRIPTION);
                assert!(embed.footer.as_deref().map_or(0, discord_len) <= MAX_FOOTER);
            }
        }
    }

    /// Reverses [`escape_markdown`]: drops every backslash escape and every zero-width space.
    fn unescape(s: &str) -> String {
        let mut out = String::with_capacity(s.len());
        let mut chars = s.chars();
        while let Some(c) = chars.next() {
            match c {
                '\\' => out.extend(chars.next()),
                ZWSP => {}
                c => out.push(c),
            }
        }
        out
    }

    fn collapse(s: &str) -> String {
        s.split_whitespace()
            .collect::<Vec<_>>()
            .join(" ")
            .replace(ZWSP, "")
    }

    /// Whether `rendered` (escaped, maybe cut) shows a prefix of `original`, whitespace runs
    /// aside; exactly `original` when it was not cut.
    fn shows_prefix_of(rendered: &str, original: &str) -> bool {
        let original = collapse(original);
        let shown = collapse(&unescape(rendered));
        if shown == original {
            return true;
        }
        match shown.strip_suffix(ELLIPSIS) {
            Some(head) => original.starts_with(collapse(head).as_str()),
            None => false,
        }
    }

    /// Ends in an escape sequence cut in half: an odd run of backslashes before the end.
    fn has_dangling_backslash(s: &str) -> bool {
        let s = s.strip_suffix(ELLIPSIS).unwrap_or(s);
        s.chars().rev().take_while(|&c| c == '\\').count() % 2 == 1
    }

    #[test]
    fn the_seed_like_issue_renders_as_one_message_of_a_lead_and_eight_items() {
        let briefs = seed_briefs();
        let issue = view(SEED_LEAD, &briefs);
        let messages = render_issue(&issue, &ItemFilter::All, &no_skip());

        assert_eq!(messages.len(), 1);
        let message = &messages[0];
        assert_eq!(message.content, None);
        assert_eq!(message.embeds.len(), 9);

        let lead = &message.embeds[0];
        assert_eq!(
            lead.title.as_deref(),
            Some("\\[9월11일\\] 기술 제재 1년…반격에 나선 중국")
        );
        assert_eq!(lead.url.as_deref(), Some(issue.url));
        assert_eq!(lead.footer.as_deref(), Some("AI타임스 뉴스 브리핑"));
        assert_eq!(lead.timestamp, issue.published_at);
        assert_eq!(
            lead.description,
            "미국이 인공지능\\(AI\\) 등 첨단 기술에 대한 중국 수출 제재에 나선 지 이제 1년이 되고 있습니다.\n\n\
             중국도 그동안 칼을 갈며 반격을 준비해 왔습니다.\n\n\
             이어 국내외 주요 뉴스입니다."
        );

        for (embed, brief) in message.embeds[1..].iter().zip(&briefs) {
            assert_eq!(embed.title, Some(format!("■ {}", brief.headline)));
            assert_eq!(embed.url, None);
            assert_eq!(embed.footer, None);
            assert_eq!(embed.timestamp, None);
            assert_eq!(unescape(&embed.description), brief.summary);
        }
        assert_eq!(
            message.embeds[1].description,
            "코스닥 상장 기업인 솔트룩스가 7일 대형언어모델\\(LLM\\) ‘루시아GPT’를 공개했습니다."
        );
        assert_within_limits(&messages);
    }

    #[test]
    fn a_view_of_a_domain_issue_borrows_its_fields() {
        let issue = Issue {
            url: crate::domain::CanonicalUrl::parse("https://example.com/a?utm_source=x").unwrap(),
            title: "제목".to_owned(),
            published_at: None,
            lead: "리드".to_owned(),
            briefs: seed_briefs(),
            text: String::new(),
        };
        let view = IssueView::new(&issue, "예시");
        assert_eq!(view.url, "https://example.com/a");
        assert_eq!(view.briefs.len(), 8);
        assert_eq!(view.source_name, "예시");
    }

    #[test]
    fn keywords_select_matching_items_ignoring_case_and_width() {
        let briefs = seed_briefs();
        let issue = view(SEED_LEAD, &briefs);
        let keywords = vec!["ＡＩ 칩".to_owned(), "openai".to_owned(), "UAE".to_owned()];
        let messages = render_issue(&issue, &ItemFilter::Keywords(&keywords), &no_skip());
        assert_eq!(
            titles(&messages),
            [
                "\\[9월11일\\] 기술 제재 1년…반격에 나선 중국",
                "■ 엔비디아, AI 칩 수출 규제 영향 ‘제한적’",
                "■ MS, UAE와 AI 협력 확대",
                "■ 삼성전자, 온디바이스 AI 칩 개발",
            ]
        );

        let keywords = vec!["루시아gpt".to_owned()];
        let messages = render_issue(&issue, &ItemFilter::Keywords(&keywords), &no_skip());
        assert_eq!(
            titles(&messages)[1..],
            ["■ 솔트룩스가 ‘세계 유일’이라고 밝힌 두가지…그 근거는"],
            "a match in the summary counts"
        );
    }

    #[test]
    fn keywords_that_match_nothing_render_nothing() {
        let briefs = seed_briefs();
        let issue = view(SEED_LEAD, &briefs);
        let keywords = vec!["양자컴퓨터".to_owned(), "quantum".to_owned()];
        assert!(render_issue(&issue, &ItemFilter::Keywords(&keywords), &no_skip()).is_empty());
        // The lead mentions 반격, but keyword subscriptions are about items.
        let keywords = vec!["반격".to_owned()];
        assert!(render_issue(&issue, &ItemFilter::Keywords(&keywords), &no_skip()).is_empty());
    }

    #[test]
    fn blank_keywords_are_ignored_and_none_left_means_all() {
        let briefs = seed_briefs();
        let issue = view(SEED_LEAD, &briefs);
        let blank = vec![String::new(), "  ".to_owned()];
        let messages = render_issue(&issue, &ItemFilter::Keywords(&blank), &no_skip());
        assert_eq!(messages[0].embeds.len(), 9);
    }

    #[test]
    fn skipped_items_are_left_out_and_the_rest_keep_their_order() {
        let briefs = seed_briefs();
        let issue = view(SEED_LEAD, &briefs);
        let skip = HashSet::from([0, 2, 7, 99]);
        let messages = render_issue(&issue, &ItemFilter::All, &skip);
        let expected: Vec<String> = [1, 3, 4, 5, 6]
            .iter()
            .map(|&i| format!("■ {}", briefs[i].headline))
            .collect();
        assert_eq!(titles(&messages)[1..], expected);
    }

    #[test]
    fn with_every_item_skipped_the_lead_alone_is_posted() {
        let briefs = seed_briefs();
        let issue = view(SEED_LEAD, &briefs);
        let skip: HashSet<usize> = (0..briefs.len()).collect();
        let messages = render_issue(&issue, &ItemFilter::All, &skip);
        assert_eq!(messages.len(), 1);
        assert_eq!(messages[0].embeds.len(), 1);
        assert_eq!(messages[0].embeds[0].url.as_deref(), Some(issue.url));

        let no_briefs = view(SEED_LEAD, &[]);
        assert_eq!(
            render_issue(&no_briefs, &ItemFilter::All, &no_skip())[0]
                .embeds
                .len(),
            1
        );
    }

    #[test]
    fn keyword_matches_that_were_all_skipped_render_nothing() {
        let briefs = seed_briefs();
        let issue = view(SEED_LEAD, &briefs);
        let keywords = vec!["UAE".to_owned()];
        let skip = HashSet::from([2]);
        assert!(render_issue(&issue, &ItemFilter::Keywords(&keywords), &skip).is_empty());
    }

    #[test]
    fn a_twenty_item_issue_splits_into_messages_of_at_most_ten_embeds_in_order() {
        let briefs: Vec<Brief> = (0..20)
            .map(|i| brief(&format!("항목 {i}"), &format!("요약 {i}입니다.")))
            .collect();
        let issue = view(SEED_LEAD, &briefs);
        let messages = render_issue(&issue, &ItemFilter::All, &no_skip());
        assert_eq!(
            messages.iter().map(|m| m.embeds.len()).collect::<Vec<_>>(),
            [10, 10, 1]
        );
        let titles = titles(&messages);
        assert_eq!(unescape(&titles[0]), issue.title);
        let expected: Vec<String> = (0..20).map(|i| format!("■ 항목 {i}")).collect();
        assert_eq!(titles[1..], expected);
        assert_within_limits(&messages);
    }

    #[test]
    fn long_items_move_to_the_next_message_when_the_total_would_exceed_six_thousand() {
        let summary = "가나다라마바사아자차. ".repeat(300);
        let briefs: Vec<Brief> = (0..5)
            .map(|i| brief(&format!("긴 항목 {i}"), &summary))
            .collect();
        let issue = view(SEED_LEAD, &briefs);
        let messages = render_issue(&issue, &ItemFilter::All, &no_skip());
        assert_within_limits(&messages);
        assert_eq!(
            messages.len(),
            5,
            "two ~3300-char items never share a message"
        );
        assert_eq!(titles(&messages).len(), 6);
    }

    #[test]
    fn a_ten_thousand_character_lead_is_cut_at_a_sentence_boundary_with_an_ellipsis() {
        let sentence = "미국이 인공지능 등 첨단 기술에 대한 중국 수출 제재에 나선 지 이제 1년이 되고 있습니다. ";
        let lead = sentence.repeat(10_000 / sentence.chars().count() + 1);
        assert!(lead.chars().count() >= 10_000);
        let messages = render_issue(&view(&lead, &[]), &ItemFilter::All, &no_skip());
        assert_within_limits(&messages);
        let description = &messages[0].embeds[0].description;
        let len = discord_len(description);
        assert!(len <= MAX_DESCRIPTION);
        assert!(len >= MAX_DESCRIPTION * 7 / 10, "cut too early: {len}");
        assert!(description.ends_with("있습니다.…"), "{description}");
        assert!(lead.starts_with(description.trim_end_matches(ELLIPSIS)));
    }

    #[test]
    fn a_lead_under_a_long_title_and_footer_still_fits_one_message() {
        let lead = "문장입니다. ".repeat(2_000);
        let title = "제".repeat(1_000);
        let source = "출처".repeat(2_000);
        let issue = IssueView {
            title: &title,
            source_name: &source,
            ..view(&lead, &[])
        };
        let messages = render_issue(&issue, &ItemFilter::All, &no_skip());
        assert_within_limits(&messages);
        let embed = &messages[0].embeds[0];
        assert_eq!(discord_len(embed.title.as_deref().unwrap()), MAX_TITLE);
        assert_eq!(discord_len(embed.footer.as_deref().unwrap()), MAX_FOOTER);
        assert!(embed.description.ends_with("입니다.…"));
    }

    #[test]
    fn five_thousand_character_summaries_are_cut_within_limits() {
        let sentences = "엔비디아가 새 칩을 발표했습니다. ".repeat(5_000 / 18 + 1);
        let words = "엔비디아 칩 ".repeat(5_000 / 7 + 1);
        let unbroken = "가".repeat(5_000);
        let briefs = vec![
            brief("문장", &sentences),
            brief("단어", &words),
            brief("한 덩어리", &unbroken),
        ];
        let messages = render_issue(&view("리드", &briefs), &ItemFilter::All, &no_skip());
        assert_within_limits(&messages);
        let items: Vec<&Embed> = messages.iter().flat_map(|m| &m.embeds).skip(1).collect();
        assert_eq!(items.len(), 3);

        let sentence_cut = &items[0].description;
        assert!(sentence_cut.ends_with("했습니다.…"), "{sentence_cut}");

        let word_cut = &items[1].description;
        assert!(word_cut.ends_with("엔비디아 칩…"), "{word_cut}");
        assert!(discord_len(word_cut) >= MAX_DESCRIPTION - 10);

        let char_cut = &items[2].description;
        assert_eq!(discord_len(char_cut), MAX_DESCRIPTION);
        assert!(char_cut.ends_with("가가…"));
    }

    #[test]
    fn cuts_prefer_sentences_then_words_then_characters_within_the_window() {
        // Sentence end at 8 of a 20-unit budget lies outside the last 30%; the word does not.
        assert_eq!(
            cut("Short one. aaaaa bbbbbbbbbbbbbbbbbb", 20),
            "Short one. aaaaa…"
        );
        assert_eq!(
            cut("aaaaaaaaaaaaa bb. ccccccccccccc", 20),
            "aaaaaaaaaaaaa bb.…"
        );
        // No boundary in the window: the cut falls on the last character that fits.
        assert_eq!(cut("aaaa bbbbbbbbbbbbbbbbbbbbbbbbbbbb", 10), "aaaa bbbb…");
        assert_eq!(
            cut("closing “quote.” then more text", 20),
            "closing “quote.”…"
        );
        assert_eq!(cut("fits", 4), "fits");
        assert_eq!(cut("too long", 1), "…");
        assert_eq!(cut("too long", 0), "");
    }

    #[test]
    fn cuts_never_split_an_escape_or_a_surrogate_pair() {
        let escaped = escape_markdown(&"*".repeat(100));
        for max in 1..60 {
            let cut = cut(&escaped, max);
            assert!(discord_len(&cut) <= max);
            assert!(!has_dangling_backslash(&cut), "{cut}");
        }
        let emoji = "😀".repeat(100);
        for max in 1..60 {
            let cut = cut(&emoji, max);
            assert!(discord_len(&cut) <= max);
            assert_eq!(
                discord_len(&cut) % 2,
                1,
                "only whole emoji plus the ellipsis"
            );
        }
    }

    #[test]
    fn markdown_and_mentions_in_scraped_text_are_escaped() {
        let cases = [
            ("**bold**", "\\*\\*bold\\*\\*"),
            ("__x__", "\\_\\_x\\_\\_"),
            (
                "~~gone~~ `code` ||spoiler||",
                "\\~\\~gone\\~\\~ \\`code\\` \\|\\|spoiler\\|\\|",
            ),
            ("@everyone and @here", "@\u{200B}everyone and @\u{200B}here"),
            ("<@&123>", "\\<\u{200B}@&123>"),
            (
                "<@123> <#456> <t:1:R>",
                "\\<\u{200B}@123> \\<\u{200B}#456> \\<t:1:R>",
            ),
            ("> quote", "\\> quote"),
            ("# heading", "\\# heading"),
            ("- item\n  -# small", "\\- item\n  \\-# small"),
            ("1. first\n10. tenth", "1\\. first\n10\\. tenth"),
            ("[link](http://x)", "\\[link\\]\\(http://x\\)"),
            ("back\\slash", "back\\\\slash"),
            ("a > b # c - d 1. e", "a > b # c - d 1. e"),
            ("AI타임스 2023년", "AI타임스 2023년"),
        ];
        for (raw, escaped) in cases {
            assert_eq!(escape_markdown(raw), escaped, "escaping {raw:?}");
            assert_eq!(unescape(escaped), raw);
        }
    }

    #[test]
    fn bidi_overrides_and_zero_width_spaces_are_dropped_from_every_field() {
        let sneaky =
            "\u{202E}역방향\u{202C} \u{2066}격리\u{2069} 숨\u{200B}김 \u{FEFF}끝 👩\u{200D}💻";
        let briefs = vec![brief(sneaky, sneaky)];
        let issue = IssueView {
            title: sneaky,
            source_name: sneaky,
            ..view(sneaky, &briefs)
        };
        let messages = render_issue(&issue, &ItemFilter::All, &no_skip());
        for embed in messages.iter().flat_map(|m| &m.embeds) {
            for text in [
                embed.title.as_deref().unwrap_or_default(),
                &embed.description,
                embed.footer.as_deref().unwrap_or_default(),
            ] {
                let shown: String = text.chars().filter(|c| *c != ZWSP).collect();
                assert!(
                    !shown.chars().any(is_layout_changing),
                    "{text:?} keeps a layout-changing character"
                );
                if !text.is_empty() {
                    assert!(
                        shown.contains("역방향 격리 숨김 끝 👩\u{200D}💻"),
                        "{text:?}"
                    );
                }
            }
        }
    }

    #[test]
    fn every_field_of_a_rendered_issue_is_escaped() {
        let briefs = vec![brief("**굵게** @everyone", "<@&123> [link](http://x)")];
        let issue = IssueView {
            title: "# heading @here",
            source_name: "<@1> @everyone",
            ..view("> quote\n__x__", &briefs)
        };
        let messages = render_issue(&issue, &ItemFilter::All, &no_skip());
        let lead = &messages[0].embeds[0];
        assert_eq!(lead.title.as_deref(), Some("\\# heading @\u{200B}here"));
        assert_eq!(lead.description, "\\> quote\n\n\\_\\_x\\_\\_");
        assert_eq!(
            lead.footer.as_deref(),
            Some("<\u{200B}@1> @\u{200B}everyone")
        );
        let item = &messages[0].embeds[1];
        assert_eq!(
            item.title.as_deref(),
            Some("■ \\*\\*굵게\\*\\* @\u{200B}everyone")
        );
        assert_eq!(
            item.description,
            "\\<\u{200B}@&123> \\[link\\]\\(http://x\\)"
        );
    }

    // ---- property tests ----

    /// Pieces of scraped text: Hangul, English, emoji (astral, ZWJ sequences, flags), combining
    /// marks, compatibility forms, markdown, mentions, sentence ends and whitespace.
    const PIECES: &[&str] = &[
        "인공지능",
        "엔비디아",
        "칩",
        "발표했습니다",
        "다. ",
        "AI",
        "OpenAI",
        "GPT-4",
        "ＡＩ",
        "ﬁne",
        "e\u{301}",
        " ",
        " ",
        "  ",
        "\t",
        "\n",
        "\n\n",
        "\r\n",
        ". ",
        "! ",
        "? ",
        "…",
        "”",
        "😀",
        "👩‍💻",
        "🇰🇷",
        "**bold**",
        "__x__",
        "~~s~~",
        "`code`",
        "||spoiler||",
        "> quote",
        "# heading",
        "- item",
        "1. first",
        "[link](http://x)",
        "\\",
        "*",
        "_",
        "<",
        ">",
        "<@123>",
        "<@&123>",
        "<#123>",
        "<t:1:R>",
        "@everyone",
        "@here",
        "@EveryOne",
        "@@here",
        "@",
    ];

    /// Units repeated to make long texts.
    const LONG_UNITS: &[&str] = &[
        "가",
        "가나다라마바사. ",
        "AI ",
        "😀",
        "\\*",
        "a",
        "word ",
        "@everyone ",
        "<@&123>",
        "**",
    ];

    const KEYWORDS: &[&str] = &["ai", "엔비디아", "GPT", "ＡＩ", "없는말", "", "@everyone"];

    fn piece() -> impl Strategy<Value = String> {
        prop_oneof![
            40 => prop::sample::select(PIECES).prop_map(str::to_owned),
            1 => (prop::sample::select(LONG_UNITS), 1usize..1_500)
                .prop_map(|(unit, n)| unit.repeat(n)),
        ]
    }

    fn text(max_pieces: usize) -> impl Strategy<Value = String> {
        prop::collection::vec(piece(), 0..max_pieces).prop_map(|pieces| pieces.concat())
    }

    #[derive(Debug, Clone)]
    struct Case {
        title: String,
        source_name: String,
        lead: String,
        briefs: Vec<Brief>,
        keywords: Option<Vec<String>>,
        skip: HashSet<usize>,
    }

    fn case() -> impl Strategy<Value = Case> {
        let briefs = prop::collection::vec(
            (text(12), text(30)).prop_map(|(headline, summary)| Brief { headline, summary }),
            0..=40,
        );
        let keywords = prop::option::of(prop::collection::vec(
            prop::sample::select(KEYWORDS).prop_map(str::to_owned),
            0..3,
        ));
        (
            text(10),
            text(4),
            text(80),
            briefs,
            keywords,
            prop::collection::hash_set(0usize..40, 0..12),
        )
            .prop_map(|(title, source_name, lead, briefs, keywords, skip)| Case {
                title,
                source_name,
                lead,
                briefs,
                keywords,
                skip,
            })
    }

    /// The oracle for [`Matcher`]: NFKC, lowercase, substring; blank keywords ignored.
    fn expected_items(case: &Case) -> Vec<usize> {
        let fold = |s: &str| -> String { s.nfkc().flat_map(char::to_lowercase).collect() };
        let keywords: Vec<String> = case
            .keywords
            .iter()
            .flatten()
            .map(|k| fold(k.trim()))
            .filter(|k| !k.is_empty())
            .collect();
        (0..case.briefs.len())
            .filter(|i| !case.skip.contains(i))
            .filter(|&i| {
                let brief = &case.briefs[i];
                keywords.is_empty()
                    || keywords.iter().any(|k| {
                        fold(&brief.headline).contains(k.as_str())
                            || fold(&brief.summary).contains(k.as_str())
                    })
            })
            .collect()
    }

    fn assert_no_mention_survives(field: &str) {
        let lower = field.to_ascii_lowercase();
        for raw in ["@everyone", "@here", "<@", "<#"] {
            assert!(!lower.contains(raw), "{raw} survives in {field:?}");
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig {
            cases: 256,
            failure_persistence: None,
            ..ProptestConfig::default()
        })]

        #[test]
        fn any_issue_renders_within_limits_without_losing_or_reordering_items(case in case()) {
            let issue = IssueView {
                title: &case.title,
                url: "https://example.com/news/1",
                source_name: &case.source_name,
                published_at: None,
                lead: &case.lead,
                briefs: &case.briefs,
            };
            let filter = match &case.keywords {
                Some(keywords) => ItemFilter::Keywords(keywords),
                None => ItemFilter::All,
            };
            let messages = render_issue(&issue, &filter, &case.skip);
            let expected = expected_items(&case);
            let selective = case
                .keywords
                .iter()
                .flatten()
                .any(|k| !k.trim().is_empty());

            if selective && expected.is_empty() {
                prop_assert!(messages.is_empty());
                return Ok(());
            }
            prop_assert!(!messages.is_empty());
            assert_within_limits(&messages);

            let embeds: Vec<&Embed> = messages.iter().flat_map(|m| &m.embeds).collect();
            let lead = embeds[0];
            prop_assert_eq!(lead.url.as_deref(), Some(issue.url));
            prop_assert!(shows_prefix_of(lead.title.as_deref().unwrap_or(""), &case.title)
                || collapse(&case.title).is_empty());
            prop_assert!(shows_prefix_of(&lead.description, &case.lead));

            // Exactly the expected items, each once, in order, headline (a prefix at least) and
            // summary prefix shown.
            let items = &embeds[1..];
            prop_assert_eq!(items.len(), expected.len());
            for (embed, &i) in items.iter().zip(&expected) {
                let title = embed.title.as_deref().unwrap_or("");
                let headline = title.strip_prefix(ITEM_MARK);
                prop_assert!(headline.is_some(), "title {:?} lacks the mark", title);
                prop_assert!(
                    shows_prefix_of(headline.unwrap_or(""), &case.briefs[i].headline),
                    "item {} title {:?} does not show {:?}", i, title, case.briefs[i].headline
                );
                prop_assert!(shows_prefix_of(&embed.description, &case.briefs[i].summary));
            }

            for embed in &embeds {
                if let Some(footer) = embed.footer.as_deref() {
                    assert_no_mention_survives(footer);
                }
                // Title and description are escaped markdown: no escape may be cut in half.
                for field in [embed.title.as_deref().unwrap_or(""), &embed.description] {
                    assert_no_mention_survives(field);
                    prop_assert!(!has_dangling_backslash(field), "dangling escape in {:?}", field);
                }
            }
        }

        #[test]
        fn cut_text_fits_and_keeps_a_prefix(raw in text(40), max in 0usize..300) {
            let escaped = escape_markdown(&raw);
            let cut = cut(&escaped, max);
            prop_assert!(discord_len(&cut) <= max);
            prop_assert!(!has_dangling_backslash(&cut));
            if discord_len(&escaped) <= max {
                prop_assert_eq!(&cut, &escaped);
            } else if max > 0 {
                prop_assert!(cut.ends_with(ELLIPSIS));
                let head = unescape(cut.strip_suffix(ELLIPSIS).unwrap_or(&cut));
                prop_assert!(raw.replace(ZWSP, "").starts_with(head.as_str()));
            }
        }
    }
}
