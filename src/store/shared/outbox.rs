//! Subscriptions and the delivery outbox: who is owed which issue, each delivery's frozen
//! messages and their attempts, and the lease holder's writes, fenced by its token.

use std::collections::HashSet;

use chrono::{DateTime, Duration, Utc};
use sqlx::{FromRow, Transaction};

use super::{Backend, Conn, Db};
use crate::domain::{DeliveryStatus, Keywords};
use crate::render::Message;
use crate::store::contract::BackendContract;
use crate::store::outbox::{
    CATCH_UP, DELIVERY_MEMORY, DueDelivery, EntryFailure, FailedDelivery, Failure, Frozen,
    ISSUE_BAND_MEMORY, MAX_ENTRY_BACKOFF, MAX_ENTRY_FAILURES, MAX_PENDING_REPOSTS, PAGE_MEMORY,
    PARTS_MEMORY, Part, Pruned, STORY_MEMORY, Subscribed, Subscription,
};
use crate::store::{Result, StoreError, now};

#[derive(FromRow)]
struct PartRow {
    part: i64,
    body: String,
    attempted_at: Option<DateTime<Utc>>,
    message_id: Option<i64>,
}

/// A write transaction of the lease holder's work: [`StoreError::LeaseLost`] unless `fence`
/// (this process's lease generation) is still the lease's. The lease row is read in the
/// transaction ([`BackendContract::FENCE_CHECK`]: under a share lock on PostgreSQL, so a taking
/// of the lease waits for this transaction to end and one that came first is seen; SQLite's
/// write lock serializes both), so no write of a former holder lands after another took over.
/// `None`: a process that never took the lease (tests and tools), not fenced.
pub(super) async fn begin_fenced(
    b: &Backend,
    fence: Option<i64>,
) -> Result<Transaction<'static, Db>> {
    let mut tx = b.begin_write().await?;
    check_fence(&mut tx, fence).await?;
    Ok(tx)
}

/// [`begin_fenced`]'s check, in a transaction of the caller's.
pub(in crate::store) async fn check_fence(conn: &mut Conn, fence: Option<i64>) -> Result<()> {
    if let Some(generation) = fence {
        let held: Option<i64> = sqlx::query_scalar(Backend::FENCE_CHECK)
            .bind(generation)
            .fetch_optional(conn)
            .await?;
        if held.is_none() {
            return Err(StoreError::LeaseLost);
        }
    }
    Ok(())
}

impl Backend {
    pub async fn subscribe(
        &self,
        guild_id: i64,
        channel_id: i64,
        source_key: &str,
        keywords: Option<&Keywords>,
        created_by: i64,
    ) -> Result<Subscribed> {
        let at = now();
        let mut tx = self.begin_write().await?;
        let existed: Option<i64> = sqlx::query_scalar(
            "SELECT id FROM subscriptions WHERE channel_id = $1 AND source_key = $2",
        )
        .bind(channel_id)
        .bind(source_key)
        .fetch_optional(&mut *tx)
        .await?;
        let paused: bool = sqlx::query_scalar(
            "SELECT EXISTS (SELECT 1 FROM subscriptions WHERE channel_id = $1 AND paused_at IS NOT NULL)",
        )
        .bind(channel_id)
        .fetch_one(&mut *tx)
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
        .bind(keywords.map(Keywords::to_string))
        .bind(created_by)
        .bind(at)
        .execute(&mut *tx)
        .await?;
        if !paused {
            tx.commit().await?;
            return Ok(if existed.is_some() {
                Subscribed::Updated
            } else {
                Subscribed::New
            });
        }
        sqlx::query(
            "UPDATE subscriptions SET paused_at = NULL, pause_reason = NULL WHERE channel_id = $1",
        )
        .bind(channel_id)
        .execute(&mut *tx)
        .await?;
        let window = at - CATCH_UP;
        let retried = sqlx::query(
            "UPDATE deliveries SET status = 'pending', attempts = 0, refusals = 0, not_before = $2,
                    finished_at = NULL, last_error = NULL
             WHERE channel_id = $1 AND kind = 'new' AND status = 'failed'
               AND issue_id IN (SELECT id FROM issues
                                WHERE COALESCE(published_at, first_seen_at) >= $3)",
        )
        .bind(channel_id)
        .bind(at)
        .bind(window)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        let missed = sqlx::query(
            "INSERT INTO deliveries (subscription_id, channel_id, issue_id, kind, keywords, not_before, created_at)
             SELECT s.id, s.channel_id, i.id, 'new', s.keywords, $2, $2
             FROM subscriptions s
             JOIN issues i ON i.source_id = s.source_key OR s.source_key = '*'
             WHERE s.channel_id = $1 AND i.first_seen_at >= s.created_at
               AND COALESCE(i.published_at, i.first_seen_at) >= $3
             ORDER BY (s.keywords IS NOT NULL), s.id
             ON CONFLICT DO NOTHING",
        )
        .bind(channel_id)
        .bind(at)
        .bind(window)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        tx.commit().await?;
        Ok(Subscribed::Resumed {
            owed: retried + missed,
        })
    }

