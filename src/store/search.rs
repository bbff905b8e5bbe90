//! The full-text index: written with each brief, queried by relevance then recency.

use chrono::{DateTime, Utc};
use sqlx::{FromRow, SqliteConnection};

use super::{Result, Store};
use crate::domain::Brief;
use crate::search;

/// One search result: a brief item, or an issue without items (then `headline` is its title
/// and `summary` its lead).
#[derive(Debug, Clone, PartialEq, FromRow)]
pub struct Hit {
    /// The brief's id, or minus the issue's id for an issue without items.
    pub key: i64,
    pub issue_id: i64,
    pub source_id: String,
    pub issue_title: String,
    pub issue_url: String,
    pub published_at: Option<DateTime<Utc>>,
    pub first_seen_at: DateTime<Utc>,
    pub headline: String,
    pub summary: String,
    /// FTS5 bm25: lower is more relevant.
    pub score: f64,
}

pub(super) async fn index_brief(
    conn: &mut SqliteConnection,
    brief_id: i64,
    brief: &Brief,
) -> Result<()> {
    let terms = search::index_terms(&format!("{} {}", brief.headline, brief.summary));
    sqlx::query("INSERT INTO search_index (rowid, terms) VALUES ($1, $2)")
        .bind(brief_id)
        .bind(terms)
        .execute(conn)
        .await?;
    Ok(())
}

pub(super) async fn index_itemless_issue(
    conn: &mut SqliteConnection,
    issue_id: i64,
    title: &str,
    lead: &str,
) -> Result<()> {
    let terms = search::index_terms(&format!("{title} {lead}"));
    sqlx::query("INSERT INTO search_index (rowid, terms) VALUES ($1, $2)")
        .bind(-issue_id)
        .bind(terms)
        .execute(conn)
        .await?;
    Ok(())
}

/// The most results a search returns: 40 pages of 5, the most relevant first.
pub const MAX_RESULTS: i64 = 200;

/// A `/news search` whose pages can be turned.
#[derive(Debug, Clone, PartialEq, Eq, FromRow)]
pub struct Session {
    pub id: i64,
    pub user_id: i64,
    pub query: String,
    pub source_id: Option<String>,
    pub total: i64,
    pub created_at: DateTime<Utc>,
}

