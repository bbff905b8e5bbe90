//! # briefbot
//!
//! Keeps Discord communities up to date with AI news: scrapes news-brief issues (first of all
//! AI Times' daily 뉴스 브리핑), splits each into its lead story and `■` brief items,
//! deduplicates them in a database, posts each new issue to the Discord channels that
//! subscribed, and answers slash-command and command-line lookups.
//!
//! # Layout
//!
//! - [`app`] — `briefbot run` as one value: [`app::App::build`] opens and binds everything from
//!   the settings, [`app::App::run_until`] runs the lease, the polling, the delivery worker,
//!   the gateway and the endpoint, and stops them in order. The command line and the tests'
//!   `spawn_app` both start it.
//! - [`config`] — typed settings from the environment and the sources file; one-line errors.
//! - [`domain`] — pure types: [`domain::SourceId`], [`domain::CanonicalUrl`],
//!   [`domain::Issue`], [`domain::Brief`].
//! - [`scrape`] — the pipeline's edge: [`scrape::fetch`] (the one HTTP client: limits,
//!   conditional GET, charsets via [`scrape::charset`]), [`scrape::listing`] (list pages and
//!   feeds), [`scrape::article`] (issue pages by layout profile), [`scrape::brief`] (lead/item
//!   split and noise removal), and [`scrape::Scraper`], one pass over a source into the store.
//! - [`dedup`] — fingerprints: headline keys, content hashes, character n-gram near-duplicates
//!   with a MinHash LSH index.
//! - [`store`] — the only module with SQL; decides what is new.
//! - [`leader`] — the scheduler lease: which one process polls and posts (a database row with an
//!   expiry only a working holder renews, and a generation that fences a former holder's
//!   writes).
//! - [`schedule`] — the polling loops with backoff, one per source, supervised (a loop that
//!   panics is restarted).
//! - [`search`] — search terms for Korean and English: Hangul bigrams and syllables, particles
//!   dropped from queries, shared by every storage backend.
//! - [`deliver`] — the outbox worker: posts owed deliveries to Discord exactly once (frozen
//!   parts, in-doubt parts looked for in the channel before any repost, nonces), paced and fair
//!   across channels; pauses channels that refuse; prunes what no guarantee needs.
//! - [`bot`] — the Discord side: gateway client, slash commands ([`bot::commands`]).
//! - [`output`] and [`cli`] — what the command line prints, and its arguments handed to the
//!   library.
//! - [`logging`] — the log's writer, which scrubs the bot token and interaction tokens from
//!   every line.
//! - [`http`] — the operator's endpoint: `/healthz` and `/metrics`; [`telemetry`] — what the
//!   process counts for it.
//! - [`discord`] — the Discord adapter: rendered messages as serenity's builders, for posts and
//!   replies alike.
//! - [`render`] — pure Discord rendering: an issue as messages of embeds within Discord's limits,
//!   scraped text escaped so it can neither format nor ping.

pub mod app;
pub mod bot;
pub mod cli;
pub mod config;
pub mod dedup;
pub mod deliver;
pub mod discord;
pub mod domain;
pub mod http;
pub mod leader;
pub mod logging;
pub mod output;
pub mod render;
pub mod schedule;
pub mod scrape;
pub mod search;
pub mod store;
pub mod telemetry;
