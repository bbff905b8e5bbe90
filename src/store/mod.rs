//! The only place with SQL. The database decides what is new: unique keys and
//! `ON CONFLICT DO NOTHING`, with every write of one issue in one transaction.
//!
//! The SQL sticks to what SQLite and PostgreSQL share (`$N` parameters, `ON CONFLICT`,
//! `RETURNING`), so a PostgreSQL backend can reuse the queries; for now `postgres://` URLs are
//! refused with a clear error.

use std::str::FromStr;
use std::time::Duration;

use chrono::{DateTime, SubsecRound, Utc};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{AssertSqlSafe, FromRow, SqliteConnection, SqlitePool};

use crate::config::DatabaseUrl;
use crate::dedup;
use crate::domain::{Brief, CanonicalUrl, Issue, SourceId};
use crate::scrape::fetch::Validators;

pub mod outbox;
pub mod search;
#[doc(hidden)]
pub mod testing;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("{0}")]
    Unsupported(String),
    #[error("cannot open the database {url}: {source}")]
    Open { url: String, source: sqlx::Error },
    #[error("database migration failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error("database error: {0}")]
    Sql(#[from] sqlx::Error),
    /// A stored value the code cannot read back (a frozen delivery part, say).
    #[error("stored data is unreadable: {0}")]
    Corrupt(String),
    /// Something the store's own rules say cannot happen did: a bug, reported as one.
    #[error("store invariant broken: {0}")]
    Invariant(&'static str),
}

pub type Result<T, E = StoreError> = std::result::Result<T, E>;

/// How many LSH candidates are compared exactly at most; the best-matching come first.
const MAX_CANDIDATES: i64 = 16;

/// The time as stored: UTC, whole seconds.
pub fn now() -> DateTime<Utc> {
    Utc::now().trunc_subsecs(0)
}

#[derive(Debug, Clone)]
pub struct Store {
    pool: SqlitePool,
}

/// The page an issue came from, kept to re-parse it later.
#[derive(Debug, Clone)]
pub struct SourcePage<'a> {
    pub url: &'a str,
    pub html: &'a str,
    pub format: &'a str,
}

/// What [`Store::record_issue`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Recorded {
    New {
        id: i64,
    },
    /// The issue was stored before (same URL, same content, or near-identical text).
    Duplicate {
        id: i64,
        url: CanonicalUrl,
    },
}

/// An issue as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredIssue {
    pub id: i64,
    pub source_id: String,
    pub url: String,
    pub title: String,
    pub published_at: Option<DateTime<Utc>>,
    pub first_seen_at: DateTime<Utc>,
    pub lead: String,
    pub text: String,
    pub briefs: Vec<Brief>,
}

#[derive(FromRow)]
struct IssueRow {
    id: i64,
    source_id: String,
    url: String,
    title: String,
    published_at: Option<DateTime<Utc>>,
    first_seen_at: DateTime<Utc>,
    lead: String,
    body_text: String,
}

/// A source's scrape health, for `/status`.
#[derive(Debug, Clone, PartialEq, Eq, FromRow)]
pub struct SourceState {
    pub id: String,
    pub name: String,
    pub last_attempt_at: Option<DateTime<Utc>>,
    pub last_success_at: Option<DateTime<Utc>>,
    pub last_error: Option<String>,
    pub last_error_at: Option<DateTime<Utc>>,
    pub consecutive_failures: i64,
    pub issues: i64,
}

impl Store {
    /// Opens (creating it if missing) and migrates the database.
    pub async fn open(url: &DatabaseUrl) -> Result<Self> {
        let url = match url {
            DatabaseUrl::Sqlite(url) => url,
            DatabaseUrl::Postgres(_) => {
                return Err(StoreError::Unsupported(
                    "PostgreSQL is not supported yet: set DATABASE_URL to a sqlite:// URL (the default is sqlite://briefbot.db)".into(),
                ));
            }
        };
        let options = sqlite_options(url)?.create_if_missing(true);
        Self::connect(options, 4, url).await
    }

    /// For `--dry-run`: the existing database, or an empty in-memory one when the file does
    /// not exist, so a dry run never creates a file.
    pub async fn open_for_dry_run(url: &DatabaseUrl) -> Result<Self> {
        if let DatabaseUrl::Sqlite(s) = url {
            let options = sqlite_options(s)?;
            let path = options.get_filename();
            if path.as_os_str() != ":memory:" && !path.exists() {
                return Self::open_in_memory().await;
            }
        }
        Self::open(url).await
    }

