//! What a story is about — *who* and *how much* — so that two items written on one template
//! ("X, 3분기 영업이익 N조원 돌파") are told apart and a rewording of one item is not.
//!
//! A [`Story`] holds, from an item's headline and summary:
//! - its **subject**: a Korean headline's first phrase (`주어, 서술`: what stands before the
//!   comma, or else the first word), its particle dropped (`삼성전자가` → `삼성전자`), a few
//!   common short forms made one (`과학기술정보통신부` and `과기정통부`, `오픈AI` and `OpenAI`);
//! - its **named things**: Latin-letter names, acronyms and model names of the headline
//!   (`GPT-5`, `AMD`, `KT`, `HBM3E`, `Command R`, `시리즈C`), generic words (`AI`, `LLM`) left
//!   out, and the people it names as appointed (`대표에 최동현 선임`);
//! - its **numbers** with their units, read as values (`10조원`, `10조 원` and `10,000,000,000,000원`
//!   are one amount; `3분기` and `Q3` one quarter; `$40B` and `$40 billion` one sum);
//! - its **terms**: the search module's Hangul syllable pairs and words, of the whole item and
//!   of its headline alone.
//!
//! [`compare`] says two items tell another story when either's subject is missing from the
//! other's text, when each headline names a thing the other item never mentions, or when a kind
//! of number both give shares no value (amounts of money rounded by 2 %, and compared across
//! currencies at any rate of recent years). Otherwise they tell the same story when enough of
//! their terms, or of their headlines' terms, overlap — less when a number or a name (a quoted
//! product name too) is in both. Each answer has a reason an operator can read. When in doubt
//! the answer is "another story": a duplicate shown twice costs a reader a second, a story never
//! shown costs them the news. The thresholds are held to the labelled pairs of
//! `tests/fixtures/dedup/` (`tests/it/dedup.rs`; BENCHMARKS.md, "Same story or another").

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::fmt;
use std::sync::LazyLock;

use super::nfkc;

/// Two items of compatible subject, names and numbers are the same story from this Jaccard
/// similarity of their terms up…
pub const TERMS_JACCARD: f64 = 0.34;
/// …or when this share of the shorter item's terms is in the longer one (a summary cut or
/// extended)…
pub const TERMS_CONTAINMENT: f64 = 0.7;
/// …provided the shorter has at least this many terms (a short headline inside a long story is
/// not a rewording of it)…
pub const MIN_CONTAINED_TERMS: usize = 8;
/// …or when their headlines alone share this Jaccard similarity of terms (another outlet
/// retells the news in a summary of its own, but its headline stays close).
pub const HEADLINE_JACCARD: f64 = 0.5;
/// With a number or a name both give, these are enough.
pub const TERMS_JACCARD_WITH_EVIDENCE: f64 = 0.25;
pub const HEADLINE_JACCARD_WITH_EVIDENCE: f64 = 0.35;

/// Particles dropped from the end of a subject's last word when at least two syllables remain
/// (longest first).
const PARTICLES: &[&str] = &[
    "에서는",
    "으로는",
    "에서도",
    "까지",
    "부터",
    "에서",
    "으로",
    "에게",
    "께서",
    "이",
    "가",
    "은",
    "는",
    "을",
    "를",
    "의",
    "에",
    "와",
    "과",
    "도",
    "로",
    "만",
];

/// Short forms written interchangeably with a long one: each word is read as the first of its
/// row (and a Hangul word that begins with one keeps its particle: `과학기술정보통신부는`).
const ALIASES: &[&[&str]] = &[
    &["과기정통부", "과학기술정보통신부", "과기부"],
    &["산업부", "산업통상자원부", "산자부"],
    &["중기부", "중소벤처기업부"],
    &["행안부", "행정안전부"],
    &["문체부", "문화체육관광부"],
    &["방통위", "방송통신위원회"],
    &["개인정보위", "개인정보보호위원회"],
    &["국토부", "국토교통부"],
    &["기재부", "기획재정부"],
    &["교육부"],
    &["서울시", "서울특별시"],
    &["부산시", "부산광역시"],
    &["openai", "오픈ai"],
    &["구글", "google"],
    &["엔비디아", "nvidia"],
    &["앤트로픽", "anthropic"],
    &["마이크로소프트", "microsoft", "ms"],
    &["메타", "meta"],
    &["애플", "apple"],
    &["아마존", "amazon"],
    &["삼성전자", "samsung"],
    &["네이버", "naver"],
    &["카카오", "kakao"],
    &["테슬라", "tesla"],
    &["인텔", "intel"],
    &["퀄컴", "qualcomm"],
    &["딥시크", "deepseek"],
    &["알리바바", "alibaba"],
    &["바이두", "baidu"],
    &["화웨이", "huawei"],
    &["오라클", "oracle"],
    &["xai", "x.ai"],
    &["skt", "sk텔레콤"],
    &["chatgpt", "챗gpt"],
    &["고용부", "고용노동부", "노동부"],
    &["kisa", "한국인터넷진흥원"],
    &["nia", "한국지능정보사회진흥원"],
    &["lgu", "lg유플러스"],
];

/// Latin words that name no one: too common in AI news to tell stories apart.
const GENERIC: &[&str] = &[
    "ai", "agi", "llm", "llms", "slm", "gpu", "gpus", "cpu", "npu", "api", "sw", "hw", "it", "vp",
    "ax", "dx", "ux", "ui", "pc", "tv", "vr", "ar", "xr", "ml", "rag", "mou", "r&d", "rnd", "esg",
    "ipo", "m&a", "b2b", "b2c", "saas", "os", "app", "apps", "sdk", "iot", "5g", "6g", "us", "uk",
    "eu", "usa", "un", "cctv", "q&a", "faq", "pdf", "ai가", "the", "a", "an", "of", "to", "in",
    "on", "for", "and", "with", "its", "at", "by", "as", "new", "s",
];

/// Units a number is read with (longest first within a shared beginning). Each maps to the
/// unit it is compared in.
const UNITS: &[(&str, &str)] = &[
    ("퍼센트", "%"),
    ("%", "%"),
    ("percent", "%"),
    ("달러", "usd"),
    ("원", "krw"),
    ("유로", "eur"),
    ("위안", "cny"),
    ("엔", "jpy"),
    ("파운드", "gbp"),
    ("분기", "quarter"),
    ("개국", "countries"),
    ("개사", "companies"),
    ("개월", "months"),
    ("주년", "anniversary"),
    ("년", "year"),
    ("월", "month"),
    ("일", "day"),
    ("세대", "generation"),
    ("시간", "hours"),
    ("나노", "nm"),
    ("nm", "nm"),
    ("명", "people"),
    ("개", "items"),
    ("곳", "places"),
    ("건", "cases"),
    ("배", "times"),
    ("위", "rank"),
    ("차", "round"),
    ("회", "times-held"),
    ("대", "units"),
    ("종", "kinds"),
];

