//! The PostgreSQL backend: one database that several `briefbot run` processes share (README:
//! Deployment). Every transaction that reads before it writes takes one transaction-scoped advisory
//! lock first, so such transactions are serialized across every process exactly as SQLite's
//! `BEGIN IMMEDIATE` serializes them within one: the same rules, proven on both. Search is a
//! `tsvector` of the same terms with a GIN index.

use std::str::FromStr;
use std::time::Duration as StdDuration;

use chrono::{DateTime, Utc};
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::{PgConnection, PgPool as Pool, Postgres, Transaction};

use super::contract::{BackendContract, SearchContract};
use super::outbox::DueDelivery;
use super::{Result, StoreError, StoryCandidate};
use crate::config::DatabaseUrl;
use crate::dedup::{self, BriefPrints};

mod search;
// The SQL both backends share, compiled for this one (see `super::contract`).
#[allow(
    clippy::duplicate_mod,
    reason = "compiled once for each backend, on purpose: see store::contract"
)]
#[path = "../shared/mod.rs"]
mod shared;
pub(super) use shared::StoryLookup;
#[cfg(feature = "testing")]
pub(super) mod testing;

/// The advisory lock every writing transaction holds ("briefbot" in ASCII).
const WRITE_LOCK: i64 = 0x6272_6965_6662_6f74;

/// How long one statement may run on a pooled connection: no database call of the lease
/// holder's work hangs much past the lease (30 s by default). Migrations run on a connection of
/// their own, without it.
const STATEMENT_TIMEOUT: &str = "20s";
/// How long a transaction may sit idle on a pooled connection. briefbot's transactions send
/// their statements back to back, so only a process that hung or was cut off in the middle of
/// one leaves it idle: the server then ends it after this, releasing what it holds (the write
/// lock, the lease row), which every other process's writes and the taking of the lease wait
/// for. `briefbot migrate --from` turns it off for its copy.
const IDLE_IN_TRANSACTION_TIMEOUT: &str = "5s";

/// How long a pooled connection may have been idle before it is checked with a round trip
/// when it is handed out (a connection found dead is closed and another one taken).
const IDLE_BEFORE_CHECK: StdDuration = StdDuration::from_secs(1);

/// The first key of every process's presence lock (`pg_advisory_lock(PRESENCE, pid)`, "bb").
const PRESENCE: i32 = 0x6262;

#[derive(Debug, Clone)]
pub struct Backend {
    pool: Pool,
    /// This process, as its claims name it: the server's pid of its presence connection.
    me: i64,
    /// The connection that holds this process's presence lock for as long as it lives: a claim
    /// is void once its process's presence lock is gone (it died, or lost the database).
    _presence: std::sync::Arc<PgConnection>,
}

