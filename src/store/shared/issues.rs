//! Sources, issues and briefs: what is stored, what repeats what, and which stories brief items
//! tell.

use std::collections::{BTreeSet, HashMap, HashSet};

use chrono::{DateTime, Utc};
use sqlx::{AssertSqlSafe, FromRow};

use super::outbox::{begin_fenced, enqueue_new, first_seen_at, remember_story};
use super::{Backend, Conn, DbRow, Pool, placeholders};
use crate::dedup;
use crate::domain::{Brief, CanonicalUrl, Issue, SourceId};
use crate::scrape::fetch::Validators;
use crate::store::contract::{BackendContract, SearchContract};
use crate::store::{
    MAX_CANDIDATES, Recorded, Restoried, Result, SameStory, SourcePage, SourceState, StoreError,
    StoredIssue, StoryNote, now,
};

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

impl Backend {
    pub async fn upsert_source(&self, id: &SourceId, name: &str) -> Result<()> {
        sqlx::query(
            "INSERT INTO sources (id, name) VALUES ($1, $2)
             ON CONFLICT (id) DO UPDATE SET name = excluded.name",
        )
        .bind(id.as_str())
        .bind(name)
        .execute(self.pool())
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
        .execute(self.pool())
        .await?;
        Ok(())
    }

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
        .fetch_optional(self.pool())
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
        .fetch_all(self.pool())
        .await?)
    }

    pub async fn validators(&self, url: &str) -> Result<Option<Validators>> {
        let row: Option<(Option<String>, Option<String>)> =
            sqlx::query_as("SELECT etag, last_modified FROM http_validators WHERE url = $1")
                .bind(url)
                .fetch_optional(self.pool())
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
                .execute(self.pool())
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
        .execute(self.pool())
        .await?;
        Ok(())
    }

    pub async fn issue_for_url(&self, url: &CanonicalUrl) -> Result<Option<i64>> {
        let mut conn = self.pool().acquire().await?;
        issue_for_url(&mut conn, url.as_str()).await
    }

    pub async fn find_duplicate(
        &self,
        issue: &Issue,
        seen_at: &[&CanonicalUrl],
    ) -> Result<Option<(i64, CanonicalUrl)>> {
        let prints = dedup::IssuePrints::of(issue);
        let mut conn = self.pool().acquire().await?;
        find_duplicate(&mut conn, issue, &prints, seen_at).await
    }

    pub async fn record_issue(
        &self,
        source: &SourceId,
        issue: &Issue,
        seen_at: &[&CanonicalUrl],
        page: &SourcePage<'_>,
        fence: Option<i64>,
    ) -> Result<Recorded> {
        let at = now();
        let prints = dedup::IssuePrints::of(issue);
        // The write lock up front (IMMEDIATE on SQLite): two sources recording the same issue at
        // once are serialized, instead of both reading "not stored" and one failing on commit.
        // Fenced: a former lease holder stores nothing and owes no channel a post.
        let mut tx = begin_fenced(self, fence).await?;
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
                let first_seen = first_seen_at(&mut tx, id).await?;
                let published = issue.published_at;
                enqueue_new(&mut tx, id, source.as_str(), published, first_seen).await?;
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
        let issue_at = issue.published_at.unwrap_or(at);
        Backend::index_issue(
            &mut tx,
            source.as_str(),
            id,
            issue_at,
            &issue.title,
            &issue.lead,
        )
        .await?;
        for (position, (brief, brief_prints)) in issue.briefs.iter().zip(&prints.briefs).enumerate()
        {
            let brief_id = insert_brief(&mut tx, id, position as i64, brief, brief_prints).await?;
            Backend::index_brief(&mut tx, source.as_str(), brief_id, issue_at, brief).await?;
        }
        Backend::issue_indexed(&mut tx).await?;
        enqueue_new(&mut tx, id, source.as_str(), issue.published_at, at).await?;
        tx.commit().await?;
        Ok(Recorded::New { id })
    }

    pub async fn latest(&self, count: i64, source: Option<&str>) -> Result<Vec<StoredIssue>> {
        let rows: Vec<IssueRow> = sqlx::query_as(
            "SELECT id, source_id, url, title, published_at, first_seen_at, lead, body_text
             FROM issues WHERE ($1 IS NULL OR source_id = $1)
             ORDER BY COALESCE(published_at, first_seen_at) DESC, id DESC LIMIT $2",
        )
        .bind(source)
        .bind(count)
        .fetch_all(self.pool())
        .await?;
        let mut out = Vec::with_capacity(rows.len());
        for row in rows {
            out.push(self.with_briefs(row).await?);
        }
        Ok(out)
    }

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
        .fetch_all(self.pool())
        .await?;
        let mut out = Vec::with_capacity(rows.len());
        for row in rows {
            out.push(self.with_briefs(row).await?);
        }
        Ok(out)
    }

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
        .fetch_one(self.pool())
        .await?;
        let after: Option<DateTime<Utc>> = sqlx::query_scalar(
            "SELECT MIN(COALESCE(published_at, first_seen_at)) FROM issues
             WHERE COALESCE(published_at, first_seen_at) >= $1 AND ($2 IS NULL OR source_id = $2)",
        )
        .bind(at)
        .bind(source)
        .fetch_one(self.pool())
        .await?;
        Ok(match (before, after) {
            (Some(b), Some(a)) => Some(if at - b <= a - at { b } else { a }),
            (b, a) => b.or(a),
        })
    }

    pub async fn issue(&self, id: i64) -> Result<Option<StoredIssue>> {
        let row: Option<IssueRow> = sqlx::query_as(
            "SELECT id, source_id, url, title, published_at, first_seen_at, lead, body_text
             FROM issues WHERE id = $1",
        )
        .bind(id)
        .fetch_optional(self.pool())
        .await?;
        match row {
            Some(row) => Ok(Some(self.with_briefs(row).await?)),
            None => Ok(None),
        }
    }

    async fn with_briefs(&self, row: IssueRow) -> Result<StoredIssue> {
        let briefs = briefs_of(self.pool(), row.id).await?;
        let unreadable = |what: &str, e: String| {
            StoreError::unreadable(format!("issue {}'s {what}: {e}", row.id))
        };
        Ok(StoredIssue {
            id: row.id,
            source_id: SourceId::parse(&row.source_id).map_err(|e| unreadable("source id", e))?,
            url: CanonicalUrl::parse(&row.url).map_err(|e| unreadable("URL", e))?,
            title: row.title,
            published_at: row.published_at,
            first_seen_at: row.first_seen_at,
            lead: row.lead,
            text: row.body_text,
            briefs,
        })
    }

    pub async fn story_of(&self, brief: &Brief) -> Result<Option<i64>> {
        self.story_lookup().await?.story_of(brief).await
    }

    pub async fn same_story_as(&self, brief: &Brief) -> Result<Option<SameStory>> {
        self.story_lookup().await?.same_story_as(brief).await
    }

    pub async fn story_lookup(&self) -> Result<StoryLookup> {
        Ok(StoryLookup {
            conn: self.pool().acquire().await?,
        })
    }

    pub async fn story_note(
        &self,
        channel_id: i64,
        story_id: i64,
        brief: &Brief,
    ) -> Result<Option<StoryNote>> {
        let first: Option<(String, String, Option<DateTime<Utc>>)> = sqlx::query_as(
            "SELECT b.headline, b.summary, c.posted_at FROM briefs b
             LEFT JOIN channel_stories c ON c.story_id = b.story_id AND c.channel_id = $2
             WHERE b.id = $1",
        )
        .bind(story_id)
        .bind(channel_id)
        .fetch_optional(self.pool())
        .await?;
        Ok(first.map(|(headline, summary, posted_at)| {
            let why =
                dedup::BriefPrints::of(&brief.headline, &brief.summary).why(&headline, &summary);
            StoryNote {
                headline,
                posted_at,
                why,
            }
        }))
    }

    /// Tells the stories of every stored brief apart again with the current rule
    /// ([`dedup::RULE_VERSION`]) when the database was written by an earlier one, once, on open:
    /// each brief's subject and terms are written, its story found again among the briefs stored
    /// before it, and what each channel received is carried over to the new stories — for each
    /// story a channel has, the new stories of the items it was sent in that story (from its sent
    /// deliveries), or, where no delivery tells, of every item of that story. Pending
    /// deliveries' frozen stories are carried over the same way. One transaction: a crash
    /// leaves the old rule's stories, and the next open does it again.
    pub async fn restory(&self) -> Result<Option<Restoried>> {
        let mut tx = self.begin_write().await?;
        // Taking the row's lock first: of several processes opening at once, one does the work
        // and the others find it done.
        sqlx::query("UPDATE dedup_rule SET version = version WHERE id = 1")
            .execute(&mut *tx)
            .await?;
        let version: i64 = sqlx::query_scalar("SELECT version FROM dedup_rule WHERE id = 1")
            .fetch_one(&mut *tx)
            .await?;
        if version >= dedup::RULE_VERSION {
            return Ok(None);
        }
        Backend::unbounded(&mut tx).await?;
        let briefs: Vec<(i64, i64, String, String, i64)> = sqlx::query_as(
            "SELECT id, issue_id, headline, summary, story_id FROM briefs ORDER BY id",
        )
        .fetch_all(&mut *tx)
        .await?;
        let stories = dedup::restory(
            briefs
                .iter()
                .map(|(id, _, headline, summary, _)| (*id, headline.as_str(), summary.as_str())),
        );
        let mut changed = 0;
        for ((id, _, _, _, old), new) in briefs.iter().zip(&stories) {
            changed += usize::from(*old != new.story);
            sqlx::query(
                "UPDATE briefs SET story_id = $2, subject_key = $3, story_terms = $4 WHERE id = $1",
            )
            .bind(id)
            .bind(new.story)
            .bind(&new.subject_key)
            .bind(&new.terms)
            .execute(&mut *tx)
            .await?;
        }
        // Old story → new stories: of all its items, and by issue of the items in it.
        let mut all: HashMap<i64, BTreeSet<i64>> = HashMap::new();
        let mut by_issue: HashMap<(i64, i64), BTreeSet<i64>> = HashMap::new();
        for ((_, issue, _, _, old), new) in briefs.iter().zip(&stories) {
            all.entry(*old).or_default().insert(new.story);
            by_issue
                .entry((*issue, *old))
                .or_default()
                .insert(new.story);
        }
        let sent: Vec<(i64, i64, String)> = sqlx::query_as(
            "SELECT channel_id, issue_id, stories FROM deliveries
             WHERE status = 'sent' AND stories IS NOT NULL",
        )
        .fetch_all(&mut *tx)
        .await?;
        let mut received: HashMap<(i64, i64), BTreeSet<i64>> = HashMap::new();
        for (channel, issue, list) in &sent {
            for old in serde_json::from_str::<Vec<i64>>(list).unwrap_or_default() {
                if let Some(new) = by_issue.get(&(*issue, old)) {
                    received.entry((*channel, old)).or_default().extend(new);
                }
            }
        }
        let had: Vec<(i64, i64, DateTime<Utc>)> =
            sqlx::query_as("SELECT channel_id, story_id, posted_at FROM channel_stories")
                .fetch_all(&mut *tx)
                .await?;
        let mut now_has: HashMap<(i64, i64), DateTime<Utc>> = HashMap::new();
        for (channel, old, at) in &had {
            let new = received
                .get(&(*channel, *old))
                .or_else(|| all.get(old))
                .cloned()
                .unwrap_or_else(|| BTreeSet::from([*old]));
            for story in new {
                let when = now_has.entry((*channel, story)).or_insert(*at);
                *when = (*when).max(*at);
            }
        }
        sqlx::query("DELETE FROM channel_stories")
            .execute(&mut *tx)
            .await?;
        for ((channel, story), at) in &now_has {
            remember_story(&mut tx, *channel, *story, *at).await?;
        }
        let frozen: Vec<(i64, i64, String)> = sqlx::query_as(
            "SELECT id, issue_id, stories FROM deliveries
             WHERE status = 'pending' AND stories IS NOT NULL",
        )
        .fetch_all(&mut *tx)
        .await?;
        for (id, issue, list) in &frozen {
            let mut new: Vec<i64> = Vec::new();
            for old in serde_json::from_str::<Vec<i64>>(list).unwrap_or_default() {
                for story in by_issue.get(&(*issue, old)).into_iter().flatten() {
                    if !new.contains(story) {
                        new.push(*story);
                    }
                }
            }
            sqlx::query("UPDATE deliveries SET stories = $2 WHERE id = $1")
                .bind(id)
                .bind(serde_json::to_string(&new).unwrap_or_else(|_| "[]".to_owned()))
                .execute(&mut *tx)
                .await?;
        }
        sqlx::query("UPDATE dedup_rule SET version = $1 WHERE id = 1")
            .bind(dedup::RULE_VERSION)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(Some(Restoried {
            briefs: briefs.len(),
            changed,
            channel_stories: (had.len(), now_has.len()),
        }))
    }

    pub async fn brief_story(&self, brief_id: i64) -> Result<Option<i64>> {
        Ok(
            sqlx::query_scalar("SELECT story_id FROM briefs WHERE id = $1")
                .bind(brief_id)
                .fetch_optional(self.pool())
                .await?,
        )
    }

    pub async fn brief_rows(&self, issue_id: i64) -> Result<Vec<(i64, i64, String)>> {
        Ok(sqlx::query_as(
            "SELECT id, story_id, headline FROM briefs WHERE issue_id = $1 ORDER BY position",
        )
        .bind(issue_id)
        .fetch_all(self.pool())
        .await?)
    }
}

