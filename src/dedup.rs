//! Fingerprints that recognise the same news in other clothes.
//!
//! * **Headline key** — NFKC, lowercased, only letters and digits kept: quotes, punctuation and
//!   spacing (which Korean writers vary freely) no longer matter.
//! * **Content hash** — SHA-256 of an issue's normalized lead and items: the same issue at
//!   another URL or from another source.
//! * **Same story** — [`story`]: who and how much. Two items tell the same story when their
//!   subjects, named things and numbers agree and their terms overlap ([`story::compare`]);
//!   another company or another amount is another story however alike the words. An issue
//!   republished elsewhere is the same issue when its whole text is near-identical (below) and
//!   its title and lead tell the same story.
//! * **Candidates** — sets of character 3-grams of the normalized text (spaces removed, so
//!   Korean spacing and particles shift few shingles), compared by Jaccard similarity and by
//!   containment (how much of the shorter text the longer one contains, which catches an added
//!   trailing sentence). Candidates come from MinHash locality-sensitive hashing, with band
//!   keys kept in an index, so a check touches a handful of rows, never a scan:
//!   - briefs ([`BRIEF_LSH`], 32 bands of 4 rows): a pair at Jaccard 0.5 is a candidate with
//!     probability 1 − (1 − 0.5⁴)³² ≈ 87 %, at 0.6 with 99 %, while unrelated briefs (Jaccard
//!     about 0.05 from shared endings like "밝혔습니다") collide with probability 0.02 %;
//!   - issues ([`ISSUE_LSH`], 40 bands of 5 rows): at Jaccard 0.6 a candidate with 96 %, at
//!     0.7 with 99.9 %; long unrelated issues share more common 3-grams (Jaccard about 0.1),
//!     which collide with probability 0.04 %.
//!
//!   Items are also found again by their headline key and by their subject
//!   ([`story::Story::subject_key`]), so a rewording whose characters moved is still compared.
//!   The thresholds are backed by the table in this module's tests; the rule itself by the
//!   labelled pairs of `tests/fixtures/dedup/` (BENCHMARKS.md, "Same story or another").

use std::collections::HashSet;

use sha2::{Digest, Sha256};
use unicode_normalization::UnicodeNormalization;

use crate::domain::Issue;
pub use story::{Story, Verdict};

pub mod story;

pub const SHINGLE: usize = 3;

/// Locality-sensitive hashing parameters: `bands` keys of `rows` MinHash values each.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Lsh {
    pub bands: usize,
    pub rows: usize,
}

pub const BRIEF_LSH: Lsh = Lsh { bands: 32, rows: 4 };
pub const ISSUE_LSH: Lsh = Lsh { bands: 40, rows: 5 };

/// The rule before stories had subjects and numbers (kept to compare against, see
/// [`ngram_briefs_match`]): brief items were near-duplicates from this Jaccard similarity up…
pub const BRIEF_JACCARD: f64 = 0.5;
/// …or when this share of the shorter text's shingles was in the longer one…
pub const BRIEF_CONTAINMENT: f64 = 0.8;
/// …provided the shorter text had at least this many shingles.
pub const MIN_CONTAINED_SHINGLES: usize = 24;
/// Whole issues are the same issue from this Jaccard similarity up.
pub const ISSUE_JACCARD: f64 = 0.6;

/// How many stored items a brief is compared with, at most, of each kind of candidate: of the
/// same headline (oldest first), sharing the most LSH bands, and of the same subject (newest
/// first: a rewording whose characters moved too much for the bands is usually recent).
pub const HEADLINE_CANDIDATES: usize = 4;
pub const BAND_CANDIDATES: usize = 16;
pub const SUBJECT_CANDIDATES: usize = 8;

/// The version of the rule that assigned the stories stored in a database, and of what it stores
/// with each brief: a database of an earlier one is re-fingerprinted on open ([`restory`]).
/// 1: character 3-grams alone; 2: who and how much ([`story`]); 3: the same rule, each brief's
/// terms stored with it ([`BriefPrints::terms`]). Raise it with any change to how terms are read
/// (words, short forms, the hash): stored terms are compared as the current rule's, and only
/// the re-fingerprinting on open writes them again.
pub const RULE_VERSION: i64 = 3;