    /// A private in-memory database (one connection, so every query sees the same data).
    pub async fn open_in_memory() -> Result<Self> {
        let options = sqlite_options("sqlite::memory:")?;
        Self::connect(options, 1, "sqlite::memory:").await
    }

    async fn connect(options: SqliteConnectOptions, max: u32, url: &str) -> Result<Self> {
        let options = options
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal)
            .foreign_keys(true)
            .busy_timeout(Duration::from_secs(10));
        let pool = SqlitePoolOptions::new()
            .max_connections(max)
            .connect_with(options)
            .await
            .map_err(|source| StoreError::Open {
                url: url.to_owned(),
                source,
            })?;
        sqlx::migrate!("migrations/sqlite").run(&pool).await?;
        let store = Self { pool };
        store.index_unindexed().await?;
        Ok(store)
    }

    /// Closes every connection; later calls fail (as when the database stops answering).
    pub async fn close(&self) {
        self.pool.close().await;
    }

    /// Registers a source (or renames it).
    pub async fn upsert_source(&self, id: &SourceId, name: &str) -> Result<()> {
        sqlx::query(
            "INSERT INTO sources (id, name) VALUES ($1, $2)
             ON CONFLICT (id) DO UPDATE SET name = excluded.name",
        )
        .bind(id.as_str())
        .bind(name)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    pub async fn record_scrape_success(&self, id: &SourceId, at: DateTime<Utc>) -> Result<()> {
        sqlx::query(
            "UPDATE sources SET last_attempt_at = $2, last_success_at = $2, consecutive_failures = 0
             WHERE id = $1",
        )
        .bind(id.as_str())
        .bind(at)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Records a failed scrape; returns how many failed in a row.
    pub async fn record_scrape_failure(
        &self,
        id: &SourceId,
        at: DateTime<Utc>,
        error: &str,
    ) -> Result<i64> {
        let failures: i64 = sqlx::query_scalar(
            "UPDATE sources SET last_attempt_at = $2, last_error = $3, last_error_at = $2,
                    consecutive_failures = consecutive_failures + 1
             WHERE id = $1 RETURNING consecutive_failures",
        )
        .bind(id.as_str())
        .bind(at)
        .bind(error)
        .fetch_optional(&self.pool)
        .await?
        .unwrap_or(1);
        Ok(failures)
    }

    pub async fn source_states(&self) -> Result<Vec<SourceState>> {
        Ok(sqlx::query_as(
            "SELECT s.id, s.name, s.last_attempt_at, s.last_success_at, s.last_error, s.last_error_at,
                    s.consecutive_failures,
                    (SELECT COUNT(*) FROM issues i WHERE i.source_id = s.id) AS issues
             FROM sources s ORDER BY s.id",
        )
        .fetch_all(&self.pool)
        .await?)
    }

    pub async fn validators(&self, url: &str) -> Result<Option<Validators>> {
        let row: Option<(Option<String>, Option<String>)> =
            sqlx::query_as("SELECT etag, last_modified FROM http_validators WHERE url = $1")
                .bind(url)
                .fetch_optional(&self.pool)
                .await?;
        Ok(row.map(|(etag, last_modified)| Validators {
            etag,
            last_modified,
        }))
    }

    pub async fn save_validators(&self, url: &str, v: &Validators) -> Result<()> {
        if v.is_empty() {
            sqlx::query("DELETE FROM http_validators WHERE url = $1")
                .bind(url)
                .execute(&self.pool)
                .await?;
            return Ok(());
        }
        sqlx::query(
            "INSERT INTO http_validators (url, etag, last_modified, updated_at) VALUES ($1, $2, $3, $4)
             ON CONFLICT (url) DO UPDATE SET etag = excluded.etag,
                 last_modified = excluded.last_modified, updated_at = excluded.updated_at",
        )
        .bind(url)
        .bind(&v.etag)
        .bind(&v.last_modified)
        .bind(now())
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// The issue stored under this URL (its own or one it was seen at), if any.
    pub async fn issue_for_url(&self, url: &CanonicalUrl) -> Result<Option<i64>> {
        let mut conn = self.pool.acquire().await?;
        issue_for_url(&mut conn, url.as_str()).await
    }

    /// The stored issue this one repeats, if any: by URL, by content hash, or by near-identical
    /// text. Reads only.
    pub async fn find_duplicate(
        &self,
        issue: &Issue,
        seen_at: &[&CanonicalUrl],
    ) -> Result<Option<(i64, CanonicalUrl)>> {
        let prints = dedup::IssuePrints::of(issue);
        let mut conn = self.pool.acquire().await?;
        find_duplicate(&mut conn, issue, &prints, seen_at).await
    }

    /// Stores an issue unless it repeats a stored one; either way every URL in `seen_at`
    /// becomes known as that issue's, so it is not fetched again. One transaction.
    pub async fn record_issue(
        &self,
        source: &SourceId,
        issue: &Issue,
        seen_at: &[&CanonicalUrl],
        page: &SourcePage<'_>,
    ) -> Result<Recorded> {
        let at = now();
        let prints = dedup::IssuePrints::of(issue);
        // IMMEDIATE takes SQLite's write lock up front: two sources recording the same issue at
        // once are serialized, instead of both reading "not stored" and one failing on commit.
        let mut tx = self.pool.begin_with("BEGIN IMMEDIATE").await?;
        let inserted = match find_duplicate(&mut tx, issue, &prints, seen_at).await? {
            Some(dup) => Err(dup),
            None => match insert_issue(&mut tx, source, issue, &prints, page, at).await? {
                Some(id) => Ok(id),
                // A unique key says it is stored after all (same URL or content).
                None => Err(find_duplicate(&mut tx, issue, &prints, seen_at)
                    .await?
                    .ok_or(StoreError::Invariant(
                        "an issue refused as stored was not found by its URL or content",
                    ))?),
            },
        };
        let id = match inserted {
            Ok(id) => id,
            Err((id, url)) => {
                for u in seen_at {
                    insert_issue_url(&mut tx, u.as_str(), id, source, at).await?;
                }
                // Republished by another source: its subscribers that lack the issue get it.
                let first_seen = outbox::first_seen_at(&mut tx, id).await?;
                let published = issue.published_at;
                outbox::enqueue_new(&mut tx, id, source.as_str(), published, first_seen).await?;
                tx.commit().await?;
                return Ok(Recorded::Duplicate { id, url });
            }
        };
        insert_issue_url(&mut tx, issue.url.as_str(), id, source, at).await?;
        for u in seen_at {
            insert_issue_url(&mut tx, u.as_str(), id, source, at).await?;
        }
        insert_bands(&mut tx, "issue", id, &prints.bands).await?;
        // The issue's own document first, then its items: the order the refill uses too.
        search::index_issue(&mut tx, source.as_str(), id, &issue.title, &issue.lead).await?;
        for (position, (brief, brief_prints)) in issue.briefs.iter().zip(&prints.briefs).enumerate()
        {
            let brief_id = insert_brief(&mut tx, id, position as i64, brief, brief_prints).await?;
            search::index_brief(&mut tx, source.as_str(), brief_id, brief).await?;
        }
        outbox::enqueue_new(&mut tx, id, source.as_str(), issue.published_at, at).await?;
        tx.commit().await?;
        Ok(Recorded::New { id })
    }

    /// The newest issues, newest first, optionally of one source.
    pub async fn latest(&self, count: i64, source: Option<&str>) -> Result<Vec<StoredIssue>> {
        let rows: Vec<IssueRow> = sqlx::query_as(
            "SELECT id, source_id, url, title, published_at, first_seen_at, lead, body_text
             FROM issues WHERE ($1 IS NULL OR source_id = $1)
             ORDER BY COALESCE(published_at, first_seen_at) DESC, id DESC LIMIT $2",
        )
        .bind(source)
        .bind(count)
        .fetch_all(&self.pool)
        .await?;
        let mut out = Vec::with_capacity(rows.len());
        for row in rows {
            out.push(self.with_briefs(row).await?);
        }
        Ok(out)
    }

    /// The issues published (or, lacking a time, first seen) in `[start, end)`, oldest first.
    pub async fn issues_between(
        &self,
        start: DateTime<Utc>,
        end: DateTime<Utc>,
        source: Option<&str>,
    ) -> Result<Vec<StoredIssue>> {
        let rows: Vec<IssueRow> = sqlx::query_as(
            "SELECT id, source_id, url, title, published_at, first_seen_at, lead, body_text
             FROM issues
             WHERE COALESCE(published_at, first_seen_at) >= $1 AND COALESCE(published_at, first_seen_at) < $2
               AND ($3 IS NULL OR source_id = $3)
             ORDER BY COALESCE(published_at, first_seen_at), id LIMIT 25",
        )
        .bind(start)
        .bind(end)
        .bind(source)
        .fetch_all(&self.pool)
        .await?;
        let mut out = Vec::with_capacity(rows.len());
        for row in rows {
            out.push(self.with_briefs(row).await?);
        }
        Ok(out)
    }

    /// The publish time of the issue nearest to `at`, before or after.
    pub async fn nearest_issue_time(
        &self,
        at: DateTime<Utc>,
        source: Option<&str>,
    ) -> Result<Option<DateTime<Utc>>> {
        let before: Option<DateTime<Utc>> = sqlx::query_scalar(
            "SELECT MAX(COALESCE(published_at, first_seen_at)) FROM issues
             WHERE COALESCE(published_at, first_seen_at) < $1 AND ($2 IS NULL OR source_id = $2)",
        )
        .bind(at)
        .bind(source)
        .fetch_one(&self.pool)
        .await?;
        let after: Option<DateTime<Utc>> = sqlx::query_scalar(
            "SELECT MIN(COALESCE(published_at, first_seen_at)) FROM issues
             WHERE COALESCE(published_at, first_seen_at) >= $1 AND ($2 IS NULL OR source_id = $2)",
        )
        .bind(at)
        .bind(source)
        .fetch_one(&self.pool)
        .await?;
        Ok(match (before, after) {
            (Some(b), Some(a)) => Some(if at - b <= a - at { b } else { a }),
            (b, a) => b.or(a),
        })
    }

    /// One stored issue with its briefs.
    pub async fn issue(&self, id: i64) -> Result<Option<StoredIssue>> {
        let row: Option<IssueRow> = sqlx::query_as(
            "SELECT id, source_id, url, title, published_at, first_seen_at, lead, body_text
             FROM issues WHERE id = $1",
        )
        .bind(id)
        .fetch_optional(&self.pool)
        .await?;
        match row {
            Some(row) => Ok(Some(self.with_briefs(row).await?)),
            None => Ok(None),
        }
    }

    async fn with_briefs(&self, row: IssueRow) -> Result<StoredIssue> {
        let briefs = briefs_of(&self.pool, row.id).await?;
        Ok(StoredIssue {
            id: row.id,
            source_id: row.source_id,
            url: row.url,
            title: row.title,
            published_at: row.published_at,
            first_seen_at: row.first_seen_at,
            lead: row.lead,
            text: row.body_text,
            briefs,
        })
    }

    /// The story a brief item belongs to: the id of the first stored brief telling the same
    /// news (the same headline, or near-identical text), if any.
    pub async fn story_of(&self, brief: &Brief) -> Result<Option<i64>> {
        let prints = dedup::BriefPrints::of(&brief.headline, &brief.summary);
        let mut conn = self.pool.acquire().await?;
        story_of(&mut conn, &prints).await
    }

    /// The stored brief with this id's story id, for tests and tools.
    pub async fn brief_story(&self, brief_id: i64) -> Result<Option<i64>> {
        Ok(
            sqlx::query_scalar("SELECT story_id FROM briefs WHERE id = $1")
                .bind(brief_id)
                .fetch_optional(&self.pool)
                .await?,
        )
    }

    /// Every brief of an issue with its id and story id, in order.
    pub async fn brief_rows(&self, issue_id: i64) -> Result<Vec<(i64, i64, String)>> {
        Ok(sqlx::query_as(
            "SELECT id, story_id, headline FROM briefs WHERE issue_id = $1 ORDER BY position",
        )
        .bind(issue_id)
        .fetch_all(&self.pool)
        .await?)
    }
}

fn sqlite_options(url: &str) -> Result<SqliteConnectOptions> {
    SqliteConnectOptions::from_str(url).map_err(|source| StoreError::Open {
        url: url.to_owned(),
        source,
    })
}

async fn briefs_of(pool: &SqlitePool, issue_id: i64) -> Result<Vec<Brief>> {
    let rows: Vec<(String, String)> = sqlx::query_as(
        "SELECT headline, summary FROM briefs WHERE issue_id = $1 ORDER BY position",
    )
    .bind(issue_id)
    .fetch_all(pool)
    .await?;
    Ok(rows
        .into_iter()
        .map(|(headline, summary)| Brief { headline, summary })
        .collect())
}

async fn issue_for_url(conn: &mut SqliteConnection, url: &str) -> Result<Option<i64>> {
    Ok(
        sqlx::query_scalar("SELECT issue_id FROM issue_urls WHERE url = $1")
            .bind(url)
            .fetch_optional(conn)
            .await?,
    )
}

async fn issue_url(conn: &mut SqliteConnection, id: i64) -> Result<CanonicalUrl> {
    let url: String = sqlx::query_scalar("SELECT url FROM issues WHERE id = $1")
        .bind(id)
        .fetch_one(&mut *conn)
        .await?;
    CanonicalUrl::parse(&url)
        .map_err(|e| StoreError::Corrupt(format!("issue {id} has the URL {url:?}: {e}")))
}

async fn find_duplicate(
    conn: &mut SqliteConnection,
    issue: &Issue,
    prints: &dedup::IssuePrints,
    seen_at: &[&CanonicalUrl],
) -> Result<Option<(i64, CanonicalUrl)>> {
    for url in std::iter::once(&&issue.url).chain(seen_at) {
        if let Some(id) = issue_for_url(conn, url.as_str()).await? {
            return Ok(Some((id, issue_url(conn, id).await?)));
        }
    }
    let by_hash: Option<i64> = sqlx::query_scalar("SELECT id FROM issues WHERE content_hash = $1")
        .bind(&prints.content_hash)
        .fetch_optional(&mut *conn)
        .await?;
    if let Some(id) = by_hash {
        return Ok(Some((id, issue_url(conn, id).await?)));
    }
    let ids = candidates(conn, "issue", &prints.bands).await?;
    let texts: Vec<(i64, String)> =
        fetch_by_ids(conn, "SELECT id, body_text FROM issues", &ids).await?;
    for (id, text) in texts {
        if dedup::issues_match(&prints.shingles, &dedup::shingles(&text)) {
            return Ok(Some((id, issue_url(conn, id).await?)));
        }
    }
    Ok(None)
}

/// Runs `select` (a statement without a WHERE clause) for the rows whose `id` is in `ids`,
/// keeping the order of `ids`.
async fn fetch_by_ids<T>(
    conn: &mut SqliteConnection,
    select: &'static str,
    ids: &[i64],
) -> Result<Vec<T>>
where
    T: for<'r> FromRow<'r, sqlx::sqlite::SqliteRow> + Send + Unpin + HasId,
{
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    // Only placeholders are formatted into the SQL; the ids themselves are bound.
    let sql = format!("{select} WHERE id IN ({})", placeholders(1, ids.len()));
    let mut query = sqlx::query_as::<_, T>(AssertSqlSafe(sql));
    for id in ids {
        query = query.bind(*id);
    }
    let mut rows = query.fetch_all(conn).await?;
    rows.sort_by_key(|r| ids.iter().position(|i| *i == r.id()));
    Ok(rows)
}

trait HasId {
    fn id(&self) -> i64;
}

impl HasId for (i64, String) {
    fn id(&self) -> i64 {
        self.0
    }
}

impl HasId for (i64, i64, String, String) {
    fn id(&self) -> i64 {
        self.0
    }
}

/// `$first, $first+1, …` for `count` parameters.
fn placeholders(first: usize, count: usize) -> String {
    (first..first + count)
        .map(|i| format!("${i}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Items sharing at least one band key, most shared keys first.
async fn candidates(conn: &mut SqliteConnection, kind: &str, keys: &[i64]) -> Result<Vec<i64>> {
    if keys.is_empty() {
        return Ok(Vec::new());
    }
    // Only placeholders are formatted into the SQL; the keys themselves are bound.
    let sql = format!(
        "SELECT item_id FROM similarity_bands WHERE kind = $1 AND band IN ({})
         GROUP BY item_id ORDER BY COUNT(*) DESC, item_id LIMIT $2",
        placeholders(3, keys.len())
    );
    let mut query = sqlx::query_scalar(AssertSqlSafe(sql))
        .bind(kind)
        .bind(MAX_CANDIDATES);
    for k in keys {
        query = query.bind(*k);
    }
    Ok(query.fetch_all(conn).await?)
}

async fn insert_bands(
    conn: &mut SqliteConnection,
    kind: &str,
    id: i64,
    keys: &[i64],
) -> Result<()> {
    let mut unique: Vec<i64> = keys.to_vec();
    unique.sort_unstable();
    unique.dedup();
    if unique.is_empty() {
        return Ok(());
    }
    // One statement for all keys; only placeholders are formatted into the SQL.
    let rows: Vec<String> = (0..unique.len())
        .map(|i| format!("($1, ${}, $2)", i + 3))
        .collect();
    let sql = format!(
        "INSERT INTO similarity_bands (kind, band, item_id) VALUES {} ON CONFLICT DO NOTHING",
        rows.join(", ")
    );
    let mut query = sqlx::query(AssertSqlSafe(sql)).bind(kind).bind(id);
    for key in unique {
        query = query.bind(key);
    }
    query.execute(conn).await?;
    Ok(())
}

/// Inserts an issue; `None` when its URL or content hash is stored already.
async fn insert_issue(
    conn: &mut SqliteConnection,
    source: &SourceId,
    issue: &Issue,
    prints: &dedup::IssuePrints,
    page: &SourcePage<'_>,
    at: DateTime<Utc>,
) -> Result<Option<i64>> {
    let id: Option<i64> = sqlx::query_scalar(
        "INSERT INTO issues (source_id, url, title, published_at, first_seen_at, lead, body_text,
                             content_hash, page_url, page_html, page_format)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)
         ON CONFLICT DO NOTHING
         RETURNING id",
    )
    .bind(source.as_str())
    .bind(issue.url.as_str())
    .bind(&issue.title)
    .bind(issue.published_at)
    .bind(at)
    .bind(&issue.lead)
    .bind(&issue.text)
    .bind(&prints.content_hash)
    .bind(page.url)
    .bind(page.html)
    .bind(page.format)
    .fetch_optional(conn)
    .await?;
    Ok(id)
}

async fn insert_issue_url(
    conn: &mut SqliteConnection,
    url: &str,
    issue_id: i64,
    source: &SourceId,
    at: DateTime<Utc>,
) -> Result<()> {
    sqlx::query(
        "INSERT INTO issue_urls (url, issue_id, source_id, first_seen_at) VALUES ($1, $2, $3, $4)
         ON CONFLICT DO NOTHING",
    )
    .bind(url)
    .bind(issue_id)
    .bind(source.as_str())
    .bind(at)
    .execute(conn)
    .await?;
    Ok(())
}

async fn story_of(conn: &mut SqliteConnection, prints: &dedup::BriefPrints) -> Result<Option<i64>> {
    let by_headline: Option<i64> = sqlx::query_scalar(
        "SELECT story_id FROM briefs WHERE headline_key = $1 ORDER BY id LIMIT 1",
    )
    .bind(&prints.headline_key)
    .fetch_optional(&mut *conn)
    .await?;
    if by_headline.is_some() {
        return Ok(by_headline);
    }
    let ids = candidates(conn, "brief", &prints.bands).await?;
    let rows: Vec<(i64, i64, String, String)> = fetch_by_ids(
        conn,
        "SELECT id, story_id, headline, summary FROM briefs",
        &ids,
    )
    .await?;
    Ok(rows
        .into_iter()
        .find(|(_, _, headline, summary)| {
            dedup::briefs_match(
                &prints.shingles,
                &dedup::shingles_of_brief(headline, summary),
            )
        })
        .map(|(_, story, _, _)| story))
}

async fn insert_brief(
    conn: &mut SqliteConnection,
    issue_id: i64,
    position: i64,
    brief: &Brief,
    prints: &dedup::BriefPrints,
) -> Result<i64> {
    let story = story_of(conn, prints).await?;
    let id: i64 = sqlx::query_scalar(
        "INSERT INTO briefs (issue_id, position, headline, summary, headline_key, story_id)
         VALUES ($1, $2, $3, $4, $5, COALESCE($6, 0)) RETURNING id",
    )
    .bind(issue_id)
    .bind(position)
    .bind(&brief.headline)
    .bind(&brief.summary)
    .bind(&prints.headline_key)
    .bind(story)
    .fetch_one(&mut *conn)
    .await?;
    if story.is_none() {
        sqlx::query("UPDATE briefs SET story_id = id WHERE id = $1")
            .bind(id)
            .execute(&mut *conn)
            .await?;
    }
    insert_bands(conn, "brief", id, &prints.bands).await?;
    Ok(id)
}
