//! The only place with SQL, behind one `Store` over two backends: SQLite (`sqlite/`, the
//! embedded default) and PostgreSQL (`postgres/`, for several processes). The database decides
//! what is new: unique keys and `ON CONFLICT DO NOTHING`, with every write of one issue in one
//! transaction. The dedup policy (fingerprints, what counts as the same issue or story) is
//! computed once in Rust (`crate::dedup`) and only looked up and written here; the queries both
//! backends share are written once (`shared/`) and compiled for each backend, which adds what
//! only it can say (its migrations, transactions, lease, search and array parameters) as the
//! contract the shared SQL is written against (`contract`). Errors come out as the kinds callers
//! branch on ([`StoreError`]), with nothing of the driver in them.

use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::{Duration as StdDuration, Instant};

use chrono::{DateTime, SubsecRound, Utc};
use sqlx::FromRow;

use crate::config::DatabaseUrl;
use crate::domain::{Brief, CanonicalUrl, DeliveryStatus, Issue, Keywords, SourceId};
use crate::render::Message;
use crate::scrape::fetch::Validators;
use contract::{BackendContract, SearchContract};
pub use copy::Copied;
pub use error::StoreError;
use outbox::{
    DueDelivery, EntryFailure, FailedDelivery, Failure, Frozen, Pruned, Subscribed, Subscription,
};
use search::{Page, Session};

mod contract;
mod copy;
mod error;
pub mod outbox;
mod postgres;
pub mod search;
mod sqlite;
#[cfg(feature = "testing")]
pub mod testing;

pub type Result<T, E = StoreError> = std::result::Result<T, E>;

/// How many LSH candidates are compared exactly at most; the best-matching come first.
const MAX_CANDIDATES: i64 = 16;

/// The time as stored: UTC, whole seconds.
pub fn now() -> DateTime<Utc> {
    Utc::now().trunc_subsecs(0)
}

/// The database: a SQLite file, or a PostgreSQL database shared by several processes.
#[derive(Debug, Clone)]
pub struct Store {
    backend: Backend,
    /// This process's hold of the scheduler lease, shared by every clone.
    fence: Arc<Mutex<Fence>>,
}

/// What this process knows of its lease: the generation it took (the fencing token its writes
/// carry) and until when, by its own monotonic clock, it may still act on it.
#[derive(Debug, Default, Clone, Copy)]
struct Fence {
    generation: Option<i64>,
    valid_until: Option<Instant>,
}

#[derive(Debug, Clone)]
enum Backend {
    Sqlite(sqlite::Backend),
    Postgres(postgres::Backend),
}

/// `$body` with `$b` bound to whichever backend `$backend` holds: the same text compiled for
/// each, as the shared SQL is.
macro_rules! each {
    ($backend:expr, $b:ident => $body:expr) => {
        match $backend {
            Backend::Sqlite($b) => $body,
            Backend::Postgres($b) => $body,
        }
    };
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
    pub source_id: SourceId,
    pub url: CanonicalUrl,
    pub title: String,
    pub published_at: Option<DateTime<Utc>>,
    pub first_seen_at: DateTime<Utc>,
    pub lead: String,
    pub text: String,
    pub briefs: Vec<Brief>,
}

impl StoredIssue {
    /// The issue as [`crate::render`] posts it, under `source_name`.
    pub fn view<'a>(&'a self, source_name: &'a str) -> crate::render::IssueView<'a> {
        crate::render::IssueView {
            title: &self.title,
            url: self.url.as_str(),
            source_name,
            published_at: self.published_at,
            lead: &self.lead,
            briefs: &self.briefs,
        }
    }
}

/// A stored brief that tells the same story as the one looked up, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SameStory {
    /// The story both belong to (the id of its first stored brief).
    pub story_id: i64,
    pub brief_id: i64,
    pub headline: String,
    /// The URL of the issue the stored brief came in.
    pub issue_url: String,
    pub published_at: Option<DateTime<Utc>>,
    /// Why they are one story ([`crate::dedup::Verdict::reason`]).
    pub reason: String,
}

