//! Test-only ways to put a database into states that only a crash, an older version or an
//! operator's hand produce, so tests and benches never write SQL of one backend themselves.
//! Not part of the product: nothing outside `tests/` and `benches/` calls these.

use chrono::{DateTime, Utc};

use super::{Backend, Result, Store};

macro_rules! each_backend {
    ($store:expr, $f:ident($($arg:expr),*)) => {
        match &$store.backend {
            Backend::Sqlite(b) => super::sqlite::testing::$f(b $(, $arg)*).await,
            Backend::Postgres(b) => super::postgres::testing::$f(b $(, $arg)*).await,
        }
    };
}

/// As if the process died right after Discord created every message of a delivery and before
/// the outbox recorded any: its parts attempted but not recorded, the delivery pending, and
/// the channel's stories not remembered.
pub async fn forget_posting(store: &Store, delivery_id: i64) -> Result<()> {
    each_backend!(store, forget_posting(delivery_id))
}

/// Deletes a delivery's frozen messages and keeps its stories, as the prune of the version
/// before issue 19 did to a failed delivery a day after its channel was paused.
pub async fn forget_parts(store: &Store, delivery_id: i64) -> Result<()> {
    each_backend!(store, forget_parts(delivery_id))
}

/// Makes a delivery's frozen messages unreadable.
pub async fn corrupt_parts(store: &Store, delivery_id: i64) -> Result<()> {
    each_backend!(store, corrupt_parts(delivery_id))
}

/// Drops the search index's documents after the first `keep` indexed (all of them with 0):
/// what a refill cut short, or a lost index, leaves.
pub async fn cut_search_index(store: &Store, keep: i64) -> Result<()> {
    each_backend!(store, cut_search_index(keep))
}

/// The number of documents in the search index.
pub async fn indexed_documents(store: &Store) -> Result<i64> {
    each_backend!(store, indexed_documents())
}

/// Each indexed document in the index's own order (on SQLite the order rowids were given, which
/// the newest-first ranking window relies on; on PostgreSQL the window reads the documents'
/// times, so their order is that): its issue's publish time, and whether it is an item (`true`)
/// or the issue's own title and lead.
pub async fn index_order(store: &Store) -> Result<Vec<(Option<DateTime<Utc>>, bool)>> {
    each_backend!(store, index_order())
}

/// Replaces PostgreSQL's search windows (the newest documents a search looks in first) by
/// windows of these sizes, measured now; with none, every search reads the whole index. SQLite
/// has no windows: nothing changes there.
pub async fn set_search_windows(store: &Store, sizes: &[i64]) -> Result<()> {
    each_backend!(store, set_search_windows(sizes))
}

/// The database as the version before search windows left it once their migration ran:
/// PostgreSQL's windows of these sizes, never measured. SQLite has no windows: nothing changes.
pub async fn as_before_search_windows(store: &Store, sizes: &[i64]) -> Result<()> {
    each_backend!(store, as_before_search_windows(sizes))
}

/// PostgreSQL's search windows, smallest first: each one's size and where it begins (the time
/// of its oldest document when it was last measured; `None` while never measured, or larger
/// than the index). Empty on SQLite.
pub async fn search_windows(store: &Store) -> Result<Vec<(i64, Option<DateTime<Utc>>)>> {
    each_backend!(store, search_windows())
}

/// The database as the version before search periods left it (PostgreSQL): no `period`
/// column or `search_period` function, the GIN index over `(at, terms)`, each document's
/// `terms` stored out of line, and that migration not yet run. SQLite: nothing changes.
pub async fn as_before_search_period(store: &Store) -> Result<()> {
    each_backend!(store, as_before_search_period())
}

/// Which of these times the period of a PostgreSQL search window from `since` to `newest`
/// holds, as the database writes each document's period (`search_period`) and a search covers
/// a window (`period_cover`). `None` on SQLite, which has no windows.
pub async fn in_window_period(
    store: &Store,
    times: &[DateTime<Utc>],
    since: DateTime<Utc>,
    newest: DateTime<Utc>,
) -> Result<Option<Vec<bool>>> {
    each_backend!(store, in_window_period(times, since, newest))
}

/// The database as the version before leads were indexed left it: only the items of an issue
/// with items indexed (on SQLite, with the migration that indexes every issue not yet run).
pub async fn as_before_lead_search(store: &Store) -> Result<()> {
    each_backend!(store, as_before_lead_search())
}

/// Pauses every subscription of `channel` as a refusal by Discord would.
pub async fn pause_channel(
    store: &Store,
    channel: i64,
    at: DateTime<Utc>,
    reason: &str,
) -> Result<()> {
    each_backend!(store, pause_channel(channel, at, reason))
}

/// The database's size in bytes (on SQLite, its write-ahead log checkpointed into it first).
pub async fn size_on_disk(store: &Store) -> Result<u64> {
    each_backend!(store, size_on_disk())
}

/// The database as the previous near-duplicate rule (character 3-grams alone) could have left
/// it: these briefs put into these stories (brief id, story id), as that rule merged template
/// twins, subjects and terms unwritten, and the rule's version 1, so the next open tells the stories apart
/// again. What channels received and pending deliveries' frozen stories are left as they are.
pub async fn as_previous_rule(store: &Store, merges: &[(i64, i64)]) -> Result<()> {
    each_backend!(store, as_previous_rule(merges))
}

/// How many stored briefs have no terms stored with them (`dedup::BriefPrints::terms`).
pub async fn unprinted_briefs(store: &Store) -> Result<i64> {
    each_backend!(store, unprinted_briefs())
}

/// The ids of the stored briefs a new brief of this headline and summary is compared with, in
/// the order they are compared and as the backend returns them (a brief may come twice): of
/// the same headline, sharing the most band keys, of the same subject.
pub async fn story_candidates(store: &Store, headline: &str, summary: &str) -> Result<Vec<i64>> {
    each_backend!(store, story_candidates(headline, summary))
}
