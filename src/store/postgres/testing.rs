//! The PostgreSQL side of `store::testing`.

use chrono::{DateTime, Utc};

use super::Backend;
use crate::store::Result;
use crate::store::contract::{BackendContract, SearchContract};

pub async fn cut_search_index(b: &Backend, keep: i64) -> Result<()> {
    sqlx::query(
        "DELETE FROM search_index WHERE seq NOT IN (
             SELECT seq FROM search_index ORDER BY seq LIMIT $1)",
    )
    .bind(keep)
    .execute(b.pool())
    .await?;
    Ok(())
}

pub async fn index_order(b: &Backend) -> Result<Vec<(Option<DateTime<Utc>>, bool)>> {
    Ok(sqlx::query_as(
        "SELECT i.published_at, s.doc > 0 FROM search_index s
         LEFT JOIN briefs b ON b.id = s.doc
         JOIN issues i ON i.id = CASE WHEN s.doc > 0 THEN b.issue_id ELSE -s.doc END
         ORDER BY s.at, i.id, COALESCE(b.position, -1)",
    )
    .fetch_all(b.pool())
    .await?)
}

pub async fn as_before_lead_search(b: &Backend) -> Result<()> {
    sqlx::query(
        "DELETE FROM search_index WHERE doc < 0
           AND EXISTS (SELECT 1 FROM briefs b WHERE b.issue_id = -search_index.doc)",
    )
    .execute(b.pool())
    .await?;
    Ok(())
}

pub async fn set_search_windows(b: &Backend, sizes: &[i64]) -> Result<()> {
    as_before_search_windows(b, sizes).await?;
    let mut tx = b.begin_write().await?;
    Backend::issue_indexed(&mut tx).await?;
    tx.commit().await?;
    Ok(())
}

pub async fn as_before_search_windows(b: &Backend, sizes: &[i64]) -> Result<()> {
    let mut tx = b.begin_write().await?;
    sqlx::query("DELETE FROM search_windows")
        .execute(&mut *tx)
        .await?;
    sqlx::query("INSERT INTO search_windows (size) SELECT unnest($1::bigint[])")
        .bind(sizes)
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(())
}

pub async fn search_windows(b: &Backend) -> Result<Vec<(i64, Option<DateTime<Utc>>)>> {
    Ok(
        sqlx::query_as("SELECT size, since FROM search_windows ORDER BY size")
            .fetch_all(b.pool())
            .await?,
    )
}

pub async fn as_before_search_period(b: &Backend) -> Result<()> {
    let mut tx = b.begin_write().await?;
    for statement in [
        "DELETE FROM _sqlx_migrations WHERE description = 'search period'",
        "DROP INDEX search_index_terms_period",
        "ALTER TABLE search_index DROP COLUMN period",
        "DROP FUNCTION search_period",
        "ALTER TABLE search_index ALTER COLUMN terms SET STORAGE EXTENDED",
        // Rewritten, so that each vector is stored as that version stored it.
        "UPDATE search_index SET terms = terms || ''::tsvector",
        "CREATE INDEX search_index_at_terms ON search_index USING GIN (at, terms)
             WITH (fastupdate = off)",
    ] {
        sqlx::query(statement).execute(&mut *tx).await?;
    }
    tx.commit().await?;
    Ok(())
}

pub async fn in_window_period(
    b: &Backend,
    times: &[DateTime<Utc>],
    since: DateTime<Utc>,
    newest: DateTime<Utc>,
) -> Result<Option<Vec<bool>>> {
    let Some(cover) = super::search::period_cover(since, newest) else {
        return Ok(None);
    };
    Ok(Some(
        sqlx::query_scalar(
            "SELECT search_period(t) @@ $2::tsquery FROM unnest($1::timestamptz[])
             WITH ORDINALITY AS u(t, n) ORDER BY n",
        )
        .bind(times)
        .bind(cover)
        .fetch_all(b.pool())
        .await?,
    ))
}

pub async fn size_on_disk(b: &Backend) -> Result<u64> {
    let bytes: i64 = sqlx::query_scalar("SELECT pg_database_size(current_database())")
        .fetch_one(b.pool())
        .await?;
    Ok(bytes as u64)
}

pub use super::shared::testing::*;