/// What a story is about, as [`compare`] reads it.
#[derive(Debug, Clone, Default)]
pub struct Story {
    /// The subject's words, normalized (empty when the headline has no subject to read).
    subject: Vec<String>,
    /// The subject as written, for reasons.
    subject_shown: String,
    /// Named things of the headline, normalized.
    names: BTreeSet<String>,
    /// Short quoted phrases of the headline: evidence when both give one, never a
    /// contradiction (a quote may be somebody's words, which outlets render differently).
    quoted: Vec<String>,
    /// Every word of headline and summary, normalized, in order.
    words: Vec<String>,
    /// Every number of headline and summary, by unit.
    numbers: BTreeMap<String, Vec<Quantity>>,
    /// The numbers of the headline, by unit.
    headline_numbers: BTreeMap<String, Vec<Quantity>>,
    /// Terms (hashed, sorted, each once): Hangul syllable pairs and words.
    terms: Vec<u32>,
    /// The headline's terms (a subset of `terms`: the headline's words are the first words).
    headline_terms: Vec<u32>,
}

/// A number as read, and as written (for reasons).
#[derive(Debug, Clone)]
struct Quantity {
    value: f64,
    shown: String,
}

/// Two amounts this close are one amount rounded (`70조` and `69조7000억원`, `14조` and
/// `13조8100억`); template twins differ by more (`986억` and `896억` by 9 %).
const ROUNDING: f64 = 0.02;

/// The units that are money: two items that both give an amount, in currencies neither shares,
/// give other amounts.
const MONEY: &[&str] = &["krw", "usd", "eur", "cny", "jpy", "gbp"];

/// What one unit of each currency is worth in won, at least and at most (the rates of recent
/// years, widened): an amount converted by an outlet (`150억달러` and `21조`) falls inside, while
/// template twins' amounts differ by more.
const IN_WON: &[(&str, f64, f64)] = &[
    ("krw", 1.0, 1.0),
    ("usd", 1_100.0, 1_600.0),
    ("eur", 1_200.0, 1_800.0),
    ("gbp", 1_400.0, 2_000.0),
    ("cny", 150.0, 230.0),
    ("jpy", 8.0, 12.0),
];

impl Quantity {
    /// The same number: exactly, or, for amounts of money, as rounded (see [`ROUNDING`]).
    fn equals(&self, other: &Quantity, unit: &str) -> bool {
        let scale = self.value.abs().max(other.value.abs()).max(1e-9);
        let tolerance = if MONEY.contains(&unit) {
            ROUNDING
        } else {
            1e-9
        };
        (self.value - other.value).abs() / scale <= tolerance
    }
}

/// Whether two amounts in any currencies can be one amount (see [`IN_WON`]).
fn same_money(a: &Quantity, a_unit: &str, b: &Quantity, b_unit: &str) -> bool {
    let won = |q: &Quantity, unit: &str| {
        IN_WON
            .iter()
            .find(|(u, _, _)| *u == unit)
            .map(|(_, low, high)| (q.value * low, q.value * high))
    };
    match (won(a, a_unit), won(b, b_unit)) {
        (Some((a_low, a_high)), Some((b_low, b_high))) => {
            a_low <= b_high * (1.0 + ROUNDING) && b_low <= a_high * (1.0 + ROUNDING)
        }
        _ => false,
    }
}

/// Whether two items tell the same story, and why (a sentence for an operator).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    Same(String),
    /// Another subject, other named things or other numbers: another story, however alike.
    Contradicts(String),
    /// Nothing contradicts, but too little of the text is shared.
    Unlike(String),
}

impl Verdict {
    pub fn is_same(&self) -> bool {
        matches!(self, Verdict::Same(_))
    }

    pub fn reason(&self) -> &str {
        match self {
            Verdict::Same(r) | Verdict::Contradicts(r) | Verdict::Unlike(r) => r,
        }
    }
}

impl fmt::Display for Verdict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.reason())
    }
}

impl Story {
    /// The story of a brief item (or of an issue's lead: its title and lead text).
    pub fn of(headline: &str, summary: &str) -> Self {
        // Normalized once here: everything below reads NFKC text (a stored item is read again
        // for every check it is a candidate of, so its cost counts).
        let headline = nfkc(strip_tag(headline));
        let summary = nfkc(summary);
        let headline = headline.as_ref();
        let summary = summary.as_ref();
        let (subject, subject_shown) = subject(headline);
        let headline_words = words_of(headline);
        let mut words = headline_words.clone();
        words.extend(words_of(summary));
        let mut numbers = BTreeMap::new();
        let mut headline_numbers = BTreeMap::new();
        for (unit, q) in quantities(headline) {
            headline_numbers
                .entry(unit.clone())
                .or_insert_with(Vec::new)
                .push(q.clone());
            numbers.entry(unit).or_insert_with(Vec::new).push(q);
        }
        for (unit, q) in quantities(summary) {
            numbers.entry(unit).or_insert_with(Vec::new).push(q);
        }
        Self {
            subject,
            subject_shown,
            names: names(headline, &headline_words),
            quoted: quoted(headline),
            terms: terms(&words),
            headline_terms: terms(&headline_words),
            words,
            numbers,
            headline_numbers,
        }
    }

    /// Whether an item with this headline and summary could tell the same story at all: enough
    /// of its terms, or of its headline's, are shared for the lowest bar [`compare`] has. Costs
    /// half of [`Story::of`], so candidates with little in common are passed over before the
    /// rest of their story (names, numbers, places) is read.
    pub fn may_share_story(&self, headline: &str, summary: &str) -> bool {
        let headline = nfkc(strip_tag(headline));
        let summary = nfkc(summary);
        let headline_words = words_of(&headline);
        let mut words = headline_words.clone();
        words.extend(words_of(&summary));
        self.may_share(&terms(&words), &terms(&headline_words))
    }

    /// [`Story::may_share_story`] against an item's stored [`Story::terms_print`], without
    /// reading its text: `None` when the print is not one this build wrote (then the text is
    /// read).
    pub fn may_share_print(&self, print: &[u8]) -> Option<bool> {
        let (terms, headline_terms) = read_print(print)?;
        Some(self.may_share(&terms, &headline_terms))
    }

    fn may_share(&self, other: &[u32], other_headline: &[u32]) -> bool {
        let (jaccard, containment) = resemblance(&self.terms, other);
        let (headlines, _) = resemblance(&self.headline_terms, other_headline);
        let shorter = self.terms.len().min(other.len());
        jaccard >= TERMS_JACCARD_WITH_EVIDENCE
            || headlines >= HEADLINE_JACCARD_WITH_EVIDENCE
            || (containment >= TERMS_CONTAINMENT && shorter >= MIN_CONTAINED_TERMS)
    }

    /// Its terms as stored with the item, for [`Story::may_share_print`]: a format byte, the
    /// number of terms (u16, little-endian), each term (u32, little-endian, in order), then a
    /// bit for each term (in order, least significant bit first) set when its headline has it.
    /// Empty when there are too many terms to count in a u16 (the item's text is read instead).
    pub fn terms_print(&self) -> Vec<u8> {
        let Ok(count) = u16::try_from(self.terms.len()) else {
            return Vec::new();
        };
        let mut out = Vec::with_capacity(3 + self.terms.len() * 4 + self.terms.len().div_ceil(8));
        out.push(PRINT_FORMAT);
        out.extend(count.to_le_bytes());
        for term in &self.terms {
            out.extend(term.to_le_bytes());
        }
        let mut bits = vec![0u8; self.terms.len().div_ceil(8)];
        for (i, term) in self.terms.iter().enumerate() {
            if self.headline_terms.binary_search(term).is_ok() {
                bits[i / 8] |= 1 << (i % 8);
            }
        }
        out.extend(bits);
        out
    }

    /// The key under which stories of one subject are found again: its words joined, or empty
    /// when it has none.
    pub fn subject_key(&self) -> String {
        self.subject.concat()
    }

