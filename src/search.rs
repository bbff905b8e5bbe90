//! Search terms that work for Korean and English alike, for any full-text engine that splits
//! on spaces (SQLite FTS5's `unicode61` now, PostgreSQL's `simple` text search later).
//!
//! Korean writes particles onto nouns (`중국은`, `엔비디아의`) and most nouns are two syllables,
//! below the three characters a trigram index needs. So, as Lucene's CJK analyzer does, a
//! Hangul run is indexed as its character bigrams — plus its single syllables, so a
//! one-syllable word (`칩`) is found inside longer words too. A run's bigrams are written next
//! to each other, so a query word of two or more syllables becomes the phrase of its bigrams
//! (`반도체` → `"반도 도체"`, which only a text containing `반도체` has), a one-syllable word its
//! unigram; a particle at the end of a query word is dropped first. Latin letters and digits form ordinary words,
//! lowercased (`GPT-4` → `gpt 4`). Every text is NFKC-normalized first, so full-width forms
//! and compatibility characters match their plain forms.

use unicode_normalization::UnicodeNormalization;

/// Particles dropped from the end of a query word (longest first), when at least two
/// syllables remain: `중국은` → `중국`, `반도체가` → `반도체`.
const PARTICLES: &[&str] = &[
    "에서는",
    "으로는",
    "에게서",
    "까지",
    "부터",
    "에서",
    "으로",
    "에게",
    "한테",
    "께서",
    "은",
    "는",
    "이",
    "가",
    "을",
    "를",
    "의",
    "에",
    "로",
    "와",
    "과",
    "도",
    "만",
];

fn is_hangul(c: char) -> bool {
    matches!(c, '\u{AC00}'..='\u{D7A3}' | '\u{1100}'..='\u{11FF}' | '\u{3130}'..='\u{318F}')
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Hangul,
    Word,
}

/// Runs of Hangul, and runs of other letters and digits, of NFKC-lowercased text; everything
/// else separates runs.
fn runs(text: &str) -> Vec<(Kind, String)> {
    let mut out = Vec::new();
    let mut current: Option<(Kind, String)> = None;
    for c in text.nfkc().flat_map(char::to_lowercase) {
        let kind = if is_hangul(c) {
            Some(Kind::Hangul)
        } else if c.is_alphanumeric() {
            Some(Kind::Word)
        } else {
            None
        };
        match (kind, current.as_mut()) {
            (Some(k), Some((ck, run))) if *ck == k => run.push(c),
            (Some(k), _) => {
                out.extend(current.take());
                current = Some((k, c.to_string()));
            }
            (None, _) => out.extend(current.take()),
        }
    }
    out.extend(current);
    out
}

fn bigrams(run: &str) -> impl Iterator<Item = String> + '_ {
    let chars: Vec<char> = run.chars().collect();
    (0..chars.len().saturating_sub(1)).map(move |i| chars[i..i + 2].iter().collect())
}

/// The terms of a text to index, space-separated.
pub fn index_terms(text: &str) -> String {
    let mut terms: Vec<String> = Vec::new();
    for (kind, run) in runs(text) {
        match kind {
            Kind::Word => terms.push(run),
            Kind::Hangul => {
                terms.extend(run.chars().map(String::from));
                terms.extend(bigrams(&run));
            }
        }
    }
    terms.join(" ")
}

/// PostgreSQL keeps at most this position in a `tsvector` (larger ones are set to it).
const MAX_POSITION: usize = 16_383;
/// PostgreSQL refuses a lexeme this long or longer (in bytes); no real word is.
const MAX_LEXEME_BYTES: usize = 2_047;