/// A stored brief as the current rule reads it ([`restory`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Retold {
    /// Its story: its own id, or the story of the brief it retells.
    pub story: i64,
    pub subject_key: String,
    pub terms: Vec<u8>,
}

/// The stories of stored briefs (id, headline, summary; in id order) told apart by the current
/// rule, as storing them one by one would: each brief's story is that of the first earlier brief
/// of the same headline, shared bands or same subject that tells the same story (as the store's
/// `story_of` finds it), else its own id. One for each, in order.
pub fn restory<'a>(briefs: impl IntoIterator<Item = (i64, &'a str, &'a str)>) -> Vec<Retold> {
    use std::collections::HashMap;
    let mut by_headline: HashMap<String, Vec<usize>> = HashMap::new();
    let mut by_subject: HashMap<String, Vec<usize>> = HashMap::new();
    let mut by_band: HashMap<i64, Vec<usize>> = HashMap::new();
    let mut stories: Vec<Retold> = Vec::new();
    let mut kept: Vec<(String, Story)> = Vec::new();
    for (index, (id, headline, summary)) in briefs.into_iter().enumerate() {
        let prints = BriefPrints::of(headline, summary);
        let mut candidates: Vec<usize> = by_headline
            .get(&prints.headline_key)
            .filter(|_| !prints.headline_key.is_empty())
            .map(|v| v.iter().take(HEADLINE_CANDIDATES).copied().collect())
            .unwrap_or_default();
        let mut shared: HashMap<usize, usize> = HashMap::new();
        for band in &prints.bands {
            for other in by_band.get(band).into_iter().flatten() {
                *shared.entry(*other).or_default() += 1;
            }
        }
        let mut by_shared: Vec<(usize, usize)> = shared.into_iter().collect();
        by_shared.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
        candidates.extend(by_shared.iter().take(BAND_CANDIDATES).map(|(i, _)| *i));
        if !prints.subject_key.is_empty() {
            candidates.extend(
                by_subject
                    .get(&prints.subject_key)
                    .into_iter()
                    .flat_map(|v| v.iter().rev().take(SUBJECT_CANDIDATES)),
            );
        }
        let story = candidates
            .into_iter()
            .find(|other| {
                let (other_key, other_story) = &kept[*other];
                prints.judge(other_key, other_story).0
            })
            .map_or(id, |other| stories[other].story);
        by_headline
            .entry(prints.headline_key.clone())
            .or_default()
            .push(index);
        if !prints.subject_key.is_empty() {
            by_subject
                .entry(prints.subject_key.clone())
                .or_default()
                .push(index);
        }
        for band in &prints.bands {
            by_band.entry(*band).or_default().push(index);
        }
        stories.push(Retold {
            story,
            subject_key: prints.subject_key,
            terms: prints.terms,
        });
        kept.push((prints.headline_key, prints.story));
    }
    stories
}

/// NFKC, lowercase, letters and digits only.
pub fn normalize(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    // ASCII and Hangul syllables (most of every text) answered without Unicode's tables: the
    // same answers (a syllable is a letter and its own lowercase).
    for c in nfkc(text).chars() {
        if c.is_ascii() {
            if c.is_ascii_alphanumeric() {
                out.push(c.to_ascii_lowercase());
            }
        } else if is_hangul_syllable(c) {
            out.push(c);
        } else {
            out.extend(c.to_lowercase().filter(|l| l.is_alphanumeric()));
        }
    }
    out
}

fn is_hangul_syllable(c: char) -> bool {
    ('\u{AC00}'..='\u{D7A3}').contains(&c)
}

/// NFKC of a text, borrowed when it is NFKC already (most Korean and English text is: ASCII and
/// Hangul syllables are, and are told without Unicode's tables).
pub(crate) fn nfkc(text: &str) -> std::borrow::Cow<'_, str> {
    use unicode_normalization::{IsNormalized, is_nfkc_quick};
    if text.chars().all(|c| c.is_ascii() || is_hangul_syllable(c))
        || is_nfkc_quick(text.chars()) == IsNormalized::Yes
    {
        std::borrow::Cow::Borrowed(text)
    } else {
        std::borrow::Cow::Owned(text.nfkc().collect())
    }
}