    /// Whether `words` (of the other item) mention this item's subject: its words in a row, a
    /// Hangul word allowed to carry a particle (`삼성전자가`).
    fn subject_in(&self, words: &[String]) -> bool {
        self.subject.is_empty() || contains_words(words, &self.subject)
    }

    /// Whether this item's subject is the other's, said with more words: Korean puts the name
    /// last (`틱톡 모회사 바이트댄스`, `AI 칩 스타트업 삼바노바`, `中 센스타임`), so the last word
    /// that names someone is the other's whole subject.
    fn subject_is_named(&self, other: &Story) -> bool {
        let head = self
            .subject
            .iter()
            .rev()
            .find(|w| !GENERIC.contains(&w.as_str()) && w.chars().count() >= 2);
        self.subject.len() > 1 && head.is_some_and(|h| *h == other.subject.concat())
    }
}

/// Whether `a` and `b` tell the same story (see the module docs).
pub fn compare(a: &Story, b: &Story) -> Verdict {
    let subjects_agree = (a.subject_in(&b.words) && b.subject_in(&a.words))
        || a.subject_is_named(b)
        || b.subject_is_named(a);
    if !subjects_agree {
        return Verdict::Contradicts(format!(
            "another subject ('{}' / '{}')",
            a.subject_shown, b.subject_shown
        ));
    }
    let a_only: Vec<&String> = a.names.iter().filter(|n| !mentions(&b.words, n)).collect();
    let b_only: Vec<&String> = b.names.iter().filter(|n| !mentions(&a.words, n)).collect();
    if !a_only.is_empty() && !b_only.is_empty() {
        return Verdict::Contradicts(format!(
            "other names ({} / {})",
            joined(&a_only),
            joined(&b_only)
        ));
    }
    if let Some(why) = numbers_disagree(a, b) {
        return Verdict::Contradicts(why);
    }
    let (jaccard, containment) = resemblance(&a.terms, &b.terms);
    let (headlines, _) = resemblance(&a.headline_terms, &b.headline_terms);
    let shorter = a.terms.len().min(b.terms.len());
    let agreed = agreed_numbers(a, b);
    let named = shared_names(a, b);
    let mut because = Vec::new();
    if !a.subject.is_empty() && !b.subject.is_empty() {
        because.push(format!("same subject '{}'", a.subject_shown));
    }
    if !agreed.is_empty() {
        because.push(format!("numbers agree ({})", agreed.join(", ")));
    }
    if !named.is_empty() {
        because.push(format!("both name {}", named.join(", ")));
    }
    because.push(format!(
        "{:.0}% of terms shared, {:.0}% of the headlines'",
        100.0 * jaccard,
        100.0 * headlines
    ));
    let because = because.join(", ");
    // A number or a name both give is evidence of one story: less of the wording need agree.
    let evidence = !agreed.is_empty() || !named.is_empty();
    let (terms_needed, headline_needed) = if evidence {
        (TERMS_JACCARD_WITH_EVIDENCE, HEADLINE_JACCARD_WITH_EVIDENCE)
    } else {
        (TERMS_JACCARD, HEADLINE_JACCARD)
    };
    if jaccard >= terms_needed
        || headlines >= headline_needed
        || (containment >= TERMS_CONTAINMENT && shorter >= MIN_CONTAINED_TERMS)
    {
        Verdict::Same(because)
    } else {
        Verdict::Unlike(format!("too little in common ({because})"))
    }
}

/// The named things of one headline that the other item mentions too.
fn shared_names(a: &Story, b: &Story) -> Vec<String> {
    let mut out: Vec<String> = a
        .names
        .iter()
        .chain(&a.quoted)
        .filter(|n| mentions(&b.words, n))
        .chain(
            b.names
                .iter()
                .chain(&b.quoted)
                .filter(|n| mentions(&a.words, n)),
        )
        .cloned()
        .collect();
    out.sort();
    out.dedup();
    out
}

fn joined(names: &[&String]) -> String {
    names
        .iter()
        .map(|n| n.as_str())
        .collect::<Vec<_>>()
        .join(", ")
}

/// A kind of number both items give with no value in common, in the headlines or anywhere.
fn numbers_disagree<'a>(a: &'a Story, b: &'a Story) -> Option<String> {
    for (mine, theirs) in [
        (&a.headline_numbers, &b.headline_numbers),
        (&a.numbers, &b.numbers),
    ] {
        for (unit, values) in mine {
            let Some(other) = theirs.get(unit) else {
                continue;
            };
            if !values
                .iter()
                .any(|v| other.iter().any(|o| v.equals(o, unit)))
            {
                return Some(format!(
                    "other numbers ({} / {})",
                    shown(values),
                    shown(other)
                ));
            }
        }
        let money = |m: &'a BTreeMap<String, Vec<Quantity>>| -> Vec<(&'a str, &'a Quantity)> {
            m.iter()
                .filter(|(u, _)| MONEY.contains(&u.as_str()))
                .flat_map(|(u, v)| v.iter().map(move |q| (u.as_str(), q)))
                .collect()
        };
        let (mine_money, their_money) = (money(mine), money(theirs));
        let one_amount = mine_money
            .iter()
            .any(|(u, q)| their_money.iter().any(|(v, o)| same_money(q, u, o, v)));
        if !mine_money.is_empty() && !their_money.is_empty() && !one_amount {
            let list = |m: &[(&str, &Quantity)]| {
                m.iter()
                    .map(|(_, q)| q.shown.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            };
            return Some(format!(
                "other amounts ({} / {})",
                list(&mine_money),
                list(&their_money)
            ));
        }
    }
    None
}

fn shown(values: &[Quantity]) -> String {
    values
        .iter()
        .map(|q| q.shown.as_str())
        .collect::<Vec<_>>()
        .join(", ")
}

/// The numbers of either headline that the other item gives too.
fn agreed_numbers(a: &Story, b: &Story) -> Vec<String> {
    let mut agreed = Vec::new();
    for (mine, theirs) in [(a, b), (b, a)] {
        for (unit, values) in &mine.headline_numbers {
            let Some(other) = theirs.numbers.get(unit) else {
                continue;
            };
            for v in values {
                if other.iter().any(|o| v.equals(o, unit)) && !agreed.contains(&v.shown) {
                    agreed.push(v.shown.clone());
                }
            }
        }
    }
    agreed
}

/// Jaccard similarity and containment (of the smaller in the larger) of two sorted term sets.
fn resemblance(a: &[u32], b: &[u32]) -> (f64, f64) {
    if a.is_empty() || b.is_empty() {
        return (0.0, 0.0);
    }
    let (mut i, mut j, mut common) = (0, 0, 0usize);
    while i < a.len() && j < b.len() {
        match a[i].cmp(&b[j]) {
            std::cmp::Ordering::Less => i += 1,
            std::cmp::Ordering::Greater => j += 1,
            std::cmp::Ordering::Equal => {
                common += 1;
                i += 1;
                j += 1;
            }
        }
    }
    let common = common as f64;
    let union = (a.len() + b.len()) as f64 - common;
    (common / union, common / a.len().min(b.len()) as f64)
}

/// A text's characters lowercased; ASCII and Hangul (most of every item) without Unicode's
/// tables, which the comparison of each candidate would otherwise spend most of its time in.
fn lowered(text: &str) -> Vec<char> {
    let mut out = Vec::with_capacity(text.len());
    for c in text.chars() {
        if c.is_ascii() {
            out.push(c.to_ascii_lowercase());
        } else if is_hangul(c) {
            out.push(c);
        } else {
            out.extend(c.to_lowercase());
        }
    }
    out
}

