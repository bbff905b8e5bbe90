//! The delivery worker: posts what the outbox owes, oldest issue first, paced under Discord's
//! limits. A step function ([`Deliverer::step`]) plus a loop around it ([`run`]).
//!
//! Exactly once, whatever happens (RELIABILITY.md):
//! - A delivery's messages are fixed ("frozen") at its first attempt and stored; retries and
//!   restarts post exactly the parts not yet posted.
//! - Each part is marked as attempted before its POST and recorded with Discord's message id
//!   after. A part attempted but not recorded is in doubt: the answer was lost, timed out, or
//!   the process died between Discord creating the message and the outbox recording it.
//! - Before an in-doubt part is posted again, the bot's messages in the channel created since
//!   the attempt are read (`GET /channels/{id}/messages?after=…`) and a message with the part's
//!   embeds is recorded instead. Discord's `nonce` (with `enforce_nonce`) still guards each
//!   POST, but Discord forgets a nonce after a few minutes, so it only covers quick retries and
//!   channels whose history the bot may not read.
//!
//! # Layout
//!
//! One step ([`Deliverer::step`]) chooses a due delivery (here), freezes its messages
//! ([`freeze`]), applies the catch-up window (here), then for each part not yet recorded looks
//! for it in the channel if it is in doubt ([`reconcile`]) or posts it ([`post`], which also
//! classifies Discord's answers), and finishes the delivery (here). A failure puts the
//! delivery off or fails it ([`retry`]); [`pacer`] keeps every request under Discord's limits;
//! [`worker`] is the loop around the step and its supervisor.

mod freeze;
mod pacer;
mod post;
mod reconcile;
mod retry;
mod worker;

use std::collections::HashMap;
use std::ops::ControlFlow;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use serenity::http::Http;

use crate::domain::{DeliveryKind, DeliveryStatus};
use crate::store::outbox::{CATCH_UP, DueDelivery, Frozen, Part};
use crate::store::{self, Store, StoreError};
use crate::telemetry::Telemetry;
use pacer::Pacer;
use reconcile::Found;
use retry::of_this_delivery;

pub use post::nonce;
pub use reconcile::snowflake_at;
pub use retry::MAX_STORE_FAILURES;
pub use worker::{MAX_WORKER_RESTART_WAIT, PRUNE_EVERY, WORKER_RESTART_BASE, run, supervise};

/// How the worker paces and retries.
#[derive(Debug, Clone)]
pub struct DeliverySettings {
    /// The least time between two posts: Discord allows 50 requests a second to a bot; 48 a
    /// second leaves room for everything else.
    pub min_interval: Duration,
    /// Posts per channel within [`DeliverySettings::channel_window`] (Discord allows 5 in 5 s).
    pub channel_burst: usize,
    /// Discord counts its 5 s from when each post arrives; the worker can only count from when
    /// it sends one, and a post may take longer to arrive than the next (a slow connection, a
    /// busy machine), so the window has a quarter second to spare: a 429 costs more than that.
    pub channel_window: Duration,
    /// The first wait after a failure; it doubles with each attempt.
    pub retry_base: Duration,
    pub max_retry: Duration,
    /// How many refusals (403/404) pause a subscription.
    pub refusals_before_pause: i64,
    /// How long to sleep when nothing is due.
    pub idle_poll: Duration,
}

impl Default for DeliverySettings {
    fn default() -> Self {
        Self {
            min_interval: Duration::from_micros(20_834),
            channel_burst: 5,
            channel_window: Duration::from_millis(5_250),
            retry_base: Duration::from_secs(2),
            max_retry: Duration::from_secs(15 * 60),
            refusals_before_pause: 3,
            idle_poll: Duration::from_secs(1),
        }
    }
}

impl DeliverySettings {
    /// The wait before the next try of a delivery that failed `attempts` times already:
    /// [`DeliverySettings::retry_base`] doubled for each, up to
    /// [`DeliverySettings::max_retry`].
    fn backoff(&self, attempts: i64) -> Duration {
        let factor = 1u32 << attempts.clamp(0, 16);
        self.retry_base.saturating_mul(factor).min(self.max_retry)
    }
}