/// The key under which two headlines are the same headline.
pub fn headline_key(headline: &str) -> String {
    normalize(headline)
}

/// A brief item's text for similarity: headline and summary.
pub fn brief_text(headline: &str, summary: &str) -> String {
    format!("{headline} {summary}")
}

/// SHA-256 (hex) of an issue's normalized lead and items, or of its whole text when it has
/// neither; identical content gives the identical hash wherever it was published.
pub fn content_hash(issue: &Issue) -> String {
    let mut h = Sha256::new();
    let lead = normalize(&issue.lead);
    if lead.is_empty() && issue.briefs.is_empty() {
        h.update(normalize(&issue.text).as_bytes());
    } else {
        h.update(lead.as_bytes());
        for b in &issue.briefs {
            h.update([0u8]);
            h.update(normalize(&b.headline).as_bytes());
            h.update([1u8]);
            h.update(normalize(&b.summary).as_bytes());
        }
    }
    h.finalize().iter().map(|b| format!("{b:02x}")).collect()
}

/// Everything the store looks up and writes to recognise an issue and its items again,
/// computed once, before the transaction that stores the issue: the store only looks keys up
/// and writes them (the rules that make them are here).
#[derive(Debug, Clone)]
pub struct IssuePrints {
    /// [`content_hash`] of the issue.
    pub content_hash: String,
    /// [`shingles`] of its whole text, compared with candidates' texts.
    pub shingles: HashSet<u64>,
    /// The LSH band keys of those shingles ([`ISSUE_LSH`]).
    pub bands: Vec<i64>,
    /// What its title and lead are about.
    pub story: Story,
    /// One per brief, in order.
    pub briefs: Vec<BriefPrints>,
}

/// A brief item's fingerprints (see [`IssuePrints`]).
#[derive(Debug, Clone)]
pub struct BriefPrints {
    /// [`headline_key`] of its headline.
    pub headline_key: String,
    /// The LSH band keys of its headline's and summary's [`shingles`] ([`BRIEF_LSH`]): how
    /// candidates are found.
    pub bands: Vec<i64>,
    /// What it is about, compared with each candidate's.
    pub story: Story,
    /// [`Story::subject_key`]: candidates of the same subject are found by it too.
    pub subject_key: String,
    /// [`Story::terms_print`], stored with the brief: a candidate with little in common is
    /// passed over by it without its text being read.
    pub terms: Vec<u8>,
}

/// A stored item as the store hands it over to be compared: its text, and the headline key and
/// terms print stored with it (`None` for a print not written yet).
#[derive(Debug, Clone, Copy)]
pub struct Stored<'a> {
    pub headline: &'a str,
    pub summary: &'a str,
    pub headline_key: &'a str,
    pub terms: Option<&'a [u8]>,
}

impl BriefPrints {
    /// Why a stored item (its headline and summary) tells the same story as this one, or `None`
    /// when it tells another: [`same_story`], and the same headline is the same story unless
    /// something contradicts.
    pub fn same_story_as(&self, headline: &str, summary: &str) -> Option<String> {
        self.same_story_as_stored(Stored {
            headline,
            summary,
            headline_key: &headline_key(headline),
            terms: None,
        })
    }

    /// [`BriefPrints::same_story_as`] for an item read from the store. A candidate with too
    /// little in common is passed over after its stored terms are read
    /// ([`Story::may_share_print`]; from its text when it has none:
    /// [`Story::may_share_story`]), before the rest of its story is: most candidates are, and
    /// reading a story from its text is what a check would otherwise spend most of its time on.
    pub fn same_story_as_stored(&self, item: Stored<'_>) -> Option<String> {
        if item.headline_key != self.headline_key {
            let may = item
                .terms
                .and_then(|print| self.story.may_share_print(print))
                .unwrap_or_else(|| self.story.may_share_story(item.headline, item.summary));
            if !may {
                return None;
            }
        }
        let (same, why) = self.judge(item.headline_key, &Story::of(item.headline, item.summary));
        same.then_some(why)
    }