/// Whether a character is a letter or digit, ASCII and Hangul answered first.
fn is_word_char(c: char) -> bool {
    if c.is_ascii() {
        c.is_ascii_alphanumeric()
    } else {
        is_hangul(c) || c.is_alphanumeric()
    }
}

/// A headline without a leading bracketed tag (`[단독]`, `[12월3일]`, `[게시판]`).
fn strip_tag(headline: &str) -> &str {
    let trimmed = headline.trim_start_matches(['■', ' ']).trim();
    if let Some(rest) = trimmed.strip_prefix('[')
        && let Some(end) = rest.find(']')
    {
        return rest[end + 1..].trim();
    }
    trimmed
}

fn is_hangul(c: char) -> bool {
    matches!(c, '\u{AC00}'..='\u{D7A3}' | '\u{1100}'..='\u{11FF}' | '\u{3130}'..='\u{318F}')
}

/// Whether a character joins the Latin word it stands in (`gpt-4.1`, `x.ai`): between letters
/// or digits only.
fn joins(c: char) -> bool {
    matches!(c, '-' | '.' | '&' | '+')
}

/// The words of a text (NFKC already, see [`nfkc`]): lowercased, split where Hangul meets other letters (`SK하이닉스`
/// → `sk`, `하이닉스`) and at anything that is neither letter nor digit (a `-`, `.`, `&` or `+`
/// between two letters or digits stays: `gpt-4.1`), a few short forms made one.
fn words_of(text: &str) -> Vec<String> {
    let chars = lowered(text);
    let mut words = Vec::new();
    let mut current = String::new();
    let mut hangul = false;
    for (i, &c) in chars.iter().enumerate() {
        let inner_join = joins(c)
            && !current.is_empty()
            && !hangul
            && chars
                .get(i + 1)
                .is_some_and(|n| is_word_char(*n) && !is_hangul(*n));
        if inner_join {
            current.push(c);
            continue;
        }
        if is_word_char(c) {
            let h = is_hangul(c);
            if !current.is_empty() && h != hangul {
                words.push(std::mem::take(&mut current));
            }
            hangul = h;
            current.push(c);
        } else if !current.is_empty() {
            words.push(std::mem::take(&mut current));
        }
    }
    if !current.is_empty() {
        words.push(current);
    }
    // `오픈AI` splits where Hangul meets Latin: a short form written across the split is one word.
    let mut out = Vec::with_capacity(words.len());
    let mut i = 0;
    while i < words.len() {
        let hangul_at = |w: &str| w.chars().next().is_some_and(is_hangul);
        if let Some(next) = words.get(i + 1)
            && hangul_at(&words[i]) != hangul_at(next)
        {
            let joined = format!("{}{next}", words[i]);
            if let Some(first) = aliases().get(joined.as_str()) {
                out.push((*first).to_owned());
                i += 2;
                continue;
            }
        }
        out.push(canonical(&words[i]));
        i += 1;
    }
    out
}

/// A word in its row's first form (see [`ALIASES`]); a Hangul word that begins with a long form
/// keeps what follows it (a particle).
fn canonical(word: &str) -> String {
    let aliases = aliases();
    if let Some(first) = aliases.get(word) {
        return (*first).to_owned();
    }
    let Some(initial) = word.chars().next().filter(|c| is_hangul(*c)) else {
        return word.to_owned();
    };
    for form in hangul_forms().get(&initial).into_iter().flatten() {
        if let Some(rest) = word.strip_prefix(form)
            && PARTICLES.contains(&rest)
            && let Some(first) = aliases.get(form)
        {
            return format!("{first}{rest}");
        }
    }
    word.to_owned()
}

/// The Hangul forms of [`ALIASES`] by their first syllable: a word is checked against the few
/// that begin as it does.
fn hangul_forms() -> &'static HashMap<char, Vec<&'static str>> {
    static FORMS: LazyLock<HashMap<char, Vec<&'static str>>> = LazyLock::new(|| {
        let mut forms: HashMap<char, Vec<&'static str>> = HashMap::new();
        for form in ALIASES.iter().flat_map(|row| row.iter()) {
            if let Some(first) = form.chars().next().filter(|c| is_hangul(*c)) {
                forms.entry(first).or_default().push(form);
            }
        }
        forms
    });
    &FORMS
}

/// Every form of [`ALIASES`], with the first of its row: looked up for every word of every item
/// compared, so built once.
fn aliases() -> &'static HashMap<&'static str, &'static str> {
    static ALIAS_MAP: LazyLock<HashMap<&'static str, &'static str>> = LazyLock::new(|| {
        ALIASES
            .iter()
            .flat_map(|row| row.iter().map(|form| (*form, row[0])))
            .collect()
    });
    &ALIAS_MAP
}

/// A Hangul word without its particle, when at least two syllables remain.
fn without_particle(word: &str) -> &str {
    if !word.chars().next().is_some_and(is_hangul) {
        return word;
    }
    PARTICLES
        .iter()
        .find_map(|p| {
            word.strip_suffix(p)
                .filter(|stem| stem.chars().count() >= 2)
        })
        .unwrap_or(word)
}

/// Whether `words` hold `needle` in a row; a Hangul word of `needle` may be the beginning of the
/// word it is found in (`삼성전자` in `삼성전자가`, `서울시` in `서울시는`).
fn contains_words(words: &[String], needle: &[String]) -> bool {
    if needle.is_empty() || needle.len() > words.len() {
        return needle.is_empty();
    }
    words.windows(needle.len()).any(|window| {
        window.iter().zip(needle).all(|(w, n)| {
            w == n || (n.chars().next().is_some_and(is_hangul) && w.starts_with(n.as_str()))
        })
    })
}

/// Whether `words` mention one named thing: its words in a row (`gpt-4.1`, `시리즈 c`), or, for a
/// Korean name of three syllables or more, its letters with the spaces left out (`딥 파이` in
/// `딥파이`; Korean spaces names freely).
fn mentions(words: &[String], name: &str) -> bool {
    if contains_words(words, &words_of(name)) {
        return true;
    }
    let squeezed: String = name.chars().filter(|c| !c.is_whitespace()).collect();
    squeezed.chars().filter(|c| is_hangul(*c)).count() >= 3 && words.concat().contains(&squeezed)
}

