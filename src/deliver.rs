//! The delivery worker: posts what the outbox owes, oldest issue first, paced under Discord's
//! limits. A step function ([`Deliverer::step`]) plus a loop around it ([`run`]).
//!
//! Crash safety: each message of a delivery carries a nonce derived from the delivery and the
//! part (`enforce_nonce`), and the part is recorded as posted right after Discord accepts it.
//! Killed between the two, the worker posts the same part again after a restart, with the same
//! nonce, and Discord answers with the message it already has instead of a second one.

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::Arc;
use std::time::Duration;

use serenity::builder::{CreateAllowedMentions, CreateEmbed, CreateEmbedFooter, CreateMessage};
use serenity::http::{Http, HttpError};
use serenity::model::channel::Nonce;
use serenity::model::id::ChannelId;
use tokio::sync::watch;
use tokio::time::Instant;

use crate::render::{self, IssueView, ItemFilter, Message};
use crate::store::outbox::{DueDelivery, STORY_MEMORY};
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
            channel_window: Duration::from_secs(5),
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
    /// Nothing in the issue was left for the channel (keywords, items it already has).
    Skipped { delivery: i64 },
    /// Put off: rate limited, a server error, or a refusal not yet final.
    Retry { delivery: i64, after: Duration },
    /// Discord refuses the channel: the delivery failed and its subscription is paused.
    Paused { delivery: i64, reason: String },
}

/// Why a post failed.
#[derive(Debug, Clone, PartialEq, Eq)]
enum PostError {
    /// 429: wait and try again; not the channel's fault.
    RateLimited,
    /// 403 or 404: the bot cannot post there.
    Refused(String),
    /// Anything else: a 5xx, a timeout, a broken connection.
    Transient(String),
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
        }
    }

    /// Counts posts and 429s in `telemetry` (the operator's `/metrics`).
    pub fn with_telemetry(mut self, telemetry: Arc<Telemetry>) -> Self {
        self.telemetry = telemetry;
        self
    }

    /// Delivers (or puts off) the next due delivery.
    pub async fn step(&mut self) -> Result<Step, StoreError> {
        let now = store::now();
        let Some(d) = self.store.due_delivery(now).await? else {
            return Ok(Step::Idle);
        };
        let Some(issue) = self.store.issue(d.issue_id).await? else {
            self.store.finish_delivery(&d, "cancelled", &[]).await?;
            return Ok(Step::Skipped { delivery: d.id });
        };
        let stories = self.store.story_ids(issue.id).await?;
        let skip: HashSet<usize> = if d.kind == "new" {
            let had = self
                .store
                .channel_stories(d.channel_id, now - STORY_MEMORY)
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
            .get(&issue.source_id)
            .map_or(issue.source_id.as_str(), String::as_str);
        let view = IssueView {
            title: &issue.title,
            url: &issue.url,
            source_name,
            published_at: issue.published_at,
            lead: &issue.lead,
            briefs: &issue.briefs,
        };
        let Some(selected) = render::selected_items(&issue.briefs, &filter, &skip) else {
            self.store.finish_delivery(&d, "skipped", &[]).await?;
            return Ok(Step::Skipped { delivery: d.id });
        };
        let messages = render::render_issue(&view, &filter, &skip);
        let first = usize::try_from(d.parts_sent).unwrap_or(0);
        for (part, message) in messages.iter().enumerate().skip(first) {
            self.pacer.wait(d.channel_id).await;
            match post(&self.http, d.channel_id, message, &nonce(d.id, part)).await {
                Ok(()) => {
                    self.telemetry.messages_posted.inc();
                    self.rate_limited = 0;
                    self.store.record_parts_sent(d.id, part as i64 + 1).await?;
                }
                Err(e) => return self.put_off(&d, e).await,
            }
        }
        let posted: Vec<i64> = selected
            .iter()
            .filter_map(|i| stories.get(*i).copied())
            .collect();
        self.store.finish_delivery(&d, "sent", &posted).await?;
        tracing::info!(
            delivery = d.id,
            channel = d.channel_id,
            issue = issue.id,
            parts = messages.len(),
            "posted"
        );
        Ok(Step::Sent {
            delivery: d.id,
            parts: messages.len(),
        })
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
        let (after, counts, message) = match &error {
            PostError::RateLimited => {
                // serenity hands a proxied 429 to the caller without its retry-after: wait at
                // least a second, longer while it goes on.
                self.rate_limited += 1;
                self.telemetry.rate_limited.inc();
                let wait = Duration::from_secs(1u64 << (self.rate_limited.min(6) - 1));
                (
                    wait,
                    false,
                    "Discord answered 429 Too Many Requests".to_owned(),
                )
            }
            PostError::Refused(m) | PostError::Transient(m) => {
                (backoff(d.attempts), true, m.clone())
            }
        };
        if let PostError::Refused(reason) = &error
            && d.attempts + 1 >= self.settings.refusals_before_pause
        {
            tracing::warn!(delivery = d.id, channel = d.channel_id, %reason, "channel refused; subscription paused");
            self.store.fail_and_pause(d, reason).await?;
            return Ok(Step::Paused {
                delivery: d.id,
                reason: reason.clone(),
            });
        }
        let not_before = now + chrono::Duration::from_std(after).unwrap_or(chrono::Duration::MAX);
        self.store
            .retry_delivery(d.id, not_before, &message, counts)
            .await?;
        tracing::warn!(delivery = d.id, channel = d.channel_id, error = %message, ?after, "post put off");
        Ok(Step::Retry {
            delivery: d.id,
            after,
        })
    }
}

/// The nonce of part `part` of delivery `id`: at most 25 characters, as Discord requires.
pub fn nonce(delivery_id: i64, part: usize) -> String {
    let n = format!("bb{delivery_id}.{part}");
    debug_assert!(n.len() <= 25);
    n
}

/// One message to a channel: no mentions allowed, nonce enforced.
async fn post(
    http: &Http,
    channel_id: i64,
    message: &Message,
    nonce: &str,
) -> Result<(), PostError> {
    let channel = u64::try_from(channel_id)
        .ok()
        .filter(|c| *c != 0)
        .map(ChannelId::new)
        .ok_or_else(|| PostError::Refused(format!("invalid channel id {channel_id}")))?;
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
        Ok(_) => Ok(()),
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
        return match status {
            429 => PostError::RateLimited,
            403 | 404 => PostError::Refused(format!(
                "Discord answered {status} {}: {}",
                response.status_code.canonical_reason().unwrap_or(""),
                response.error.message
            )),
            _ => PostError::Transient(format!("Discord answered {status}")),
        };
    }
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

/// Delivers until `shutdown` turns true; a post in flight finishes and is recorded first.
pub async fn run(mut deliverer: Deliverer, mut shutdown: watch::Receiver<bool>) {
    while !*shutdown.borrow() {
        let idle = match deliverer.step().await {
            Ok(Step::Idle) => true,
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
        assert!(nonce(i64::MAX, 999).len() <= 25);
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
        assert!(start.elapsed() >= Duration::from_secs(5));
        let before = Instant::now();
        pacer.wait(2).await; // another channel only waits the interval
        assert!(before.elapsed() <= Duration::from_millis(20));
    }
}
