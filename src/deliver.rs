//! The delivery worker: posts what the outbox owes, oldest issue first, paced under Discord's
//! limits. A step function ([`Deliverer::step`]) plus a loop around it ([`run`]).
//!
//! Exactly once, whatever happens (SPEC §6):
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
use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::Arc;
use std::time::Duration;

use serenity::builder::GetMessages;
use serenity::builder::{CreateAllowedMentions, CreateEmbed, CreateEmbedFooter, CreateMessage};
use serenity::http::{Http, HttpError};
use serenity::model::channel::Nonce;
use serenity::model::id::{ChannelId, MessageId};
use tokio::sync::watch;
use tokio::time::Instant;

use crate::render::{self, IssueView, ItemFilter, Message};
use crate::store::outbox::{CATCH_UP, DueDelivery, Failure, Frozen, STORY_MEMORY};
use crate::store::{self, Store, StoreError};
use crate::telemetry::Telemetry;

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

/// Why a post failed.
#[derive(Debug, Clone, PartialEq, Eq)]
enum PostError {
    /// 429: wait and try again; not the channel's fault.
    RateLimited,
    /// 403 or 404: the bot cannot post there.
    Refused(String),
    /// 400: Discord will never take this message.
    Rejected(String),
    /// 401: the token is not valid (reset, or revoked).
    Unauthorized,
    /// Anything else: a 5xx, a timeout, a broken connection. Discord may have done the work.
    Transient(String),
}

impl PostError {
    /// Whether Discord answered, so it certainly did not create the message.
    fn definite(&self) -> bool {
        !matches!(self, PostError::Transient(_))
    }
}