/// What one step did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    /// Nothing was due.
    Idle,
    /// Every part of the delivery is posted.
    Sent { delivery: i64, parts: usize },
    /// Nothing in the issue was left for the channel (keywords, items it already has), the
    /// issue is older than the catch-up window, or the delivery was cancelled meanwhile.
    Skipped { delivery: i64 },
    /// Put off: rate limited, a server error, or a refusal not yet final.
    Retry { delivery: i64, after: Duration },
    /// Discord refuses the channel: the delivery failed and the channel is paused.
    Paused { delivery: i64, reason: String },
    /// Discord rejects the message itself (400): the delivery failed with the reason.
    Failed { delivery: i64, reason: String },
    /// Discord rejects the bot's token (401): nothing can be posted until it is replaced.
    Unauthorized,
    /// This process may not post now (its scheduler lease is lost, or not renewed in time):
    /// the delivery is left as it is, a part in doubt to be looked for by whoever posts next.
    NotLeading { delivery: Option<i64> },
}

/// Posts due deliveries through serenity's HTTP client.
pub struct Deliverer {
    store: Store,
    http: Arc<Http>,
    source_names: HashMap<String, String>,
    settings: DeliverySettings,
    pacer: Pacer,
    /// 429s in a row, for a growing wait.
    rate_limited: u32,
    telemetry: Arc<Telemetry>,
    /// The bot's own user id, once known: only its messages can be in-doubt parts.
    me: Option<u64>,
}

impl Deliverer {
    /// `source_names` maps source ids to the names shown in embed footers.
    pub fn new(
        store: Store,
        http: Arc<Http>,
        source_names: HashMap<String, String>,
        settings: DeliverySettings,
    ) -> Self {
        let pacer = Pacer::new(&settings);
        Self {
            store,
            http,
            source_names,
            settings,
            pacer,
            rate_limited: 0,
            telemetry: Arc::default(),
            me: None,
        }
    }

    /// Counts posts and 429s in `telemetry` (the operator's `/metrics`).
    pub fn with_telemetry(mut self, telemetry: Arc<Telemetry>) -> Self {
        self.telemetry = telemetry;
        self
    }

    /// Delivers (or puts off) the next due delivery: its frozen parts not yet posted, each
    /// in-doubt one looked for in the channel first.
    pub async fn step(&mut self) -> Result<Step, StoreError> {
        if !self.store.may_post() {
            return Ok(Step::NotLeading { delivery: None });
        }
        let now = store::now();
        let Some(d) = self.choose(now).await? else {
            return Ok(Step::Idle);
        };
        match self.deliver(&d, now).await {
            Err(e) if of_this_delivery(&e) => self.store_failed(&d, &e).await,
            step => step,
        }
    }

    /// The delivery to work on now, if any is due.
    async fn choose(&self, now: DateTime<Utc>) -> Result<Option<DueDelivery>, StoreError> {
        // A channel waiting on its own limit must not hold back the others; when only such
        // channels have posts due, the one due first waits its turn.
        let busy = self.pacer.busy();
        match self.store.due_delivery(now, &busy).await? {
            None if !busy.is_empty() => self.store.due_delivery(now, &[]).await,
            due => Ok(due),
        }
    }

    /// Delivers (or puts off) one due delivery: frozen, checked against the catch-up window,
    /// each part not yet recorded delivered in order, then finished.
    async fn deliver(&mut self, d: &DueDelivery, now: DateTime<Utc>) -> Result<Step, StoreError> {
        let frozen = match self.frozen_or_freeze(d).await? {
            Ok(frozen) => frozen,
            Err(step) => return Ok(step),
        };
        if expired(d, &frozen, now) {
            return self.skip_expired(d).await;
        }
        for part in frozen.parts.iter().filter(|p| p.message_id.is_none()) {
            if let ControlFlow::Break(step) = self.deliver_part(d, part).await? {
                return Ok(step);
            }
        }
        self.finish(d, &frozen).await
    }

    /// Drops a delivery whose issue passed the catch-up window before any of it went out.
    async fn skip_expired(&self, d: &DueDelivery) -> Result<Step, StoreError> {
        self.store
            .finish_delivery(d, DeliveryStatus::Skipped, &[], Some(EXPIRED))
            .await?;
        tracing::info!(
            delivery = d.id,
            channel = d.channel_id,
            "not posted: older than the catch-up window"
        );
        Ok(Step::Skipped { delivery: d.id })
    }

