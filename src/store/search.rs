//! The full-text index: written with each brief, queried by relevance then recency.

use chrono::{DateTime, Utc};
use sqlx::FromRow;

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
    /// Lower is more relevant (FTS5 bm25 on SQLite; minus the rank on PostgreSQL).
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

/// A row of a search page: the count, and a hit unless the page is empty.
#[derive(FromRow)]
pub(super) struct PageRow {
    pub(super) total: i64,
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
    pub(super) fn hit(self) -> Option<Hit> {
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
