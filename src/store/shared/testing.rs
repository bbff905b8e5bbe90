//! Test helpers whose SQL both backends share: a module of `sqlite::testing` and of
//! `postgres::testing`, compiled for each (see `store::contract`).

use chrono::{DateTime, Utc};

use super::Backend;
use crate::store::Result;
use crate::store::contract::BackendContract;

/// As if the process died right after Discord created every message of a delivery and before
/// the outbox recorded any: its parts attempted but not recorded, the delivery pending, and
/// the channel's stories not remembered.
pub async fn forget_posting(b: &Backend, delivery_id: i64) -> Result<()> {
    let mut tx = b.pool().begin().await?;
    sqlx::query("UPDATE delivery_parts SET message_id = NULL WHERE delivery_id = $1")
        .bind(delivery_id)
        .execute(&mut *tx)
        .await?;
    sqlx::query(
        "UPDATE deliveries SET status = 'pending', parts_sent = 0, finished_at = NULL WHERE id = $1",
    )
    .bind(delivery_id)
    .execute(&mut *tx)
    .await?;
    sqlx::query("DELETE FROM channel_stories")
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(())
}

/// Deletes a delivery's frozen messages and leaves its stories: what the hourly prune of the
/// version before issue 19 left of a failed delivery a day after its channel was paused.
pub async fn forget_parts(b: &Backend, delivery_id: i64) -> Result<()> {
    sqlx::query("DELETE FROM delivery_parts WHERE delivery_id = $1")
        .bind(delivery_id)
        .execute(b.pool())
        .await?;
    Ok(())
}

/// Makes a delivery's frozen messages unreadable (a disk fault, a hand edit, a bug of a past
/// version).
pub async fn corrupt_parts(b: &Backend, delivery_id: i64) -> Result<()> {
    sqlx::query("UPDATE delivery_parts SET body = 'not a message' WHERE delivery_id = $1")
        .bind(delivery_id)
        .execute(b.pool())
        .await?;
    Ok(())
}

/// Pauses every subscription of `channel` as a refusal by Discord would.
pub async fn pause_channel(
    b: &Backend,
    channel: i64,
    at: DateTime<Utc>,
    reason: &str,
) -> Result<()> {
    sqlx::query("UPDATE subscriptions SET paused_at = $2, pause_reason = $3 WHERE channel_id = $1")
        .bind(channel)
        .bind(at)
        .bind(reason)
        .execute(b.pool())
        .await?;
    Ok(())
}

/// The number of documents in the search index.
pub async fn indexed_documents(b: &Backend) -> Result<i64> {
    Ok(sqlx::query_scalar("SELECT COUNT(*) FROM search_index")
        .fetch_one(b.pool())
        .await?)
}

/// See [`crate::store::testing::unprinted_briefs`].
pub async fn unprinted_briefs(b: &Backend) -> Result<i64> {
    Ok(
        sqlx::query_scalar("SELECT COUNT(*) FROM briefs WHERE story_terms IS NULL")
            .fetch_one(b.pool())
            .await?,
    )
}

/// See [`crate::store::testing::as_previous_rule`].
pub async fn as_previous_rule(b: &Backend, merges: &[(i64, i64)]) -> Result<()> {
    let mut tx = b.pool().begin().await?;
    for (brief, story) in merges {
        sqlx::query("UPDATE briefs SET story_id = $2 WHERE id = $1")
            .bind(brief)
            .bind(story)
            .execute(&mut *tx)
            .await?;
    }
    sqlx::query("UPDATE briefs SET subject_key = '', story_terms = NULL")
        .execute(&mut *tx)
        .await?;
    sqlx::query("UPDATE dedup_rule SET version = 1 WHERE id = 1")
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(())
}

/// See [`crate::store::testing::story_candidates`].
pub async fn story_candidates(b: &Backend, headline: &str, summary: &str) -> Result<Vec<i64>> {
    let prints = crate::dedup::BriefPrints::of(headline, summary);
    let mut conn = b.pool().acquire().await?;
    let candidates = Backend::story_candidates(&mut conn, &prints).await?;
    Ok(candidates.into_iter().map(|c| c.id).collect())
}