/// The terms of a text (the same as [`index_terms`]) as a PostgreSQL `tsvector` literal, read
/// with `::tsvector` so PostgreSQL's own parser never splits them. Positions only serve the
/// phrases of a Hangul run's bigrams, so they are kept small: a syllable shares the position of
/// the bigram it starts, a run ends with a gap (the next run's bigrams are not next to it), and a
/// word takes one position. A long lead of 5,000 syllables stays near position 5,000, far below
/// PostgreSQL's last position (16,383); terms past it keep their place in the text's statistics
/// but no longer match as part of a phrase.
///
/// Returns the literal and how many terms the text has (its length, for ranking).
pub fn tsvector(text: &str) -> (String, i64) {
    let mut positions: std::collections::BTreeMap<String, Vec<usize>> = Default::default();
    let mut next = 1;
    let mut count = 0;
    let mut add = |term: String, at: usize| {
        if term.len() < MAX_LEXEME_BYTES {
            positions
                .entry(term)
                .or_default()
                .push(at.min(MAX_POSITION));
            count += 1;
        }
    };
    for (kind, run) in runs(text) {
        match kind {
            Kind::Word => {
                add(run, next);
                next += 1;
            }
            Kind::Hangul => {
                let chars: Vec<char> = run.chars().collect();
                for (i, c) in chars.iter().enumerate() {
                    add(c.to_string(), next + i);
                }
                for (i, bigram) in bigrams(&run).enumerate() {
                    add(bigram, next + i);
                }
                next += chars.len() + 1;
            }
        }
    }
    let literal = positions
        .into_iter()
        .map(|(term, at)| {
            let mut at: Vec<String> = at.iter().map(usize::to_string).collect();
            at.dedup();
            format!("{}:{}", quote_lexeme(&term), at.join(","))
        })
        .collect::<Vec<_>>()
        .join(" ");
    (literal, count)
}

/// Every term a query looks for, each once: what a ranking counts in a document.
pub fn query_terms(query: &str) -> Vec<String> {
    let mut terms: Vec<String> = parse_query(query)
        .iter()
        .flatten()
        .flatten()
        .flat_map(|phrase| phrase.split(' '))
        .map(str::to_owned)
        .collect();
    terms.sort();
    terms.dedup();
    terms
}

/// A lexeme quoted for a `tsvector` or `tsquery` literal.
fn quote_lexeme(term: &str) -> String {
    format!("'{}'", term.replace('\\', "\\\\").replace('\'', "''"))
}

/// A PostgreSQL `tsquery` literal for a query, the same requirements as [`fts5_query`]: every
/// word, any of its alternatives, all of an alternative's phrases, a phrase's bigrams next to
/// each other (`<->`). Every lexeme is quoted, so nothing a user types is query syntax. `None`
/// when there is nothing to search for.
pub fn tsquery(query: &str) -> Option<String> {
    tsquery_joined(query, " <-> ")
}

/// [`tsquery`] without the order of a phrase's bigrams: each must be there, anywhere (`&`).
/// Every document that matches [`tsquery`] matches this, and nearly only those (a text that
/// holds `반도` and `도체` nearly always says `반도체`). A GIN index answers it alone, while a
/// phrase makes PostgreSQL read every match's whole `tsvector` to check the positions.
pub fn tsquery_unordered(query: &str) -> Option<String> {
    tsquery_joined(query, " & ")
}

fn tsquery_joined(query: &str, next_to: &str) -> Option<String> {
    let words = parse_query(query);
    // A term too long to be indexed is in no document: nothing can match.
    if words.is_empty()
        || words
            .iter()
            .flatten()
            .flatten()
            .flat_map(|p| p.split(' '))
            .any(|t| t.len() >= MAX_LEXEME_BYTES)
    {
        return None;
    }
    let phrase = |p: &String| {
        let terms: Vec<String> = p.split(' ').map(quote_lexeme).collect();
        format!("({})", terms.join(next_to))
    };
    let word = |alternatives: &Vec<Vec<String>>| {
        let alts: Vec<String> = alternatives
            .iter()
            .map(|terms| {
                format!(
                    "({})",
                    terms.iter().map(phrase).collect::<Vec<_>>().join(" & ")
                )
            })
            .collect();
        format!("({})", alts.join(" | "))
    };
    Some(words.iter().map(word).collect::<Vec<_>>().join(" & "))
}

