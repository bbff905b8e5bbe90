//! Search on PostgreSQL: a `tsvector` of each document's terms (`crate::search::tsvector`, the
//! same terms as on SQLite) with a GIN index, queried with a `tsquery` of the same requirements
//! (`crate::search::tsquery`: a Hangul word is the phrase of its bigrams, `<->`). As on SQLite,
//! only a query's newest [`RANKED`] matches are ranked; here "newest" is read from each
//! document's `at` (its issue's time), so the order documents were indexed in does not matter.
//! Relevance is BM25's term-frequency saturation and length normalization, computed from the
//! candidates' own `tsvector`s (`ts_rank` weighs the distance between words instead, and ranks
//! the fixture corpus worse); there is no inverse document frequency, which would need per-term
//! statistics, and with every word required it matters little: the search quality table
//! (`tests/fixtures/search/corpus.json`) passes on both backends.

use chrono::{DateTime, Utc};

use super::{Backend, Conn, begin_write};
use crate::domain::Brief;
use crate::store::Result;
use crate::store::search::{MAX_RESULTS, Page, PageRow, RANKED};

pub(super) async fn index_brief(
    conn: &mut Conn,
    source: &str,
    brief_id: i64,
    at: DateTime<Utc>,
    brief: &Brief,
) -> Result<()> {
    let text = format!("{} {}", brief.headline, brief.summary);
    index(conn, source, brief_id, at, &text).await
}

/// Indexes an issue's title and lead story as one document (so an issue whose title and lead
/// both match is one result), beside its items.
pub(super) async fn index_issue(
    conn: &mut Conn,
    source: &str,
    issue_id: i64,
    at: DateTime<Utc>,
    title: &str,
    lead: &str,
) -> Result<()> {
    index(conn, source, -issue_id, at, &format!("{title} {lead}")).await
}

async fn index(
    conn: &mut Conn,
    source: &str,
    doc: i64,
    at: DateTime<Utc>,
    text: &str,
) -> Result<()> {
    let (terms, count) = crate::search::tsvector(text);
    sqlx::query(
        "WITH added AS (
             INSERT INTO search_index (doc, source, at, terms_count, terms)
             VALUES ($1, $2, $3, $4, $5::tsvector)
             ON CONFLICT (doc) DO NOTHING RETURNING terms_count)
         UPDATE search_stats SET documents = documents + (SELECT COUNT(*) FROM added),
                                 terms = terms + COALESCE((SELECT SUM(terms_count) FROM added), 0)",
    )
    .bind(doc)
    .bind(source)
    .bind(at)
    .bind(count)
    .bind(terms)
    .execute(conn)
    .await?;
    Ok(())
}

