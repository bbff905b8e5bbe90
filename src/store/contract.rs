//! What a backend provides: the contract between the SQL both backends share (`shared/`) and
//! the SQL only one of them can say (`sqlite/`, `postgres/`). Each backend implements both
//! traits, and the shared module reaches its backend only through them, so a missing or
//! mistyped item is a compile error that names the trait. The shared module is compiled once
//! for each backend as an ordinary module of it (`#[path]`), not pasted in with `include!`: so
//! `cargo fmt` formats it, and its names resolve to real modules.
//!
//! Why the shared SQL is compiled once per backend rather than written once as code generic
//! over [`BackendContract`] (tried on two of its queries): sqlx says what a driver can do as
//! impls on concrete types (`&mut SqliteConnection: Executor`, `i64: Encode<Sqlite>`,
//! `String: Decode<Sqlite>`), so a function generic over the database must bound, for it, the
//! executor, the arguments, the column index and an `Encode` or `Decode` with a `Type` for every
//! type it binds or reads: seven bounds for `record_scrape_failure`, a three-line query. Its
//! callers must repeat them all, since Rust carries only a trait's supertraits to its users, not
//! its where-clauses: a `Portable: Database` trait gathering those bounds failed at every use of
//! `DB: Portable` (67 errors for two queries and one caller). Across the eighty functions of
//! `shared/` that is more bounds than SQL, and each new query would begin with more. Compiled
//! for a concrete backend the same text needs none: `Db` is `sqlx::Sqlite` or `sqlx::Postgres`
//! by the time a query is checked. What stays generic is what the backends must provide, below,
//! which the compiler now checks for each.

use std::time::Duration as StdDuration;

use chrono::{DateTime, Utc};
use sqlx::{Database, Pool, Transaction};

use super::outbox::DueDelivery;
use super::search::Page;
use super::{Result, StoryCandidate};
use crate::dedup::BriefPrints;
use crate::domain::Brief;

/// The connection a backend's transactions and the shared helpers run on.
pub(super) type Conn<B> = <<B as BackendContract>::Db as Database>::Connection;

/// The backend's driver, pool, transactions, and the lease and claims that differ between one
/// process on a file and several on a server.
pub(super) trait BackendContract {
    /// The sqlx driver the shared SQL is compiled against.
    type Db: Database;

    /// Reads the lease row of fencing token `$1` inside a write transaction: a row when the
    /// token is still the lease's. On PostgreSQL under a share lock, so a taking of the lease
    /// waits for the transaction; SQLite's write lock already serializes both.
    const FENCE_CHECK: &'static str;

    fn pool(&self) -> &Pool<Self::Db>;

    /// Closes every connection; later calls fail (as when the database stops answering).
    async fn close(&self) {
        self.pool().close().await;
    }

    /// A transaction serialized with every other writer's from its start (two writers that both
    /// read before writing must not both read "not stored"): `BEGIN IMMEDIATE` on SQLite, a
    /// transaction-scoped advisory lock on PostgreSQL, across every process.
    async fn begin_write(&self) -> Result<Transaction<'static, Self::Db>>;

    /// Lifts the pooled connection's bounds (statement and idle-in-transaction timeouts) for the
    /// rest of a transaction that is long by nature and runs once, on open.
    async fn unbounded(tx: &mut Transaction<'static, Self::Db>) -> Result<()>;

    /// The stored briefs a new one is compared with, in this order: of the same headline (the
    /// oldest [`dedup::HEADLINE_CANDIDATES`](crate::dedup::HEADLINE_CANDIDATES)), sharing the
    /// most LSH band keys ([`dedup::BAND_CANDIDATES`](crate::dedup::BAND_CANDIDATES)), of the
    /// same subject (the newest [`dedup::SUBJECT_CANDIDATES`](crate::dedup::SUBJECT_CANDIDATES));
    /// a brief may come twice, and an empty key finds nothing. One round trip: it runs for every
    /// brief stored, and its time is most of the near-duplicate check's (BENCHMARKS.md).
    async fn story_candidates(
        conn: &mut Conn<Self>,
        prints: &BriefPrints,
    ) -> Result<Vec<StoryCandidate>>;

    /// Takes the scheduler lease for `ttl` if no other process holds it: its next generation
    /// (the fencing token), or `None` while another process holds it.
    async fn try_lease(&self, ttl: StdDuration) -> Result<Option<i64>>;

    /// Renews the lease of `generation` for another `ttl`; `false` when it expired or another
    /// process took it.
    async fn renew_lease(&self, generation: i64, ttl: StdDuration) -> Result<bool>;

    /// Lets the lease of `generation` expire now, so a standby takes it at once.
    async fn release_lease(&self, generation: i64) -> Result<()>;

    /// The next delivery due at `at`, none of a paused channel and none to a channel in `busy`,
    /// claimed for this process where several share the database; checked against `fence` (the
    /// lease holder's token) where a claim is written.
    async fn due_delivery(
        &self,
        at: DateTime<Utc>,
        busy: &[i64],
        fence: Option<i64>,
    ) -> Result<Option<DueDelivery>>;

    /// Gives up this process's claims on the deliveries it has not finished: how many.
    async fn release_claims(&self) -> Result<u64>;
}

/// The full-text index: written in the transaction that stores each document, read by
/// relevance then recency. The index differs entirely between the backends (FTS5, `tsvector`);
/// the terms it holds do not (`crate::search`).
pub(super) trait SearchContract: BackendContract {
    /// Indexes an issue's title and lead story as one document (so an issue whose title and
    /// lead both match is one result), beside its items.
    async fn index_issue(
        conn: &mut Conn<Self>,
        source: &str,
        issue_id: i64,
        at: DateTime<Utc>,
        title: &str,
        lead: &str,
    ) -> Result<()>;

    async fn index_brief(
        conn: &mut Conn<Self>,
        source: &str,
        brief_id: i64,
        at: DateTime<Utc>,
        brief: &Brief,
    ) -> Result<()>;

    /// After an issue's documents are indexed, in the same transaction.
    async fn issue_indexed(conn: &mut Conn<Self>) -> Result<()>;

    /// Indexes what was stored before the index existed or was rebuilt (on open).
    async fn index_unindexed(&self) -> Result<()>;

    /// How many results a search has, counted up to [`super::search::MAX_RESULTS`].
    async fn search_count(&self, query: &str, source: Option<&str>) -> Result<i64>;

    /// One page of a search and its result count, from one pass over the index.
    async fn search_page(
        &self,
        query: &str,
        source: Option<&str>,
        limit: i64,
        offset: i64,
    ) -> Result<Page>;
}