/// The subject of a headline: the phrase before its comma when the headline opens with a short
/// one (`LG AI연구원, …`), else its first word; its last word's particle dropped. Nothing when
/// the headline opens with a quote, a number or a word that names no one.
fn subject(headline: &str) -> (Vec<String>, String) {
    let none = (Vec::new(), String::new());
    let text = headline.trim();
    if text.starts_with(['"', '“', '‘', '\'', '「', '『', '<', '《', '(']) {
        return none;
    }
    let first_word = || text.split_whitespace().next().unwrap_or("");
    let phrase = match text.find([',', '，']) {
        Some(comma)
            if text[..comma].chars().count() <= 24
                && text[..comma].split_whitespace().count() <= 4
                && !text[..comma].contains(['"', '“', '”', '‘', '’', '…', '\'']) =>
        {
            let phrase = &text[..comma];
            // An English headline's comma ends a clause, not its subject.
            if phrase.chars().any(is_hangul) || !phrase.contains(' ') {
                phrase
            } else {
                first_word()
            }
        }
        _ => first_word(),
    };
    let phrase = phrase
        .trim_end_matches(['\'', '’'])
        .trim_end_matches("'s")
        .trim_end_matches("’s")
        .trim_end_matches("'S");
    let mut words = words_of(phrase);
    // A particle written apart from its word (`LGU+는` splits at the `+`).
    words.retain(|w| !PARTICLES.contains(&w.as_str()));
    if let Some(last) = words.last_mut() {
        *last = without_particle(last).to_owned();
    }
    let opens_with_number = words
        .first()
        .is_some_and(|w| w.chars().next().is_some_and(|c| c.is_ascii_digit()));
    if words.is_empty() || opens_with_number || words.iter().all(|w| GENERIC.contains(&w.as_str()))
    {
        return none;
    }
    let shown = phrase
        .trim_matches(|c: char| !c.is_alphanumeric())
        .to_owned();
    (words, shown)
}

/// Named things of a headline: Latin words written in capitals (`AMD`, `KT`), in mixed case
/// (`OpenAI`, `ChatGPT`) or with a digit (`GPT-5`, `H100`, `HBM3E`), and investment rounds
/// (`시리즈C`, `Series C`); generic words left out. Normalized as [`words_of`] writes them.
fn names(headline: &str, words: &[String]) -> BTreeSet<String> {
    let text = headline;
    let mut out = BTreeSet::new();
    let chars: Vec<char> = text.chars().collect();
    // A headline in capitals (`NVIDIA'S Q2 REVENUE HITS`) says nothing by its capitals.
    let letters = chars.iter().filter(|c| c.is_ascii_alphabetic()).count();
    let capitals = chars.iter().filter(|c| c.is_ascii_uppercase()).count();
    let shouted = letters >= 10 && capitals * 10 >= letters * 8;
    // In Title Case every word is capitalised; in sentence case a capital inside the headline
    // starts a name (`Sony names Hiro Tanaka`, `sues Midjourney`).
    let latin_words: Vec<&str> = text
        .split_whitespace()
        .skip(1)
        .filter(|w| w.chars().filter(|c| c.is_ascii_alphabetic()).count() >= 4)
        .collect();
    let title_case = !latin_words.is_empty()
        && latin_words
            .iter()
            .filter(|w| w.starts_with(|c: char| c.is_ascii_uppercase()))
            .count()
            * 10
            >= latin_words.len() * 6;
    let mut previous: Option<String> = None;
    let mut i = 0;
    while i < chars.len() {
        if !chars[i].is_ascii_alphanumeric() {
            if !chars[i].is_whitespace() {
                previous = None;
            }
            i += 1;
            continue;
        }
        let start = i;
        while i < chars.len()
            && (chars[i].is_ascii_alphanumeric()
                || (joins(chars[i]) && chars.get(i + 1).is_some_and(|n| n.is_ascii_alphanumeric())))
        {
            i += 1;
        }
        let word: String = chars[start..i].iter().collect();
        // The Latin end of a Hangul name (`챗GPT`, `셀바스AI`) is that name's, not one of its own;
        // a version is one (`큐원3.8-27B`).
        let after_hangul = start > 0 && is_hangul(chars[start - 1]);
        let letters = word.chars().filter(|c| c.is_ascii_alphabetic()).count();
        let uppers = word.chars().filter(|c| c.is_ascii_uppercase()).count();
        let digits = word.chars().filter(|c| c.is_ascii_digit()).count();
        let capitalised_after_first = word.chars().skip(1).any(|c| c.is_ascii_uppercase());
        let sentence_case_name = !shouted
            && !title_case
            && start > 0
            && letters >= 2
            && word.starts_with(|c: char| c.is_ascii_uppercase())
            && !after_hangul;
        let named = letters >= 1
            && (!after_hangul || digits > 0)
            && ((digits > 0)
                || sentence_case_name
                || (!shouted && ((uppers >= 2 && letters >= 2) || capitalised_after_first)));
        let lower = canonical(&word.to_lowercase());
        if named && !GENERIC.contains(&lower.as_str()) {
            out.insert(lower.clone());
        }
        // A one-letter version after a name: `Command A`, `Command R`.
        if !shouted
            && word.len() == 1
            && uppers == 1
            && let Some(prev) = &previous
        {
            out.insert(format!("{prev} {lower}"));
        }
        let glued_to_hangul = chars.get(i).is_some_and(|c| is_hangul(*c));
        previous = (word.chars().next().is_some_and(|c| c.is_ascii_uppercase())
            && !glued_to_hangul)
            .then_some(lower);
    }
    out.extend(people(text));
    out.extend(places(words));
    // A short quoted phrase is a product's or a company's name (`'수노'`, `'클립메이트'`); a longer
    // one may be somebody's words, which outlets render differently (only evidence, see `quoted`).
    out.extend(
        quoted(text)
            .into_iter()
            .filter(|q| q.split(' ').count() <= 2 && q.chars().count() <= 10),
    );
    // Investment rounds: 시리즈C, 시리즈 B, Series A.
    let lower = text.to_lowercase();
    for marker in ["시리즈", "series"] {
        let mut rest = lower.as_str();
        while let Some(at) = rest.find(marker) {
            rest = &rest[at + marker.len()..];
            let round: String = rest
                .trim_start()
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric())
                .collect();
            if (1..=2).contains(&round.len()) {
                out.insert(format!("{marker} {round}"));
            }
        }
    }
    out
}

/// Short quoted phrases of a headline: the names of products, models and services
/// (`'클로바 에이전트'`, `‘젬마’`), as [`words_of`] writes them. A longer quote is somebody's
/// words, not a name.
fn quoted(headline: &str) -> Vec<String> {
    const PAIRS: &[(char, char)] = &[
        ('‘', '’'),
        ('“', '”'),
        ('\'', '\''),
        ('"', '"'),
        ('「', '」'),
        ('『', '』'),
    ];
    let mut out = Vec::new();
    for (open, close) in PAIRS {
        let mut rest = headline;
        while let Some(start) = rest.find(*open) {
            let after = &rest[start + open.len_utf8()..];
            let Some(end) = after.find(*close) else {
                break;
            };
            let inner = after[..end].trim();
            rest = &after[end + close.len_utf8()..];
            let words = words_of(inner);
            if !words.is_empty()
                && inner.split_whitespace().count() <= 3
                && inner.chars().count() <= 20
                && !words.iter().all(|w| GENERIC.contains(&w.as_str()))
            {
                out.push(words.join(" "));
            }
        }
    }
    out
}

