//! The PostgreSQL backend: one database that several `briefbot run` processes share (SPEC §7).
//! Every transaction that reads before it writes takes one transaction-scoped advisory lock
//! first, so such transactions are serialized across every process exactly as SQLite's
//! `BEGIN IMMEDIATE` serializes them within one: the same rules, proven on both. Search is a
//! `tsvector` of the same terms with a GIN index.

use std::collections::{BTreeSet, HashMap, HashSet};
use std::str::FromStr;

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
    MAX_CANDIDATES, Recorded, Restoried, Result, SameStory, SourcePage, SourceState, StoreError,
    StoredIssue, StoryNote, now,
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
/// The session advisory lock of the scheduler lease ("bb-lease").
const LEASE_LOCK: i64 = 0x6262_2d6c_6561_7365;

/// The scheduler lease: [`LEASE_LOCK`] held by a connection of its own.
#[derive(Debug)]
pub struct Lease {
    conn: sqlx::PgConnection,
}

impl Lease {
    pub async fn held(&mut self, within: std::time::Duration) -> bool {
        let asked = sqlx::query_scalar::<_, bool>(
            "SELECT EXISTS (SELECT 1 FROM pg_locks WHERE locktype = 'advisory'
                                AND pid = pg_backend_pid() AND granted
                                AND objid = ($1 & 4294967295)::oid)",
        )
        .bind(LEASE_LOCK)
        .fetch_one(&mut self.conn);
        matches!(tokio::time::timeout(within, asked).await, Ok(Ok(true)))
    }

    pub async fn release(mut self) {
        let _ = sqlx::query("SELECT pg_advisory_unlock($1)")
            .bind(LEASE_LOCK)
            .execute(&mut self.conn)
            .await;
        let _ = sqlx::Connection::close(self.conn).await;
    }
}

/// The first key of every process's presence lock (`pg_advisory_lock(PRESENCE, pid)`, "bb").
const PRESENCE: i32 = 0x6262;

