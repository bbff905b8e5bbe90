//! The slowest input per parser: every fixture page and, when it exists, every input of the
//! fuzzer's corpus (`fuzz/corpus/pages`, or `BRIEFBOT_FUZZ_CORPUS`), run through each parser of
//! outside text on its own, timed. Prints one row per parser: inputs, slowest time and which
//! input. `cargo bench --bench parsers`; BENCHMARKS.md has the figures.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use briefbot::domain::{CanonicalUrl, Format};
use briefbot::scrape::article::{parse_article, parse_article_generic};
use briefbot::scrape::listing::{parse_listing, sniff};
use briefbot::scrape::{brief, charset, tame};
use chrono::Utc;
use url::Url;

fn files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            files(&path, out);
        } else if path
            .extension()
            .is_none_or(|e| e == "html" || e == "xml" || e == "txt")
        {
            out.push(path);
        }
    }
}

struct Slowest {
    name: &'static str,
    took: Duration,
    input: String,
    total: Duration,
}

fn main() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let mut inputs = Vec::new();
    files(&root.join("tests/fixtures"), &mut inputs);
    let corpus = std::env::var_os("BRIEFBOT_FUZZ_CORPUS")
        .map(PathBuf::from)
        .unwrap_or_else(|| root.join("fuzz/corpus/pages"));
    files(&corpus, &mut inputs);
    inputs.sort();

    let base = Url::parse("https://www.aitimes.com/news/articleList.html").unwrap();
    let now = Utc::now();
    let mut rows: Vec<Slowest> = Vec::new();
    let mut time = |name: &'static str, input: &Path, f: &mut dyn FnMut()| {
        let started = Instant::now();
        f();
        let took = started.elapsed();
        let row = match rows.iter_mut().find(|r| r.name == name) {
            Some(row) => row,
            None => {
                rows.push(Slowest {
                    name,
                    took: Duration::ZERO,
                    input: String::new(),
                    total: Duration::ZERO,
                });
                rows.last_mut().unwrap()
            }
        };
        row.total += took;
        if took > row.took {
            row.took = took;
            let size = std::fs::metadata(input).map_or(0, |m| m.len());
            row.input = format!(
                "{} ({} KB)",
                input.strip_prefix(&root).unwrap_or(input).display(),
                size / 1024
            );
        }
    };
    let mut bytes_in = 0usize;
    for path in &inputs {
        let bytes = std::fs::read(path).unwrap();
        bytes_in += bytes.len();
        let mut text = String::new();
        time("charset::decode", path, &mut || {
            text = charset::decode(&bytes, None, Some(b"kr"));
        });
        time("tame (nesting cap)", path, &mut || {
            let _ = tame::tame(&text);
        });
        time("listing::sniff", path, &mut || {
            let _ = sniff(&text);
        });
        for (name, format) in [
            ("parse_listing ndsoft", Format::Ndsoft),
            ("parse_listing wordpress", Format::Wordpress),
            ("parse_listing rss (feed-rs)", Format::Rss),
            ("parse_listing auto", Format::Auto),
        ] {
            time(name, path, &mut || {
                let _ = parse_listing(&text, &base, format, now);
            });
        }
        let mut lines = Vec::new();
        for (name, format) in [
            ("parse_article ndsoft", Format::Ndsoft),
            ("parse_article wordpress", Format::Wordpress),
            ("parse_article auto", Format::Auto),
        ] {
            time(name, path, &mut || {
                if let Ok(a) = parse_article(&text, &base, format) {
                    lines = a.lines;
                }
            });
        }
        time("parse_article_generic (Readability)", path, &mut || {
            let _ = parse_article_generic(&text, &base);
        });
        if lines.is_empty() {
            lines = text.lines().take(2_000).map(str::to_owned).collect();
        }
        time("brief::split", path, &mut || {
            let _ = brief::split(&lines, Some("제목"));
        });
        time("CanonicalUrl (each line)", path, &mut || {
            for line in text.lines().take(2_000) {
                if let Ok(url) = base.join(line.trim()) {
                    let _ = CanonicalUrl::from_url(url);
                }
            }
        });
    }
    println!(
        "{} inputs ({} MB): {} fixture pages and the fuzz corpus at {}",
        inputs.len(),
        bytes_in / (1024 * 1024),
        inputs
            .iter()
            .filter(|p| p.starts_with(root.join("tests")))
            .count(),
        corpus.display()
    );
    println!("| parser | slowest | input | mean |");
    println!("| --- | ---: | --- | ---: |");
    for row in &rows {
        println!(
            "| {} | {:.1} ms | {} | {:.2} ms |",
            row.name,
            row.took.as_secs_f64() * 1e3,
            row.input,
            row.total.as_secs_f64() * 1e3 / inputs.len() as f64
        );
    }
}