    /// Why a stored item is, or is not, the same story as this one (for a log line).
    pub fn why(&self, headline: &str, summary: &str) -> String {
        self.judge(&headline_key(headline), &Story::of(headline, summary))
            .1
    }

    /// The rule of [`BriefPrints::same_story_as`] against a story already read.
    fn judge(&self, other_key: &str, other: &Story) -> (bool, String) {
        match same_story(&self.story, other) {
            Verdict::Same(why) => (true, why),
            // A headline of no letters or digits (its key empty) says nothing.
            Verdict::Unlike(_) if other_key == self.headline_key && !other_key.is_empty() => {
                (true, "the same headline".to_owned())
            }
            verdict => (false, verdict.reason().to_owned()),
        }
    }

    pub fn of(headline: &str, summary: &str) -> Self {
        // The shingles as they come, not as a set: their band keys are the same (this runs for
        // every brief checked).
        let shingles = shingle_hashes(&brief_text(headline, summary));
        let story = Story::of(headline, summary);
        Self {
            headline_key: headline_key(headline),
            bands: band_keys(&shingles, BRIEF_LSH),
            subject_key: story.subject_key(),
            terms: story.terms_print(),
            story,
        }
    }
}

impl IssuePrints {
    pub fn of(issue: &Issue) -> Self {
        let shingles = shingles(&issue.text);
        Self {
            content_hash: content_hash(issue),
            bands: band_keys(&shingles, ISSUE_LSH),
            shingles,
            story: Story::of(&issue.title, &issue.lead),
            briefs: issue
                .briefs
                .iter()
                .map(|b| BriefPrints::of(&b.headline, &b.summary))
                .collect(),
        }
    }
}

/// [`shingles`] of a brief item's text.
pub fn shingles_of_brief(headline: &str, summary: &str) -> HashSet<u64> {
    shingles(&brief_text(headline, summary))
}

/// FNV-1a, 64 bit: a fixed, documented hash, so keys stored in the database stay valid across
/// builds and Rust versions (std's `DefaultHasher` promises neither).
fn fnv1a(bytes: impl IntoIterator<Item = u8>) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in bytes {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h
}

