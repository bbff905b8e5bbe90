//! Subscriptions and the delivery outbox: who wants which issues, and which posts are owed.

use std::collections::HashSet;

use chrono::{DateTime, Duration, Utc};
use sqlx::{FromRow, SqliteConnection};

use super::{Result, Store, now};

/// How far back a new issue may have been published and still be posted: catch-up after
/// downtime posts the last three days, not a week-old backlog.
pub const CATCH_UP: Duration = Duration::days(3);
/// Brief items a channel received this recently are left out of later posts.
pub const STORY_MEMORY: Duration = Duration::days(30);
/// The `source_key` of a subscription to every source.
pub const ALL_SOURCES: &str = "*";

/// A channel's subscription.
#[derive(Debug, Clone, PartialEq, Eq, FromRow)]
pub struct Subscription {
    pub id: i64,
    pub guild_id: i64,
    pub channel_id: i64,
    /// A source id, or [`ALL_SOURCES`].
    pub source_key: String,
    pub keywords: Option<String>,
    pub created_at: DateTime<Utc>,
    pub paused_at: Option<DateTime<Utc>>,
    pub pause_reason: Option<String>,
}

/// A delivery the worker owes.
#[derive(Debug, Clone, PartialEq, Eq, FromRow)]
pub struct DueDelivery {
    pub id: i64,
    pub subscription_id: Option<i64>,
    pub channel_id: i64,
    pub issue_id: i64,
    pub kind: String,
    pub keywords: Option<String>,
    pub attempts: i64,
    pub parts_sent: i64,
}

/// What became of a subscribe request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Subscribed {
    New,
    /// The channel had this subscription; its keywords were replaced and a pause lifted.
    Updated,
}

impl Store {
    /// Subscribes a channel to a source (or [`ALL_SOURCES`]) from now on.
    pub async fn subscribe(
        &self,
        guild_id: i64,
        channel_id: i64,
        source_key: &str,
        keywords: Option<&str>,
        created_by: i64,
    ) -> Result<Subscribed> {
        let at = now();
        let existed: Option<i64> = sqlx::query_scalar(
            "SELECT id FROM subscriptions WHERE channel_id = $1 AND source_key = $2",
        )
        .bind(channel_id)
        .bind(source_key)
        .fetch_optional(&self.pool)
        .await?;
        sqlx::query(
            "INSERT INTO subscriptions (guild_id, channel_id, source_key, keywords, created_by, created_at)
             VALUES ($1, $2, $3, $4, $5, $6)
             ON CONFLICT (channel_id, source_key) DO UPDATE SET
                 keywords = excluded.keywords, paused_at = NULL, pause_reason = NULL",
        )
        .bind(guild_id)
        .bind(channel_id)
        .bind(source_key)
        .bind(keywords)
        .bind(created_by)
        .bind(at)
        .execute(&self.pool)
        .await?;
        Ok(if existed.is_some() {
            Subscribed::Updated
        } else {
            Subscribed::New
        })
    }

