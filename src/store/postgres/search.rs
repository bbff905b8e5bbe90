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
//!
//! A GIN index finds a word's documents but not their order in time, so finding the newest
//! matches of a word that one document in ten holds means reading all of its matches: 100,000 at
//! 1,000,000 documents. A search therefore looks in the newest documents first, in the windows of
//! `search_windows` (4,096 documents and each power of two up to 524,288, measured as the index
//! grows): when a window holds [`RANKED`] matches, they are the newest overall, and only they were
//! read.
//! When it holds fewer, their number tells how common the query is, and the search goes on in the
//! smallest window that should hold enough, or the whole index (where a rare query's few matches
//! are cheap to read).
//!
//! The index finds a window by its period: each document carries its day, month and year as
//! lexemes of a second `tsvector` (`period`, written by the SQL function `search_period`), and a
//! window is the `tsquery` of the few that cover it ([`period_cover`]). GIN steps through those
//! entries and the query's own together, each skipping to the next document the other holds, so
//! a window costs about what its matches cost, not a step for each of its documents (as a range
//! of times did: GIN gathers every document of a range before intersecting it).
//!
//! The index cannot check a phrase (it keeps no positions), so for `반도체` PostgreSQL would read
//! every document holding `반도` and `도체` to look at their positions. Instead the index answers
//! the query without the phrases' order (`crate::search::tsquery_unordered`), newest first, and
//! the phrases are checked on those documents one by one, only until [`RANKED`] hold them.

use chrono::{DateTime, Utc};

use sqlx::PgConnection as Conn;

use super::Backend;
use crate::domain::Brief;
use crate::store::Result;
use crate::store::contract::{BackendContract, SearchContract};
use crate::store::search::{MAX_RESULTS, Page, PageRow, RANKED};

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
             INSERT INTO search_index (doc, source, at, terms_count, terms, period)
             VALUES ($1, $2, $3, $4, $5::tsvector, search_period($3))
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

/// The window to search after one of `size` documents held only `found` matches: the smallest
/// that should hold [`RANKED`] at the same rate, with a quarter to spare, or `None` (the whole
/// index) when none is that large, nothing was found, or the whole index should hold fewer
/// matches than a 32nd of that window's documents: the whole index costs the reading of each
/// match (1–2 µs), and a large window more than its matches (at 1,000,000 documents, with the
/// windows found by a range of times, `ChatGPT`'s 2,709 matches took 3 ms where the window of
/// 524,288 that held its newest 1,000 took 13; found by their period, windows cost less, and
/// the rule was kept as it was: `ChatGPT` takes 8.5 ms in all over the whole index).
fn next_window(
    windows: &[(i64, DateTime<Utc>)],
    documents: i64,
    size: i64,
    found: i64,
) -> Option<usize> {
    if found == 0 {
        return None;
    }
    let needed = size.saturating_mul(RANKED) / found * 5 / 4;
    let next = windows.iter().position(|&(s, _)| s > size && s >= needed)?;
    let everywhere = documents.saturating_mul(found) / size;
    (everywhere.saturating_mul(32) >= windows[next].0).then_some(next)
}

/// A search page with the number of candidates it ranked (its newest matches, at most
/// [`RANKED`]), which tells whether the window held enough.
#[derive(sqlx::FromRow)]
struct WindowRow {
    candidates: i64,
    #[sqlx(flatten)]
    row: PageRow,
}

impl SearchContract for Backend {
    async fn index_brief(
        conn: &mut Conn,
        source: &str,
        brief_id: i64,
        at: DateTime<Utc>,
        brief: &Brief,
    ) -> Result<()> {
        let text = format!("{} {}", brief.headline, brief.summary);
        index(conn, source, brief_id, at, &text).await
    }

    async fn index_issue(
        conn: &mut Conn,
        source: &str,
        issue_id: i64,
        at: DateTime<Utc>,
        title: &str,
        lead: &str,
    ) -> Result<()> {
        index(conn, source, -issue_id, at, &format!("{title} {lead}")).await
    }

    /// After an issue's documents are indexed: measures again the windows the index has outgrown by
    /// an eighth of their size since they were last measured (every 512 documents for the smallest,
    /// an index-only scan of its 4,096 newest entries).
    async fn issue_indexed(conn: &mut Conn) -> Result<()> {
        sqlx::query(
            "UPDATE search_windows w
             SET since = (SELECT at FROM search_index ORDER BY at DESC, seq DESC
                          OFFSET w.size - 1 LIMIT 1),
                 measured = s.documents
             FROM search_stats s
             WHERE s.documents >= w.measured + w.size / 8",
        )
        .execute(conn)
        .await?;
        Ok(())
    }

