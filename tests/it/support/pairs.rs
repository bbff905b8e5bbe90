//! The labelled pairs of `tests/fixtures/dedup/pairs.jsonl`: brief items that tell the same
//! story or another one, by category, and how well a rule tells them apart. Shared by the test
//! that holds the rule to its goals (`tests/it/dedup.rs`) and the bench that reports it
//! (`benches/dedup_rule.rs`).

use std::collections::BTreeMap;

use serde::Deserialize;

pub const PAIRS: &str = include_str!("../../fixtures/dedup/pairs.jsonl");
/// Pairs written after the rule was tuned, by someone who had not seen it: how it does on news
/// it was not fitted to.
pub const HOLDOUT: &str = include_str!("../../fixtures/dedup/holdout.jsonl");

#[derive(Debug, Clone, Deserialize)]
pub struct Item {
    pub headline: String,
    pub summary: String,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Pair {
    pub id: String,
    pub category: String,
    pub lang: String,
    pub label: String,
    pub a: Item,
    pub b: Item,
}

impl Pair {
    pub fn same(&self) -> bool {
        self.label == "same"
    }
}

pub fn pairs() -> Vec<Pair> {
    read(PAIRS)
}

pub fn holdout() -> Vec<Pair> {
    read(HOLDOUT)
}

fn read(lines: &str) -> Vec<Pair> {
    lines
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect()
}

/// How a rule did on one category.
#[derive(Debug, Clone, Copy, Default)]
pub struct Score {
    pub pairs: usize,
    /// Labelled "same" and called "same".
    pub true_same: usize,
    /// Labelled "different" and called "same".
    pub false_same: usize,
    /// Labelled "same".
    pub labelled_same: usize,
}

impl Score {
    /// Of the pairs called "same", the share that are: `None` when none was.
    pub fn precision(&self) -> Option<f64> {
        let called = self.true_same + self.false_same;
        (called > 0).then(|| self.true_same as f64 / called as f64)
    }

    /// Of the pairs labelled "same", the share called so: `None` when none is.
    pub fn recall(&self) -> Option<f64> {
        (self.labelled_same > 0).then(|| self.true_same as f64 / self.labelled_same as f64)
    }
}

/// Each category's score (and "all", and all of each language), with the pairs the rule got wrong. The rule says whether
/// a pair is the same story, and why.
pub fn score(
    pairs: &[Pair],
    rule: impl Fn(&Item, &Item) -> (bool, String),
) -> (BTreeMap<String, Score>, Vec<String>) {
    let mut scores: BTreeMap<String, Score> = BTreeMap::new();
    let mut wrong = Vec::new();
    for p in pairs {
        let (called, why) = rule(&p.a, &p.b);
        let language = format!("all, {}", if p.lang == "en" { "English" } else { "Korean" });
        for key in [p.category.clone(), "all".to_owned(), language] {
            let s = scores.entry(key).or_default();
            s.pairs += 1;
            s.labelled_same += usize::from(p.same());
            s.true_same += usize::from(called && p.same());
            s.false_same += usize::from(called && !p.same());
        }
        if called != p.same() {
            wrong.push(format!(
                "{} ({}): called {} — '{}' / '{}'{}",
                p.id,
                p.label,
                if called { "same" } else { "different" },
                p.a.headline,
                p.b.headline,
                if why.is_empty() {
                    String::new()
                } else {
                    format!(": {why}")
                }
            ));
        }
    }
    (scores, wrong)
}

fn percent(x: Option<f64>) -> String {
    x.map_or("—".to_owned(), |x| format!("{:.0} %", 100.0 * x))
}

/// Recall with its counts: `95 % (20/21)`.
fn recall(s: &Score) -> String {
    match s.recall() {
        Some(_) => format!(
            "{} ({}/{})",
            percent(s.recall()),
            s.true_same,
            s.labelled_same
        ),
        None => "—".to_owned(),
    }
}

/// A Markdown table of two rules' scores side by side.
pub fn table(before: &BTreeMap<String, Score>, after: &BTreeMap<String, Score>) -> String {
    let mut out = String::from(
        "| category | pairs | \"same\" called wrongly, before → now | recall of \"same\", before → now | precision of \"same\", before → now |\n| --- | --- | --- | --- | --- |\n",
    );
    for (category, now) in after {
        let was = before.get(category).copied().unwrap_or_default();
        out.push_str(&format!(
            "| {category} | {} | {} → {} | {} → {} | {} → {} |\n",
            now.pairs,
            was.false_same,
            now.false_same,
            recall(&was),
            recall(now),
            percent(was.precision()),
            percent(now.precision()),
        ));
    }
    out
}