/// What a look for an in-doubt part found.
enum Found {
    /// The part is in the channel already, as this message.
    Posted(i64),
    /// It is not (or the channel's history cannot be read: then only the nonce guards it).
    Missing,
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
        // A channel waiting on its own limit must not hold back the others; when only such
        // channels have posts due, the one due first waits its turn.
        let busy = self.pacer.busy();
        let due = match self.store.due_delivery(now, &busy).await? {
            None if !busy.is_empty() => self.store.due_delivery(now, &[]).await?,
            due => due,
        };
        let Some(d) = due else {
            return Ok(Step::Idle);
        };
        match self.deliver(&d, now).await {
            Err(e) if of_this_delivery(&e) => self.store_failed(&d, &e).await,
            step => step,
        }
    }

    /// Delivers (or puts off) one due delivery.
    async fn deliver(
        &mut self,
        d: &DueDelivery,
        now: chrono::DateTime<chrono::Utc>,
    ) -> Result<Step, StoreError> {
        let d = d.clone();
        let frozen = match self.store.frozen(d.id).await? {
            Some(frozen) => frozen,
            None => match self.freeze(&d).await? {
                Ok(frozen) => frozen,
                Err(step) => return Ok(step),
            },
        };
        // The catch-up window holds until a part may have reached the channel (posted, or in
        // doubt); then the rest follows, so a split issue is never left half posted.
        if d.kind == "new" && !frozen.started() && d.issue_at < now - CATCH_UP {
            self.store
                .finish_delivery(&d, "skipped", &[], Some(EXPIRED))
                .await?;
            tracing::info!(
                delivery = d.id,
                channel = d.channel_id,
                "not posted: older than the catch-up window"
            );
            return Ok(Step::Skipped { delivery: d.id });
        }
        for part in frozen.parts.iter().filter(|p| p.message_id.is_none()) {
            if let Some(attempted_at) = part.attempted_at {
                match self.look_for(&d, &part.message, attempted_at).await {
                    Ok(Found::Posted(id)) => {
                        tracing::info!(
                            delivery = d.id,
                            channel = d.channel_id,
                            part = part.part,
                            message = id,
                            "an in-doubt part was posted after all; recorded, not posted again"
                        );
                        self.store.record_part_sent(d.id, part.part, id).await?;
                        continue;
                    }
                    Ok(Found::Missing) => {}
                    Err(e) => return self.put_off(&d, e).await,
                }
            }
            // Between parts, and again right before the POST (the pacer may have waited, the
            // process may have been frozen): a process that may no longer post stops here.
            if !self.store.may_post() {
                return Ok(Step::NotLeading {
                    delivery: Some(d.id),
                });
            }
            if !self
                .store
                .record_attempt(d.id, part.part, store::now())
                .await?
            {
                // Unsubscribed or cancelled while posting: nothing more of it goes out.
                return Ok(Step::Skipped { delivery: d.id });
            }
            self.pacer.wait(d.channel_id).await;
            if !self.store.may_post() {
                return Ok(Step::NotLeading {
                    delivery: Some(d.id),
                });
            }
            let nonce = nonce(d.id, part.part);
            match post(&self.http, d.channel_id, &part.message, &nonce).await {
                Ok(id) => {
                    self.telemetry.messages_posted.inc();
                    self.rate_limited = 0;
                    self.store.record_part_sent(d.id, part.part, id).await?;
                }
                Err(e) => {
                    if e.definite() {
                        self.store.clear_attempt(d.id, part.part).await?;
                    }
                    return self.put_off(&d, e).await;
                }
            }
        }
        if !self
            .store
            .finish_delivery(&d, "sent", &frozen.stories, None)
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

    /// A store error that belongs to this delivery (its frozen messages unreadable, a key
    /// clash): the delivery backs off on its own like a failing post, and fails with the
    /// reason after [`MAX_STORE_FAILURES`] tries, so the deliveries behind it go on (before,
    /// the same delivery was picked again a second later, for ever, and every channel waited).
    async fn store_failed(&mut self, d: &DueDelivery, e: &StoreError) -> Result<Step, StoreError> {
        let reason = format!("cannot be posted: {e}");
        if d.attempts + 1 >= MAX_STORE_FAILURES {
            tracing::error!(delivery = d.id, channel = d.channel_id, %reason, "delivery failed");
            self.store.fail_delivery(d, &reason).await?;
            return Ok(Step::Failed {
                delivery: d.id,
                reason,
            });
        }
        let factor = 1u32 << d.attempts.clamp(0, 16);
        let after = self
            .settings
            .retry_base
            .saturating_mul(factor)
            .min(self.settings.max_retry);
        let not_before =
            store::now() + chrono::Duration::from_std(after).unwrap_or(chrono::Duration::MAX);
        self.store
            .retry_delivery(d.id, not_before, &reason, Failure::Other)
            .await?;
        tracing::warn!(delivery = d.id, channel = d.channel_id, %reason, ?after, "delivery put off");
        Ok(Step::Retry {
            delivery: d.id,
            after,
        })
    }

    /// Fixes a delivery's messages at its first attempt: the items the channel wants and does
    /// not have yet, rendered. `Err` with the step taken when nothing is to be posted.
    async fn freeze(&self, d: &DueDelivery) -> Result<Result<Frozen, Step>, StoreError> {
        let skipped = Err(Step::Skipped { delivery: d.id });
        let Some(issue) = self.store.issue(d.issue_id).await? else {
            self.store
                .finish_delivery(d, "cancelled", &[], Some("the issue is gone"))
                .await?;
            return Ok(skipped);
        };
        let stories = self.store.story_ids(issue.id).await?;
        let skip: HashSet<usize> = if d.kind == "new" {
            let had = self
                .store
                .channel_stories(d.channel_id, store::now() - STORY_MEMORY)
                .await?;
            stories
                .iter()
                .enumerate()
                .filter(|(_, s)| had.contains(s))
                .map(|(i, _)| i)
                .collect()
        } else {
            HashSet::new()
        };
        let mut left_out: Vec<usize> = skip.iter().copied().collect();
        left_out.sort_unstable();
        for i in left_out {
            let (Some(brief), Some(story)) = (issue.briefs.get(i), stories.get(i)) else {
                continue;
            };
            if let Some(note) = self.store.story_note(d.channel_id, *story, brief).await? {
                let when = note
                    .posted_at
                    .map(|t| {
                        t.with_timezone(&crate::domain::kst())
                            .format("%Y-%m-%d")
                            .to_string()
                    })
                    .unwrap_or_else(|| "earlier".to_owned());
                tracing::info!(
                    delivery = d.id,
                    channel = d.channel_id,
                    item = %brief.headline,
                    "left out: same story as '{}' posted {when} in this channel ({})",
                    note.headline,
                    note.why
                );
            }
        }
        let keywords: Vec<String> = d
            .keywords
            .as_deref()
            .unwrap_or_default()
            .split(',')
            .map(|k| k.trim().to_owned())
            .filter(|k| !k.is_empty())
            .collect();
        let filter = if keywords.is_empty() {
            ItemFilter::All
        } else {
            ItemFilter::Keywords(&keywords)
        };
        let source_name = self
            .source_names
            .get(issue.source_id.as_str())
            .map_or(issue.source_id.as_str(), String::as_str);
        let view = IssueView {
            title: &issue.title,
            url: issue.url.as_str(),
            source_name,
            published_at: issue.published_at,
            lead: &issue.lead,
            briefs: &issue.briefs,
        };
        let Some(selected) = render::selected_items(&issue.briefs, &filter, &skip) else {
            self.store.finish_delivery(d, "skipped", &[], None).await?;
            return Ok(skipped);
        };
        let messages = render::render_issue(&view, &filter, &skip);
        let posted: Vec<i64> = selected
            .iter()
            .filter_map(|i| stories.get(*i).copied())
            .collect();
        match self.store.freeze(d, &messages, &posted).await? {
            Some(frozen) => Ok(Ok(frozen)),
            // Cancelled (or frozen by another worker) meanwhile.
            None => match self.store.frozen(d.id).await? {
                Some(frozen) => Ok(Ok(frozen)),
                None => Ok(skipped),
            },
        }
    }

    /// Looks for an in-doubt part among the bot's messages in the channel created since the
    /// part was first attempted (Discord does not return nonces there, so a message is
    /// recognised by its embeds, and one already recorded for another part never counts).
    async fn look_for(
        &mut self,
        d: &DueDelivery,
        message: &Message,
        attempted_at: chrono::DateTime<chrono::Utc>,
    ) -> Result<Found, PostError> {
        let channel = channel_id(d.channel_id)?;
        let me = match self.me {
            Some(me) => me,
            None => {
                self.pacer.wait_any().await;
                let me = self
                    .http
                    .get_current_user()
                    .await
                    .map_err(|e| classify(&e))?
                    .id
                    .get();
                *self.me.insert(me)
            }
        };
        let mut readable = false;
        // A margin for the clocks of this machine and Discord's.
        let mut after = snowflake_at(attempted_at - chrono::Duration::seconds(LOOK_MARGIN_SECS));
        self.telemetry.reconciliations.inc();
        for _ in 0..LOOK_PAGES {
            self.pacer.wait_any().await;
            let page = match channel
                .messages(
                    &*self.http,
                    GetMessages::new()
                        .after(MessageId::new(after.max(1)))
                        .limit(100),
                )
                .await
            {
                Ok(page) => page,
                Err(e) => match classify(&e) {
                    PostError::Refused(reason) => {
                        // No Read Message History: only Discord's nonce can tell now.
                        tracing::warn!(channel = d.channel_id, %reason, "cannot read the channel's history; relying on the nonce for an in-doubt part");
                        self.store
                            .set_history_denied(d.channel_id, true)
                            .await
                            .map_err(|e| PostError::Transient(e.to_string()))?;
                        return Ok(Found::Missing);
                    }
                    other => return Err(other),
                },
            };
            if !readable {
                // The history can be read (again): a flag from a refused look is cleared, so
                // `/status` stops asking for a permission that was granted since.
                readable = true;
                self.store
                    .set_history_denied(d.channel_id, false)
                    .await
                    .map_err(|e| PostError::Transient(e.to_string()))?;
            }
            for m in &page {
                let id = i64::try_from(m.id.get()).unwrap_or(i64::MAX);
                if m.author.id.get() == me
                    && same_message(m, message)
                    && !self
                        .store
                        .message_recorded(id)
                        .await
                        .map_err(|e| PostError::Transient(e.to_string()))?
                {
                    return Ok(Found::Posted(id));
                }
            }
            match page.iter().map(|m| m.id.get()).max() {
                Some(newest) if page.len() == 100 => after = newest,
                _ => break,
            }
        }
        Ok(Found::Missing)
    }

    async fn put_off(&mut self, d: &DueDelivery, error: PostError) -> Result<Step, StoreError> {
        let now = store::now();
        let backoff = |attempts: i64| {
            let factor = 1u32 << attempts.clamp(0, 16);
            self.settings
                .retry_base
                .saturating_mul(factor)
                .min(self.settings.max_retry)
        };
        let (after, failure, message) = match &error {
            PostError::RateLimited => {
                // serenity hands a proxied 429 to the caller without its retry-after: wait at
                // least a second, longer while it goes on.
                self.rate_limited += 1;
                self.telemetry.rate_limited.inc();
                let wait = Duration::from_secs(1u64 << (self.rate_limited.min(6) - 1));
                (
                    wait,
                    Failure::RateLimited,
                    "Discord answered 429 Too Many Requests".to_owned(),
                )
            }
            PostError::Unauthorized => {
                tracing::error!(
                    "Discord rejected the bot token (401 Unauthorized): posting has stopped; set a valid DISCORD_TOKEN and restart"
                );
                self.telemetry.set_unauthorized();
                return Ok(Step::Unauthorized);
            }
            PostError::Rejected(reason) => {
                tracing::warn!(delivery = d.id, channel = d.channel_id, %reason, "Discord rejected the message; delivery failed");
                self.store.fail_delivery(d, reason).await?;
                return Ok(Step::Failed {
                    delivery: d.id,
                    reason: reason.clone(),
                });
            }
            PostError::Refused(m) => (backoff(d.attempts), Failure::Refused, m.clone()),
            PostError::Transient(m) => (backoff(d.attempts), Failure::Other, m.clone()),
        };
        if let PostError::Refused(reason) = &error
            && d.refusals + 1 >= self.settings.refusals_before_pause
        {
            tracing::warn!(delivery = d.id, channel = d.channel_id, %reason, "channel refused; paused");
            self.store.fail_and_pause(d, reason).await?;
            return Ok(Step::Paused {
                delivery: d.id,
                reason: reason.clone(),
            });
        }
        let not_before = now + chrono::Duration::from_std(after).unwrap_or(chrono::Duration::MAX);
        self.store
            .retry_delivery(d.id, not_before, &message, failure)
            .await?;
        tracing::warn!(delivery = d.id, channel = d.channel_id, error = %message, ?after, "post put off");
        Ok(Step::Retry {
            delivery: d.id,
            after,
        })
    }
}