    async fn search_count(&self, query: &str, source: Option<&str>) -> Result<i64> {
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

    /// Indexes the briefs and issues that have no document (copied by `briefbot migrate`, or a
    /// lost index), in chunks.
    async fn index_unindexed(&self) -> Result<()> {
        // Windows that were never measured (a database of the version before them) or not since
        // the index grew are measured before the first search; otherwise a search would read
        // the whole index until the next issue is stored.
        let mut tx = self.begin_write().await?;
        Self::issue_indexed(&mut tx).await?;
        tx.commit().await?;
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
            let mut tx = self.begin_write().await?;
            for (doc, source, at, a, b) in chunk {
                index(&mut tx, source, *doc, *at, &format!("{a} {b}")).await?;
            }
            Self::issue_indexed(&mut tx).await?;
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
        let (Some(phrases), Some(unordered)) = (
            crate::search::tsquery(query),
            crate::search::tsquery_unordered(query),
        ) else {
            return Ok(Page::default());
        };
        let lookup = Lookup {
            phrases,
            unordered,
            terms: crate::search::query_terms(query),
            source,
        };
        let limit = limit.min((MAX_RESULTS - offset).max(0));
        // Each window with the newest document's time, where its period ends.
        let windows: Vec<(i64, DateTime<Utc>, i64, DateTime<Utc>)> = sqlx::query_as(
            "SELECT size, since, documents, newest
             FROM search_windows, search_stats,
                  (SELECT at AS newest FROM search_index ORDER BY at DESC, seq DESC LIMIT 1) n
             WHERE since IS NOT NULL ORDER BY size",
        )
        .fetch_all(&self.pool)
        .await?;
        let documents = windows.first().map_or(0, |w| w.2);
        let newest = windows.first().map(|w| w.3);
        let windows: Vec<(i64, DateTime<Utc>)> = windows.into_iter().map(|w| (w.0, w.1)).collect();
        let mut window = (!windows.is_empty()).then_some(0);
        loop {
            let since = window.map(|w| windows[w].1);
            let period = since.zip(newest).and_then(|(s, n)| period_cover(s, n));
            let rows = self
                .search_window(&lookup, since, period, limit, offset)
                .await?;
            let candidates = rows.first().map_or(0, |r| r.candidates);
            match window {
                Some(w) if candidates < RANKED => {
                    window = next_window(&windows, documents, windows[w].0, candidates)
                }
                _ => {
                    let total = rows.first().map_or(0, |r| r.row.total);
                    let hits = rows.into_iter().filter_map(|r| r.row.hit()).collect();
                    return Ok(Page { hits, total });
                }
            }
        }
    }
}

impl Backend {
    /// Indexes every brief and issue not yet indexed (after `briefbot migrate --from` copied
    /// them), then has the server gather its statistics of every table, as it should after a
    /// bulk load: without them the planner guesses a common word rare and reads every match.
    pub(in crate::store) async fn index_all(&self) -> Result<()> {
        self.index_unindexed().await?;
        sqlx::query("ANALYZE").execute(&self.pool).await?;
        Ok(())
    }

