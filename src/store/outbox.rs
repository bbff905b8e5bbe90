//! Subscriptions and the delivery outbox: who wants which issues, and which posts are owed.

use chrono::{DateTime, Duration, Utc};
use sqlx::FromRow;

use crate::domain::{DeliveryKind, Keywords};
use crate::render::Message;

/// How far back a new issue may have been published and still be posted: catch-up after
/// downtime posts the last three days, not a week-old backlog.
pub const CATCH_UP: Duration = Duration::days(3);
/// Brief items a channel received this recently are left out of later posts.
pub const STORY_MEMORY: Duration = Duration::days(30);
/// How many reposts one server may have waiting at once.
pub const MAX_PENDING_REPOSTS: i64 = 10;
/// How long finished deliveries are kept (longer than the catch-up window, so no issue they
/// covered can be queued again: see [`enqueue_new`]).
pub const DELIVERY_MEMORY: Duration = Duration::days(30);
/// How long the frozen messages of a finished delivery are kept: while they may still tell an
/// in-doubt part of another delivery from this one's messages.
pub const PARTS_MEMORY: Duration = Duration::days(1);
/// The `source_key` of a subscription to every source.
pub const ALL_SOURCES: &str = "*";

/// A channel's subscription.
#[derive(Debug, Clone, PartialEq, Eq, FromRow)]
pub struct Subscription {
    pub id: i64,
    pub guild_id: i64,
    pub channel_id: i64,
    /// A source id, or [`ALL_SOURCES`].
    pub source_key: String,
    pub keywords: Option<Keywords>,
    pub created_at: DateTime<Utc>,
    pub paused_at: Option<DateTime<Utc>>,
    pub pause_reason: Option<String>,
}

/// A delivery the worker owes.
#[derive(Debug, Clone, PartialEq, Eq, FromRow)]
pub struct DueDelivery {
    pub id: i64,
    pub subscription_id: Option<i64>,
    pub channel_id: i64,
    pub issue_id: i64,
    pub kind: DeliveryKind,
    /// The subscription's keywords when the delivery was owed.
    pub keywords: Option<Keywords>,
    pub attempts: i64,
    /// 403/404 answers in a row.
    pub refusals: i64,
    pub parts_sent: i64,
    /// When the issue was published (or first seen): for the catch-up window.
    pub issue_at: DateTime<Utc>,
}

/// A delivery that failed for good (Discord rejected its message, or its stored data could not
/// be read), for `/status`.
#[derive(Debug, Clone, PartialEq, Eq, FromRow)]
pub struct FailedDelivery {
    pub id: i64,
    pub channel_id: i64,
    pub issue_id: i64,
    pub finished_at: DateTime<Utc>,
    pub last_error: Option<String>,
}

/// How a failed attempt counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Failure {
    /// 429: not the channel's fault, no attempt.
    RateLimited,
    /// 403/404: toward pausing the channel.
    Refused,
    /// Anything else: a 5xx, a timeout.
    Other,
}

/// One frozen message of a delivery.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Part {
    pub part: i64,
    pub message: Message,
    /// When it was last sent to Discord without a definite answer; with no `message_id`, the
    /// part is in doubt.
    pub attempted_at: Option<DateTime<Utc>>,
    /// Discord's message id once posted or found (0: posted, id unknown).
    pub message_id: Option<i64>,
}

/// A delivery's messages, fixed at its first attempt, and the stories they carry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Frozen {
    pub parts: Vec<Part>,
    pub stories: Vec<i64>,
}

impl Frozen {
    /// Whether any part may have reached the channel: posted, or in doubt.
    pub fn started(&self) -> bool {
        self.parts
            .iter()
            .any(|p| p.message_id.is_some() || p.attempted_at.is_some())
    }
}

/// What became of a subscribe request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Subscribed {
    New,
    /// The channel had this subscription; its keywords were replaced.
    Updated,
    /// The channel was paused and is resumed; `owed` issues it missed are queued.
    Resumed {
        owed: u64,
    },
}

/// How long an issue's page HTML is kept for re-parsing (the guarantees never need it).
pub const PAGE_MEMORY: Duration = Duration::days(30);
/// How long an issue's near-duplicate bands are kept (exact copies are caught for ever by the
/// canonical URL and the content hash, which stay).
pub const ISSUE_BAND_MEMORY: Duration = Duration::days(90);

/// What [`Store::prune`] removed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Pruned {
    pub deliveries: u64,
    pub parts: u64,
    pub channel_stories: u64,
    pub search_sessions: u64,
    pub pages: u64,
    pub bands: u64,
}

/// How many failed tries of one list entry before it is given up.
pub const MAX_ENTRY_FAILURES: i64 = 8;
/// The longest wait between two tries of a failing entry.
pub const MAX_ENTRY_BACKOFF: Duration = Duration::hours(6);

/// A list entry whose issue page failed: a row of `entry_failures`, read whole (`SELECT *`).
#[derive(Debug, Clone, PartialEq, Eq, FromRow)]
pub struct EntryFailure {
    pub url: String,
    pub source_id: String,
    pub title: String,
    pub failures: i64,
    pub last_error: String,
    pub first_failed_at: DateTime<Utc>,
    pub next_try_at: DateTime<Utc>,
    pub given_up_at: Option<DateTime<Utc>>,
}