/// How many tries a delivery whose own stored data fails ([`of_this_delivery`]) gets before it
/// fails for good.
pub const MAX_STORE_FAILURES: i64 = 5;

/// Whether a store error belongs to the delivery being posted (its stored data cannot be read
/// or written as it is), not to the database as a whole (down, slow, the lease lost), which
/// every delivery would meet alike.
fn of_this_delivery(e: &StoreError) -> bool {
    matches!(e, StoreError::Corrupt(_) | StoreError::Invariant(_))
}

/// What `last_error` says of a delivery not posted because its issue is too old by then.
pub const EXPIRED: &str = "not posted: the issue is older than the 3-day catch-up window";
/// How far before its first attempt an in-doubt part is looked for.
const LOOK_MARGIN_SECS: i64 = 10;
/// Pages of 100 messages read at most when looking for an in-doubt part.
const LOOK_PAGES: usize = 10;

/// The smallest Discord snowflake created at `at`: snowflakes carry their creation time,
/// `(id >> 22) + 1420070400000` ms since the Unix epoch.
pub fn snowflake_at(at: chrono::DateTime<chrono::Utc>) -> u64 {
    let ms = u64::try_from(at.timestamp_millis() - 1_420_070_400_000).unwrap_or(0);
    ms << 22
}

/// Whether a message in the channel is this part: the same embeds, title and description
/// (Discord keeps them as sent, but may trim them).
fn same_message(found: &serenity::model::channel::Message, part: &Message) -> bool {
    let text = |s: Option<&str>| s.unwrap_or("").trim().to_owned();
    found.content.trim() == part.content.as_deref().unwrap_or("").trim()
        && found.embeds.len() == part.embeds.len()
        && found.embeds.iter().zip(&part.embeds).all(|(f, p)| {
            text(f.title.as_deref()) == text(p.title.as_deref())
                && text(f.description.as_deref()) == text(Some(&p.description))
        })
}