/// Why an item is left out of a channel ([`Store::story_note`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoryNote {
    /// The headline of the story's first item.
    pub headline: String,
    /// When the channel was last sent the story.
    pub posted_at: Option<DateTime<Utc>>,
    pub why: String,
}

/// A stored brief a new one is compared with (`contract::BackendContract::story_candidates`).
#[derive(Debug, Clone, FromRow)]
struct StoryCandidate {
    id: i64,
    story_id: i64,
    headline: String,
    summary: String,
    headline_key: String,
    /// `dedup::BriefPrints::terms`, `None` until written.
    story_terms: Option<Vec<u8>>,
}

/// What re-fingerprinting a database written by an earlier near-duplicate rule did (on open).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Restoried {
    pub briefs: usize,
    /// Briefs whose story changed.
    pub changed: usize,
    /// Rows of what channels received, before and after.
    pub channel_stories: (usize, usize),
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
    /// Opens and migrates the database: a SQLite file (created if missing), or a PostgreSQL
    /// database (which must exist; its tables are created).
    pub async fn open(url: &DatabaseUrl) -> Result<Self> {
        let backend = match url {
            DatabaseUrl::Sqlite(url) => Backend::Sqlite(sqlite::Backend::open(url).await?),
            DatabaseUrl::Postgres(url) => Backend::Postgres(postgres::Backend::open(url).await?),
        };
        Ok(Self::with(backend))
    }

    fn with(backend: Backend) -> Self {
        Self {
            backend,
            fence: Arc::default(),
        }
    }

    /// For `--dry-run`: the existing database, or an empty in-memory one when there is none yet
    /// (no SQLite file, no tables in the PostgreSQL database), so a dry run never creates one.
    pub async fn open_for_dry_run(url: &DatabaseUrl) -> Result<Self> {
        let exists = match url {
            DatabaseUrl::Sqlite(s) => sqlite::Backend::exists(s)?,
            DatabaseUrl::Postgres(s) => postgres::Backend::exists(s).await?,
        };
        if !exists {
            return Self::open_in_memory().await;
        }
        Self::open(url).await
    }

    /// An existing database (a SQLite file is not created), migrated to this version.
    pub async fn open_existing(url: &DatabaseUrl) -> Result<Self> {
        if let DatabaseUrl::Sqlite(s) = url
            && !sqlite::Backend::exists(s)?
        {
            return Err(StoreError::Unavailable(format!(
                "there is no database at {url}"
            )));
        }
        Self::open(url).await
    }

    /// Makes this process the one `briefbot run` on a SQLite database file, for as long as the
    /// returned lock lives (until the process ends, however it ends): [`StoreError::InUse`]
    /// when another process is. Nothing to lock on PostgreSQL, which several processes share
    /// through the scheduler lease.
    pub fn lock_for_run(url: &DatabaseUrl) -> Result<RunLock> {
        Ok(RunLock {
            _held: match url {
                DatabaseUrl::Sqlite(s) => sqlite::lock_file(s)?,
                DatabaseUrl::Postgres(_) => None,
            },
        })
    }

    /// A private in-memory SQLite database.
    pub async fn open_in_memory() -> Result<Self> {
        Ok(Self::with(Backend::Sqlite(
            sqlite::Backend::open_in_memory().await?,
        )))
    }

    /// Which engine this is: `sqlite` or `postgres`.
    pub fn engine(&self) -> &'static str {
        match self.backend {
            Backend::Sqlite(_) => "sqlite",
            Backend::Postgres(_) => "postgres",
        }
    }

    /// Closes every connection; later calls fail (as when the database stops answering).
    pub async fn close(&self) {
        each!(&self.backend, b => b.close().await)
    }

    /// Briefs and issues (their title and lead) matching every word of `query`, most relevant
    /// first, the newer first among equally relevant ones. Empty when the query has nothing to
    /// search for. The query only ever reaches SQL as a bound parameter.
    ///
    /// Relevance (bm25 on SQLite, with the index's own term statistics) is computed for the
    /// newest [`search::RANKED`] matches only: scoring every match of a word found in most
    /// briefs (`AI`) costs far more than the page needs, and among that many matches the newest
    /// are the ones a reader is after. A query with fewer matches is ranked exactly.
    pub async fn search(
        &self,
        query: &str,
        source: Option<&str>,
        limit: i64,
        offset: i64,
    ) -> Result<Vec<search::Hit>> {
        Ok(self.search_page(query, source, limit, offset).await?.hits)
    }
}