    /// Removes a channel's subscription; returns whether there was one. Deliveries it still
    /// owed are cancelled.
    pub async fn unsubscribe(&self, channel_id: i64, source_key: &str) -> Result<bool> {
        let mut tx = self.pool.begin_with("BEGIN IMMEDIATE").await?;
        let id: Option<i64> = sqlx::query_scalar(
            "DELETE FROM subscriptions WHERE channel_id = $1 AND source_key = $2 RETURNING id",
        )
        .bind(channel_id)
        .bind(source_key)
        .fetch_optional(&mut *tx)
        .await?;
        if let Some(id) = id {
            sqlx::query(
                "UPDATE deliveries SET status = 'cancelled', finished_at = $2
                 WHERE subscription_id = $1 AND status = 'pending'",
            )
            .bind(id)
            .bind(now())
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(id.is_some())
    }

    /// A server's subscriptions, by channel.
    pub async fn subscriptions(&self, guild_id: i64) -> Result<Vec<Subscription>> {
        Ok(sqlx::query_as(
            "SELECT id, guild_id, channel_id, source_key, keywords, created_at, paused_at, pause_reason
             FROM subscriptions WHERE guild_id = $1 ORDER BY channel_id, source_key",
        )
        .bind(guild_id)
        .fetch_all(&self.pool)
        .await?)
    }

    /// Every paused subscription, in every server.
    pub async fn paused_subscriptions(&self) -> Result<Vec<Subscription>> {
        Ok(sqlx::query_as(
            "SELECT id, guild_id, channel_id, source_key, keywords, created_at, paused_at, pause_reason
             FROM subscriptions WHERE paused_at IS NOT NULL ORDER BY paused_at DESC",
        )
        .fetch_all(&self.pool)
        .await?)
    }

    /// Queues an issue to be posted again to a channel, whatever was posted before.
    pub async fn enqueue_repost(&self, channel_id: i64, issue_id: i64) -> Result<i64> {
        let at = now();
        Ok(sqlx::query_scalar(
            "INSERT INTO deliveries (channel_id, issue_id, kind, not_before, created_at)
             VALUES ($1, $2, 'repost', $3, $3) RETURNING id",
        )
        .bind(channel_id)
        .bind(issue_id)
        .bind(at)
        .fetch_one(&self.pool)
        .await?)
    }

    /// The next delivery due at `at`: oldest issue first, none of a paused subscription.
    pub async fn due_delivery(&self, at: DateTime<Utc>) -> Result<Option<DueDelivery>> {
        Ok(sqlx::query_as(
            "SELECT d.id, d.subscription_id, d.channel_id, d.issue_id, d.kind, d.keywords,
                    d.attempts, d.parts_sent
             FROM deliveries d
             JOIN issues i ON i.id = d.issue_id
             LEFT JOIN subscriptions s ON s.id = d.subscription_id
             WHERE d.status = 'pending' AND d.not_before <= $1 AND s.paused_at IS NULL
             ORDER BY COALESCE(i.published_at, i.first_seen_at), d.id
             LIMIT 1",
        )
        .bind(at)
        .fetch_optional(&self.pool)
        .await?)
    }

    /// When the next pending delivery falls due, if any.
    pub async fn next_due_at(&self) -> Result<Option<DateTime<Utc>>> {
        Ok(sqlx::query_scalar(
            "SELECT MIN(d.not_before) FROM deliveries d
             LEFT JOIN subscriptions s ON s.id = d.subscription_id
             WHERE d.status = 'pending' AND s.paused_at IS NULL",
        )
        .fetch_one(&self.pool)
        .await?)
    }

    /// How many deliveries there are in each status (`pending`, `sent`, `skipped`, `failed`,
    /// `cancelled`); a status with none is left out.
    pub async fn delivery_counts(&self) -> Result<Vec<(String, i64)>> {
        Ok(sqlx::query_as(
            "SELECT status, COUNT(*) FROM deliveries GROUP BY status ORDER BY status",
        )
        .fetch_all(&self.pool)
        .await?)
    }

    /// How many subscriptions are active, and how many are paused.
    pub async fn subscription_counts(&self) -> Result<(i64, i64)> {
        Ok(sqlx::query_as(
            "SELECT COUNT(*) FILTER (WHERE paused_at IS NULL),
                    COUNT(*) FILTER (WHERE paused_at IS NOT NULL)
             FROM subscriptions",
        )
        .fetch_one(&self.pool)
        .await?)
    }

    /// Pending deliveries (the queue depth `/status` shows).
    pub async fn pending_deliveries(&self) -> Result<i64> {
        Ok(
            sqlx::query_scalar("SELECT COUNT(*) FROM deliveries WHERE status = 'pending'")
                .fetch_one(&self.pool)
                .await?,
        )
    }

    /// Records that part `parts_sent - 1` of a delivery is posted.
    pub async fn record_parts_sent(&self, delivery_id: i64, parts_sent: i64) -> Result<()> {
        sqlx::query("UPDATE deliveries SET parts_sent = $2 WHERE id = $1")
            .bind(delivery_id)
            .bind(parts_sent)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Finishes a delivery as `sent` (remembering the stories the channel now has) or
    /// `skipped` (nothing left to post for it).
    pub async fn finish_delivery(
        &self,
        d: &DueDelivery,
        status: &str,
        stories: &[i64],
    ) -> Result<()> {
        let at = now();
        let mut tx = self.pool.begin_with("BEGIN IMMEDIATE").await?;
        sqlx::query(
            "UPDATE deliveries SET status = $2, finished_at = $3, last_error = NULL WHERE id = $1",
        )
        .bind(d.id)
        .bind(status)
        .bind(at)
        .execute(&mut *tx)
        .await?;
        for story in stories {
            remember_story(&mut tx, d.channel_id, *story, at).await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// Puts a delivery off until `not_before`; `counts` says whether this try counts toward the
    /// attempts (a rate limit does not).
    pub async fn retry_delivery(
        &self,
        id: i64,
        not_before: DateTime<Utc>,
        error: &str,
        counts: bool,
    ) -> Result<i64> {
        Ok(sqlx::query_scalar(
            "UPDATE deliveries SET not_before = $2, last_error = $3,
                    attempts = attempts + CASE WHEN $4 THEN 1 ELSE 0 END
             WHERE id = $1 RETURNING attempts",
        )
        .bind(id)
        .bind(not_before)
        .bind(error)
        .bind(counts)
        .fetch_one(&self.pool)
        .await?)
    }

    /// Gives up on a delivery Discord refuses, and pauses its subscription with the reason.
    pub async fn fail_and_pause(&self, d: &DueDelivery, reason: &str) -> Result<()> {
        let at = now();
        let mut tx = self.pool.begin_with("BEGIN IMMEDIATE").await?;
        sqlx::query(
            "UPDATE deliveries SET status = 'failed', finished_at = $2, last_error = $3,
                    attempts = attempts + 1 WHERE id = $1",
        )
        .bind(d.id)
        .bind(at)
        .bind(reason)
        .execute(&mut *tx)
        .await?;
        if let Some(sub) = d.subscription_id {
            sqlx::query("UPDATE subscriptions SET paused_at = $2, pause_reason = $3 WHERE id = $1")
                .bind(sub)
                .bind(at)
                .bind(reason)
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// Stories the channel received since `since`.
    pub async fn channel_stories(
        &self,
        channel_id: i64,
        since: DateTime<Utc>,
    ) -> Result<HashSet<i64>> {
        let rows: Vec<i64> = sqlx::query_scalar(
            "SELECT story_id FROM channel_stories WHERE channel_id = $1 AND posted_at >= $2",
        )
        .bind(channel_id)
        .bind(since)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows.into_iter().collect())
    }

    /// The story id of each brief of an issue, in order.
    pub async fn story_ids(&self, issue_id: i64) -> Result<Vec<i64>> {
        Ok(
            sqlx::query_scalar("SELECT story_id FROM briefs WHERE issue_id = $1 ORDER BY position")
                .bind(issue_id)
                .fetch_all(&self.pool)
                .await?,
        )
    }
}

async fn remember_story(
    conn: &mut SqliteConnection,
    channel_id: i64,
    story_id: i64,
    at: DateTime<Utc>,
) -> Result<()> {
    sqlx::query(
        "INSERT INTO channel_stories (channel_id, story_id, posted_at) VALUES ($1, $2, $3)
         ON CONFLICT (channel_id, story_id) DO UPDATE SET posted_at = excluded.posted_at",
    )
    .bind(channel_id)
    .bind(story_id)
    .bind(at)
    .execute(conn)
    .await?;
    Ok(())
}

/// Writes a delivery of a newly stored issue for every active subscription to `source` made
/// before `first_seen_at`, unless the issue is older than the catch-up window. A channel with
/// several matching subscriptions gets one delivery, preferring one without keywords (all
/// items). Part of the transaction that stores the issue.
pub(super) async fn enqueue_new(
    conn: &mut SqliteConnection,
    issue_id: i64,
    source: &str,
    published_at: Option<DateTime<Utc>>,
    first_seen_at: DateTime<Utc>,
) -> Result<u64> {
    let at = now();
    if published_at.is_some_and(|p| p < at - CATCH_UP) {
        return Ok(0);
    }
    let done = sqlx::query(
        "INSERT INTO deliveries (subscription_id, channel_id, issue_id, kind, keywords, not_before, created_at)
         SELECT s.id, s.channel_id, $1, 'new', s.keywords, $2, $2
         FROM subscriptions s
         WHERE s.paused_at IS NULL AND (s.source_key = $3 OR s.source_key = '*') AND s.created_at <= $4
         ORDER BY (s.keywords IS NOT NULL), s.id
         ON CONFLICT DO NOTHING",
    )
    .bind(issue_id)
    .bind(at)
    .bind(source)
    .bind(first_seen_at)
    .execute(conn)
    .await?;
    Ok(done.rows_affected())
}

/// The first-seen time of a stored issue.
pub(super) async fn first_seen_at(
    conn: &mut SqliteConnection,
    issue_id: i64,
) -> Result<DateTime<Utc>> {
    Ok(
        sqlx::query_scalar("SELECT first_seen_at FROM issues WHERE id = $1")
            .bind(issue_id)
            .fetch_one(conn)
            .await?,
    )
}