/// The nonce of part `part` of delivery `id`: at most 25 characters, as Discord requires.
pub fn nonce(delivery_id: i64, part: i64) -> String {
    let n = format!("bb{delivery_id}.{part}");
    debug_assert!(n.len() <= 25);
    n
}

fn channel_id(channel_id: i64) -> Result<ChannelId, PostError> {
    u64::try_from(channel_id)
        .ok()
        .filter(|c| *c != 0)
        .map(ChannelId::new)
        .ok_or_else(|| PostError::Rejected(format!("invalid channel id {channel_id}")))
}

/// One message to a channel: no mentions allowed, nonce enforced. Returns Discord's message id.
async fn post(
    http: &Http,
    channel_id: i64,
    message: &Message,
    nonce: &str,
) -> Result<i64, PostError> {
    let channel = self::channel_id(channel_id)?;
    let embeds = message.embeds.iter().map(to_embed).collect();
    let mut builder = CreateMessage::new()
        .embeds(embeds)
        .allowed_mentions(CreateAllowedMentions::new())
        .nonce(Nonce::String(nonce.to_owned()))
        .enforce_nonce(true);
    if let Some(content) = &message.content {
        builder = builder.content(content);
    }
    match channel.send_message(http, builder).await {
        Ok(m) => Ok(i64::try_from(m.id.get()).unwrap_or(i64::MAX)),
        Err(e) => Err(classify(&e)),
    }
}