    /// A search page over the documents at or after `since` (all of them if `None`). A window
    /// that holds fewer than [`RANKED`] matches is not the answer: it gives only their number
    /// (`candidates` of a row without a hit), which tells the caller where to look next.
    async fn search_window(
        &self,
        lookup: &Lookup<'_>,
        since: Option<DateTime<Utc>>,
        period: Option<String>,
        limit: i64,
        offset: i64,
    ) -> Result<Vec<WindowRow>> {
        // `matches`: the documents with every term of the query, whatever their order, newest
        // first; the GIN index over (terms, period) finds them in the window's period. They
        // are sorted by time without their `terms` (kept in the row, 2.2 KB each: a few
        // thousand would sort on disk), found again by `ctid` only when they are checked.
        // `newest`: the first RANKED of them that hold the query's phrases too, checked in that
        // order, one document at a time, until there are enough. Each document's `tsvector`
        // is read once: the query's own lexemes are picked out of its hundreds in C
        // (`setweight` marks them A — documents are written without weights, all D — and
        // `ts_filter` keeps those), and the phrases are checked and the terms counted on that
        // small vector. (The phrase query alone made PostgreSQL read and check every match's
        // whole vector, 10 times the cost of the index lookup; unnesting every lexeme of 1,000
        // candidates to count the query's took 33 ms at 1,000,000 briefs.)
        // `best`: BM25 (k1 = 1.2, b = 0.75) without the inverse document frequency: every
        // result contains every word, so what tells results apart is how often they say it,
        // against their length. Scores are rounded so that nearly equal relevance falls back on
        // recency, as on SQLite; the best MAX_RESULTS are counted, and those of the page
        // joined to their briefs and issues.
        Ok(sqlx::query_as(
            "WITH matches AS (
                 SELECT ctid AS row, seq, doc, at, terms_count FROM search_index
                 WHERE terms @@ $9::tsquery AND ($6::text IS NULL OR source = $6)
                   AND ($10::tsquery IS NULL OR period @@ $10::tsquery)
                   AND ($8::timestamptz IS NULL OR at >= $8)
                 ORDER BY at DESC, seq DESC),
             newest AS (
                 SELECT m.seq, m.doc, m.at, m.terms_count, own.terms
                 FROM matches m
                 -- OFFSET 0: computed once a document, not once for the check and once more
                 -- for the ranking.
                 CROSS JOIN LATERAL (
                     SELECT ts_filter(setweight(s.terms, 'A', $7), '{a}') AS terms
                     FROM search_index s WHERE s.ctid = m.row OFFSET 0) own
                 WHERE own.terms @@ $1::tsquery
                 ORDER BY m.at DESC, m.seq DESC LIMIT $4),
             -- MATERIALIZED: read once. (Inlined, the planner may read the table again for
             -- every candidate: 30 ms at 1,000,000 briefs, where the one row's updates had left
             -- 270 pages of old versions behind.)
             stats AS MATERIALIZED (
                 SELECT GREATEST(terms::float8 / GREATEST(documents, 1), 1) AS average
                 FROM search_stats),
             best AS MATERIALIZED (
                 SELECT seq, doc, at, round(-(
                            SELECT SUM(cardinality(u.positions) * 2.2 / (cardinality(u.positions)
                                       + 1.2 * (0.25 + 0.75 * terms_count / stats.average)))
                            FROM unnest(terms) u
                        )::numeric, 1)::float8 AS score
                 FROM newest, stats
                 -- A window with too few matches is not the answer: nothing to rank.
                 WHERE $8::timestamptz IS NULL OR (SELECT COUNT(*) FROM newest) >= $4
                 ORDER BY score, at DESC, seq DESC LIMIT $5),
             -- Only the page's documents are joined to their briefs and issues (all 200
             -- took 1.2 ms at 1,000,000 briefs).
             page AS (
                 SELECT m.doc AS key, i.id AS issue_id, i.source_id, i.title AS issue_title,
                        i.url AS issue_url, i.published_at, i.first_seen_at,
                        COALESCE(b.headline, i.title) AS headline,
                        COALESCE(b.summary, i.lead) AS summary, m.score, m.at, m.seq
                 FROM (SELECT * FROM best ORDER BY score, at DESC, seq DESC
                       LIMIT $2 OFFSET $3) m
                 LEFT JOIN briefs b ON b.id = m.doc
                 JOIN issues i ON i.id = CASE WHEN m.doc > 0 THEN b.issue_id ELSE -m.doc END)
             SELECT (SELECT COUNT(*) FROM newest) AS candidates,
                    (SELECT COUNT(*) FROM best) AS total, page.*
             FROM (SELECT 1) AS one LEFT JOIN page ON true
             ORDER BY page.score, page.at DESC, page.seq DESC",
        )
        .bind(&lookup.phrases)
        .bind(limit)
        .bind(offset)
        .bind(RANKED)
        .bind(MAX_RESULTS)
        .bind(lookup.source)
        .bind(&lookup.terms)
        .bind(since)
        .bind(&lookup.unordered)
        .bind(period)
        .fetch_all(&self.pool)
        .await?)
    }
}