/// What [`Store::lock_for_run`] holds: keep it for the life of the process.
#[derive(Debug)]
pub struct RunLock {
    _held: Option<sqlite::FileLock>,
}

/// The right to be the one process that polls the sources and posts the deliveries (README:
/// Deployment): a row of the database (`scheduler_lease`) held until an expiry that only a working
/// holder renews, and a generation that grows at every taking. The generation is the fencing token:
/// every write of the holder's work (claims, attempts, records, finishes, retries, pauses) checks
/// it in its own transaction, so a holder that lost the lease (it hung, or was cut off from the
/// database, for longer than the lease) writes nothing more when it wakes up; and the holder stops
/// acting on it by its own clock at half the lease, before it can expire, so it posts nothing more
/// either. On SQLite, whose file one process owns (a lock file), it is always granted, with a new
/// generation at each taking, through the same writes.
///
/// Before issue 19 the lease was a session advisory lock on a connection of its own: a holder
/// that hung (SIGSTOP, a blocked runtime, a paused machine) kept its connection and so the lock
/// for ever, and no other process took over.
#[derive(Debug)]
pub struct Lease {
    store: Store,
    generation: i64,
    ttl: StdDuration,
}

impl Store {
    /// Takes the lease for `ttl` if no other process holds it (or its holder let it expire).
    pub async fn try_lease(&self, ttl: StdDuration) -> Result<Option<Lease>> {
        let asked = Instant::now();
        let taken = each!(&self.backend, b => b.try_lease(ttl).await?);
        Ok(taken.map(|generation| {
            self.set_fence(Fence {
                generation: Some(generation),
                valid_until: Some(asked + Lease::acting(ttl)),
            });
            Lease {
                store: self.clone(),
                generation,
                ttl,
            }
        }))
    }

    fn set_fence(&self, fence: Fence) {
        if let Ok(mut f) = self.fence.lock() {
            *f = fence;
        }
    }

    fn fence_now(&self) -> Fence {
        self.fence.lock().map(|f| *f).unwrap_or_default()
    }

    /// The fencing token of this process's writes: the generation of the lease it holds or
    /// last held. `None` in a process that never took the lease (tests and tools, which run
    /// no scheduler): their writes are not fenced.
    pub fn fence(&self) -> Option<i64> {
        self.fence_now().generation
    }

    /// Whether this process may post now: it holds the lease and its own deadline (half the
    /// lease after its last renewal began, so well before the lease can expire in the
    /// database) has not passed. Checked before every POST, so a process that wakes up after
    /// a freeze posts nothing before it has renewed. Always in a process that never took the
    /// lease.
    pub fn may_post(&self) -> bool {
        let fence = self.fence_now();
        fence.generation.is_none() || fence.valid_until.is_some_and(|t| Instant::now() < t)
    }
}

impl Lease {
    /// How long after a renewal begins the holder may act on it: half the lease. The other half
    /// is the margin for a post already sent to arrive, and for the clocks' rates.
    pub fn acting(ttl: StdDuration) -> StdDuration {
        ttl / 2
    }

    /// This lease's generation (its fencing token).
    pub fn generation(&self) -> i64 {
        self.generation
    }

    /// Renews the lease for another `ttl`. `false` when it is lost: taken by another process,
    /// expired, or the database did not answer before this process's deadline; this process
    /// then stops acting on it at once.
    pub async fn renew(&mut self) -> bool {
        let asked = Instant::now();
        let fence = self.store.fence_now();
        let left = fence
            .valid_until
            .map_or(StdDuration::ZERO, |t| t.saturating_duration_since(asked));
        let renewed = each!(&self.store.backend, b => {
            tokio::time::timeout(left, b.renew_lease(self.generation, self.ttl)).await
        });
        if matches!(renewed, Ok(Ok(true))) {
            self.store.set_fence(Fence {
                generation: Some(self.generation),
                valid_until: Some(asked + Self::acting(self.ttl)),
            });
            true
        } else {
            self.lost();
            false
        }
    }

