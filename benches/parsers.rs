//! The slowest input per parser: every fixture page and, when they exist, every input of the
//! fuzzer's corpus and its artifacts (`fuzz/corpus/pages`, `fuzz/artifacts/pages`, or the
//! directory `BRIEFBOT_FUZZ_CORPUS`), run through each parser of outside text (the fuzz
//! target's calls, `briefbot::scrape::fuzzing::exercise_each`), each call timed. Prints one row per parser: inputs, slowest time and which
//! input. `cargo bench --bench parsers`; BENCHMARKS.md has the figures.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use briefbot::scrape::fuzzing::exercise_each;

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
    files(&root.join("fuzz/artifacts/pages"), &mut inputs);
    inputs.sort();

    let mut rows: Vec<Slowest> = Vec::new();
    let mut bytes_in = 0usize;
    for path in &inputs {
        let bytes = std::fs::read(path).unwrap();
        bytes_in += bytes.len();
        exercise_each(&bytes, &mut |name, run| {
            let started = Instant::now();
            run();
            let took = started.elapsed();
            let row = match rows.iter().position(|r| r.name == name) {
                Some(i) => &mut rows[i],
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
                row.input = format!(
                    "{} ({} KB)",
                    path.strip_prefix(&root).unwrap_or(path).display(),
                    bytes.len() / 1024
                );
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