pub(crate) fn to_embed(e: &render::Embed) -> CreateEmbed {
    let mut embed = CreateEmbed::new();
    if let Some(title) = &e.title {
        embed = embed.title(title);
    }
    if let Some(url) = &e.url {
        embed = embed.url(url);
    }
    if !e.description.is_empty() {
        embed = embed.description(&e.description);
    }
    if let Some(footer) = &e.footer {
        embed = embed.footer(CreateEmbedFooter::new(footer));
    }
    if let Some(t) = e.timestamp {
        embed = embed.timestamp(t);
    }
    embed
}

fn classify(e: &serenity::Error) -> PostError {
    if let serenity::Error::Http(HttpError::UnsuccessfulRequest(response)) = e {
        let status = response.status_code.as_u16();
        let reason = || {
            format!(
                "Discord answered {status} {}: {} (code {})",
                response.status_code.canonical_reason().unwrap_or(""),
                response.error.message,
                response.error.code
            )
        };
        return match status {
            429 => PostError::RateLimited,
            401 => PostError::Unauthorized,
            403 | 404 => PostError::Refused(reason()),
            400..=499 => PostError::Rejected(reason()),
            _ => PostError::Transient(format!("Discord answered {status}")),
        };
    }
    // No answer (a timeout, a dropped connection): the request may have done its work.
    PostError::Transient(e.to_string())
}

/// Keeps posts under Discord's limits without relying on 429s: a least interval between any
/// two posts, and a burst limit per channel.
struct Pacer {
    min_interval: Duration,
    burst: usize,
    window: Duration,
    last: Option<Instant>,
    channels: HashMap<i64, VecDeque<Instant>>,
}