async fn briefs_of(pool: &Pool, issue_id: i64) -> Result<Vec<Brief>> {
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

async fn issue_for_url(conn: &mut Conn, url: &str) -> Result<Option<i64>> {
    Ok(
        sqlx::query_scalar("SELECT issue_id FROM issue_urls WHERE url = $1")
            .bind(url)
            .fetch_optional(conn)
            .await?,
    )
}

async fn issue_url(conn: &mut Conn, id: i64) -> Result<CanonicalUrl> {
    let url: String = sqlx::query_scalar("SELECT url FROM issues WHERE id = $1")
        .bind(id)
        .fetch_one(&mut *conn)
        .await?;
    CanonicalUrl::parse(&url)
        .map_err(|e| StoreError::unreadable(format!("issue {id} has the URL {url:?}: {e}")))
}

async fn find_duplicate(
    conn: &mut Conn,
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
    let texts: Vec<(i64, String, String, String)> =
        fetch_by_ids(conn, "SELECT id, body_text, title, lead FROM issues", &ids).await?;
    for (id, text, title, lead) in texts {
        if dedup::issues_match(prints, &text, &dedup::Story::of(&title, &lead)) {
            return Ok(Some((id, issue_url(conn, id).await?)));
        }
    }
    Ok(None)
}

/// Runs `select` (a statement without a WHERE clause) for the rows whose `id` is in `ids`,
/// keeping the order of `ids`.
async fn fetch_by_ids<T>(conn: &mut Conn, select: &'static str, ids: &[i64]) -> Result<Vec<T>>
where
    T: for<'r> FromRow<'r, DbRow> + Send + Unpin + HasId,
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

impl HasId for (i64, String, String, String) {
    fn id(&self) -> i64 {
        self.0
    }
}

impl HasId for (i64, i64, String, String) {
    fn id(&self) -> i64 {
        self.0
    }
}

/// One connection of the pool, held for a run of story lookups ([`crate::store::StoryLookup`]).
pub struct StoryLookup {
    conn: sqlx::pool::PoolConnection<super::Db>,
}

impl StoryLookup {
    pub async fn story_of(&mut self, brief: &Brief) -> Result<Option<i64>> {
        let prints = dedup::BriefPrints::of(&brief.headline, &brief.summary);
        Ok(story_of(&mut self.conn, &prints)
            .await?
            .map(|(_, story, _)| story))
    }

    pub async fn same_story_as(&mut self, brief: &Brief) -> Result<Option<SameStory>> {
        let prints = dedup::BriefPrints::of(&brief.headline, &brief.summary);
        let Some((brief_id, story_id, reason)) = story_of(&mut self.conn, &prints).await? else {
            return Ok(None);
        };
        let (headline, issue_url, published_at): (String, String, Option<DateTime<Utc>>) =
            sqlx::query_as(
                "SELECT b.headline, i.url, COALESCE(i.published_at, i.first_seen_at)
                 FROM briefs b JOIN issues i ON i.id = b.issue_id WHERE b.id = $1",
            )
            .bind(brief_id)
            .fetch_one(&mut *self.conn)
            .await?;
        Ok(Some(SameStory {
            story_id,
            brief_id,
            headline,
            issue_url,
            published_at,
            reason,
        }))
    }
}

/// Items sharing at least one band key, most shared keys first.
async fn candidates(conn: &mut Conn, kind: &str, keys: &[i64]) -> Result<Vec<i64>> {
    if keys.is_empty() {
        return Ok(Vec::new());
    }
    // Only placeholders and the constant limit are formatted into the SQL (SQLite prepares a
    // statement of a bound limit again on every call: see its `story_candidates`); the keys
    // themselves are bound.
    let sql = format!(
        "SELECT item_id FROM similarity_bands WHERE kind = $1 AND band IN ({})
         GROUP BY item_id ORDER BY COUNT(*) DESC, item_id LIMIT {MAX_CANDIDATES}",
        placeholders(2, keys.len())
    );
    let mut query = sqlx::query_scalar(AssertSqlSafe(sql)).bind(kind);
    for k in keys {
        query = query.bind(*k);
    }
    Ok(query.fetch_all(conn).await?)
}

async fn insert_bands(conn: &mut Conn, kind: &str, id: i64, keys: &[i64]) -> Result<()> {
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
    conn: &mut Conn,
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
    conn: &mut Conn,
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

/// The stored brief that tells the same story as `prints`, its story and why: the backend's
/// candidates ([`BackendContract::story_candidates`]: of the same headline, of shared LSH bands
/// and of the same subject), compared in order by [`dedup::BriefPrints::same_story_as_stored`].
async fn story_of(
    conn: &mut Conn,
    prints: &dedup::BriefPrints,
) -> Result<Option<(i64, i64, String)>> {
    let mut rows = Backend::story_candidates(conn, prints).await?;
    let mut seen = HashSet::new();
    rows.retain(|c| seen.insert(c.id));
    Ok(rows.iter().find_map(|c| {
        let why = prints.same_story_as_stored(dedup::Stored {
            headline: &c.headline,
            summary: &c.summary,
            headline_key: &c.headline_key,
            terms: c.story_terms.as_deref(),
        })?;
        Some((c.id, c.story_id, why))
    }))
}

async fn insert_brief(
    conn: &mut Conn,
    issue_id: i64,
    position: i64,
    brief: &Brief,
    prints: &dedup::BriefPrints,
) -> Result<i64> {
    let story = story_of(conn, prints).await?.map(|(_, story, _)| story);
    let id: i64 = sqlx::query_scalar(
        "INSERT INTO briefs (issue_id, position, headline, summary, headline_key, story_id,
                             subject_key, story_terms)
         VALUES ($1, $2, $3, $4, $5, COALESCE($6, 0), $7, $8) RETURNING id",
    )
    .bind(issue_id)
    .bind(position)
    .bind(&brief.headline)
    .bind(&brief.summary)
    .bind(&prints.headline_key)
    .bind(story)
    .bind(&prints.subject_key)
    .bind(&prints.terms)
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