/// SplitMix64's finaliser: turns one hash into many independent-looking ones.
fn mix(mut x: u64) -> u64 {
    x = (x ^ (x >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    x ^ (x >> 31)
}

/// The character 3-gram shingles of a text, hashed. A text shorter than a shingle is one
/// shingle.
pub fn shingles(text: &str) -> HashSet<u64> {
    shingle_hashes(text).into_iter().collect()
}

/// [`shingles`] as they come, in order, a repeated one again.
fn shingle_hashes(text: &str) -> Vec<u64> {
    let chars: Vec<char> = normalize(text).chars().collect();
    if chars.is_empty() {
        return Vec::new();
    }
    if chars.len() < SHINGLE {
        return vec![hash_chars(&chars)];
    }
    chars.windows(SHINGLE).map(hash_chars).collect()
}

fn hash_chars(chars: &[char]) -> u64 {
    fnv1a(chars.iter().flat_map(|c| (*c as u32).to_le_bytes()))
}

/// Jaccard similarity and containment of two shingle sets.
pub fn resemblance(a: &HashSet<u64>, b: &HashSet<u64>) -> (f64, f64) {
    if a.is_empty() || b.is_empty() {
        return (0.0, 0.0);
    }
    let (small, large) = if a.len() <= b.len() { (a, b) } else { (b, a) };
    let common = small.iter().filter(|s| large.contains(s)).count() as f64;
    let union = (a.len() + b.len()) as f64 - common;
    (common / union, common / small.len() as f64)
}

/// Whether two brief items tell the same story (see [`story::compare`]).
pub fn same_story(a: &Story, b: &Story) -> Verdict {
    story::compare(a, b)
}

/// The rule before this one: character 3-gram resemblance alone, which measures the template,
/// not the story (it called "SK하이닉스, 3분기 영업이익 5조원 돌파" the same story as "삼성전자, 3분기
/// 영업이익 10조원 돌파"). Kept to report both side by side (BENCHMARKS.md).
pub fn ngram_briefs_match(a: &HashSet<u64>, b: &HashSet<u64>) -> bool {
    let (jaccard, containment) = resemblance(a, b);
    jaccard >= BRIEF_JACCARD
        || (containment >= BRIEF_CONTAINMENT && a.len().min(b.len()) >= MIN_CONTAINED_SHINGLES)
}

/// Whether two issues are the same issue: whole texts near-identical, and titles and leads that
/// tell the same story (so two ordinary articles written on one template stay two issues).
pub fn issues_match(a: &IssuePrints, b_text: &str, b_story: &Story) -> bool {
    resemblance(&a.shingles, &shingles(b_text)).0 >= ISSUE_JACCARD
        && !matches!(story::compare(&a.story, b_story), Verdict::Contradicts(_))
}

/// The LSH band keys of a shingle set (any collection of its hashes: neither their order nor a
/// hash given twice changes the keys): equal keys make a candidate pair. Empty for an empty set.
pub fn band_keys<'a>(shingles: impl IntoIterator<Item = &'a u64>, lsh: Lsh) -> Vec<i64> {
    let mut shingles = shingles.into_iter().peekable();
    if shingles.peek().is_none() {
        return Vec::new();
    }
    let seeds: Vec<u64> = (0..lsh.bands * lsh.rows)
        .map(|i| mix(i as u64 + 1))
        .collect();
    let mut mins = vec![u64::MAX; seeds.len()];
    for &s in shingles {
        for (m, seed) in mins.iter_mut().zip(&seeds) {
            let h = mix(s ^ seed);
            if h < *m {
                *m = h;
            }
        }
    }
    mins.chunks(lsh.rows)
        .enumerate()
        .map(|(band, rows)| {
            let bytes = (band as u64)
                .to_le_bytes()
                .into_iter()
                .chain(rows.iter().flat_map(|r| r.to_le_bytes()));
            fnv1a(bytes) as i64
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn brief_pair_matches(a: &str, b: &str) -> bool {
        ngram_briefs_match(&shingles(a), &shingles(b))
    }

    /// Pairs that tell the same news: all must match.
    const SAME: &[(&str, &str, &str)] = &[
        (
            "quote styles",
            "삼성전자의 생성 AI 브랜드는 ‘가우스’ 삼성전자가 ‘삼성 가우스’라는 브랜드를 상표 출원한 것으로 알려졌습니다.",
            "삼성전자의 생성 AI 브랜드는 '가우스' 삼성전자가 \"삼성 가우스\"라는 브랜드를 상표 출원한 것으로 알려졌습니다.",
        ),
        (
            "changed punctuation and spacing",
            "네이버 “챗봇 성능 논란 중요하지 않아…지속 고도화” 챗봇 ‘클로바X’의 성능이 기대 이하라 주가가 떨어졌다는 의견에 대해, 네이버가 신경 쓰지 않겠다고 밝혔습니다.",
            "네이버, 챗봇 성능 논란 중요하지 않아 - 지속 고도화. 챗봇 클로바X의 성능이 기대 이하라 주가가 떨어졌다는 의견에 대해 네이버가 신경쓰지 않겠다고 밝혔습니다.",
        ),
        (
            "light rewording",
            "스타트업 업스테이지가 한국어 오픈 소스 LLM 순위를 만들겠다고 밝혔습니다. 이를 통해 중소 ML옵스 기업의 기술력을 선보여 생태계 구축에 일조하겠다는 의도입니다.",
            "스타트업 업스테이지가 한국어 오픈소스 LLM 순위를 만든다고 밝혔습니다. 이를 통해 중소 ML옵스 기업의 기술력을 보여 생태계 구축에 일조하겠다는 의도입니다.",
        ),
        (
            "a trailing sentence added",
            "카리브해의 영국령 앵귈라가 닷에이아이 도메인 등록으로 인해 올해 2500만~3000만달러의 수익을 올릴 것으로 예측됐습니다. 특히 챗GPT 등장 이후로 수익이 급성장했다는 말입니다.",
            "카리브해의 영국령 앵귈라가 닷에이아이 도메인 등록으로 인해 올해 2500만~3000만달러의 수익을 올릴 것으로 예측됐습니다. 특히 챗GPT 등장 이후로 수익이 급성장했다는 말입니다. 이런 수익은 관광이 주업인 앵귈라의 GDP 중 무려 10%를 차지한다고 합니다.",
        ),
        (
            "English, case and punctuation",
            "OpenAI releases GPT-5 to all ChatGPT users. The model is faster and cheaper, the company said on Thursday.",
            "OpenAI Releases GPT-5 To All ChatGPT Users — the model is faster and cheaper, the company said Thursday.",
        ),
        (
            "a sentence dropped from a long summary",
            "국내 중견 AI 기업 올거나이즈가 기업용 AI 앱 100개를 모아놓은 알리 LLM 앱스토어를 공개했습니다. 일반, 법률, 인사, 고객지원, 생산성, 기타 등 6개 분야에서 다양한 AI 앱을 골라서 쓰라는 의도입니다. LLM 공개가 아니라, 사용자 접근성을 높인 앱 형태 출시라는 점이 눈에 띕니다.",
            "국내 중견 AI 기업 올거나이즈가 기업용 AI 앱 100개를 모아놓은 알리 LLM 앱스토어를 공개했습니다. 일반, 법률, 인사, 고객지원, 생산성, 기타 등 6개 분야에서 다양한 AI 앱을 골라서 쓰라는 의도입니다.",
        ),
    ];

    /// Pairs that are different news, often about the same company: none may match.
    const DIFFERENT: &[(&str, &str, &str)] = &[
        (
            "two Samsung stories",
            "삼성전자의 생성 AI 브랜드는 ‘가우스’ 삼성전자가 ‘삼성 가우스’라는 브랜드를 상표 출원한 것으로 알려졌습니다.",
            "삼성전자, HBM3E 엔비디아 품질 테스트 통과 삼성전자가 5세대 고대역폭메모리를 엔비디아에 공급하기 위한 품질 테스트를 통과한 것으로 알려졌습니다.",
        ),
        (
            "two Naver stories",
            "네이버 “챗봇 성능 논란 중요하지 않아…지속 고도화” 챗봇 ‘클로바X’의 성능이 기대 이하라 주가가 떨어졌다는 의견에 대해, 네이버가 신경 쓰지 않겠다고 밝혔습니다.",
            "네이버, 사우디에 디지털 트윈 플랫폼 구축 네이버가 사우디아라비아 주택부와 함께 5개 도시를 디지털 트윈으로 구축하는 사업을 수주했다고 밝혔습니다.",
        ),
        (
            "two OpenAI stories",
            "OpenAI releases GPT-5 to all ChatGPT users. The model is faster and cheaper, the company said on Thursday.",
            "OpenAI signs a cloud deal with Oracle. The company will rent data center capacity worth billions, it said on Thursday.",
        ),
        (
            "same template, different numbers and firms",
            "업스테이지가 시리즈B 투자를 유치했다고 밝혔습니다. 이번 투자로 누적 투자액은 1000억원을 넘었습니다.",
            "리벨리온이 시리즈C 투자를 유치했다고 밝혔습니다. 이번 투자로 기업가치는 1조원을 넘었습니다.",
        ),
        (
            "a short headline inside a longer story",
            "엔비디아 주가 급등",
            "엔비디아 주가 급등에 국내 반도체 장비 업체들도 동반 상승했으며, 증권가는 하반기 실적 전망을 일제히 상향 조정했습니다.",
        ),
    ];

    #[test]
    fn near_duplicate_table() {
        for (name, a, b) in SAME {
            let (j, c) = resemblance(&shingles(a), &shingles(b));
            assert!(
                brief_pair_matches(a, b),
                "{name}: should match (jaccard {j:.2}, containment {c:.2})"
            );
        }
        for (name, a, b) in DIFFERENT {
            let (j, c) = resemblance(&shingles(a), &shingles(b));
            assert!(
                !brief_pair_matches(a, b),
                "{name}: must not match (jaccard {j:.2}, containment {c:.2})"
            );
        }
    }

    #[test]
    fn headlines_of_no_letters_are_not_the_same_headline() {
        // Both keys are empty: that says nothing of the stories, which share no words.
        let a = BriefPrints::of(
            "…",
            "삼성전자가 3분기 영업이익 10조원을 넘어섰다고 밝혔습니다.",
        );
        assert_eq!(a.headline_key, "");
        assert_eq!(
            a.same_story_as("“ ”", "부산시가 생성 AI 민원 상담 서비스를 도입했습니다."),
            None
        );
        // Retold in the same words, it is still found the same story.
        assert!(
            a.same_story_as(
                "!",
                "삼성전자가 3분기 영업이익 10조원을 넘어섰다고 밝혔습니다."
            )
            .is_some()
        );
    }

    /// `normalize` as it was first written, without the fast paths: stored headline keys and
    /// band keys were made by it, so the fast paths must not change one character.
    fn normalize_plainly(text: &str) -> String {
        text.nfkc()
            .flat_map(char::to_lowercase)
            .filter(|c| c.is_alphanumeric())
            .collect()
    }

    #[test]
    fn normalizing_fast_gives_what_normalizing_plainly_gives() {
        for text in [
            "삼성전자, 3분기 영업이익 10조원 돌파…“HBM 덕분”",
            "ＧＰＴ－５ ｆｕｌｌ‐ｗｉｄｔｈ ㈜네이버 ㄱㄴㄷ 가 İstanbul ẞ Ωmega ①②",
            "[8월20일] AI 뉴스 · 요약 ‘인용’ — 끝.",
            "",
        ] {
            assert_eq!(normalize(text), normalize_plainly(text), "{text}");
        }
        for (_, a, b) in SAME.iter().chain(DIFFERENT) {
            for text in [a, b] {
                assert_eq!(normalize(text), normalize_plainly(text), "{text}");
                assert_eq!(
                    BriefPrints::of(text, "").bands,
                    band_keys(&shingles_of_brief(text, ""), BRIEF_LSH)
                );
            }
        }
    }

    proptest::proptest! {
        #[test]
        fn normalizing_fast_gives_what_normalizing_plainly_gives_for_any_text(
            text in "(\\PC|[가-힣ㄱ-ㅎᄀ-ᇿＡ-ｚ…“”·①])*"
        ) {
            proptest::prop_assert_eq!(normalize(&text), normalize_plainly(&text));
        }
    }

    #[test]
    fn headline_keys_ignore_quotes_spacing_and_case() {
        assert_eq!(
            headline_key("‘트랜스포머’ 저자 폴로수킨 “한국은 매력적 시장”"),
            headline_key("'트랜스포머' 저자 폴로수킨 \"한국은  매력적 시장\"")
        );
        assert_eq!(headline_key("ChatGPT, GPT-4"), headline_key("chatgpt gpt4"));
        assert_ne!(
            headline_key("삼성전자 가우스"),
            headline_key("삼성전자 HBM")
        );
    }

    #[test]
    fn similar_texts_share_a_band_key_and_different_ones_rarely_do() {
        let (_, a, b) = SAME[2];
        let keys = |t: &str| band_keys(&shingles(t), BRIEF_LSH);
        let ka: HashSet<i64> = keys(a).into_iter().collect();
        let kb = keys(b);
        assert_eq!(kb.len(), BRIEF_LSH.bands);
        assert!(kb.iter().any(|k| ka.contains(k)));
        for (name, c, d) in DIFFERENT {
            let kc: HashSet<i64> = keys(c).into_iter().collect();
            assert!(!keys(d).iter().any(|k| kc.contains(k)), "{name}");
        }
    }

    #[test]
    fn band_keys_are_stable_across_builds() {
        // Stored in databases: a change here orphans every stored key. Update only with a
        // migration that recomputes them.
        assert_eq!(
            band_keys(&shingles("엔비디아"), BRIEF_LSH)[0],
            -5_460_786_318_719_115_865
        );
        assert_eq!(fnv1a(*b"a"), 0xaf63_dc4c_8601_ec8c);
    }
}
