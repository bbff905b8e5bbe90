//! briefbot's integration tests: one binary, with the fakes it needs in `support/` (the fake news
//! site, the fake Discord, a TCP proxy for partitions, the labelled dedup pairs, and `app`: the
//! one harness, `spawn_app`, that runs the whole app in this process on either backend).
//!
//! - `parse` — the parsers on fixture pages (ours in `tests/fixtures/`, real third-party pages in
//!   `tests/fixtures/real/`), no network, no database; `fixtures` — those real pages unchanged;
//!   `fuzz` — property tests of every parser of outside text.
//! - `scrape` — the real scraper against the fake news site into a real database; `guard` — the
//!   addresses a scraped link may make it fetch, directly and through a proxy.
//! - `dedup` — the near-duplicate rule on labelled pairs, and through the real binary;
//!   `search` — search quality on a fixture corpus through the real store.
//! - `contract` — the fake Discord's check against Discord's OpenAPI description.
//! - `deliver` — the delivery worker one step at a time (`TestApp::idle`); `bot` — the whole app
//!   (`spawn_app`): slash commands, posts, the gateway; `http` — the operator's endpoint.
//! - `cli` — the `briefbot` binary as an operator runs it; `crash` — the same binary killed
//!   again and again during a fan-out; `faults` — fifteen broken sources against one running
//!   binary; `fleet` — three binaries on one PostgreSQL database, partitioned and frozen.

mod bot;
mod cli;
mod contract;
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
