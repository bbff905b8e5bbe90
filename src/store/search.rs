//! The full-text index: written with each brief, queried by relevance then recency.

use chrono::{DateTime, Utc};
use sqlx::{FromRow, SqliteConnection};

use super::{Result, Store};
use crate::domain::Brief;
use crate::search;

/// One search result: a brief item, or an issue itself — its title and lead story — (then
/// `headline` is its title and `summary` its lead).
#[derive(Debug, Clone, PartialEq, FromRow)]
pub struct Hit {
    /// The brief's id, or minus the issue's id for the issue's title and lead.
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

impl Hit {
    /// Whether this is an issue's title and lead story rather than one of its items.
    pub fn is_issue(&self) -> bool {
        self.key < 0
    }

    /// What to show under the headline: an item's summary, or the sentence of an issue's lead
    /// that matches the query best.
    pub fn excerpt(&self, query: &str) -> &str {
        if self.is_issue() {
            search::best_sentence(&self.summary, query)
        } else {
            &self.summary
        }
    }
}

pub(super) async fn index_brief(
    conn: &mut SqliteConnection,
    source: &str,
    brief_id: i64,
    brief: &Brief,
) -> Result<()> {
    let text = format!("{} {}", brief.headline, brief.summary);
    index(conn, source, brief_id, &text).await
}

/// Indexes an issue's title and lead story as one document (so an issue whose title and lead
/// both match is one result), beside its items.
pub(super) async fn index_issue(
    conn: &mut SqliteConnection,
    source: &str,
    issue_id: i64,
    title: &str,
    lead: &str,
) -> Result<()> {
    index(conn, source, -issue_id, &format!("{title} {lead}")).await
}

/// Adds a document to the index; its rowid is the next one, so rowids follow indexing order.
async fn index(conn: &mut SqliteConnection, source: &str, doc: i64, text: &str) -> Result<()> {
    sqlx::query("INSERT INTO search_index (terms, source, doc) VALUES ($1, $2, $3)")
        .bind(search::index_terms(text))
        .bind(source)
        .bind(doc)
        .execute(conn)
        .await?;
    Ok(())
}

/// An FTS5 query for `query` over the `terms` column, limited to one source when `source` is
/// given. `None` when the query has nothing to search for.
fn match_expression(query: &str, source: Option<&str>) -> Option<String> {
    let terms = format!("terms : ({})", search::fts5_query(query)?);
    Some(match source {
        Some(source) => format!("{terms} AND source : \"{}\"", source.replace('"', "\"\"")),
        None => terms,
    })
}

/// The most results a search returns: 40 pages of 5, the most relevant first.
pub const MAX_RESULTS: i64 = 200;

/// How many of a query's newest matches are ranked by relevance (at least [`MAX_RESULTS`]).
pub const RANKED: i64 = 1_000;

/// A page of search results and how many there are in all (up to [`MAX_RESULTS`]).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Page {
    pub hits: Vec<Hit>,
    pub total: i64,
}

/// A row of [`Store::search_page`]: the count, and a hit unless the page is empty.
#[derive(FromRow)]
struct PageRow {
    total: i64,
    key: Option<i64>,
    issue_id: Option<i64>,
    source_id: Option<String>,
    issue_title: Option<String>,
    issue_url: Option<String>,
    published_at: Option<DateTime<Utc>>,
    first_seen_at: Option<DateTime<Utc>>,
    headline: Option<String>,
    summary: Option<String>,
    score: Option<f64>,
}