/// A connection of its own, outside the pool, for a session lock that must live exactly as long
/// as this process (or its lease). The server probes it (TCP keepalives every few seconds), so
/// the lock is freed soon also when the process's machine vanishes without closing it.
async fn dedicated(pool: &Pool) -> Result<PgConnection> {
    let options = (*pool.connect_options()).clone();
    let mut conn = <PgConnection as sqlx::Connection>::connect_with(&options).await?;
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
        let options = PgConnectOptions::from_str(url)
            .map_err(|e| StoreError::cannot_open(&shown, e))?
            // Every statement planned for its own parameters: a generic plan cached while a
            // table was small (a seq scan of the near-duplicate bands, measured 60-90 ms at
            // 137,000 rows instead of 0.2 ms) or blind to a search word's frequency would stay
            // in a pooled connection for its whole life. And no JIT compilation: on tables
            // never analyzed (autovacuum off) the planner's guesses put a one-row update over
            // the JIT threshold, and compiling it took 80 ms of every stored issue (2 issues a
            // second instead of 50); briefbot's statements are short and never gain from it.
            // The one plan kept across calls is the near-duplicate candidates', made inside their
            // function so that it is right at every size (`BackendContract::story_candidates`).
            .options([("plan_cache_mode", "force_custom_plan"), ("jit", "off")]);
        // Migrations (a search index rewritten at a million briefs takes minutes) on a
        // connection of their own, without the pool's bounds.
        let mut migrating = <PgConnection as sqlx::Connection>::connect_with(&options)
            .await
            .map_err(|e| StoreError::cannot_open(&shown, e))?;
        sqlx::migrate!("migrations/postgres")
            .run(&mut migrating)
            .await
            .map_err(StoreError::migration)?;
        let _ = sqlx::Connection::close(migrating).await;
        // Every pooled connection bounded (issue 19): a statement, or a transaction left idle,
        // ends on the server after its timeout, and the server probes the connection
        // (TCP keepalives, and `tcp_user_timeout` for data it sent that is never
        // acknowledged), so a holder cut off by a partition loses its sessions and their
        // locks. sqlx 0.9 offers no client-side socket options: a call of a process whose
        // network is blackholed can still wait on its socket, but the lease is checked by
        // its own clock before every post and by the fencing token in every write, so what
        // such a call does when it completes is refused.
        let options = options.options([
            ("statement_timeout", STATEMENT_TIMEOUT),
            (
                "idle_in_transaction_session_timeout",
                IDLE_IN_TRANSACTION_TIMEOUT,
            ),
            ("tcp_keepalives_idle", "10"),
            ("tcp_keepalives_interval", "5"),
            ("tcp_keepalives_count", "3"),
            ("tcp_user_timeout", "20000"),
        ]);
        let pool = PgPoolOptions::new()
            .max_connections(8)
            .acquire_timeout(std::time::Duration::from_secs(10))
            // A connection is checked (a round trip) before it is handed out only when it has
            // been idle for a while: checking every one, sqlx's default, put a round trip
            // before every statement (0.1-0.2 ms of a 1 ms near-duplicate check, BENCHMARKS.md).
            // One used within the last second is handed out as it is; if the server went away
            // in that second, the statement fails as it would have a moment later.
            .test_before_acquire(false)
            .before_acquire(|conn, meta| {
                Box::pin(async move {
                    if meta.idle_for >= IDLE_BEFORE_CHECK {
                        sqlx::Connection::ping(conn).await?;
                    }
                    Ok(true)
                })
            })
            .connect_with(options)
            .await
            .map_err(|e| StoreError::cannot_open(&shown, e))?;
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
        let mut conn = <PgConnection as sqlx::Connection>::connect(url)
            .await
            .map_err(|e| StoreError::cannot_open(&shown, e))?;
        let exists = sqlx::query_scalar("SELECT to_regclass('_sqlx_migrations') IS NOT NULL")
            .fetch_one(&mut conn)
            .await?;
        sqlx::Connection::close(conn).await?;
        Ok(exists)
    }
}

impl BackendContract for Backend {
    type Db = Postgres;

    // Under a share lock: a taking of the lease (an update of the row) waits for the
    // transaction, and a taking committed first leaves no row with the old generation to find.
    const FENCE_CHECK: &'static str =
        "SELECT generation FROM scheduler_lease WHERE id = 1 AND generation = $1 FOR SHARE";

    fn pool(&self) -> &Pool {
        &self.pool
    }

