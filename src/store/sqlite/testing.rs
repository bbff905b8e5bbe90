//! The SQLite side of `store::testing`.

use chrono::{DateTime, Utc};

use super::Backend;
use crate::store::Result;
use crate::store::contract::BackendContract;

/// Drops the search index's documents after the first `keep` (all of them with 0): what a
/// refill cut short, or a lost index, leaves.
pub async fn cut_search_index(b: &Backend, keep: i64) -> Result<()> {
    sqlx::query("DELETE FROM search_index WHERE rowid > $1")
        .bind(keep)
        .execute(b.pool())
        .await?;
    Ok(())
}

/// Each indexed document in index order: its issue's publish time, and whether it is an item
/// (1) or the issue's own title and lead (0).
pub async fn index_order(b: &Backend) -> Result<Vec<(Option<DateTime<Utc>>, bool)>> {
    Ok(sqlx::query_as(
        "SELECT i.published_at, s.doc > 0 FROM search_index s
         LEFT JOIN briefs b ON b.id = s.doc
         JOIN issues i ON i.id = CASE WHEN s.doc > 0 THEN b.issue_id ELSE -s.doc END
         ORDER BY s.rowid",
    )
    .fetch_all(b.pool())
    .await?)
}

/// SQLite has no search windows: FTS5 reads a query's matches newest first.
pub async fn set_search_windows(_b: &Backend, _sizes: &[i64]) -> Result<()> {
    Ok(())
}

pub async fn as_before_search_windows(_b: &Backend, _sizes: &[i64]) -> Result<()> {
    Ok(())
}

pub async fn search_windows(_b: &Backend) -> Result<Vec<(i64, Option<DateTime<Utc>>)>> {
    Ok(Vec::new())
}

pub async fn as_before_search_period(_b: &Backend) -> Result<()> {
    Ok(())
}

pub async fn in_window_period(
    _b: &Backend,
    _times: &[DateTime<Utc>],
    _since: DateTime<Utc>,
    _newest: DateTime<Utc>,
) -> Result<Option<Vec<bool>>> {
    Ok(None)
}

/// The database as the version before leads were indexed left it: only the items of an issue
/// with items indexed, and the migration that indexes every issue not yet run.
pub async fn as_before_lead_search(b: &Backend) -> Result<()> {
    sqlx::query(
        "DELETE FROM search_index WHERE doc < 0
           AND EXISTS (SELECT 1 FROM briefs b WHERE b.issue_id = -search_index.doc)",
    )
    .execute(b.pool())
    .await?;
    sqlx::query("DELETE FROM _sqlx_migrations WHERE version = 20261201000006")
        .execute(b.pool())
        .await?;
    Ok(())
}

/// The database's size in bytes, its write-ahead log checkpointed into it first.
pub async fn size_on_disk(b: &Backend) -> Result<u64> {
    sqlx::query("PRAGMA wal_checkpoint(TRUNCATE)")
        .execute(b.pool())
        .await?;
    let (pages, page_size): (i64, i64) = sqlx::query_as(
        "SELECT (SELECT page_count FROM pragma_page_count()) - (SELECT freelist_count FROM pragma_freelist_count()),
                (SELECT page_size FROM pragma_page_size())",
    )
    .fetch_one(b.pool())
    .await?;
    Ok((pages * page_size) as u64)
}

pub use super::shared::testing::*;