/// Places a headline may name: Korean regions, cities and districts (without `시`, `군`, `구`,
/// `도`), countries and a few cities abroad. Two template twins often differ in nothing else
/// (`광양항` / `군산항`, `일본 출시` / `태국 출시`).
const PLACES: &[&str] = &[
    "서울",
    "부산",
    "대구",
    "인천",
    "광주",
    "대전",
    "울산",
    "세종",
    "경기",
    "강원",
    "충북",
    "충남",
    "전북",
    "전남",
    "경북",
    "경남",
    "제주",
    "충청북",
    "충청남",
    "전라북",
    "전라남",
    "경상북",
    "경상남",
    "수원",
    "성남",
    "용인",
    "부천",
    "남양주",
    "안산",
    "평택",
    "안양",
    "시흥",
    "파주",
    "김포",
    "의정부",
    "하남",
    "이천",
    "안성",
    "양주",
    "포천",
    "의왕",
    "군포",
    "여주",
    "양평",
    "가평",
    "과천",
    "춘천",
    "원주",
    "강릉",
    "속초",
    "동해",
    "삼척",
    "청주",
    "충주",
    "제천",
    "천안",
    "아산",
    "공주",
    "보령",
    "서산",
    "논산",
    "당진",
    "군산",
    "익산",
    "정읍",
    "남원",
    "김제",
    "목포",
    "여수",
    "순천",
    "나주",
    "광양",
    "포항",
    "김천",
    "안동",
    "영주",
    "영천",
    "문경",
    "경산",
    "창원",
    "진주",
    "통영",
    "사천",
    "김해",
    "밀양",
    "거제",
    "서귀포",
    "송도",
    "판교",
    "강남",
    "서초",
    "송파",
    "마포",
    "영등포",
    "용산",
    "성동",
    "종로",
    "해운대",
    "미국",
    "중국",
    "일본",
    "영국",
    "독일",
    "프랑스",
    "인도",
    "대만",
    "베트남",
    "태국",
    "인도네시아",
    "싱가포르",
    "말레이시아",
    "필리핀",
    "호주",
    "캐나다",
    "멕시코",
    "브라질",
    "사우디",
    "사우디아라비아",
    "아랍에미리트",
    "카타르",
    "이스라엘",
    "튀르키예",
    "러시아",
    "우크라이나",
    "스페인",
    "이탈리아",
    "네덜란드",
    "스웨덴",
    "노르웨이",
    "핀란드",
    "덴마크",
    "스위스",
    "폴란드",
    "이집트",
    "몽골",
    "카자흐스탄",
    "우즈베키스탄",
    "뉴질랜드",
    "아르헨티나",
    "칠레",
    "유럽",
    "중동",
    "동남아",
    "북미",
    "남미",
    "아프리카",
    "홍콩",
    "상하이",
    "베이징",
    "도쿄",
    "오사카",
    "뉴욕",
    "런던",
    "파리",
    "베를린",
    "텍사스",
    "캘리포니아",
    "실리콘밸리",
];

/// Cities whose names are also common words (`양산` mass production, `전주` the week before,
/// `경주` a race, `고양이`): places only with their kind written (`양산시`).
const PLACES_WITH_KIND: &[&str] = &[
    "고양", "화성", "구리", "양산", "경주", "전주", "오산", "상주", "구미", "광명", "선전",
];

/// How a place's kind is written after its name.
const PLACE_KINDS: &[&str] = &[
    "시", "군", "구", "항", "공항", "시청", "시에", "시의", "시는", "시가",
];

/// What may follow a place's name in the same word: its kind (`시`, `항`), a particle.
const PLACE_ENDINGS: &[&str] = &[
    "",
    "시",
    "군",
    "구",
    "도",
    "항",
    "공항",
    "특별시",
    "광역시",
    "시청",
    "도청",
    "구청",
    "에",
    "에서",
    "서",
    "의",
    "은",
    "는",
    "이",
    "가",
    "과",
    "와",
    "로",
    "으로",
    "시에",
    "시의",
    "시는",
    "시가",
    "항에",
    "항의",
    "에도",
    "판",
];

/// The places a headline names (see [`PLACES`]).
fn places(words: &[String]) -> Vec<String> {
    static BARE: LazyLock<HashSet<&'static str>> =
        LazyLock::new(|| PLACES.iter().copied().collect());
    static WITH_KIND: LazyLock<HashSet<&'static str>> =
        LazyLock::new(|| PLACES_WITH_KIND.iter().copied().collect());
    let mut out: Vec<String> = Vec::new();
    for word in words {
        let found = PLACE_ENDINGS
            .iter()
            .filter_map(|end| word.strip_suffix(end))
            .find_map(|stem| BARE.get(stem))
            .or_else(|| {
                PLACE_KINDS
                    .iter()
                    .filter_map(|kind| word.strip_suffix(kind))
                    .find_map(|stem| WITH_KIND.get(stem))
            });
        if let Some(place) = found
            && !out.iter().any(|o| o == place)
        {
            out.push((*place).to_owned());
        }
    }
    out
}

/// Titles a person is appointed to.
const TITLES: &[&str] = &[
    "대표이사",
    "대표",
    "부사장",
    "사장",
    "부회장",
    "회장",
    "지사장",
    "부문장",
    "본부장",
    "센터장",
    "연구소장",
    "연구원장",
    "원장",
    "소장",
    "총장",
    "장관",
    "차관",
    "청장",
    "위원장",
    "의장",
    "단장",
    "실장",
    "국장",
    "이사",
    "ceo",
    "cto",
    "cfo",
    "최고경영자",
    "최고기술책임자",
    "caio",
    "최고ai책임자",
    "책임자",
];

/// People a headline names as appointed: `대표에 최동현 선임`, `지사장에 이용석`, `최동현을 대표로`.
fn people(headline: &str) -> Vec<String> {
    // `최고AI책임자(CAIO)에`: what stands in brackets is said again, not part of the word.
    let mut plain = String::with_capacity(headline.len());
    let mut depth = 0usize;
    for c in headline.chars() {
        match c {
            '(' => depth += 1,
            ')' => depth = depth.saturating_sub(1),
            c if depth == 0 => plain.push(c),
            _ => {}
        }
    }
    let words: Vec<String> = plain
        .split_whitespace()
        .map(|w| {
            w.trim_matches(|c: char| !c.is_alphanumeric())
                .to_lowercase()
        })
        .collect();
    let is_name = |w: &str| {
        let n = w.chars().count();
        (2..=4).contains(&n) && w.chars().all(is_hangul)
    };
    let is_title = |w: &str| TITLES.iter().any(|t| w.ends_with(t));
    let mut out = Vec::new();
    for (i, w) in words.iter().enumerate() {
        let next = words.get(i + 1).map(String::as_str).unwrap_or("");
        if let Some(title) = w.strip_suffix('에')
            && is_title(title)
            && is_name(without_particle(next))
        {
            out.push(without_particle(next).to_owned());
        }
        let named = w.strip_suffix('을').or_else(|| w.strip_suffix('를'));
        if let Some(name) = named
            && is_name(name)
            && (next.ends_with("로") || next.ends_with("으로"))
            && is_title(next.trim_end_matches("으로").trim_end_matches('로'))
        {
            out.push(name.to_owned());
        }
    }
    out
}

/// The terms of a text's words, hashed: its Hangul runs' syllable pairs (a one-syllable run itself) and
/// its other words — the search module's terms without single syllables, which every Korean
/// text shares.
fn terms(words: &[String]) -> Vec<u32> {
    // 32 bits of FNV-1a, folded (and stored so: `Story::terms_print`): two items of a hundred
    // terms each share a term by chance once in some 400,000 comparisons, and then seem to share
    // one term more than they do.
    let fold = |h: u64| (h ^ (h >> 32)) as u32;
    let mut out = Vec::new();
    for word in words {
        let chars: Vec<char> = word.chars().collect();
        if chars.first().is_some_and(|c| is_hangul(*c)) && chars.len() > 1 {
            for pair in chars.windows(2) {
                out.push(fold(super::fnv1a(
                    pair.iter().flat_map(|c| (*c as u32).to_le_bytes()),
                )));
            }
        } else {
            out.push(fold(super::fnv1a(word.bytes())));
        }
    }
    out.sort_unstable();
    out.dedup();
    out
}