    pub async fn unsubscribe(&self, channel_id: i64, source_key: &str) -> Result<bool> {
        let mut tx = self.begin_write().await?;
        let id: Option<i64> = sqlx::query_scalar(
            "SELECT id FROM subscriptions WHERE channel_id = $1 AND source_key = $2",
        )
        .bind(channel_id)
        .bind(source_key)
        .fetch_optional(&mut *tx)
        .await?;
        let Some(id) = id else {
            return Ok(false);
        };
        // Before the delete: its foreign key would set the deliveries' subscription to NULL.
        sqlx::query(
            "WITH other AS (
                 SELECT d.id AS delivery, (
                     SELECT s.id FROM subscriptions s
                     WHERE s.channel_id = d.channel_id AND s.id <> $1
                       AND (s.source_key = i.source_id OR s.source_key = '*')
                     ORDER BY (s.keywords IS NOT NULL), s.id LIMIT 1) AS subscription
                 FROM deliveries d JOIN issues i ON i.id = d.issue_id
                 WHERE d.subscription_id = $1 AND d.status = 'pending')
             UPDATE deliveries SET
                 subscription_id = (SELECT subscription FROM other WHERE delivery = deliveries.id),
                 keywords = CASE WHEN stories IS NULL
                     THEN (SELECT s.keywords FROM subscriptions s
                           WHERE s.id = (SELECT subscription FROM other WHERE delivery = deliveries.id))
                     ELSE keywords END
             WHERE id IN (SELECT delivery FROM other WHERE subscription IS NOT NULL)",
        )
        .bind(id)
        .execute(&mut *tx)
        .await?;
        sqlx::query(
            "UPDATE deliveries SET status = 'cancelled', finished_at = $2
             WHERE subscription_id = $1 AND status = 'pending'",
        )
        .bind(id)
        .bind(now())
        .execute(&mut *tx)
        .await?;
        sqlx::query("DELETE FROM subscriptions WHERE id = $1")
            .bind(id)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(true)
    }

    pub async fn remove_guild(&self, guild_id: i64) -> Result<u64> {
        let channels: Vec<i64> =
            sqlx::query_scalar("SELECT DISTINCT channel_id FROM subscriptions WHERE guild_id = $1")
                .bind(guild_id)
                .fetch_all(self.pool())
                .await?;
        let mut removed = 0;
        for channel in channels {
            removed += self.remove_channel(channel).await?;
        }
        Ok(removed)
    }

    pub async fn remove_channel(&self, channel_id: i64) -> Result<u64> {
        let mut tx = self.begin_write().await?;
        sqlx::query(
            "UPDATE deliveries SET status = 'cancelled', finished_at = $2,
                    last_error = 'the channel or server is gone'
             WHERE channel_id = $1 AND status = 'pending'",
        )
        .bind(channel_id)
        .bind(now())
        .execute(&mut *tx)
        .await?;
        let removed = sqlx::query("DELETE FROM subscriptions WHERE channel_id = $1")
            .bind(channel_id)
            .execute(&mut *tx)
            .await?
            .rows_affected();
        sqlx::query("DELETE FROM channel_stories WHERE channel_id = $1")
            .bind(channel_id)
            .execute(&mut *tx)
            .await?;
        sqlx::query("DELETE FROM channel_state WHERE channel_id = $1")
            .bind(channel_id)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(removed)
    }

    pub async fn subscriptions(&self, guild_id: i64) -> Result<Vec<Subscription>> {
        Ok(sqlx::query_as(
            "SELECT id, guild_id, channel_id, source_key, keywords, created_at, paused_at, pause_reason
             FROM subscriptions WHERE guild_id = $1 ORDER BY channel_id, source_key",
        )
        .bind(guild_id)
        .fetch_all(self.pool())
        .await?)
    }

    pub async fn paused_subscriptions(&self) -> Result<Vec<Subscription>> {
        Ok(sqlx::query_as(
            "SELECT id, guild_id, channel_id, source_key, keywords, created_at, paused_at, pause_reason
             FROM subscriptions WHERE paused_at IS NOT NULL ORDER BY paused_at DESC",
        )
        .fetch_all(self.pool())
        .await?)
    }

    pub async fn enqueue_repost(
        &self,
        guild_id: i64,
        channel_id: i64,
        issue_id: i64,
    ) -> Result<Option<i64>> {
        let at = now();
        let mut tx = self.begin_write().await?;
        let waiting: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM deliveries
             WHERE guild_id = $1 AND kind = 'repost' AND status = 'pending'",
        )
        .bind(guild_id)
        .fetch_one(&mut *tx)
        .await?;
        if waiting >= MAX_PENDING_REPOSTS {
            return Ok(None);
        }
        let id = sqlx::query_scalar(
            "INSERT INTO deliveries (guild_id, channel_id, issue_id, kind, not_before, created_at)
             VALUES ($1, $2, $3, 'repost', $4, $4) RETURNING id",
        )
        .bind(guild_id)
        .bind(channel_id)
        .bind(issue_id)
        .bind(at)
        .fetch_one(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(Some(id))
    }

    pub async fn next_due_at(&self) -> Result<Option<DateTime<Utc>>> {
        Ok(sqlx::query_scalar(
            "SELECT MIN(d.not_before) FROM deliveries d
             LEFT JOIN subscriptions s ON s.id = d.subscription_id
             WHERE d.status = 'pending' AND s.paused_at IS NULL",
        )
        .fetch_one(self.pool())
        .await?)
    }

    pub async fn delivery_counts(&self) -> Result<Vec<(DeliveryStatus, i64)>> {
        Ok(sqlx::query_as(
            "SELECT status, COUNT(*) FROM deliveries GROUP BY status ORDER BY status",
        )
        .fetch_all(self.pool())
        .await?)
    }

    pub async fn subscription_counts(&self) -> Result<(i64, i64)> {
        Ok(sqlx::query_as(
            "SELECT COUNT(*) FILTER (WHERE paused_at IS NULL),
                    COUNT(*) FILTER (WHERE paused_at IS NOT NULL)
             FROM subscriptions",
        )
        .fetch_one(self.pool())
        .await?)
    }

    pub async fn pending_deliveries(&self) -> Result<i64> {
        Ok(
            sqlx::query_scalar("SELECT COUNT(*) FROM deliveries WHERE status = 'pending'")
                .fetch_one(self.pool())
                .await?,
        )
    }

    pub async fn frozen(&self, delivery_id: i64) -> Result<Option<Frozen>> {
        let stories: Option<Option<String>> =
            sqlx::query_scalar("SELECT stories FROM deliveries WHERE id = $1")
                .bind(delivery_id)
                .fetch_optional(self.pool())
                .await?;
        let Some(Some(stories)) = stories else {
            return Ok(None);
        };
        let rows: Vec<PartRow> = sqlx::query_as(
            "SELECT part, body, attempted_at, message_id FROM delivery_parts
             WHERE delivery_id = $1 ORDER BY part",
        )
        .bind(delivery_id)
        .fetch_all(self.pool())
        .await?;
        if rows.is_empty() {
            // Stories but no messages (pruned by a version before issue 19): not frozen, so
            // never read as "every part posted"; `freeze` fixes its messages again.
            return Ok(None);
        }
        let corrupt = |e: serde_json::Error| {
            StoreError::unreadable(format!("frozen delivery {delivery_id}: {e}"))
        };
        let parts = rows
            .into_iter()
            .map(|r| {
                Ok(Part {
                    part: r.part,
                    message: serde_json::from_str(&r.body).map_err(corrupt)?,
                    attempted_at: r.attempted_at,
                    message_id: r.message_id,
                })
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(Some(Frozen {
            parts,
            stories: serde_json::from_str(&stories).map_err(corrupt)?,
        }))
    }

    pub async fn freeze(
        &self,
        d: &DueDelivery,
        messages: &[Message],
        stories: &[i64],
        fence: Option<i64>,
    ) -> Result<Option<Frozen>> {
        let mut tx = begin_fenced(self, fence).await?;
        let frozen = sqlx::query(
            "UPDATE deliveries SET stories = $2
             WHERE id = $1 AND status = 'pending'
               AND (stories IS NULL
                    OR NOT EXISTS (SELECT 1 FROM delivery_parts WHERE delivery_id = $1))",
        )
        .bind(d.id)
        .bind(serde_json::to_string(stories).unwrap_or_else(|_| "[]".to_owned()))
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if frozen == 0 {
            return Ok(None);
        }
        let mut parts = Vec::with_capacity(messages.len());
        for (i, message) in messages.iter().enumerate() {
            let part = i as i64;
            let message_id = (part < d.parts_sent).then_some(0);
            let body = serde_json::to_string(message).map_err(|e| {
                StoreError::unreadable(format!("a message of delivery {}: {e}", d.id))
            })?;
            sqlx::query(
                "INSERT INTO delivery_parts (delivery_id, part, body, message_id)
                 VALUES ($1, $2, $3, $4)",
            )
            .bind(d.id)
            .bind(part)
            .bind(body)
            .bind(message_id)
            .execute(&mut *tx)
            .await?;
            parts.push(Part {
                part,
                message: message.clone(),
                attempted_at: None,
                message_id,
            });
        }
        tx.commit().await?;
        Ok(Some(Frozen {
            parts,
            stories: stories.to_vec(),
        }))
    }

    pub async fn record_attempt(
        &self,
        delivery_id: i64,
        part: i64,
        at: DateTime<Utc>,
        fence: Option<i64>,
    ) -> Result<bool> {
        let mut tx = begin_fenced(self, fence).await?;
        let attempted = sqlx::query(
            "UPDATE delivery_parts SET attempted_at = COALESCE(attempted_at, $3)
             WHERE delivery_id = $1 AND part = $2 AND message_id IS NULL
               AND EXISTS (SELECT 1 FROM deliveries WHERE id = $1 AND status = 'pending')",
        )
        .bind(delivery_id)
        .bind(part)
        .bind(at)
        .execute(&mut *tx)
        .await?
        .rows_affected()
            == 1;
        tx.commit().await?;
        Ok(attempted)
    }

    pub async fn clear_attempt(
        &self,
        delivery_id: i64,
        part: i64,
        fence: Option<i64>,
    ) -> Result<()> {
        let mut tx = begin_fenced(self, fence).await?;
        sqlx::query(
            "UPDATE delivery_parts SET attempted_at = NULL
             WHERE delivery_id = $1 AND part = $2 AND message_id IS NULL",
        )
        .bind(delivery_id)
        .bind(part)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(())
    }

    pub async fn record_part_sent(
        &self,
        delivery_id: i64,
        part: i64,
        message_id: i64,
        fence: Option<i64>,
    ) -> Result<()> {
        let mut tx = begin_fenced(self, fence).await?;
        sqlx::query(
            "UPDATE delivery_parts SET message_id = $3 WHERE delivery_id = $1 AND part = $2",
        )
        .bind(delivery_id)
        .bind(part)
        .bind(message_id)
        .execute(&mut *tx)
        .await?;
        sqlx::query(
            "UPDATE deliveries SET parts_sent =
                 (SELECT COUNT(*) FROM delivery_parts WHERE delivery_id = $1 AND message_id IS NOT NULL)
             WHERE id = $1",
        )
        .bind(delivery_id)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(())
    }

    pub async fn message_recorded(&self, message_id: i64) -> Result<bool> {
        Ok(
            sqlx::query_scalar(
                "SELECT EXISTS (SELECT 1 FROM delivery_parts WHERE message_id = $1)",
            )
            .bind(message_id)
            .fetch_one(self.pool())
            .await?,
        )
    }

    pub async fn set_history_denied(&self, channel_id: i64, denied: bool) -> Result<()> {
        sqlx::query(
            "INSERT INTO channel_state (channel_id, history_denied_at) VALUES ($1, $2)
             ON CONFLICT (channel_id) DO UPDATE SET history_denied_at = excluded.history_denied_at",
        )
        .bind(channel_id)
        .bind(denied.then(now))
        .execute(self.pool())
        .await?;
        Ok(())
    }

    pub async fn history_denied(&self, guild_id: i64) -> Result<Vec<(i64, DateTime<Utc>)>> {
        Ok(sqlx::query_as(
            "SELECT DISTINCT c.channel_id, c.history_denied_at FROM channel_state c
             JOIN subscriptions s ON s.channel_id = c.channel_id
             WHERE s.guild_id = $1 AND c.history_denied_at IS NOT NULL
             ORDER BY c.channel_id",
        )
        .bind(guild_id)
        .fetch_all(self.pool())
        .await?)
    }

    pub async fn finish_delivery(
        &self,
        d: &DueDelivery,
        status: DeliveryStatus,
        stories: &[i64],
        reason: Option<&str>,
        fence: Option<i64>,
    ) -> Result<bool> {
        let at = now();
        let mut tx = begin_fenced(self, fence).await?;
        let finished = sqlx::query(
            "UPDATE deliveries SET status = $2, finished_at = $3, last_error = $4
             WHERE id = $1 AND status = 'pending'",
        )
        .bind(d.id)
        .bind(status)
        .bind(at)
        .bind(reason)
        .execute(&mut *tx)
        .await?
        .rows_affected()
            == 1;
        if finished {
            for story in stories {
                remember_story(&mut tx, d.channel_id, *story, at).await?;
            }
        }
        tx.commit().await?;
        Ok(finished)
    }

    pub async fn fail_delivery(
        &self,
        d: &DueDelivery,
        reason: &str,
        fence: Option<i64>,
    ) -> Result<()> {
        let mut tx = begin_fenced(self, fence).await?;
        sqlx::query(
            "UPDATE deliveries SET status = 'failed', finished_at = $2, last_error = $3,
                    attempts = attempts + 1 WHERE id = $1 AND status = 'pending'",
        )
        .bind(d.id)
        .bind(now())
        .bind(reason)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(())
    }

    pub async fn retry_delivery(
        &self,
        id: i64,
        not_before: DateTime<Utc>,
        error: &str,
        failure: Failure,
        fence: Option<i64>,
    ) -> Result<()> {
        let mut tx = begin_fenced(self, fence).await?;
        sqlx::query(
            "UPDATE deliveries SET not_before = $2, last_error = $3,
                    attempts = attempts + CASE WHEN $4 THEN 0 ELSE 1 END,
                    refusals = refusals + CASE WHEN $5 THEN 1 ELSE 0 END
             WHERE id = $1",
        )
        .bind(id)
        .bind(not_before)
        .bind(error)
        .bind(failure == Failure::RateLimited)
        .bind(failure == Failure::Refused)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(())
    }

    pub async fn fail_and_pause(
        &self,
        d: &DueDelivery,
        reason: &str,
        fence: Option<i64>,
    ) -> Result<()> {
        let at = now();
        let mut tx = begin_fenced(self, fence).await?;
        sqlx::query(
            "UPDATE deliveries SET status = 'failed', finished_at = $2, last_error = $3,
                    attempts = attempts + 1 WHERE id = $1 AND status = 'pending'",
        )
        .bind(d.id)
        .bind(at)
        .bind(reason)
        .execute(&mut *tx)
        .await?;
        sqlx::query(
            "UPDATE subscriptions SET paused_at = $2, pause_reason = $3
             WHERE channel_id = $1 AND paused_at IS NULL",
        )
        .bind(d.channel_id)
        .bind(at)
        .bind(reason)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(())
    }

    pub async fn failed_deliveries(
        &self,
        guild_id: i64,
        since: DateTime<Utc>,
    ) -> Result<Vec<FailedDelivery>> {
        Ok(sqlx::query_as(
            "SELECT d.id, d.channel_id, d.issue_id, d.finished_at, d.last_error
             FROM deliveries d LEFT JOIN subscriptions s ON s.id = d.subscription_id
             WHERE d.status = 'failed' AND d.finished_at >= $2
               AND COALESCE(d.guild_id, s.guild_id) = $1 AND s.paused_at IS NULL
             ORDER BY d.finished_at DESC, d.id DESC LIMIT 5",
        )
        .bind(guild_id)
        .bind(since)
        .fetch_all(self.pool())
        .await?)
    }

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
        .fetch_all(self.pool())
        .await?;
        Ok(rows.into_iter().collect())
    }

    pub async fn story_ids(&self, issue_id: i64) -> Result<Vec<i64>> {
        Ok(
            sqlx::query_scalar("SELECT story_id FROM briefs WHERE issue_id = $1 ORDER BY position")
                .bind(issue_id)
                .fetch_all(self.pool())
                .await?,
        )
    }
}