/// A `tsquery` of the `search_period` lexemes (migration `…_search_period`) that cover every
/// time from `since` to `newest`, the newest document's: the days left in `since`'s month, the
/// months left in its year, then whole years (a month or year from its first day on). No
/// document is newer than `newest`, so a whole month or year past it costs nothing; at most 30
/// days, 11 months and a year for each year of the span. `None` for a span outside the years
/// 1–9999 or an empty one, which the window then finds by its times alone.
pub(super) fn period_cover(since: DateTime<Utc>, newest: DateTime<Utc>) -> Option<String> {
    use chrono::{Datelike, Months, NaiveDate};
    let (mut day, last) = (since.date_naive(), newest.date_naive());
    if !(1..=9999).contains(&day.year()) || !(1..=9999).contains(&last.year()) {
        return None;
    }
    let mut lexemes = Vec::new();
    while day <= last {
        let (lexeme, next) = if day.ordinal() == 1 {
            (
                format!("'y{:04}'", day.year()),
                NaiveDate::from_ymd_opt(day.year() + 1, 1, 1),
            )
        } else if day.day() == 1 {
            (
                format!("'m{:04}-{:02}'", day.year(), day.month()),
                day.checked_add_months(Months::new(1)),
            )
        } else {
            (day.format("'d%Y-%m-%d'").to_string(), day.succ_opt())
        };
        lexemes.push(lexeme);
        match next {
            Some(next) => day = next,
            None => break,
        }
    }
    (!lexemes.is_empty()).then(|| lexemes.join(" | "))
}

/// What a search looks for: its `tsquery` with the phrases, the same without their order (what
/// the index answers alone), and every lexeme it names.
struct Lookup<'a> {
    phrases: String,
    unordered: String,
    terms: Vec<String>,
    source: Option<&'a str>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_window_is_covered_by_its_days_months_and_years() {
        let at = |s: &str| s.parse::<DateTime<Utc>>().unwrap();
        let cover = |since, newest| period_cover(at(since), at(newest)).unwrap();
        assert_eq!(
            cover("2025-10-29T23:59:00Z", "2027-03-02T08:00:00Z"),
            "'d2025-10-29' | 'd2025-10-30' | 'd2025-10-31' | 'm2025-11' | 'm2025-12' \
             | 'y2026' | 'y2027'"
        );
        // From a month's or a year's first day on, the month or year itself.
        assert_eq!(
            cover("2026-02-01T00:00:00Z", "2026-12-31T23:59:59Z"),
            "'m2026-02' | 'm2026-03' | 'm2026-04' | 'm2026-05' | 'm2026-06' | 'm2026-07' \
             | 'm2026-08' | 'm2026-09' | 'm2026-10' | 'm2026-11' | 'm2026-12'"
        );
        assert_eq!(
            cover("2024-01-01T00:00:00Z", "2025-06-01T00:00:00Z"),
            "'y2024' | 'y2025'"
        );
        // A window within a day, and one whose newest document is older than it begins.
        assert_eq!(
            cover("2024-02-29T10:00:00Z", "2024-02-29T12:00:00Z"),
            "'d2024-02-29'"
        );
        assert_eq!(
            period_cover(at("2024-02-29T10:00:00Z"), at("2024-02-28T12:00:00Z")),
            None
        );
        let far = chrono::NaiveDate::from_ymd_opt(10_000, 1, 1).unwrap();
        assert_eq!(
            period_cover(
                at("2026-01-01T00:00:00Z"),
                far.and_time(Default::default()).and_utc()
            ),
            None
        );
        // Days, months and years by UTC, as `search_period` writes them.
        assert_eq!(
            cover("2026-12-31T23:30:00-05:00", "2027-01-01T06:00:00Z"),
            "'y2027'"
        );
    }

    #[test]
    fn a_search_widens_to_the_smallest_window_that_should_hold_enough() {
        let at = Utc::now();
        let windows = [(4_096, at), (16_384, at), (65_536, at), (262_144, at)];
        let all = 1_000_000;
        // One match in ten: 1,000 need about 10,000 documents, 12,500 with the margin.
        assert_eq!(next_window(&windows, all, 4_096, 410), Some(1));
        // Nearly enough: the next window up, never the same one again.
        assert_eq!(next_window(&windows, all, 4_096, 999), Some(1));
        assert_eq!(next_window(&windows, all, 16_384, 50), None);
        assert_eq!(next_window(&windows, all, 16_384, 300), Some(3));
        assert_eq!(next_window(&windows, all, 65_536, 900), Some(3));
        // Rare or absent: the whole index, where few matches are cheap to read.
        assert_eq!(next_window(&windows, all, 4_096, 0), None);
        assert_eq!(next_window(&windows, all, 262_144, 999), None);
        assert_eq!(next_window(&[], all, 4_096, 10), None);
        // One in 100 needs the window of 262,144, whose 32nd (8,192) is more than the 3,000
        // matches of a whole index of 300,000 documents, and less than the 10,000 of 1,000,000.
        assert_eq!(next_window(&windows, 300_000, 4_096, 41), None);
        assert_eq!(next_window(&windows, all, 4_096, 41), Some(3));
    }
}