impl Store {
    /// How many results a search has, counted up to [`MAX_RESULTS`] (what paging can reach).
    pub async fn search_count(&self, query: &str, source: Option<&str>) -> Result<i64> {
        let Some(fts) = search::fts5_query(query) else {
            return Ok(0);
        };
        Ok(sqlx::query_scalar(
            "SELECT COUNT(*) FROM (
                 SELECT 1 FROM search_index s
                 LEFT JOIN briefs b ON b.id = s.rowid
                 JOIN issues i ON i.id = CASE WHEN s.rowid > 0 THEN b.issue_id ELSE -s.rowid END
                 WHERE search_index MATCH $1 AND ($2 IS NULL OR i.source_id = $2)
                 LIMIT $3)",
        )
        .bind(fts)
        .bind(source)
        .bind(MAX_RESULTS)
        .fetch_one(&self.pool)
        .await?)
    }

    /// Remembers a search so its pages can be turned later, also after a restart.
    pub async fn create_session(
        &self,
        user_id: i64,
        query: &str,
        source: Option<&str>,
        total: i64,
    ) -> Result<i64> {
        Ok(sqlx::query_scalar(
            "INSERT INTO search_sessions (user_id, query, source_id, total, created_at)
             VALUES ($1, $2, $3, $4, $5) RETURNING id",
        )
        .bind(user_id)
        .bind(query)
        .bind(source)
        .bind(total)
        .bind(super::now())
        .fetch_one(&self.pool)
        .await?)
    }

    pub async fn session(&self, id: i64) -> Result<Option<Session>> {
        Ok(sqlx::query_as(
            "SELECT id, user_id, query, source_id, total, created_at FROM search_sessions WHERE id = $1",
        )
        .bind(id)
        .fetch_optional(&self.pool)
        .await?)
    }

    /// Records a search's current result count.
    pub async fn update_session_total(&self, id: i64, total: i64) -> Result<()> {
        sqlx::query("UPDATE search_sessions SET total = $2 WHERE id = $1")
            .bind(id)
            .bind(total)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Forgets searches older than `before`.
    pub async fn expire_sessions(&self, before: DateTime<Utc>) -> Result<u64> {
        Ok(
            sqlx::query("DELETE FROM search_sessions WHERE created_at < $1")
                .bind(before)
                .execute(&self.pool)
                .await?
                .rows_affected(),
        )
    }

    /// Indexes what was stored before the index existed (or before a crash between the two —
    /// they share a transaction, so this only ever finds rows from older versions).
    pub(super) async fn index_unindexed(&self) -> Result<()> {
        let briefs: Vec<(i64, String, String)> = sqlx::query_as(
            "SELECT id, headline, summary FROM briefs
             WHERE id NOT IN (SELECT rowid FROM search_index WHERE rowid > 0)",
        )
        .fetch_all(&self.pool)
        .await?;
        let issues: Vec<(i64, String, String)> = sqlx::query_as(
            "SELECT i.id, i.title, i.lead FROM issues i
             WHERE NOT EXISTS (SELECT 1 FROM briefs b WHERE b.issue_id = i.id)
               AND -i.id NOT IN (SELECT rowid FROM search_index WHERE rowid < 0)",
        )
        .fetch_all(&self.pool)
        .await?;
        if briefs.is_empty() && issues.is_empty() {
            return Ok(());
        }
        let mut tx = self.pool.begin_with("BEGIN IMMEDIATE").await?;
        for (id, headline, summary) in &briefs {
            let brief = Brief {
                headline: headline.clone(),
                summary: summary.clone(),
            };
            index_brief(&mut tx, *id, &brief).await?;
        }
        for (id, title, lead) in &issues {
            index_itemless_issue(&mut tx, *id, title, lead).await?;
        }
        tx.commit().await?;
        tracing::info!(
            briefs = briefs.len(),
            issues = issues.len(),
            "search index brought up to date"
        );
        Ok(())
    }

    /// Briefs (and issues without items) matching every word of `query`, most relevant first,
    /// the newer first among equally relevant ones. Empty when the query has nothing to search
    /// for. The query only ever reaches SQL as a bound parameter.
    pub async fn search(
        &self,
        query: &str,
        source: Option<&str>,
        limit: i64,
        offset: i64,
    ) -> Result<Vec<Hit>> {
        let Some(fts) = search::fts5_query(query) else {
            return Ok(Vec::new());
        };
        // Rank inside the index first (FTS5 orders by bm25 there) and join only the best
        // candidates: a common word ("AI") matches most briefs, and joining every match before
        // sorting costs far more than the page needs.
        let candidates = if source.is_some() {
            MAX_RESULTS * 5
        } else {
            MAX_RESULTS
        };
        let limit = limit.min((MAX_RESULTS - offset).max(0));
        Ok(sqlx::query_as(
            "SELECT m.key, i.id AS issue_id, i.source_id, i.title AS issue_title,
                    i.url AS issue_url, i.published_at, i.first_seen_at,
                    COALESCE(b.headline, i.title) AS headline, COALESCE(b.summary, i.lead) AS summary,
                    m.score
             FROM (SELECT rowid AS key, rank AS score FROM search_index
                   WHERE search_index MATCH $1 ORDER BY rank LIMIT $5) m
             LEFT JOIN briefs b ON b.id = m.key
             JOIN issues i ON i.id = CASE WHEN m.key > 0 THEN b.issue_id ELSE -m.key END
             WHERE ($2 IS NULL OR i.source_id = $2)
             ORDER BY round(m.score, 1), COALESCE(i.published_at, i.first_seen_at) DESC, m.key DESC
             LIMIT $3 OFFSET $4",
        )
        .bind(fts)
        .bind(source)
        .bind(limit)
        .bind(offset)
        .bind(candidates)
        .fetch_all(&self.pool)
        .await?)
    }
}