/// What a query requires: every word (outer), each satisfied by any of its alternatives
/// (middle), an alternative by all of its phrases (inner): a phrase is one term, or the bigrams
/// of a Hangul run separated by spaces, which must be found next to each other. Empty when the
/// query has nothing to search for (only punctuation, say).
pub type Query = Vec<Vec<Vec<String>>>;

/// The runs of one query word, without a one-syllable Hangul run right after Latin letters or
/// digits: in "오픈AI가" that syllable is a particle.
fn query_word_runs(word: &str) -> Vec<(Kind, String)> {
    let mut word_runs = runs(word);
    if word_runs.len() >= 2
        && let [.., (Kind::Word, _), (Kind::Hangul, last)] = word_runs.as_slice()
        && last.chars().count() == 1
    {
        word_runs.pop();
    }
    word_runs
}

/// Parses a query. A word ending in a particle is searched without it; when that leaves one
/// syllable (`칩을`), the whole word (`회의`, a word of its own) is an alternative too.
pub fn parse_query(query: &str) -> Query {
    let mut words: Query = Vec::new();
    for word in query.split_whitespace() {
        let word_runs = query_word_runs(word);
        let mut alternatives = vec![terms_of(&word_runs)];
        if let Some((Kind::Hangul, last)) = word_runs.last()
            && let Some(stem) = without_particle(last)
        {
            let mut stemmed = word_runs.clone();
            if let Some((_, run)) = stemmed.last_mut() {
                *run = stem.to_owned();
            }
            if stem.chars().count() >= 2 {
                alternatives.clear();
            }
            alternatives.insert(0, terms_of(&stemmed));
        }
        alternatives.retain(|a| !a.is_empty());
        if !alternatives.is_empty() && !words.contains(&alternatives) {
            words.push(alternatives);
        }
    }
    words
}

fn terms_of(word_runs: &[(Kind, String)]) -> Vec<String> {
    let mut terms = Vec::new();
    for (kind, run) in word_runs {
        match kind {
            Kind::Word => terms.push(run.clone()),
            Kind::Hangul if run.chars().count() == 1 => terms.push(run.clone()),
            Kind::Hangul => terms.push(bigrams(run).collect::<Vec<_>>().join(" ")),
        }
    }
    terms.dedup();
    terms
}

/// The run without a particle at its end, if it ends in one and a syllable is left.
fn without_particle(run: &str) -> Option<&str> {
    PARTICLES
        .iter()
        .find_map(|p| run.strip_suffix(p).filter(|stem| !stem.is_empty()))
}

/// An FTS5 query for a parsed query, every phrase quoted, so nothing a user types is query
/// syntax. `None` when there is nothing to search for.
pub fn fts5_query(query: &str) -> Option<String> {
    let words = parse_query(query);
    if words.is_empty() {
        return None;
    }
    let quote = |t: &String| format!("\"{}\"", t.replace('"', "\"\""));
    let word = |alternatives: &Vec<Vec<String>>| {
        let alts: Vec<String> = alternatives
            .iter()
            .map(|terms| {
                format!(
                    "({})",
                    terms.iter().map(quote).collect::<Vec<_>>().join(" AND ")
                )
            })
            .collect();
        format!("({})", alts.join(" OR "))
    };
    Some(words.iter().map(word).collect::<Vec<_>>().join(" AND "))
}

/// Whether indexed `terms` (as [`index_terms`] makes them) satisfy a parsed query: what the
/// FTS5 query does, for tests and tools.
pub fn satisfies(terms: &str, query: &Query) -> bool {
    let index: Vec<&str> = terms.split(' ').collect();
    let found = |phrase: &String| {
        let phrase: Vec<&str> = phrase.split(' ').collect();
        index.windows(phrase.len()).any(|w| w == phrase.as_slice())
    };
    !query.is_empty()
        && query
            .iter()
            .all(|alternatives| alternatives.iter().any(|all| all.iter().all(found)))
}