    /// Stops acting on the lease at once (its generation stays this process's fencing token,
    /// which the database refuses once another process took the lease).
    pub fn lost(&self) {
        self.store.set_fence(Fence {
            generation: Some(self.generation),
            valid_until: None,
        });
    }

    /// Gives the lease up, once this process's work has stopped (at shutdown), so a standby
    /// takes over at once.
    pub async fn release(self) {
        self.lost();
        each!(&self.store.backend, b => {
            let _ = tokio::time::timeout(self.ttl, b.release_lease(self.generation)).await;
        });
    }
}

/// Story lookups ([`Store::story_of`], [`Store::same_story_as`]) on one connection of the pool,
/// held until this is dropped: what a run of them costs is the lookups alone, as when every
/// brief of an issue is checked inside its transaction. Each call through [`Store`] instead
/// takes a connection and gives it back, which sqlx follows with a round trip to test it
/// (BENCHMARKS.md: 0.1-0.2 ms more a lookup on PostgreSQL, more at p99). A connection held is
/// one the store's other calls cannot have: on a private in-memory database (one connection)
/// they wait until this is dropped.
pub struct StoryLookup(Lookup);

enum Lookup {
    Sqlite(sqlite::StoryLookup),
    Postgres(postgres::StoryLookup),
}

impl std::fmt::Debug for StoryLookup {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("StoryLookup")
    }
}

impl Store {
    /// Holds a connection for a run of story lookups.
    pub async fn story_lookup(&self) -> Result<StoryLookup> {
        Ok(StoryLookup(match &self.backend {
            Backend::Sqlite(b) => Lookup::Sqlite(b.story_lookup().await?),
            Backend::Postgres(b) => Lookup::Postgres(b.story_lookup().await?),
        }))
    }
}

impl StoryLookup {
    /// [`Store::story_of`] on the held connection.
    pub async fn story_of(&mut self, brief: &Brief) -> Result<Option<i64>> {
        match &mut self.0 {
            Lookup::Sqlite(l) => l.story_of(brief).await,
            Lookup::Postgres(l) => l.story_of(brief).await,
        }
    }

    /// [`Store::same_story_as`] on the held connection.
    pub async fn same_story_as(&mut self, brief: &Brief) -> Result<Option<SameStory>> {
        match &mut self.0 {
            Lookup::Sqlite(l) => l.same_story_as(brief).await,
            Lookup::Postgres(l) => l.same_story_as(brief).await,
        }
    }
}

impl Store {
    /// Gives up this process's claims on the deliveries it has not finished, when it stops
    /// posting (it lost the scheduler lease, or shuts down), so the process that posts next
    /// can take them at once. Nothing to do on SQLite. (The next lease holder also ignores
    /// them: claims end with the lease.)
    pub async fn release_claims(&self) -> Result<u64> {
        each!(&self.backend, b => b.release_claims().await)
    }
}

