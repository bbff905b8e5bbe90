//! The PostgreSQL backend: one database that several `briefbot run` processes share (SPEC §7).
//! Every transaction that reads before it writes takes one transaction-scoped advisory lock
//! first, so such transactions are serialized across every process exactly as SQLite's
//! `BEGIN IMMEDIATE` serializes them within one: the same rules, proven on both. Search is a
//! `tsvector` of the same terms with a GIN index.

use std::collections::HashSet;

use chrono::{DateTime, Duration, Utc};
use sqlx::postgres::{PgPoolOptions, PgRow as DbRow};
use sqlx::{
    AssertSqlSafe, FromRow, PgConnection as Conn, PgPool as Pool, Postgres as Db, Transaction,
};

use super::outbox::{
    CATCH_UP, DELIVERY_MEMORY, DueDelivery, EntryFailure, Failure, Frozen, ISSUE_BAND_MEMORY,
    MAX_ENTRY_BACKOFF, MAX_ENTRY_FAILURES, MAX_PENDING_REPOSTS, PAGE_MEMORY, PARTS_MEMORY, Part,
    Pruned, STORY_MEMORY, Subscribed, Subscription,
};
use super::search::Session;
use super::{
    MAX_CANDIDATES, Recorded, Result, SourcePage, SourceState, StoreError, StoredIssue, now,
};
use crate::config::DatabaseUrl;
use crate::dedup;
use crate::domain::{Brief, CanonicalUrl, Issue, SourceId};
use crate::render::Message;
use crate::scrape::fetch::Validators;

mod search;
pub(super) mod testing;

/// The advisory lock every writing transaction holds ("briefbot" in ASCII).
const WRITE_LOCK: i64 = 0x6272_6965_6662_6f74;

#[derive(Debug, Clone)]
pub struct Backend {
    pool: Pool,
}

/// A transaction holding the database's write lock until it ends (commit, rollback, or its
/// connection dropped by a dead process): two writers that both read before writing (two
/// subscribes, a repost limit checked and then used) are serialized across every process.
async fn begin_write(pool: &Pool) -> Result<Transaction<'static, Db>> {
    let mut tx = pool.begin().await?;
    sqlx::query("SELECT pg_advisory_xact_lock($1)")
        .bind(WRITE_LOCK)
        .execute(&mut *tx)
        .await?;
    Ok(tx)
}

impl Backend {
    /// Connects to and migrates an existing database (several processes may do so at once:
    /// sqlx's migrator takes an advisory lock).
    pub async fn open(url: &str) -> Result<Self> {
        let shown = DatabaseUrl::Postgres(url.to_owned()).to_string();
        let pool = PgPoolOptions::new()
            .max_connections(8)
            .acquire_timeout(std::time::Duration::from_secs(10))
            .connect(url)
            .await
            .map_err(|source| StoreError::Open { url: shown, source })?;
        sqlx::migrate!("migrations/postgres").run(&pool).await?;
        let backend = Self { pool };
        backend.index_unindexed().await?;
        Ok(backend)
    }

    /// Whether the database has briefbot's tables (connecting, but writing nothing).
    pub async fn exists(url: &str) -> Result<bool> {
        let shown = DatabaseUrl::Postgres(url.to_owned()).to_string();
        let mut conn = <sqlx::PgConnection as sqlx::Connection>::connect(url)
            .await
            .map_err(|source| StoreError::Open { url: shown, source })?;
        let exists = sqlx::query_scalar("SELECT to_regclass('_sqlx_migrations') IS NOT NULL")
            .fetch_one(&mut conn)
            .await?;
        sqlx::Connection::close(conn).await?;
        Ok(exists)
    }

    pub async fn close(&self) {
        self.pool.close().await;
    }

    // Channels in `busy` are one array parameter.
    pub async fn due_delivery(
        &self,
        at: DateTime<Utc>,
        busy: &[i64],
    ) -> Result<Option<DueDelivery>> {
        Ok(sqlx::query_as(
            "SELECT d.id, d.subscription_id, d.channel_id, d.issue_id, d.kind, d.keywords,
                    d.attempts, d.refusals, d.parts_sent,
                    COALESCE(i.published_at, i.first_seen_at) AS issue_at
             FROM deliveries d
             JOIN issues i ON i.id = d.issue_id
             LEFT JOIN subscriptions s ON s.id = d.subscription_id
             WHERE d.status = 'pending' AND d.not_before <= $1 AND s.paused_at IS NULL
               AND d.channel_id <> ALL($2)
             ORDER BY d.kind = 'repost',
                      CASE WHEN d.kind = 'repost' THEN d.created_at
                           ELSE COALESCE(i.published_at, i.first_seen_at) END,
                      d.id
             LIMIT 1",
        )
        .bind(at)
        .bind(busy)
        .fetch_optional(&self.pool)
        .await?)
    }
}

include!("../shared/issues.rs");
include!("../shared/outbox.rs");
include!("../shared/sessions.rs");