pub(super) async fn remember_story(
    conn: &mut Conn,
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
    conn: &mut Conn,
    issue_id: i64,
    source: &str,
    published_at: Option<DateTime<Utc>>,
    first_seen_at: DateTime<Utc>,
) -> Result<u64> {
    let at = now();
    if published_at.unwrap_or(first_seen_at) < at - CATCH_UP {
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
pub(super) async fn first_seen_at(conn: &mut Conn, issue_id: i64) -> Result<DateTime<Utc>> {
    Ok(
        sqlx::query_scalar("SELECT first_seen_at FROM issues WHERE id = $1")
            .bind(issue_id)
            .fetch_one(conn)
            .await?,
    )
}

impl Backend {
    pub async fn prune(&self, at: DateTime<Utc>) -> Result<Pruned> {
        let mut pruned = Pruned::default();
        let run = |sql: &'static str, before: DateTime<Utc>| async move {
            Ok::<u64, StoreError>(
                sqlx::query(sql)
                    .bind(before)
                    .execute(self.pool())
                    .await?
                    .rows_affected(),
            )
        };
        // A failed delivery of a new issue keeps its messages for as long as `/subscribe` can
        // resume it (its issue within the catch-up window): the resume posts exactly those.
        pruned.parts = sqlx::query(
            "DELETE FROM delivery_parts WHERE delivery_id IN (
                 SELECT d.id FROM deliveries d JOIN issues i ON i.id = d.issue_id
                 WHERE d.status <> 'pending' AND d.finished_at < $1
                   AND NOT (d.status = 'failed' AND d.kind = 'new'
                            AND COALESCE(i.published_at, i.first_seen_at) >= $2))",
        )
        .bind(at - PARTS_MEMORY)
        .bind(at - CATCH_UP)
        .execute(self.pool())
        .await?
        .rows_affected();
        pruned.deliveries = run(
            "DELETE FROM deliveries WHERE status <> 'pending' AND finished_at < $1",
            at - DELIVERY_MEMORY,
        )
        .await?;
        pruned.channel_stories = run(
            "DELETE FROM channel_stories WHERE posted_at < $1",
            at - STORY_MEMORY,
        )
        .await?;
        pruned.search_sessions = self.expire_sessions(at - Duration::days(1)).await?;
        pruned.pages = run(
            "UPDATE issues SET page_html = '' WHERE first_seen_at < $1 AND page_html <> ''",
            at - PAGE_MEMORY,
        )
        .await?;
        // One pass each: bands are found by (kind, band), so deleting by item scans a kind's
        // bands once; chunking would scan them once per chunk.
        pruned.bands = run(
            "DELETE FROM similarity_bands WHERE kind = 'issue' AND item_id IN (
                 SELECT id FROM issues WHERE first_seen_at < $1)",
            at - ISSUE_BAND_MEMORY,
        )
        .await?;
        pruned.bands += run(
            "DELETE FROM similarity_bands WHERE kind = 'brief' AND item_id IN (
                 SELECT b.id FROM briefs b JOIN issues i ON i.id = b.issue_id
                 WHERE i.first_seen_at < $1
                   AND b.story_id NOT IN (SELECT story_id FROM channel_stories))",
            at - STORY_MEMORY,
        )
        .await?;
        Ok(pruned)
    }
}