#[derive(Debug, Clone)]
pub struct Backend {
    pool: Pool,
    /// This process, as its claims name it: the server's pid of its presence connection.
    me: i64,
    /// The connection that holds this process's presence lock for as long as it lives: a claim
    /// is void once its process's presence lock is gone (it died, or lost the database).
    _presence: std::sync::Arc<sqlx::PgConnection>,
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

/// A connection of its own, outside the pool, for a session lock that must live exactly as long
/// as this process (or its lease). The server probes it (TCP keepalives every few seconds), so
/// the lock is freed soon also when the process's machine vanishes without closing it.
async fn dedicated(pool: &Pool) -> Result<sqlx::PgConnection> {
    let options = (*pool.connect_options()).clone();
    let mut conn = <sqlx::PgConnection as sqlx::Connection>::connect_with(&options).await?;
    sqlx::query(
        "SELECT set_config('tcp_keepalives_idle', '10', false),
                set_config('tcp_keepalives_interval', '5', false),
                set_config('tcp_keepalives_count', '3', false)",
    )
    .execute(&mut conn)
    .await?;
    Ok(conn)
}

impl Backend {
    /// Connects to and migrates an existing database (several processes may do so at once:
    /// sqlx's migrator takes an advisory lock).
    pub async fn open(url: &str) -> Result<Self> {
        let shown = DatabaseUrl::Postgres(url.to_owned()).to_string();
        let options = sqlx::postgres::PgConnectOptions::from_str(url)
            .map_err(|source| StoreError::Open {
                url: shown.clone(),
                source,
            })?
            // Every statement planned for its own parameters: a generic plan cached while a
            // table was small (a seq scan of the near-duplicate bands, measured 60-90 ms at
            // 137,000 rows instead of 0.2 ms) or blind to a search word's frequency would stay
            // in a pooled connection for its whole life. And no JIT compilation: on tables
            // never analyzed (autovacuum off) the planner's guesses put a one-row update over
            // the JIT threshold, and compiling it took 80 ms of every stored issue (2 issues a
            // second instead of 50); briefbot's statements are short and never gain from it.
            .options([("plan_cache_mode", "force_custom_plan"), ("jit", "off")]);
        let pool = PgPoolOptions::new()
            .max_connections(8)
            .acquire_timeout(std::time::Duration::from_secs(10))
            .connect_with(options)
            .await
            .map_err(|source| StoreError::Open { url: shown, source })?;
        sqlx::migrate!("migrations/postgres").run(&pool).await?;
        let mut presence = dedicated(&pool).await?;
        let me: i64 = sqlx::query_scalar("SELECT pg_backend_pid()::bigint")
            .fetch_one(&mut presence)
            .await?;
        sqlx::query("SELECT pg_advisory_lock($1, $2::int4)")
            .bind(PRESENCE)
            .bind(me)
            .execute(&mut presence)
            .await?;
        let backend = Self {
            pool,
            me,
            _presence: std::sync::Arc::new(presence),
        };
        backend.index_unindexed().await?;
        if let Some(done) = backend.restory().await? {
            tracing::info!(
                ?done,
                "stories told apart again with the current near-duplicate rule"
            );
        }
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

    pub(in crate::store) fn pool(&self) -> &Pool {
        &self.pool
    }

    pub async fn release_claims(&self) -> Result<u64> {
        Ok(sqlx::query(
            "UPDATE deliveries SET claimed_by = NULL WHERE claimed_by = $1 AND status = 'pending'",
        )
        .bind(self.me)
        .execute(&self.pool)
        .await?
        .rows_affected())
    }

    /// Takes the scheduler lease on a connection of its own if no other session holds it.
    pub async fn try_lease(&self) -> Result<Option<Lease>> {
        let mut conn = dedicated(&self.pool).await?;
        let got: bool = sqlx::query_scalar("SELECT pg_try_advisory_lock($1)")
            .bind(LEASE_LOCK)
            .fetch_one(&mut conn)
            .await?;
        if got {
            Ok(Some(Lease { conn }))
        } else {
            let _ = sqlx::Connection::close(conn).await;
            Ok(None)
        }
    }

    // Channels in `busy` are one array parameter. The delivery is claimed in the same statement
    // (`FOR UPDATE SKIP LOCKED`: two processes asking at once get different deliveries, neither
    // waits), and one claimed by another process is left alone while that process lives (its
    // presence lock is held); a dead process's claim is void at once, and its in-doubt parts are
    // reconciled by whoever takes the delivery (SPEC §6).
    pub async fn due_delivery(
        &self,
        at: DateTime<Utc>,
        busy: &[i64],
    ) -> Result<Option<DueDelivery>> {
        Ok(sqlx::query_as(
            "WITH next AS (
                 SELECT d.id FROM deliveries d
                 JOIN issues i ON i.id = d.issue_id
                 LEFT JOIN subscriptions s ON s.id = d.subscription_id
                 WHERE d.status = 'pending' AND d.not_before <= $1 AND s.paused_at IS NULL
                   AND d.channel_id <> ALL($2)
                   AND (d.claimed_by IS NULL OR d.claimed_by = $3
                        OR d.claimed_by NOT IN (
                            SELECT objid::bigint FROM pg_locks
                            WHERE locktype = 'advisory' AND classid = $4::oid
                              AND objsubid = 2 AND granted))
                 ORDER BY d.kind = 'repost',
                          CASE WHEN d.kind = 'repost' THEN d.created_at
                               ELSE COALESCE(i.published_at, i.first_seen_at) END,
                          d.id
                 LIMIT 1
                 FOR UPDATE OF d SKIP LOCKED)
             UPDATE deliveries d SET claimed_by = $3
             FROM next, issues i
             WHERE d.id = next.id AND i.id = d.issue_id
             RETURNING d.id, d.subscription_id, d.channel_id, d.issue_id, d.kind, d.keywords,
                       d.attempts, d.refusals, d.parts_sent,
                       COALESCE(i.published_at, i.first_seen_at) AS issue_at",
        )
        .bind(at)
        .bind(busy)
        .bind(self.me)
        .bind(PRESENCE)
        .fetch_optional(&self.pool)
        .await?)
    }
}

include!("../shared/issues.rs");
include!("../shared/outbox.rs");
include!("../shared/sessions.rs");
