//! The SQLite backend: one file, one process, the embedded default. WAL journal, a write
//! lock taken up front (`BEGIN IMMEDIATE`) by every transaction that reads before it writes, and
//! FTS5 for search.

use std::str::FromStr;
use std::time::Duration as StdDuration;

use chrono::{DateTime, Utc};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{AssertSqlSafe, Sqlite, SqliteConnection, SqlitePool as Pool, Transaction};

use super::contract::{BackendContract, SearchContract};
use super::outbox::DueDelivery;
use super::{Result, StoreError, StoryCandidate};
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

#[derive(Debug, Clone)]
pub struct Backend {
    pool: Pool,
}

fn options(url: &str) -> Result<SqliteConnectOptions> {
    SqliteConnectOptions::from_str(url).map_err(|e| StoreError::cannot_open(url, e))
}

/// The lock of one `briefbot run` on a database file (README: Deployment: one process per SQLite
/// file): an exclusive advisory lock (`flock`) on `<file>.lock` beside it. The operating system
/// frees it when the process ends, however it ends (a crash, SIGKILL), so it never goes stale.
#[derive(Debug)]
pub struct FileLock {
    _file: std::fs::File,
}

/// Takes [`FileLock`] for the database `url` names; `Ok(None)` for an in-memory database, and
/// [`StoreError::InUse`] when another process holds it.
pub fn lock_file(url: &str) -> Result<Option<FileLock>> {
    let options = options(url)?;
    let path = options.get_filename();
    if path.as_os_str() == ":memory:" {
        return Ok(None);
    }
    let mut lock = path.as_os_str().to_owned();
    lock.push(".lock");
    let lock = std::path::PathBuf::from(lock);
    let file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&lock)
        .map_err(|e| StoreError::Unavailable(format!("cannot open {}: {e}", lock.display())))?;
    match file.try_lock() {
        Ok(()) => Ok(Some(FileLock { _file: file })),
        Err(std::fs::TryLockError::WouldBlock) => Err(StoreError::InUse(format!(
            "another `briefbot run` is using the database {} (it holds {}); one process per SQLite file: stop the other first, or use PostgreSQL for several",
            path.display(),
            lock.display()
        ))),
        Err(std::fs::TryLockError::Error(e)) => Err(StoreError::Unavailable(format!(
            "cannot lock {}: {e}",
            lock.display()
        ))),
    }
}

impl Backend {
    /// Opens (creating it if missing) and migrates the database file.
    pub async fn open(url: &str) -> Result<Self> {
        Self::connect(options(url)?.create_if_missing(true), 4, url).await
    }

    /// Whether the URL names an existing database (or an in-memory one).
    pub fn exists(url: &str) -> Result<bool> {
        let options = options(url)?;
        let path = options.get_filename();
        Ok(path.as_os_str() == ":memory:" || path.exists())
    }

    /// A private in-memory database (one connection, so every query sees the same data).
    pub async fn open_in_memory() -> Result<Self> {
        Self::connect(options("sqlite::memory:")?, 1, "sqlite::memory:").await
    }

    async fn connect(options: SqliteConnectOptions, max: u32, url: &str) -> Result<Self> {
        let options = options
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal)
            .foreign_keys(true)
            .busy_timeout(StdDuration::from_secs(10));
        let pool = SqlitePoolOptions::new()
            .max_connections(max)
            // A connection to a file does not go stale: no check before it is handed out
            // (sqlx's default sends each one a round trip to its worker thread first).
            .test_before_acquire(false)
            .connect_with(options)
            .await
            .map_err(|e| StoreError::cannot_open(url, e))?;
        sqlx::migrate!("migrations/sqlite")
            .run(&pool)
            .await
            .map_err(StoreError::migration)?;
        let backend = Self { pool };
        backend.index_unindexed().await?;
        if let Some(done) = backend.restory().await? {
            tracing::info!(
                ?done,
                "stories told apart again with the current near-duplicate rule"
            );
        }
        Ok(backend)
    }
}

// SQLite's lease is always this process's: the file is (`lock_file`).
impl BackendContract for Backend {
    type Db = Sqlite;

    // SQLite's write lock already serializes this read with every other writer.
    const FENCE_CHECK: &'static str =
        "SELECT generation FROM scheduler_lease WHERE id = 1 AND generation = $1";

    fn pool(&self) -> &Pool {
        &self.pool
    }