/// The surface forms a query looks for — words, Hangul stems without particles — lowercased.
fn needles(query: &str) -> Vec<Vec<char>> {
    let mut out: Vec<Vec<char>> = Vec::new();
    for word in query.split_whitespace() {
        let mut word_runs = query_word_runs(word);
        if let Some((Kind::Hangul, last)) = word_runs.last_mut()
            && let Some(stem) = without_particle(last)
        {
            *last = stem.to_owned();
        }
        for (_, run) in word_runs {
            let chars: Vec<char> = run.chars().collect();
            if !chars.is_empty() && !out.contains(&chars) {
                out.push(chars);
            }
        }
    }
    out
}

/// `text`'s characters lowercased one for one, so positions in it are positions in `text`.
fn lowered(text: &str) -> Vec<char> {
    text.chars()
        .map(|c| c.to_lowercase().next().unwrap_or(c))
        .collect()
}

/// Where `needle` occurs in `lower`, without overlaps.
fn occurrences<'a>(lower: &'a [char], needle: &'a [char]) -> impl Iterator<Item = usize> + 'a {
    let n = needle.len();
    let mut i = 0;
    std::iter::from_fn(move || {
        while n > 0 && i + n <= lower.len() {
            if lower[i..i + n] == needle[..] {
                i += n;
                return Some(i - n);
            }
            i += 1;
        }
        None
    })
}

/// The sentences of a text: each ends at `.`, `?`, `!` or `…` followed by a space, or at a line
/// break; trimmed, empty ones left out.
fn sentences(text: &str) -> impl Iterator<Item = &str> {
    let mut rest = text;
    std::iter::from_fn(move || {
        loop {
            if rest.is_empty() {
                return None;
            }
            let mut chars = rest.char_indices().peekable();
            let mut end = rest.len();
            while let Some((i, c)) = chars.next() {
                let next_is_space = chars.peek().is_none_or(|(_, n)| n.is_whitespace());
                if c == '\n' || (matches!(c, '.' | '?' | '!' | '…' | '。') && next_is_space) {
                    end = i + c.len_utf8();
                    break;
                }
            }
            let (sentence, tail) = rest.split_at(end);
            rest = tail;
            let sentence = sentence.trim();
            if !sentence.is_empty() {
                return Some(sentence);
            }
        }
    })
}

/// What a search result shows of a long text (an issue's lead story): its sentence that holds
/// the most of the query's words, the first of those; the first sentence when none holds one
/// (the title matched).
pub fn best_sentence<'a>(text: &'a str, query: &str) -> &'a str {
    let needles = needles(query);
    let mut best: Option<(usize, &str)> = None;
    for sentence in sentences(text) {
        let lower = lowered(sentence);
        let found = needles
            .iter()
            .filter(|n| occurrences(&lower, n).next().is_some())
            .count();
        if best.is_none_or(|(most, _)| found > most) {
            best = Some((found, sentence));
        }
    }
    best.map_or(text.trim(), |(_, sentence)| sentence)
}