impl Pacer {
    fn new(s: &DeliverySettings) -> Self {
        Self {
            min_interval: s.min_interval,
            burst: s.channel_burst.max(1),
            window: s.channel_window,
            last: None,
            channels: HashMap::new(),
        }
    }

    /// Channels that have used up their burst and would make a post wait now.
    fn busy(&self) -> Vec<i64> {
        let now = Instant::now();
        self.channels
            .iter()
            .filter(|(_, recent)| {
                recent.len() >= self.burst && recent.front().is_some_and(|t| *t + self.window > now)
            })
            .map(|(channel, _)| *channel)
            .collect()
    }

    /// Waits only the interval between any two requests (a read of a channel's messages,
    /// which the per-channel post limit does not cover).
    async fn wait_any(&mut self) {
        let mut at = Instant::now();
        if let Some(last) = self.last {
            at = at.max(last + self.min_interval);
        }
        tokio::time::sleep_until(at).await;
        self.last = Some(at);
    }

    async fn wait(&mut self, channel: i64) {
        let mut at = Instant::now();
        if let Some(last) = self.last {
            at = at.max(last + self.min_interval);
        }
        let recent = self.channels.entry(channel).or_default();
        while recent.front().is_some_and(|t| *t + self.window <= at) {
            recent.pop_front();
        }
        if recent.len() >= self.burst
            && let Some(oldest) = recent.front()
        {
            at = at.max(*oldest + self.window);
        }
        tokio::time::sleep_until(at).await;
        let now = Instant::now();
        recent.push_back(now);
        if recent.len() > self.burst {
            recent.pop_front();
        }
        // The next post is spaced from when this one was due, not from when the timer fired:
        // timer lateness (about a millisecond a sleep) must not add up over a fan-out.
        self.last = Some(at);
        if self.channels.len() > 10_000 {
            let window = self.window;
            self.channels
                .retain(|_, q| q.back().is_some_and(|t| *t + window > now));
        }
    }
}

/// The first wait before the delivery worker is started again after a panic; it doubles with
/// each restart, up to [`MAX_WORKER_RESTART_WAIT`].
pub const WORKER_RESTART_BASE: Duration = Duration::from_secs(1);
/// The longest wait before the delivery worker is started again.
pub const MAX_WORKER_RESTART_WAIT: Duration = Duration::from_secs(300);

/// Runs the delivery worker that `start` makes (a fresh [`Deliverer`] each time, looping with
/// [`run`]) until it ends or `shutdown` turns true, and starts it again after a panic, as the
/// sources' loops are: logged, counted in `telemetry` (`/healthz`
/// `delivery_worker_restarts`, `/metrics` `briefbot_delivery_worker_restarts_total`), after
/// `restart_base`, doubling to [`MAX_WORKER_RESTART_WAIT`]. Before, a panic ended posting for
/// good while `/healthz` said all was well.
pub async fn supervise<F, Fut>(
    mut start: F,
    telemetry: Arc<Telemetry>,
    mut shutdown: watch::Receiver<bool>,
    restart_base: Duration,
) where
    F: FnMut(watch::Receiver<bool>) -> Fut,
    Fut: std::future::Future<Output = ()> + Send + 'static,
{
    let mut restarts = 0u32;
    loop {
        let ended = tokio::spawn(start(shutdown.clone())).await;
        let Err(error) = ended else {
            return;
        };
        if !error.is_panic() {
            return;
        }
        let why = crate::schedule::why_task_ended(error);
        let wait = restart_base
            .saturating_mul(1u32 << restarts.min(16))
            .min(MAX_WORKER_RESTART_WAIT.max(restart_base));
        tracing::error!(error = %why, ?wait, "the delivery worker ended abnormally; restarting it");
        telemetry.worker_restarted(&why);
        restarts += 1;
        tokio::select! {
            _ = tokio::time::sleep(wait) => {}
            _ = shutdown.wait_for(|stop| *stop) => return,
        }
    }
}