impl Backend {
    pub async fn entry_failure(&self, url: &str) -> Result<Option<EntryFailure>> {
        Ok(
            sqlx::query_as("SELECT * FROM entry_failures WHERE url = $1")
                .bind(url)
                .fetch_optional(self.pool())
                .await?,
        )
    }

    pub async fn record_entry_failure(
        &self,
        source: &str,
        url: &str,
        title: &str,
        error: &str,
        poll_every: std::time::Duration,
        at: DateTime<Utc>,
    ) -> Result<EntryFailure> {
        let failures = self.entry_failure(url).await?.map_or(0, |f| f.failures) + 1;
        let interval = Duration::from_std(poll_every).unwrap_or(MAX_ENTRY_BACKOFF);
        let wait = match failures {
            1 => Duration::zero(),
            n => interval
                .checked_mul(1 << (n - 2).clamp(0, 16))
                .unwrap_or(MAX_ENTRY_BACKOFF)
                .min(MAX_ENTRY_BACKOFF),
        };
        let given_up = (failures >= MAX_ENTRY_FAILURES).then_some(at);
        Ok(sqlx::query_as(
            "INSERT INTO entry_failures
                 (url, source_id, title, failures, last_error, first_failed_at, next_try_at, given_up_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
             ON CONFLICT (url) DO UPDATE SET failures = excluded.failures,
                 last_error = excluded.last_error, next_try_at = excluded.next_try_at,
                 given_up_at = excluded.given_up_at
             RETURNING *",
        )
        .bind(url)
        .bind(source)
        .bind(title)
        .bind(failures)
        .bind(error)
        .bind(at)
        .bind(at + wait)
        .bind(given_up)
        .fetch_one(self.pool())
        .await?)
    }

    pub async fn clear_entry_failure(&self, url: &str) -> Result<()> {
        sqlx::query("DELETE FROM entry_failures WHERE url = $1")
            .bind(url)
            .execute(self.pool())
            .await?;
        Ok(())
    }

    pub async fn entries_to_retry(&self, source: &str) -> Result<bool> {
        Ok(sqlx::query_scalar(
            "SELECT EXISTS (SELECT 1 FROM entry_failures
                            WHERE source_id = $1 AND given_up_at IS NULL)",
        )
        .bind(source)
        .fetch_one(self.pool())
        .await?)
    }

    pub async fn given_up_entries(&self) -> Result<Vec<EntryFailure>> {
        Ok(sqlx::query_as(
            "SELECT * FROM entry_failures WHERE given_up_at IS NOT NULL ORDER BY given_up_at DESC",
        )
        .fetch_all(self.pool())
        .await?)
    }
}