    // Two sources recording the same issue are serialized, instead of both reading "not stored"
    // and one failing on commit.
    async fn begin_write(&self) -> Result<Transaction<'static, Sqlite>> {
        Ok(self.pool.begin_with("BEGIN IMMEDIATE").await?)
    }

    /// SQLite's connections have no bounds to lift.
    async fn unbounded(_tx: &mut Transaction<'static, Sqlite>) -> Result<()> {
        Ok(())
    }

    // One statement for every candidate (each statement is a hop to sqlx's worker thread and
    // back), kept prepared by sqlx. Only placeholders and the constant limits are formatted
    // into the SQL; the keys are bound. The limits are not bound: SQLite plans around a bound
    // LIMIT's value, so binding it anew (every check) makes it parse and plan the statement
    // again each time, 40 % of the query's time (BENCHMARKS.md). An empty key is bound as NULL,
    // which equals nothing.
    async fn story_candidates(
        conn: &mut SqliteConnection,
        prints: &BriefPrints,
    ) -> Result<Vec<StoryCandidate>> {
        let bands = if prints.bands.is_empty() {
            "NULL".to_owned()
        } else {
            shared::placeholders(3, prints.bands.len())
        };
        let (by_headline, by_bands, by_subject) = (
            dedup::HEADLINE_CANDIDATES,
            dedup::BAND_CANDIDATES,
            dedup::SUBJECT_CANDIDATES,
        );
        let sql = format!(
            "WITH by_headline AS (
                 SELECT id, 0 AS src, 0 AS rank FROM briefs WHERE headline_key = $1
                 ORDER BY id LIMIT {by_headline}
             ), by_bands AS (
                 SELECT item_id AS id, 1 AS src, -COUNT(*) AS rank FROM similarity_bands
                 WHERE kind = 'brief' AND band IN ({bands})
                 GROUP BY item_id ORDER BY COUNT(*) DESC, item_id LIMIT {by_bands}
             ), by_subject AS (
                 SELECT id, 2 AS src, -id AS rank FROM briefs
                 WHERE subject_key = $2 ORDER BY id DESC LIMIT {by_subject}
             )
             SELECT b.id, b.story_id, b.headline, b.summary, b.headline_key, b.story_terms
             FROM (SELECT id, src, rank FROM by_headline
                   UNION ALL SELECT id, src, rank FROM by_bands
                   UNION ALL SELECT id, src, rank FROM by_subject) c
             JOIN briefs b ON b.id = c.id
             ORDER BY c.src, c.rank, b.id"
        );
        let key = |k: &str| (!k.is_empty()).then(|| k.to_owned());
        let mut query = sqlx::query_as(AssertSqlSafe(sql))
            .bind(key(&prints.headline_key))
            .bind(key(&prints.subject_key));
        for band in &prints.bands {
            query = query.bind(*band);
        }
        Ok(query.fetch_all(conn).await?)
    }

    /// Always granted (this process owns the file), with the next generation, so a write of an
    /// earlier run's work in this database is refused as it would be on PostgreSQL.
    async fn try_lease(&self, _ttl: StdDuration) -> Result<Option<i64>> {
        Ok(Some(
            sqlx::query_scalar(
                "UPDATE scheduler_lease SET generation = generation + 1 WHERE id = 1
                 RETURNING generation",
            )
            .fetch_one(&self.pool)
            .await?,
        ))
    }

    /// Nobody else can take it.
    async fn renew_lease(&self, _generation: i64, _ttl: StdDuration) -> Result<bool> {
        Ok(true)
    }

    /// Nobody else waits for it.
    async fn release_lease(&self, _generation: i64) -> Result<()> {
        Ok(())
    }

    // Channels in `busy` are passed as one JSON array: SQLite has no array parameters. Nothing
    // is claimed (one process), so nothing is fenced: the writes that follow are.
    async fn due_delivery(
        &self,
        at: DateTime<Utc>,
        busy: &[i64],
        _fence: Option<i64>,
    ) -> Result<Option<DueDelivery>> {
        let busy = serde_json::to_string(busy).unwrap_or_else(|_| "[]".to_owned());
        Ok(sqlx::query_as(
            "SELECT d.id, d.subscription_id, d.channel_id, d.issue_id, d.kind, d.keywords,
                    d.attempts, d.refusals, d.parts_sent,
                    COALESCE(i.published_at, i.first_seen_at) AS issue_at
             FROM deliveries d
             JOIN issues i ON i.id = d.issue_id
             LEFT JOIN subscriptions s ON s.id = d.subscription_id
             WHERE d.status = 'pending' AND d.not_before <= $1 AND s.paused_at IS NULL
               AND d.channel_id NOT IN (SELECT value FROM json_each($2))
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

    /// One process claims nothing.
    async fn release_claims(&self) -> Result<u64> {
        Ok(0)
    }
}