/// The format of [`Story::terms_print`]; another byte is a print this build cannot read.
const PRINT_FORMAT: u8 = 1;

/// The terms and headline terms of a [`Story::terms_print`]; `None` for anything else.
fn read_print(print: &[u8]) -> Option<(Vec<u32>, Vec<u32>)> {
    let (&format, rest) = print.split_first()?;
    if format != PRINT_FORMAT || rest.len() < 2 {
        return None;
    }
    let count = usize::from(u16::from_le_bytes([rest[0], rest[1]]));
    let rest = &rest[2..];
    if rest.len() != count * 4 + count.div_ceil(8) {
        return None;
    }
    let (packed, bits) = rest.split_at(count * 4);
    let terms: Vec<u32> = packed
        .chunks_exact(4)
        .map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
        .collect();
    if terms.windows(2).any(|w| w[0] >= w[1]) {
        return None;
    }
    let headline = terms
        .iter()
        .enumerate()
        .filter(|(i, _)| bits[i / 8] & (1 << (i % 8)) != 0)
        .map(|(_, term)| *term)
        .collect();
    Some((terms, headline))
}

/// Korean number words that multiply what stands before them.
const MULTIPLIERS: &[(char, f64)] = &[('조', 1e12), ('억', 1e8), ('만', 1e4), ('천', 1e3)];
/// English scale words after a number (longest first).
const SCALES: &[(&str, f64)] = &[
    ("trillion", 1e12),
    ("billion", 1e9),
    ("million", 1e6),
    ("thousand", 1e3),
    ("tn", 1e12),
    ("bn", 1e9),
    ("mn", 1e6),
    ("t", 1e12),
    ("b", 1e9),
    ("m", 1e6),
    ("k", 1e3),
];

/// The numbers of a text with the unit each is compared in. A number that is part of a name
/// (`GPT-5`, `H100`, `HBM3E`, `4o`) is not a number here; `Q3` and `3Q` are the third quarter.
fn quantities(text: &str) -> Vec<(String, Quantity)> {
    let chars = lowered(text);
    let mut out = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        // Q3 / 3Q: a quarter.
        if c == 'q'
            && chars.get(i + 1).is_some_and(|d| ('1'..='4').contains(d))
            && !chars.get(i + 2).is_some_and(|n| n.is_alphanumeric())
            && (i == 0 || !chars[i - 1].is_alphanumeric())
        {
            let n = chars[i + 1];
            out.push((
                "quarter".to_owned(),
                Quantity {
                    value: f64::from(n.to_digit(10).unwrap_or(0)),
                    shown: format!("{n}분기"),
                },
            ));
            i += 2;
            continue;
        }
        if !c.is_ascii_digit() {
            i += 1;
            continue;
        }
        let start = i;
        let prev = if start > 0 { chars[start - 1] } else { ' ' };
        let glued_to_name = prev.is_ascii_alphabetic()
            || (joins(prev) && start >= 2 && chars[start - 2].is_ascii_alphabetic());
        let dollar = prev == '$' || (prev == ' ' && start >= 2 && chars[start - 2] == '$');
        // The whole number, with Korean multipliers in between (`1조 2000억`).
        let mut value = 0.0;
        let mut multiplied = false;
        let mut pending;
        loop {
            let (n, next) = read_number(&chars, i);
            pending = n;
            i = next;
            let Some((_, factor)) = chars
                .get(i)
                .and_then(|c| MULTIPLIERS.iter().find(|(m, _)| m == c))
            else {
                break;
            };
            value += pending * factor;
            multiplied = true;
            pending = 0.0;
            i += 1;
            let mut k = i;
            while chars.get(k) == Some(&' ') {
                k += 1;
            }
            if !chars.get(k).is_some_and(char::is_ascii_digit) {
                break;
            }
            i = k;
        }
        value += pending;
        // Glued to a Latin letter after it (`4o`, `3e`, `5g`) and not a scale: part of a name.
        let after = chars.get(i).copied().unwrap_or(' ');
        let mut k = i;
        while chars.get(k) == Some(&' ') {
            k += 1;
        }
        let rest: String = chars[k..chars.len().min(k + 10)].iter().collect();
        // `약 300여명`: 여 ("some") before the unit.
        let (rest, skipped) = match rest.strip_prefix('여') {
            Some(r) => (r.to_owned(), 1),
            None => (rest, 0),
        };
        let scale = if dollar || rest.starts_with("달러") {
            SCALES.iter().find(|(s, _)| {
                rest.starts_with(s)
                    && !rest[s.len()..]
                        .chars()
                        .next()
                        .is_some_and(|n| n.is_ascii_alphabetic())
            })
        } else {
            None
        };
        if after == 'q'
            && !glued_to_name
            && (1.0..=4.0).contains(&value)
            && !chars.get(i + 1).is_some_and(|n| n.is_alphanumeric())
        {
            out.push((
                "quarter".to_owned(),
                Quantity {
                    value,
                    shown: format!("{value}분기"),
                },
            ));
            i += 1;
            continue;
        }
        if glued_to_name || (after.is_ascii_alphabetic() && scale.is_none() && !dollar) {
            // Skip the rest of the name.
            while i < chars.len() && chars[i].is_ascii_alphanumeric() {
                i += 1;
            }
            continue;
        }
        let shown: String = chars[start..i].iter().collect::<String>().trim().to_owned();
        if let Some((s, factor)) = scale {
            value *= factor;
            i = k + s.len();
            out.push((
                "usd".to_owned(),
                Quantity {
                    value,
                    shown: format!("${shown}{s}"),
                },
            ));
            continue;
        }
        let unit = UNITS
            .iter()
            .filter(|(u, _)| rest.starts_with(u))
            .max_by_key(|(u, _)| u.len());
        let attached = chars.get(i).copied().filter(|c| is_hangul(*c));
        let (unit, shown) = match unit {
            Some((written, unit)) => {
                i = k + skipped + written.chars().count();
                (unit.to_string(), format!("{shown}{written}"))
            }
            None if dollar => ("usd".to_owned(), format!("${shown}")),
            // `1만장`, `10억회`: counted in a word of its own.
            None if attached.is_some() && skipped == 0 => (
                format!("?{}", attached.unwrap_or_default()),
                format!("{shown}{}", attached.unwrap_or_default()),
            ),
            // `17조`, `170억`: Korean news counts money so, without `원`.
            None if multiplied => ("krw".to_owned(), shown),
            None => (String::new(), shown),
        };
        out.push((unit, Quantity { value, shown }));
    }
    out
}

