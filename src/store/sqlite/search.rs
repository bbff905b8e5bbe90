//! Search on SQLite: an FTS5 table of each document's terms (`crate::search::index_terms`),
//! its rowids in indexing order, ranked by FTS5's bm25.

use chrono::{DateTime, Utc};
use sqlx::SqliteConnection as Conn;

use super::Backend;
use crate::domain::Brief;
use crate::store::Result;
use crate::store::contract::{BackendContract, SearchContract};
use crate::store::search::{MAX_RESULTS, Page, PageRow, RANKED};

/// Adds a document to the index; its rowid is the next one, so rowids follow indexing order.
async fn index(conn: &mut Conn, source: &str, doc: i64, text: &str) -> Result<()> {
    sqlx::query("INSERT INTO search_index (terms, source, doc) VALUES ($1, $2, $3)")
        .bind(crate::search::index_terms(text))
        .bind(source)
        .bind(doc)
        .execute(conn)
        .await?;
    Ok(())
}

/// An FTS5 query for `query` over the `terms` column, limited to one source when `source` is
/// given. `None` when the query has nothing to search for.
fn match_expression(query: &str, source: Option<&str>) -> Option<String> {
    let terms = format!("terms : ({})", crate::search::fts5_query(query)?);
    Some(match source {
        Some(source) => format!("{terms} AND source : \"{}\"", source.replace('"', "\"\"")),
        None => terms,
    })
}

impl SearchContract for Backend {
    async fn index_brief(
        conn: &mut Conn,
        source: &str,
        brief_id: i64,
        _at: DateTime<Utc>,
        brief: &Brief,
    ) -> Result<()> {
        let text = format!("{} {}", brief.headline, brief.summary);
        index(conn, source, brief_id, &text).await
    }

    async fn index_issue(
        conn: &mut Conn,
        source: &str,
        issue_id: i64,
        _at: DateTime<Utc>,
        title: &str,
        lead: &str,
    ) -> Result<()> {
        index(conn, source, -issue_id, &format!("{title} {lead}")).await
    }

    /// After an issue's documents are indexed: nothing to do here, where rowids follow indexing
    /// order and FTS5 reads a query's matches newest first (PostgreSQL measures its time windows).
    async fn issue_indexed(_conn: &mut Conn) -> Result<()> {
        Ok(())
    }

    async fn search_count(&self, query: &str, source: Option<&str>) -> Result<i64> {
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

    /// Indexes what was stored before the index existed (or before it was rebuilt), oldest
    /// first, so rowids follow age. Documents are indexed in the transaction that stores them, so
    /// this only ever finds rows written by older versions.
    async fn index_unindexed(&self) -> Result<()> {
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
            let mut tx = self.begin_write().await?;
            for (doc, source, a, b) in chunk {
                index(&mut tx, source, *doc, &format!("{a} {b}")).await?;
            }
            tx.commit().await?;
        }
        tracing::info!(documents = docs.len(), "search index brought up to date");
        Ok(())
    }

    async fn search_page(
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