    // The write lock is held until the transaction ends (commit, rollback, or its connection
    // dropped by a dead process): two subscribes, a repost limit checked and then used, are
    // serialized across every process.
    async fn begin_write(&self) -> Result<Transaction<'static, Postgres>> {
        let mut tx = self.pool.begin().await?;
        sqlx::query("SELECT pg_advisory_xact_lock($1)")
            .bind(WRITE_LOCK)
            .execute(&mut *tx)
            .await?;
        Ok(tx)
    }

    // The stories of every brief told apart again: the briefs are read, then compared in the
    // process while the transaction waits.
    async fn unbounded(tx: &mut Transaction<'static, Postgres>) -> Result<()> {
        sqlx::query("SET LOCAL idle_in_transaction_session_timeout = 0")
            .execute(&mut **tx)
            .await?;
        sqlx::query("SET LOCAL statement_timeout = 0")
            .execute(&mut **tx)
            .await?;
        Ok(())
    }

    // Through a function of the schema (migration `20261209000001_story_candidates.sql`) whose
    // query is planned once per connection, each lookup written so that its one plan is the
    // cheapest at every size of the tables: planned for each call's keys, as every other
    // statement here is, planning took almost as long as running it (0.2-0.3 ms of a check).
    async fn story_candidates(
        conn: &mut PgConnection,
        prints: &BriefPrints,
    ) -> Result<Vec<StoryCandidate>> {
        fn key(k: &str) -> Option<&str> {
            (!k.is_empty()).then_some(k)
        }
        let limit = |n: usize| i32::try_from(n).unwrap_or(i32::MAX);
        Ok(sqlx::query_as(
            "SELECT id, story_id, headline, summary, headline_key, story_terms
             FROM story_candidates($1, $2, $3, $4, $5, $6)",
        )
        .bind(key(&prints.headline_key))
        .bind(key(&prints.subject_key))
        .bind(&prints.bands)
        .bind(limit(dedup::HEADLINE_CANDIDATES))
        .bind(limit(dedup::BAND_CANDIDATES))
        .bind(limit(dedup::SUBJECT_CANDIDATES))
        .fetch_all(conn)
        .await?)
    }

    // By the database's clock: the processes' clocks need not agree.
    async fn try_lease(&self, ttl: StdDuration) -> Result<Option<i64>> {
        Ok(sqlx::query_scalar(
            "UPDATE scheduler_lease
             SET holder = $1, generation = generation + 1,
                 expires_at = clock_timestamp() + make_interval(secs => $2)
             WHERE id = 1 AND expires_at <= clock_timestamp()
             RETURNING generation",
        )
        .bind(self.me)
        .bind(ttl.as_secs_f64())
        .fetch_optional(&self.pool)
        .await?)
    }

    async fn renew_lease(&self, generation: i64, ttl: StdDuration) -> Result<bool> {
        Ok(sqlx::query(
            "UPDATE scheduler_lease SET expires_at = clock_timestamp() + make_interval(secs => $2)
             WHERE id = 1 AND generation = $1 AND expires_at > clock_timestamp()",
        )
        .bind(generation)
        .bind(ttl.as_secs_f64())
        .execute(&self.pool)
        .await?
        .rows_affected()
            == 1)
    }

    async fn release_lease(&self, generation: i64) -> Result<()> {
        sqlx::query(
            "UPDATE scheduler_lease SET expires_at = '1970-01-01T00:00:00Z'
             WHERE id = 1 AND generation = $1",
        )
        .bind(generation)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    // Channels in `busy` are one array parameter. The delivery is claimed in the same statement
    // (`FOR UPDATE SKIP LOCKED`: two processes asking at once get different deliveries, neither
    // waits), and one claimed by another process is left alone while that process lives (its
    // presence lock is held); a dead process's claim is void at once, and its in-doubt parts are
    // reconciled by whoever takes the delivery (RELIABILITY.md). The lease holder (`fence`) claims
    // in a transaction that checks its lease first, and ignores every other claim: only the holder
    // posts, so a claim ends with its holder's lease (issue 19: a former holder that could not
    // release its claims used to keep them from the new one while it lived).
    async fn due_delivery(
        &self,
        at: DateTime<Utc>,
        busy: &[i64],
        fence: Option<i64>,
    ) -> Result<Option<DueDelivery>> {
        let mut tx = self.pool.begin().await?;
        shared::outbox::check_fence(&mut tx, fence).await?;
        let due = sqlx::query_as(
            "WITH next AS (
                 SELECT d.id FROM deliveries d
                 JOIN issues i ON i.id = d.issue_id
                 LEFT JOIN subscriptions s ON s.id = d.subscription_id
                 WHERE d.status = 'pending' AND d.not_before <= $1 AND s.paused_at IS NULL
                   AND d.channel_id <> ALL($2)
                   AND (d.claimed_by IS NULL OR d.claimed_by = $3 OR $5
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
        .bind(fence.is_some())
        .fetch_optional(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(due)
    }

    async fn release_claims(&self) -> Result<u64> {
        Ok(sqlx::query(
            "UPDATE deliveries SET claimed_by = NULL WHERE claimed_by = $1 AND status = 'pending'",
        )
        .bind(self.me)
        .execute(&self.pool)
        .await?
        .rows_affected())
    }
}