/// A number at `i` (`1,000`, `4.0`): its value and where it ends. Thousands commas only where
/// three digits follow.
fn read_number(chars: &[char], mut i: usize) -> (f64, usize) {
    let mut digits = String::new();
    while i < chars.len() {
        let c = chars[i];
        if c.is_ascii_digit() {
            digits.push(c);
            i += 1;
        } else if c == ','
            && chars
                .get(i + 1..i + 4)
                .is_some_and(|d| d.iter().all(char::is_ascii_digit))
            && !chars.get(i + 4).is_some_and(char::is_ascii_digit)
        {
            i += 1;
        } else if c == '.'
            && !digits.contains('.')
            && chars.get(i + 1).is_some_and(char::is_ascii_digit)
        {
            digits.push('.');
            i += 1;
        } else {
            break;
        }
    }
    (digits.parse().unwrap_or(0.0), i)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn values(text: &str) -> Vec<(String, f64)> {
        quantities(text)
            .into_iter()
            .map(|(u, q)| (u, q.value))
            .collect()
    }

    #[test]
    fn numbers_are_read_with_their_units_as_values() {
        assert_eq!(
            values("3분기 영업이익 10조원 돌파"),
            [("quarter".into(), 3.0), ("krw".into(), 10e12)]
        );
        assert_eq!(values("10조 원"), [("krw".into(), 10e12)]);
        assert_eq!(values("5,000억원"), values("5000억원"));
        assert_eq!(values("1조 2000억원"), [("krw".into(), 1.2e12)]);
        assert_eq!(values("5000억달러"), [("usd".into(), 5e11)]);
        assert_eq!(values("$40 billion"), values("$40B"));
        assert_eq!(values("$40B"), [("usd".into(), 40e9)]);
        assert_eq!(values("Q3 revenue"), [("quarter".into(), 3.0)]);
        assert_eq!(values("엑사원 4.0"), [(String::new(), 4.0)]);
        assert_eq!(values("약 300여명"), [("people".into(), 300.0)]);
        assert_eq!(values("40%"), values("40 percent"));
    }

    #[test]
    fn numbers_inside_names_are_names() {
        assert!(values("GPT-5 공개").is_empty());
        assert!(values("H100 공급, HBM3E, GPT-4o").is_empty());
        assert_eq!(
            names("오픈AI, GPT-4.1 공개", &words_of("오픈AI, GPT-4.1 공개")),
            BTreeSet::from(["gpt-4.1".into()])
        );
        assert_eq!(
            names("KT·AMD, AI 협력", &words_of("KT·AMD, AI 협력")),
            BTreeSet::from(["amd".into(), "kt".into()])
        );
        assert_eq!(
            names(
                "업스테이지, 시리즈C 1000억원 투자 유치",
                &words_of("업스테이지, 시리즈C 1000억원 투자 유치")
            ),
            BTreeSet::from(["시리즈 c".into()])
        );
    }

    #[test]
    fn subjects_are_the_first_phrase_without_its_particle() {
        let s = |h: &str| subject(strip_tag(h)).0.concat();
        assert_eq!(s("삼성전자, 3분기 영업이익 10조원 돌파"), "삼성전자");
        assert_eq!(s("삼성전자가 3분기 영업이익 10조원 넘어"), "삼성전자");
        assert_eq!(s("LG AI연구원, 엑사원 4.0 공개"), "lgai연구원");
        assert_eq!(s("과학기술정보통신부, AI 예산 1조원 편성"), "과기정통부");
        assert_eq!(s("과기정통부는 AI 예산 1조원 편성"), "과기정통부");
        assert_eq!(s("“AI 규제 서둘러야”…국회 토론회"), "");
        assert_eq!(s("3분기 영업이익 10조원 넘은 삼성전자"), "");
        assert_eq!(s("[단독] 네이버, 사우디에 디지털 트윈"), "네이버");
    }

    fn verdict(a: (&str, &str), b: (&str, &str)) -> Verdict {
        compare(&Story::of(a.0, a.1), &Story::of(b.0, b.1))
    }

    #[test]
    fn a_candidate_passed_over_for_too_little_in_common_is_never_the_same_story() {
        let pairs = [
            (
                (
                    "삼성전자, 3분기 영업이익 10조원 돌파",
                    "삼성전자가 3분기 영업이익 10조원을 넘어섰다고 밝혔습니다.",
                ),
                (
                    "삼성전자 3분기 영업이익 10조원 넘어",
                    "삼성전자의 3분기 영업이익이 10조 원을 넘었다고 밝혔습니다.",
                ),
            ),
            (
                (
                    "오픈AI, 오픈라우터서 'GPT-5.6' 반값 할인",
                    "개발자를 잡기 위한 할인입니다.",
                ),
                (
                    "오픈AI, 오픈라우터서 'GPT-5.6' 절반가 할인...앤트로픽 사용량 2배 넘어",
                    "할인을 시작했다.",
                ),
            ),
            (
                (
                    "네이버, 사우디에 디지털 트윈 플랫폼 구축",
                    "네이버가 사우디아라비아 주택부와 함께 5개 도시를 디지털 트윈으로 구축합니다.",
                ),
                (
                    "삼성전자, HBM3E 엔비디아 품질 테스트 통과",
                    "삼성전자가 5세대 고대역폭메모리를 엔비디아에 공급합니다.",
                ),
            ),
        ];
        for ((ah, asum), (bh, bsum)) in pairs {
            let a = Story::of(ah, asum);
            let same = compare(&a, &Story::of(bh, bsum)).is_same();
            assert!(a.may_share_story(bh, bsum) || !same, "{ah} / {bh}");
        }
    }

    #[test]
    fn a_terms_print_reads_back_and_anything_else_is_refused() {
        let a = Story::of(
            "삼성전자, 3분기 영업이익 10조원 돌파",
            "삼성전자가 3분기 영업이익 10조원을 넘어섰다고 밝혔습니다.",
        );
        let print = a.terms_print();
        let (terms, headline) = read_print(&print).unwrap();
        assert_eq!(
            (terms, headline),
            (a.terms.clone(), a.headline_terms.clone())
        );
        assert_eq!(a.may_share_print(&print), Some(true));
        // Another format, a print cut short or grown, terms out of order, nothing at all.
        let mut other = print.clone();
        other[0] = PRINT_FORMAT + 1;
        let mut unsorted = print.clone();
        unsorted[3..11].rotate_left(4);
        let mut longer = print.clone();
        longer.push(0);
        for bad in [
            other,
            print[..print.len() - 1].to_vec(),
            longer,
            unsorted,
            Vec::new(),
            vec![PRINT_FORMAT],
        ] {
            assert_eq!(a.may_share_print(&bad), None, "{bad:?}");
        }
        // No terms at all is a print too, and shares nothing.
        let empty = Story::of("", "");
        assert_eq!(empty.terms_print(), vec![PRINT_FORMAT, 0, 0]);
        assert_eq!(a.may_share_print(&empty.terms_print()), Some(false));
    }

    #[test]
    fn template_twins_are_other_stories_and_rewordings_the_same() {
        let samsung = (
            "삼성전자, 3분기 영업이익 10조원 돌파",
            "삼성전자가 3분기 영업이익 10조원을 넘어섰다고 밝혔습니다.",
        );
        let twin = verdict(
            samsung,
            (
                "SK하이닉스, 3분기 영업이익 5조원 돌파",
                "SK하이닉스가 3분기 영업이익 5조원을 넘어섰다고 밝혔습니다.",
            ),
        );
        assert!(!twin.is_same(), "{twin}");
        let amount = verdict(
            samsung,
            (
                "삼성전자, 3분기 영업이익 12조원 돌파",
                "삼성전자가 3분기 영업이익 12조원을 넘어섰다고 밝혔습니다.",
            ),
        );
        assert!(amount.reason().contains("other numbers"), "{amount}");
        let reworded = verdict(
            samsung,
            (
                "삼성전자 3분기 영업이익 10조원 넘어",
                "삼성전자의 3분기 영업이익이 10조 원을 넘었다고 밝혔습니다.",
            ),
        );
        assert!(reworded.is_same(), "{reworded}");
        assert!(reworded.reason().contains("삼성전자"), "{reworded}");
    }
}