impl PageRow {
    fn hit(self) -> Option<Hit> {
        Some(Hit {
            key: self.key?,
            issue_id: self.issue_id?,
            source_id: self.source_id?,
            issue_title: self.issue_title?,
            issue_url: self.issue_url?,
            published_at: self.published_at,
            first_seen_at: self.first_seen_at?,
            headline: self.headline?,
            summary: self.summary?,
            score: self.score?,
        })
    }
}

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
        let Some(fts) = match_expression(query, source) else {
            return Ok(0);
        };
        Ok(sqlx::query_scalar(
            "SELECT COUNT(*) FROM (
                 SELECT 1 FROM search_index WHERE search_index MATCH $1 LIMIT $2)",
        )
        .bind(fts)
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

    /// Indexes what was stored before the index existed (or before it was rebuilt), oldest
    /// first, so rowids follow age. Documents are indexed in the transaction that stores them, so
    /// this only ever finds rows written by older versions.
    pub(super) async fn index_unindexed(&self) -> Result<()> {
        // Documents are never deleted and each is indexed once with the next rowid, so when the
        // newest rowid equals the number of documents, all are indexed: a cheap check on every
        // open, instead of comparing the whole index with the tables.
        let newest: i64 =
            sqlx::query_scalar("SELECT rowid FROM search_index ORDER BY rowid DESC LIMIT 1")
                .fetch_optional(&self.pool)
                .await?
                .unwrap_or(0);
        let documents: i64 = sqlx::query_scalar(
            "SELECT (SELECT COUNT(*) FROM briefs) + (SELECT COUNT(*) FROM issues)",
        )
        .fetch_one(&self.pool)
        .await?;
        if newest == documents {
            return Ok(());
        }
        let docs: Vec<(i64, String, String, String)> = sqlx::query_as(
            "SELECT doc, source_id, a, b FROM (
                 SELECT b.id AS doc, i.source_id, b.headline AS a, b.summary AS b,
                        COALESCE(i.published_at, i.first_seen_at) AS at, i.id AS issue, b.position
                 FROM briefs b JOIN issues i ON i.id = b.issue_id
                 WHERE b.id NOT IN (SELECT doc FROM search_index WHERE doc > 0)
                 UNION ALL
                 SELECT -i.id, i.source_id, i.title, i.lead,
                        COALESCE(i.published_at, i.first_seen_at), i.id, -1
                 FROM issues i
                 WHERE -i.id NOT IN (SELECT doc FROM search_index WHERE doc < 0))
             ORDER BY at, issue, position",
        )
        .fetch_all(&self.pool)
        .await?;
        if docs.is_empty() {
            return Ok(());
        }
        // In chunks, so a large upgrade does not hold the write lock for long at a time.
        for chunk in docs.chunks(2_000) {
            let mut tx = self.pool.begin_with("BEGIN IMMEDIATE").await?;
            for (doc, source, a, b) in chunk {
                index(&mut tx, source, *doc, &format!("{a} {b}")).await?;
            }
            tx.commit().await?;
        }
        tracing::info!(documents = docs.len(), "search index brought up to date");
        Ok(())
    }

    /// Briefs and issues (their title and lead) matching every word of `query`, most relevant first,
    /// the newer first among equally relevant ones. Empty when the query has nothing to search
    /// for. The query only ever reaches SQL as a bound parameter.
    ///
    /// Relevance (FTS5's bm25, with the index's own term statistics) is computed for the newest
    /// [`RANKED`] matches only: scoring every match of a word found in most briefs (`AI`) costs
    /// far more than the page needs, and among that many matches the newest are the ones a
    /// reader is after. FTS5 walks the index newest first (rowids follow indexing order) and
    /// stops there. A query with fewer matches is ranked exactly.
    pub async fn search(
        &self,
        query: &str,
        source: Option<&str>,
        limit: i64,
        offset: i64,
    ) -> Result<Vec<Hit>> {
        Ok(self.search_page(query, source, limit, offset).await?.hits)
    }

    /// One page of [`Store::search`] and the result count (up to [`MAX_RESULTS`]), from one
    /// pass over the index: what `/news search` shows.
    pub async fn search_page(
        &self,
        query: &str,
        source: Option<&str>,
        limit: i64,
        offset: i64,
    ) -> Result<Page> {
        let Some(fts) = match_expression(query, source) else {
            return Ok(Page::default());
        };
        let limit = limit.min((MAX_RESULTS - offset).max(0));
        // Only the best MAX_RESULTS of the ranked matches are joined to their briefs and issues
        // (reading `doc` costs a row read, so it is read for those only); counting them gives
        // the total without matching a second time.
        let rows: Vec<PageRow> = sqlx::query_as(
            "WITH ranked AS (
                 SELECT rowid AS seq, bm25(search_index, 1.0, 0.0, 0.0) AS score
                 FROM search_index WHERE search_index MATCH $1
                 ORDER BY rowid DESC LIMIT $4),
             best AS MATERIALIZED (
                 SELECT seq, score FROM ranked ORDER BY round(score, 1), seq DESC LIMIT $5),
             page AS (
                 SELECT d.doc AS key, i.id AS issue_id, i.source_id, i.title AS issue_title,
                        i.url AS issue_url, i.published_at, i.first_seen_at,
                        COALESCE(b.headline, i.title) AS headline,
                        COALESCE(b.summary, i.lead) AS summary, m.score, m.seq
                 FROM best m
                 JOIN search_index d ON d.rowid = m.seq
                 LEFT JOIN briefs b ON b.id = d.doc
                 JOIN issues i ON i.id = CASE WHEN d.doc > 0 THEN b.issue_id ELSE -d.doc END
                 ORDER BY round(m.score, 1), COALESCE(i.published_at, i.first_seen_at) DESC, m.seq DESC
                 LIMIT $2 OFFSET $3)
             SELECT (SELECT COUNT(*) FROM best) AS total, page.* FROM (SELECT 1) LEFT JOIN page
             ORDER BY round(page.score, 1), COALESCE(page.published_at, page.first_seen_at) DESC,
                      page.seq DESC",
        )
        .bind(fts)
        .bind(limit)
        .bind(offset)
        .bind(RANKED)
        .bind(MAX_RESULTS)
        .fetch_all(&self.pool)
        .await?;
        let total = rows.first().map_or(0, |r| r.total);
        let hits = rows.into_iter().filter_map(PageRow::hit).collect();
        Ok(Page { hits, total })
    }
}