    /// One part not yet recorded: an in-doubt one is looked for in the channel first and
    /// recorded if found; otherwise it is posted. `Break` with the step when the delivery
    /// stops at this part.
    async fn deliver_part(
        &mut self,
        d: &DueDelivery,
        part: &Part,
    ) -> Result<ControlFlow<Step>, StoreError> {
        if let Some(attempted_at) = part.attempted_at {
            match self.look_for(d, &part.message, attempted_at).await {
                Ok(Found::Posted(id)) => {
                    tracing::info!(
                        delivery = d.id,
                        channel = d.channel_id,
                        part = part.part,
                        message = id,
                        "an in-doubt part was posted after all; recorded, not posted again"
                    );
                    self.store.record_part_sent(d.id, part.part, id).await?;
                    return Ok(ControlFlow::Continue(()));
                }
                Ok(Found::Missing) => {}
                Err(e) => return self.put_off(d, e).await.map(ControlFlow::Break),
            }
        }
        self.post_part(d, part).await
    }

    /// Finishes a delivery whose every part is recorded.
    async fn finish(&self, d: &DueDelivery, frozen: &Frozen) -> Result<Step, StoreError> {
        if !self
            .store
            .finish_delivery(d, DeliveryStatus::Sent, &frozen.stories, None)
            .await?
        {
            return Ok(Step::Skipped { delivery: d.id });
        }
        tracing::info!(
            delivery = d.id,
            channel = d.channel_id,
            issue = d.issue_id,
            parts = frozen.parts.len(),
            "posted"
        );
        Ok(Step::Sent {
            delivery: d.id,
            parts: frozen.parts.len(),
        })
    }
}

/// What `last_error` says of a delivery not posted because its issue is too old by then.
pub const EXPIRED: &str = "not posted: the issue is older than the 3-day catch-up window";

/// Whether a delivery is dropped as too old instead of posted: a new issue published before
/// the catch-up window. The window holds until a part may have reached the channel (posted, or
/// in doubt); then the rest follows, so a split issue is never left half posted. Reposts were
/// asked for, whatever their age.
fn expired(d: &DueDelivery, frozen: &Frozen, now: DateTime<Utc>) -> bool {
    d.kind == DeliveryKind::New && !frozen.started() && d.issue_at < now - CATCH_UP
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::render::Message;

    fn due(kind: DeliveryKind, issue_at: DateTime<Utc>) -> DueDelivery {
        DueDelivery {
            id: 1,
            subscription_id: Some(1),
            channel_id: 10,
            issue_id: 100,
            kind,
            keywords: None,
            attempts: 0,
            refusals: 0,
            parts_sent: 0,
            issue_at,
        }
    }

    fn frozen(attempted_at: Option<DateTime<Utc>>, message_id: Option<i64>) -> Frozen {
        let part = |part| Part {
            part,
            message: Message {
                content: None,
                embeds: Vec::new(),
            },
            attempted_at: None,
            message_id: None,
        };
        Frozen {
            parts: vec![
                Part {
                    attempted_at,
                    message_id,
                    ..part(0)
                },
                part(1),
            ],
            stories: Vec::new(),
        }
    }

    #[test]
    fn only_a_new_issue_past_the_catch_up_window_with_nothing_out_yet_expires() {
        let now = store::now();
        let old = now - CATCH_UP - chrono::Duration::minutes(1);
        let recent = now - CATCH_UP + chrono::Duration::minutes(1);
        let untouched = frozen(None, None);
        assert!(expired(&due(DeliveryKind::New, old), &untouched, now));
        assert!(!expired(&due(DeliveryKind::New, recent), &untouched, now));
        assert!(!expired(&due(DeliveryKind::Repost, old), &untouched, now));
        // A part posted, or in doubt: the rest follows, whatever the age.
        let posted = frozen(None, Some(7));
        let in_doubt = frozen(Some(now), None);
        assert!(!expired(&due(DeliveryKind::New, old), &posted, now));
        assert!(!expired(&due(DeliveryKind::New, old), &in_doubt, now));
    }

    #[test]
    fn the_backoff_doubles_from_the_base_up_to_the_longest_wait() {
        let settings = DeliverySettings::default();
        assert_eq!(settings.backoff(0), Duration::from_secs(2));
        assert_eq!(settings.backoff(1), Duration::from_secs(4));
        assert_eq!(settings.backoff(8), Duration::from_secs(512));
        assert_eq!(settings.backoff(9), Duration::from_secs(15 * 60));
        assert_eq!(settings.backoff(i64::MAX), Duration::from_secs(15 * 60));
        assert_eq!(settings.backoff(-1), Duration::from_secs(2));
    }
}