impl Backend {
    pub async fn search_count(&self, query: &str, source: Option<&str>) -> Result<i64> {
        let Some(tsquery) = crate::search::tsquery(query) else {
            return Ok(0);
        };
        Ok(sqlx::query_scalar(
            "SELECT COUNT(*) FROM (
                 SELECT 1 FROM search_index
                 WHERE terms @@ $1::tsquery AND ($2::text IS NULL OR source = $2)
                 LIMIT $3) AS matches",
        )
        .bind(tsquery)
        .bind(source)
        .bind(MAX_RESULTS)
        .fetch_one(&self.pool)
        .await?)
    }

    /// Indexes every brief and issue not yet indexed (after `briefbot migrate --from` copied
    /// them).
    pub(in crate::store) async fn index_all(&self) -> Result<()> {
        self.index_unindexed().await
    }

    /// Indexes the briefs and issues that have no document (copied by `briefbot migrate`, or a
    /// lost index), in chunks.
    pub(super) async fn index_unindexed(&self) -> Result<()> {
        let missing: bool = sqlx::query_scalar(
            "SELECT (SELECT COUNT(*) FROM search_index)
                    <> (SELECT COUNT(*) FROM briefs) + (SELECT COUNT(*) FROM issues)",
        )
        .fetch_one(&self.pool)
        .await?;
        if !missing {
            return Ok(());
        }
        let docs: Vec<(i64, String, DateTime<Utc>, String, String)> = sqlx::query_as(
            "SELECT doc, source_id, at, a, b FROM (
                 SELECT b.id AS doc, i.source_id, COALESCE(i.published_at, i.first_seen_at) AS at,
                        b.headline AS a, b.summary AS b, i.id AS issue, b.position
                 FROM briefs b JOIN issues i ON i.id = b.issue_id
                 WHERE NOT EXISTS (SELECT 1 FROM search_index s WHERE s.doc = b.id)
                 UNION ALL
                 SELECT -i.id, i.source_id, COALESCE(i.published_at, i.first_seen_at), i.title,
                        i.lead, i.id, -1
                 FROM issues i
                 WHERE NOT EXISTS (SELECT 1 FROM search_index s WHERE s.doc = -i.id)) AS docs
             ORDER BY at, issue, position",
        )
        .fetch_all(&self.pool)
        .await?;
        if docs.is_empty() {
            return Ok(());
        }
        for chunk in docs.chunks(2_000) {
            let mut tx = begin_write(&self.pool).await?;
            for (doc, source, at, a, b) in chunk {
                index(&mut tx, source, *doc, *at, &format!("{a} {b}")).await?;
            }
            tx.commit().await?;
        }
        tracing::info!(documents = docs.len(), "search index brought up to date");
        Ok(())
    }

    pub async fn search_page(
        &self,
        query: &str,
        source: Option<&str>,
        limit: i64,
        offset: i64,
    ) -> Result<Page> {
        let Some(tsquery) = crate::search::tsquery(query) else {
            return Ok(Page::default());
        };
        let limit = limit.min((MAX_RESULTS - offset).max(0));
        // The newest RANKED matches by the index on (at, seq); only those are ranked, only the
        // best MAX_RESULTS of them joined to their briefs and issues. Scores are rounded so that
        // nearly equal relevance falls back on recency, as on SQLite.
        // BM25 (k1 = 1.2, b = 0.75) without the inverse document frequency: every result
        // contains every word, so what tells results apart is how often they say it, against
        // their length. Counted only for the newest RANKED matches, from their own terms.
        let rows: Vec<PageRow> = sqlx::query_as(
            "WITH newest AS (
                 SELECT seq, doc, at, terms_count, terms FROM search_index
                 WHERE terms @@ $1::tsquery AND ($6::text IS NULL OR source = $6)
                 ORDER BY at DESC, seq DESC LIMIT $4),
             stats AS (
                 SELECT GREATEST(terms::float8 / GREATEST(documents, 1), 1) AS average
                 FROM search_stats),
             best AS MATERIALIZED (
                 SELECT seq, doc, at, round(-(
                            SELECT SUM(cardinality(u.positions) * 2.2 / (cardinality(u.positions)
                                       + 1.2 * (0.25 + 0.75 * terms_count / stats.average)))
                            FROM unnest(terms) u WHERE u.lexeme = ANY($7))::numeric, 1)::float8
                        AS score
                 FROM newest, stats ORDER BY score, at DESC, seq DESC LIMIT $5),
             page AS (
                 SELECT m.doc AS key, i.id AS issue_id, i.source_id, i.title AS issue_title,
                        i.url AS issue_url, i.published_at, i.first_seen_at,
                        COALESCE(b.headline, i.title) AS headline,
                        COALESCE(b.summary, i.lead) AS summary, m.score, m.seq
                 FROM best m
                 LEFT JOIN briefs b ON b.id = m.doc
                 JOIN issues i ON i.id = CASE WHEN m.doc > 0 THEN b.issue_id ELSE -m.doc END
                 ORDER BY m.score, COALESCE(i.published_at, i.first_seen_at) DESC, m.seq DESC
                 LIMIT $2 OFFSET $3)
             SELECT (SELECT COUNT(*) FROM best) AS total, page.*
             FROM (SELECT 1) AS one LEFT JOIN page ON true
             ORDER BY page.score, COALESCE(page.published_at, page.first_seen_at) DESC,
                      page.seq DESC",
        )
        .bind(tsquery)
        .bind(limit)
        .bind(offset)
        .bind(RANKED)
        .bind(MAX_RESULTS)
        .bind(source)
        .bind(crate::search::query_terms(query))
        .fetch_all(&self.pool)
        .await?;
        let total = rows.first().map_or(0, |r| r.total);
        let hits = rows.into_iter().filter_map(PageRow::hit).collect();
        Ok(Page { hits, total })
    }
}
