//! briefbot's integration tests: one binary, with the fakes it needs in `support/`.
//!
//! - `parse` — the parsers on fixture pages (ours in `tests/fixtures/`, real third-party pages in
//!   `tests/fixtures/real/`), no network, no database; `fixtures` — those real pages unchanged.
//! - `scrape` — the real scraper against a fake news site on 127.0.0.1 and a real SQLite file.
//! - `cli` — the `briefbot` binary as an operator runs it; `crash` — the same binary killed
//!   again and again during a fan-out.

mod bot;
mod cli;
mod crash;
mod dedup;
mod deliver;
mod faults;
mod fixtures;
mod fleet;
mod fuzz;
mod guard;
mod http;
mod parse;
mod scrape;
mod search;
mod support;