/// Each method of the store, passed to the backend that holds the data: its own (the contract's)
/// or the shared SQL compiled for it.
macro_rules! delegate {
    ($( $(#[$meta:meta])* pub async fn $name:ident(&self $(, $arg:ident : $ty:ty)* $(,)?) -> $ret:ty; )*) => {
        impl Store {
            $(
                $(#[$meta])*
                pub async fn $name(&self $(, $arg: $ty)*) -> $ret {
                    each!(&self.backend, b => b.$name($($arg),*).await)
                }
            )*
        }
    };
}

delegate! {
    /// Registers a source (or renames it).
    pub async fn upsert_source(&self, id: &SourceId, name: &str) -> Result<()>;
    pub async fn record_scrape_success(&self, id: &SourceId, at: DateTime<Utc>) -> Result<()>;
    /// Records a failed scrape; returns how many failed in a row.
    pub async fn record_scrape_failure(&self, id: &SourceId, at: DateTime<Utc>, error: &str) -> Result<i64>;
    pub async fn source_states(&self) -> Result<Vec<SourceState>>;
    pub async fn validators(&self, url: &str) -> Result<Option<Validators>>;
    pub async fn save_validators(&self, url: &str, v: &Validators) -> Result<()>;
    /// The issue stored under this URL (its own or one it was seen at), if any.
    pub async fn issue_for_url(&self, url: &CanonicalUrl) -> Result<Option<i64>>;
    /// The stored issue this one repeats, if any: by URL, by content hash, or by near-identical
    /// text. Reads only.
    pub async fn find_duplicate(&self, issue: &Issue, seen_at: &[&CanonicalUrl]) -> Result<Option<(i64, CanonicalUrl)>>;
    /// The newest issues, newest first, optionally of one source.
    pub async fn latest(&self, count: i64, source: Option<&str>) -> Result<Vec<StoredIssue>>;
    /// The issues published (or, lacking a time, first seen) in `[start, end)`, oldest first.
    pub async fn issues_between(&self, start: DateTime<Utc>, end: DateTime<Utc>, source: Option<&str>) -> Result<Vec<StoredIssue>>;
    /// The publish time of the issue nearest to `at`, before or after.
    pub async fn nearest_issue_time(&self, at: DateTime<Utc>, source: Option<&str>) -> Result<Option<DateTime<Utc>>>;
    /// One stored issue with its briefs.
    pub async fn issue(&self, id: i64) -> Result<Option<StoredIssue>>;
    /// The story a brief item belongs to: the id of the first stored brief telling the same
    /// news (the same headline, or near-identical text), if any.
    pub async fn story_of(&self, brief: &Brief) -> Result<Option<i64>>;
    /// The stored brief a new brief item would be counted the same story as, with why.
    pub async fn same_story_as(&self, brief: &Brief) -> Result<Option<SameStory>>;
    /// The headline of a story (its first brief's), when the channel was last sent it, and why
    /// `brief` tells it too — what the delivery worker logs when it leaves an item out.
    pub async fn story_note(&self, channel_id: i64, story_id: i64, brief: &Brief) -> Result<Option<StoryNote>>;
    /// The stored brief with this id's story id, for tests and tools.
    pub async fn brief_story(&self, brief_id: i64) -> Result<Option<i64>>;
    /// Every brief of an issue with its id and story id, in order.
    pub async fn brief_rows(&self, issue_id: i64) -> Result<Vec<(i64, i64, String)>>;
    /// Subscribes a channel to a source (or [`ALL_SOURCES`]) from now on. When the channel was
    /// paused, it is resumed (every subscription of it) and owed what it missed meanwhile: the
    /// posts that failed with the pause and the issues stored during it, within the catch-up
    /// window.
    pub async fn subscribe(&self, guild_id: i64, channel_id: i64, source_key: &str, keywords: Option<&Keywords>, created_by: i64) -> Result<Subscribed>;
    /// Removes a channel's subscription; returns whether there was one. A pending delivery it
    /// owed goes on for another subscription of the channel that also wants the issue (a
    /// channel subscribed to every source and to this one), and is cancelled otherwise.
    pub async fn unsubscribe(&self, channel_id: i64, source_key: &str) -> Result<bool>;
    /// The bot was removed from a server: its subscriptions go, with the posts still owed to
    /// its channels and what was remembered of them. Returns the subscriptions removed.
    pub async fn remove_guild(&self, guild_id: i64) -> Result<u64>;
    /// A channel was deleted: its subscriptions go, with the posts still owed to it (reposts
    /// included) and what was remembered of it. Returns the subscriptions removed.
    pub async fn remove_channel(&self, channel_id: i64) -> Result<u64>;
    /// A server's subscriptions, by channel.
    pub async fn subscriptions(&self, guild_id: i64) -> Result<Vec<Subscription>>;
    /// Every paused subscription, in every server.
    pub async fn paused_subscriptions(&self) -> Result<Vec<Subscription>>;
    /// Queues an issue to be posted again to a channel of `guild_id`, whatever was posted
    /// before. `None` when the server already has [`MAX_PENDING_REPOSTS`] reposts waiting: one
    /// server's reposts must not hold back everyone's news.
    pub async fn enqueue_repost(&self, guild_id: i64, channel_id: i64, issue_id: i64) -> Result<Option<i64>>;
    /// When the next pending delivery falls due, if any.
    pub async fn next_due_at(&self) -> Result<Option<DateTime<Utc>>>;
    /// How many deliveries there are in each status, in the order of the statuses' words; a
    /// status with none is left out.
    pub async fn delivery_counts(&self) -> Result<Vec<(DeliveryStatus, i64)>>;
    /// How many subscriptions are active, and how many are paused.
    pub async fn subscription_counts(&self) -> Result<(i64, i64)>;
    /// Pending deliveries (the queue depth `/status` shows).
    pub async fn pending_deliveries(&self) -> Result<i64>;
    /// The delivery's frozen messages, if it was attempted before.
    pub async fn frozen(&self, delivery_id: i64) -> Result<Option<Frozen>>;
    /// Whether a Discord message is already recorded as a part of some delivery (so a look
    /// for an in-doubt part never takes another delivery's message for its own).
    pub async fn message_recorded(&self, message_id: i64) -> Result<bool>;
    /// Notes whether a channel denies the bot its message history.
    pub async fn set_history_denied(&self, channel_id: i64, denied: bool) -> Result<()>;
    /// Channels of a server whose message history the bot may not read, with since when.
    pub async fn history_denied(&self, guild_id: i64) -> Result<Vec<(i64, DateTime<Utc>)>>;
    /// A server's deliveries that failed for good since `since` (not those of a paused
    /// channel, which `/status` lists as paused), newest first, five at most.
    pub async fn failed_deliveries(&self, guild_id: i64, since: DateTime<Utc>) -> Result<Vec<FailedDelivery>>;
    /// Stories the channel received since `since`.
    pub async fn channel_stories(&self, channel_id: i64, since: DateTime<Utc>) -> Result<HashSet<i64>>;
    /// The story id of each brief of an issue, in order.
    pub async fn story_ids(&self, issue_id: i64) -> Result<Vec<i64>>;
    /// Forgets what no guarantee needs any more, as of `at`: finished deliveries after
    /// [`DELIVERY_MEMORY`] (their frozen messages after [`PARTS_MEMORY`]), what channels
    /// received after [`STORY_MEMORY`], searches after a day, page HTML after [`PAGE_MEMORY`],
    /// an issue's near-duplicate bands after [`ISSUE_BAND_MEMORY`], and a brief's once no
    /// channel remembers its story. Each table in its own short transaction.
    pub async fn prune(&self, at: DateTime<Utc>) -> Result<Pruned>;
    /// What is known of a failing entry, if it failed before.
    pub async fn entry_failure(&self, url: &str) -> Result<Option<EntryFailure>>;
    /// Records that an entry's page failed at `at`: the next try waits the source's interval
    /// doubled for each failure after the first (which is retried on the next pass), up to
    /// [`MAX_ENTRY_BACKOFF`]; after [`MAX_ENTRY_FAILURES`] it is given up.
    pub async fn record_entry_failure(&self, source: &str, url: &str, title: &str, error: &str, poll_every: std::time::Duration, at: DateTime<Utc>) -> Result<EntryFailure>;
    /// Forgets an entry's failures (its page worked).
    pub async fn clear_entry_failure(&self, url: &str) -> Result<()>;
    /// Whether a source has failing entries still to be tried again (then its list page must be
    /// read in full on the next pass, not answered 304).
    pub async fn entries_to_retry(&self, source: &str) -> Result<bool>;
    /// The entries given up, newest first.
    pub async fn given_up_entries(&self) -> Result<Vec<EntryFailure>>;
    /// Remembers a search so its pages can be turned later, also after a restart.
    pub async fn create_session(&self, user_id: i64, query: &str, source: Option<&str>, total: i64) -> Result<i64>;
    pub async fn session(&self, id: i64) -> Result<Option<Session>>;
    /// Records a search's current result count.
    pub async fn update_session_total(&self, id: i64, total: i64) -> Result<()>;
    /// Forgets searches older than `before`.
    pub async fn expire_sessions(&self, before: DateTime<Utc>) -> Result<u64>;
    /// How many results a search has, counted up to [`MAX_RESULTS`] (what paging can reach).
    pub async fn search_count(&self, query: &str, source: Option<&str>) -> Result<i64>;
    /// One page of [`Store::search`] and the result count (up to [`MAX_RESULTS`]), from one
    /// pass over the index: what `/news search` shows.
    pub async fn search_page(&self, query: &str, source: Option<&str>, limit: i64, offset: i64) -> Result<Page>;
}

/// Each write of the lease holder's work, passed to the backend with this process's fencing
/// token ([`Store::fence`]): the backend writes nothing ([`StoreError::LeaseLost`]) once another
/// process has taken the lease.
macro_rules! delegate_fenced {
    ($( $(#[$meta:meta])* pub async fn $name:ident(&self $(, $arg:ident : $ty:ty)* $(,)?) -> $ret:ty; )*) => {
        impl Store {
            $(
                $(#[$meta])*
                pub async fn $name(&self $(, $arg: $ty)*) -> $ret {
                    let fence = self.fence();
                    each!(&self.backend, b => b.$name($($arg,)* fence).await)
                }
            )*
        }
    };
}

delegate_fenced! {
    /// Stores an issue unless it repeats a stored one; either way every URL in `seen_at`
    /// becomes known as that issue's, so it is not fetched again. One transaction, with the
    /// deliveries it owes: the scheduler's write, fenced as the worker's are.
    pub async fn record_issue(&self, source: &SourceId, issue: &Issue, seen_at: &[&CanonicalUrl], page: &SourcePage<'_>) -> Result<Recorded>;
    /// Fixes a pending delivery's messages and the stories they carry, at its first attempt.
    /// Parts below `parts_sent` (posted by a version that did not freeze) count as posted.
    /// `None` when the delivery is no longer pending or was frozen meanwhile.
    pub async fn freeze(&self, d: &DueDelivery, messages: &[Message], stories: &[i64]) -> Result<Option<Frozen>>;
    /// Marks a part as being sent, before its POST: from now on, until it is recorded, it is in
    /// doubt. `false` when the delivery is no longer pending (unsubscribed or cancelled
    /// meanwhile): then nothing more of it may go out. A part already in doubt keeps the time
    /// of its first attempt, so a later look covers every try.
    pub async fn record_attempt(&self, delivery_id: i64, part: i64, at: DateTime<Utc>) -> Result<bool>;
    /// Discord answered a part's POST with a definite refusal (4xx): it did not create the
    /// message, so the part is no longer in doubt.
    pub async fn clear_attempt(&self, delivery_id: i64, part: i64) -> Result<()>;
    /// Records a part as posted (or found posted) as message `message_id`.
    pub async fn record_part_sent(&self, delivery_id: i64, part: i64, message_id: i64) -> Result<()>;
    /// Finishes a pending delivery as `sent` (remembering the stories the channel now has) or
    /// `skipped` (nothing left to post for it, with `reason` when it is worth saying); `false`
    /// when it was no longer pending (cancelled meanwhile: then it stays cancelled).
    pub async fn finish_delivery(&self, d: &DueDelivery, status: DeliveryStatus, stories: &[i64], reason: Option<&str>) -> Result<bool>;
    /// Gives up on a delivery Discord rejects for good (a 400: the message itself is wrong),
    /// with the reason; its channel stays active.
    pub async fn fail_delivery(&self, d: &DueDelivery, reason: &str) -> Result<()>;
    /// Puts a delivery off until `not_before`. A rate limit counts as no attempt; a refusal
    /// (403/404) counts toward pausing the channel, any other failure only toward the backoff.
    pub async fn retry_delivery(&self, id: i64, not_before: DateTime<Utc>, error: &str, failure: Failure) -> Result<()>;
    /// Gives up on a delivery Discord refuses, and pauses every subscription of its channel
    /// with the reason (the channel refuses the bot, whichever subscription asked).
    pub async fn fail_and_pause(&self, d: &DueDelivery, reason: &str) -> Result<()>;
    /// The next delivery due at `at`, none of a paused channel and none to a channel in `busy`
    /// (waiting on its own rate limit: another channel's post must not wait behind it). New
    /// issues come first, the oldest first; reposts, which anyone with Manage Server can queue,
    /// after them, in the order they were asked for.
    pub async fn due_delivery(&self, at: DateTime<Utc>, busy: &[i64]) -> Result<Option<DueDelivery>>;
}