/// `text` for display in Discord: markdown escaped, the query's words in **bold**, and at most
/// about `max_chars` characters around the first match (cut with `…`).
pub fn highlight(text: &str, query: &str, max_chars: usize) -> String {
    let chars: Vec<char> = text.chars().collect();
    let lower = lowered(text);
    let mut marked = vec![false; chars.len()];
    for needle in needles(query) {
        for at in occurrences(&lower, &needle) {
            marked[at..at + needle.len()]
                .iter_mut()
                .for_each(|m| *m = true);
        }
    }
    let first = marked.iter().position(|m| *m).unwrap_or(0);
    let (mut start, mut end) = (0, chars.len());
    if chars.len() > max_chars {
        start = first.saturating_sub(max_chars / 3);
        end = (start + max_chars).min(chars.len());
        start = end.saturating_sub(max_chars);
        // Move to word boundaries.
        while start > 0 && !chars[start - 1].is_whitespace() && first - start < max_chars / 2 {
            start -= 1;
        }
        while end < chars.len() && end > 0 && !chars[end - 1].is_whitespace() && end - first > 1 {
            end -= 1;
        }
    }
    let mut out = String::new();
    if start > 0 {
        out.push('…');
    }
    let mut i = start;
    while i < end {
        let bold = marked[i];
        let j = (i..end).find(|&k| marked[k] != bold).unwrap_or(end);
        let segment: String = chars[i..j].iter().collect();
        let escaped = crate::render::escape_markdown(&segment);
        if bold {
            out.push_str("**");
            out.push_str(&escaped);
            out.push_str("**");
        } else {
            out.push_str(&escaped);
        }
        i = j;
    }
    if end < chars.len() {
        out.push('…');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn has_all(text: &str, query: &str) -> bool {
        satisfies(&index_terms(text), &parse_query(query))
    }

    #[test]
    fn korean_words_of_any_length_are_found_inside_longer_words() {
        let text = "엔비디아의 최신 GPU와 칩 제조 장비 수출을 막아왔으며, 중국은 반도체 자립에 나섰습니다.";
        for q in ["칩", "중국", "반도체", "엔비디아", "수출", "자립"] {
            assert!(has_all(text, q), "{q}");
        }
        assert!(!has_all(text, "미국"));
        assert!(!has_all(text, "반도체칩"));
        // The syllables must be next to each other, as typed.
        assert!(!has_all("한반도의 도체 연구", "반도체"));
    }

    #[test]
    fn particles_on_query_words_are_dropped() {
        let text = "중국 정부는 엔비디아 칩 수입을 막았다";
        for q in ["중국은", "엔비디아의", "칩을", "정부가"] {
            assert!(has_all(text, q), "{q}");
        }
        assert_eq!(parse_query("오픈AI가"), [[["오픈", "ai"]]]);
        // A two-syllable word may be a noun of its own: it is an alternative.
        assert_eq!(parse_query("회의"), [[vec!["회"], vec!["회의"]]]);
        assert!(has_all("정상회의가 열렸다", "회의"));
    }

    #[test]
    fn english_is_case_insensitive_and_keeps_model_names() {
        let text = "오픈AI가 ChatGPT에 GPT-4o와 LLM 기능을 넣었다";
        for q in ["chatgpt", "ChatGPT", "gpt-4o", "GPT-4o", "llm", "오픈AI"] {
            assert!(has_all(text, q), "{q}");
        }
        assert!(!has_all(text, "gpt-5"));
    }

    #[test]
    fn several_words_narrow_and_punctuation_alone_is_nothing() {
        assert!(has_all("삼성전자 HBM 공급", "삼성 HBM"));
        assert!(!has_all("삼성전자 가우스", "삼성 HBM"));
        assert!(parse_query("' ; -- !!").is_empty());
        assert_eq!(
            fts5_query("'; DROP TABLE briefs; --").as_deref(),
            Some("((\"drop\")) AND ((\"table\")) AND ((\"briefs\"))")
        );
        assert_eq!(
            fts5_query("중국은 반도체").as_deref(),
            Some("((\"중국\")) AND ((\"반도 도체\"))")
        );
        assert_eq!(fts5_query("..."), None);
    }

    #[test]
    fn matches_are_bold_and_scraped_markdown_is_escaped() {
        assert_eq!(
            highlight("엔비디아의 H100 *칩*", "엔비디아의 칩을", 100),
            "**엔비디아**의 H100 \\***칩**\\*"
        );
        assert_eq!(
            highlight("OpenAI and openai", "OPENAI", 100),
            "**OpenAI** and **openai**"
        );
        let long = format!("{} 반도체 {}", "가".repeat(300), "나".repeat(300));
        let cut = highlight(&long, "반도체", 100);
        assert!(
            cut.contains("**반도체**") && cut.starts_with('…') && cut.ends_with('…'),
            "{cut}"
        );
    }

    #[test]
    fn a_lead_is_shown_by_its_sentence_that_holds_the_most_query_words() {
        let lead = "미국이 중국 수출 제재에 나선 지 1년입니다. 화웨이는 새 스마트폰을 내놨습니다.\n\
                    센스타임과 화웨이는 사우디에 진출합니다. 이어 국내외 주요 뉴스입니다.";
        assert_eq!(
            best_sentence(lead, "화웨이"),
            "화웨이는 새 스마트폰을 내놨습니다."
        );
        assert_eq!(
            best_sentence(lead, "화웨이의 사우디"),
            "센스타임과 화웨이는 사우디에 진출합니다."
        );
        // Only the title matched: the lead's first sentence.
        assert_eq!(
            best_sentence(lead, "엔비디아"),
            "미국이 중국 수출 제재에 나선 지 1년입니다."
        );
        // A decimal point is not the end of a sentence; a line break is.
        assert_eq!(
            best_sentence("GPT-4.5는 빠르다. 가격은 2.5배다", "가격"),
            "가격은 2.5배다"
        );
        assert_eq!(best_sentence("  ", "가격"), "");
    }

    #[test]
    fn full_width_forms_match_plain_ones() {
        assert!(has_all("ＧＰＴ－４ 출시", "gpt-4"));
    }

    #[test]
    fn a_tsvector_keeps_a_runs_bigrams_next_to_each_other_and_runs_apart() {
        let (literal, count) = tsvector("반도체 AI 칩");
        assert_eq!(
            literal,
            "'ai':5 '도':2 '도체':2 '반':1 '반도':1 '체':3 '칩':6"
        );
        assert_eq!(count, 7);
        // Two runs: the last bigram of one (도체, 2) and the first of the next (칩은's 칩은, 5)
        // are not next to each other.
        let (literal, _) = tsvector("반도체 칩은");
        assert!(
            literal.contains("'도체':2") && literal.contains("'칩은':5"),
            "{literal}"
        );
    }

    #[test]
    fn a_tsvector_stays_within_postgres_limits() {
        let long_word = "a".repeat(3_000);
        let (literal, count) = tsvector(&format!("{long_word} 칩"));
        assert_eq!(literal, "'칩':2");
        assert_eq!(count, 1);
        let many: String = (0..20_000).map(|i| format!("w{i} ")).collect();
        let (literal, _) = tsvector(&many);
        assert!(literal.contains("'w19999':16383"), "positions are clamped");
        assert!(!literal.contains(":16384"));
    }

    #[test]
    fn lexemes_are_quoted_so_nothing_is_query_syntax() {
        assert_eq!(quote_lexeme("it's"), "'it''s'");
        assert_eq!(quote_lexeme("a\\b"), "'a\\\\b'");
        assert_eq!(
            tsquery("반도체가 칩").as_deref(),
            Some("((('반도' <-> '도체'))) & ((('칩')))")
        );
        assert_eq!(
            tsquery("' | !x & y:*").as_deref(),
            Some("((('x'))) & ((('y')))")
        );
        assert_eq!(
            tsquery_unordered("반도체가 칩").as_deref(),
            Some("((('반도' & '도체'))) & ((('칩')))")
        );
        assert_eq!(
            tsquery_unordered("칩을 데이터센터").as_deref(),
            Some("((('칩')) | (('칩을'))) & ((('데이' & '이터' & '터센' & '센터')))")
        );
        assert_eq!(tsquery("?!"), None);
        assert_eq!(tsquery(&"a".repeat(3_000)), None);
        assert_eq!(tsquery_unordered(&"a".repeat(3_000)), None);
        assert_eq!(
            query_terms("오픈AI가 반도체"),
            ["ai", "도체", "반도", "오픈"]
        );
    }
}