/// How often the outbox and the other tables are pruned ([`Store::prune`]).
pub const PRUNE_EVERY: Duration = Duration::from_secs(3600);

/// Delivers until `shutdown` turns true; a post in flight finishes and is recorded first.
/// Prunes the database at start and then every [`PRUNE_EVERY`].
pub async fn run(deliverer: &mut Deliverer, mut shutdown: watch::Receiver<bool>) {
    let mut pruned_at: Option<Instant> = None;
    while !*shutdown.borrow() {
        if pruned_at.is_none_or(|t| t.elapsed() >= PRUNE_EVERY) {
            pruned_at = Some(Instant::now());
            match deliverer.store.prune(store::now()).await {
                Ok(pruned) => tracing::info!(?pruned, "pruned what no guarantee needs"),
                Err(e) => tracing::warn!(error = %e, "pruning failed; trying again later"),
            }
        }
        let idle = match deliverer.step().await {
            Ok(Step::Idle) => true,
            Ok(Step::Unauthorized) => {
                // A 401 does not go away: the token must be replaced, which takes a restart.
                let _ = shutdown.wait_for(|stop| *stop).await;
                break;
            }
            Ok(Step::NotLeading { .. }) | Err(StoreError::LeaseLost) => {
                // The lease is being renewed, or lost: the leader's task stops this loop then.
                tracing::debug!("not posting: this process does not hold the scheduler lease now");
                true
            }
            Ok(_) => false,
            Err(e) => {
                tracing::error!(error = %e, "delivery step failed");
                true
            }
        };
        if idle {
            tokio::select! {
                _ = tokio::time::sleep(deliverer.settings.idle_poll) => {}
                _ = shutdown.wait_for(|stop| *stop) => break,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nonces_fit_discords_limit() {
        assert_eq!(nonce(12, 0), "bb12.0");
        assert_ne!(nonce(12, 0), nonce(12, 1));
        assert_eq!(nonce(1, 10), "bb1.10");
        assert!(nonce(i64::MAX, 999).len() <= 25);
    }

    #[tokio::test(start_paused = true)]
    async fn a_worker_that_panics_is_restarted_and_counted() {
        let telemetry = Arc::new(Telemetry::default());
        let (stop, shutdown) = watch::channel(false);
        let started = Arc::new(std::sync::atomic::AtomicU32::new(0));
        let runs = started.clone();
        let supervisor = tokio::spawn(supervise(
            move |mut shutdown: watch::Receiver<bool>| {
                let n = runs.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                async move {
                    assert!(n >= 2, "a bug in the worker");
                    let _ = shutdown.wait_for(|s| *s).await;
                }
            },
            telemetry.clone(),
            shutdown,
            Duration::from_secs(1),
        ));
        tokio::time::sleep(Duration::from_secs(10)).await;
        assert_eq!(started.load(std::sync::atomic::Ordering::SeqCst), 3);
        let (restarts, why) = telemetry.worker_restarts();
        assert_eq!(restarts, 2);
        assert!(why.is_some_and(|w| w.contains("a bug in the worker")));
        stop.send(true).unwrap();
        supervisor.await.unwrap();
    }

    #[tokio::test(start_paused = true)]
    async fn the_pacer_spaces_posts_and_limits_each_channel() {
        let settings = DeliverySettings {
            min_interval: Duration::from_millis(20),
            ..DeliverySettings::default()
        };
        let mut pacer = Pacer::new(&settings);
        let start = Instant::now();
        for _ in 0..5 {
            pacer.wait(1).await;
        }
        assert!(start.elapsed() >= Duration::from_millis(80));
        assert!(start.elapsed() < Duration::from_secs(1));
        pacer.wait(1).await; // the sixth post to one channel waits for the window
        assert!(start.elapsed() >= Duration::from_millis(5_250));
        let before = Instant::now();
        pacer.wait(2).await; // another channel only waits the interval
        assert!(before.elapsed() <= Duration::from_millis(20));
    }
}
