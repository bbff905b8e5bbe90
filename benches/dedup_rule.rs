//! The near-duplicate rule on the labelled pairs (`tests/fixtures/dedup/`, the development set
//! and the held-out one): precision
//! and recall of "same story" per category, the previous rule (character 3-grams alone) beside
//! the current one (who and how much, `dedup::story`), and what one comparison costs.
//!
//! `cargo bench --bench dedup_rule` (add `-- --wrong` to list the pairs each rule gets wrong).

use std::time::Instant;

use briefbot::dedup::{self, Story};

#[path = "../tests/it/support/pairs.rs"]
mod pairs;

fn main() {
    let show_wrong = std::env::args().any(|a| a == "--wrong");
    let pairs = pairs::pairs();
    for (name, set) in [
        ("development set, tests/fixtures/dedup/pairs.jsonl", &pairs),
        (
            "held-out set, tests/fixtures/dedup/holdout.jsonl",
            &pairs::holdout(),
        ),
    ] {
        let (before, wrong_before) = pairs::score(set, |a, b| {
            let same = dedup::ngram_briefs_match(
                &dedup::shingles_of_brief(&a.headline, &a.summary),
                &dedup::shingles_of_brief(&b.headline, &b.summary),
            );
            (same, String::new())
        });
        let (now, wrong_now) = pairs::score(set, |a, b| {
            let verdict = dedup::same_story(
                &Story::of(&a.headline, &a.summary),
                &Story::of(&b.headline, &b.summary),
            );
            (verdict.is_same(), verdict.reason().to_owned())
        });
        println!("{name}: {} labelled pairs\n", set.len());
        println!("{}", pairs::table(&before, &now));
        if show_wrong {
            println!("wrong before:");
            wrong_before.iter().for_each(|w| println!("  {w}"));
            println!("wrong now:");
            wrong_now.iter().for_each(|w| println!("  {w}"));
        }
    }

    // What a check costs: a stored item's story read again and compared (the store does this
    // for each candidate), timed per candidate.
    let stories: Vec<(Story, &pairs::Item)> = pairs
        .iter()
        .map(|p| (Story::of(&p.a.headline, &p.a.summary), &p.b))
        .collect();
    let mut times = Vec::new();
    for _ in 0..20 {
        for (a, b) in &stories {
            let start = Instant::now();
            let verdict = dedup::same_story(a, &Story::of(&b.headline, &b.summary));
            std::hint::black_box(verdict);
            times.push(start.elapsed().as_secs_f64() * 1e6);
        }
    }
    times.sort_by(f64::total_cmp);
    let at = |q: f64| times[((times.len() - 1) as f64 * q) as usize];
    println!(
        "one candidate read and compared: median {:.1} µs, p99 {:.1} µs ({} comparisons)",
        at(0.5),
        at(0.99),
        times.len()
    );
}
