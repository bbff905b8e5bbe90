//! Property tests over every parser of outside text (`briefbot::scrape::fuzzing::exercise`):
//! arbitrary bytes, and the fixture pages mutated — truncated anywhere (multi-byte characters
//! cut), bytes flipped, tags unbalanced, huge attributes, deep nesting, runs of markup. The CI
//! run is short (`BRIEFBOT_FUZZ_CASES`, default 24 per property); the long coverage-guided run is
//! `fuzz/` (cargo-fuzz), and RELIABILITY.md says what it found.

use std::path::PathBuf;
use std::sync::LazyLock;
use std::time::{Duration, Instant};

use briefbot::scrape::fuzzing::exercise;
use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};

use crate::support::fixture_path;

/// Every page-like fixture: our pages, the real third-party ones, the feeds and the seed.
static SEEDS: LazyLock<Vec<(String, Vec<u8>)>> = LazyLock::new(|| {
    let mut seeds = Vec::new();
    for dir in [
        "aitimes",
        "wordpress",
        "euckr",
        "real",
        "rss",
        "atom",
        "seed",
    ] {
        let dir: PathBuf = fixture_path(dir);
        let mut paths: Vec<PathBuf> = std::fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| {
                p.extension()
                    .is_some_and(|e| e == "html" || e == "xml" || e == "txt")
            })
            .collect();
        paths.sort();
        for p in paths {
            let name = p
                .strip_prefix(fixture_path(""))
                .unwrap()
                .display()
                .to_string();
            seeds.push((name, std::fs::read(&p).unwrap()));
        }
    }
    assert!(seeds.len() >= 20, "only {} seeds", seeds.len());
    seeds
});

fn cases() -> u32 {
    std::env::var("BRIEFBOT_FUZZ_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(24)
}

fn runner() -> TestRunner {
    TestRunner::new(Config {
        cases: cases(),
        failure_persistence: None,
        // A shrink step re-runs every parser on a page; a few hundred are plenty.
        max_shrink_iters: 256,
        ..Config::default()
    })
}

#[derive(Debug, Clone)]
enum Mutation {
    Truncate(usize),
    Flip(Vec<(usize, u8)>),
    Insert(usize, Vec<u8>),
    Remove(usize, usize),
}

fn markup() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        (1usize..3_000).prop_map(|n| "<div>".repeat(n).into_bytes()),
        (1usize..3_000).prop_map(|n| "</div>".repeat(n).into_bytes()),
        (1usize..200_000).prop_map(|n| format!("<p class=\"{}\">", "a".repeat(n)).into_bytes()),
        (1usize..1_000).prop_map(|n| "<table><tr><td>".repeat(n).into_bytes()),
        (1usize..500).prop_map(|n| (0..n)
            .map(|i| format!("<b id={i}>"))
            .collect::<String>()
            .into_bytes()),
        Just(b"<script>".to_vec()),
        Just(b"<!--".to_vec()),
        Just(b"]]>".to_vec()),
        Just("■ ".as_bytes().to_vec()),
        Just("(사진=셔터스톡)".as_bytes().to_vec()),
        Just(
            "@everyone [link](https://evil.example) ||x|| <@&1> \u{202e}"
                .as_bytes()
                .to_vec()
        ),
        Just(vec![0xed, 0x95]),
        Just(vec![0xb0, 0xa1, 0xff, 0xfe, 0x00]),
        proptest::collection::vec(any::<u8>(), 0..64),
    ]
}

fn mutation(len: usize) -> impl Strategy<Value = Mutation> {
    let at = 0..=len;
    prop_oneof![
        at.clone().prop_map(Mutation::Truncate),
        proptest::collection::vec((0..len.max(1), any::<u8>()), 1..64).prop_map(Mutation::Flip),
        (at.clone(), markup()).prop_map(|(i, m)| Mutation::Insert(i, m)),
        (at, 0usize..20_000).prop_map(|(i, n)| Mutation::Remove(i, n)),
    ]
}

fn apply(mut page: Vec<u8>, mutations: &[Mutation]) -> Vec<u8> {
    for m in mutations {
        match m {
            Mutation::Truncate(at) => page.truncate(*at),
            Mutation::Flip(flips) => {
                for (at, byte) in flips {
                    if let Some(b) = page.get_mut(*at) {
                        *b = *byte;
                    }
                }
            }
            Mutation::Insert(at, bytes) => {
                let at = (*at).min(page.len());
                page.splice(at..at, bytes.iter().copied());
            }
            Mutation::Remove(at, n) => {
                let at = (*at).min(page.len());
                let end = (at + n).min(page.len());
                page.drain(at..end);
            }
        }
    }
    page
}

/// Runs `exercise` and reports the slowest input it saw (the fuzzing figures in
/// RELIABILITY.md come from the long run, in release; this is for the eye).
fn run(label: &str, strategy: impl Strategy<Value = Vec<u8>>) {
    let slowest = std::cell::Cell::new((Duration::ZERO, 0usize));
    runner()
        .run(&strategy, |bytes| {
            let started = Instant::now();
            exercise(&bytes);
            let took = started.elapsed();
            if took > slowest.get().0 {
                slowest.set((took, bytes.len()));
                // To look at the slowest input: BRIEFBOT_FUZZ_KEEP=dir.
                if let Some(dir) = std::env::var_os("BRIEFBOT_FUZZ_KEEP") {
                    let name = label.replace(' ', "-");
                    std::fs::write(PathBuf::from(dir).join(name), &bytes).unwrap();
                }
            }
            Ok(())
        })
        .unwrap_or_else(|e| panic!("{label}: {e}"));
    let slowest = slowest.get();
    eprintln!(
        "{label}: {} cases, slowest {:?} ({} bytes, debug build)",
        cases(),
        slowest.0,
        slowest.1
    );
}

#[test]
fn arbitrary_bytes_never_panic_any_parser() {
    run(
        "arbitrary bytes",
        proptest::collection::vec(any::<u8>(), 0..8_192),
    );
}

#[test]
fn mutated_real_pages_never_panic_any_parser() {
    let seeds = SEEDS.len();
    let strategy = (0..seeds).prop_flat_map(|i| {
        let page = SEEDS[i].1.clone();
        proptest::collection::vec(mutation(page.len()), 1..4)
            .prop_map(move |mutations| apply(page.clone(), &mutations))
    });
    run("mutated pages", strategy);
}

#[test]
fn markup_soup_never_panics_any_parser() {
    run(
        "markup soup",
        proptest::collection::vec(markup(), 1..24).prop_map(|parts| parts.concat()),
    );
}
