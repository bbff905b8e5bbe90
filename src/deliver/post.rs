//! The post of one part and what Discord's answer means: the part marked attempted before its
//! POST (from then on in doubt until recorded), the POST itself (no mentions, nonce enforced),
//! and the answer classified ([`PostError`]) for the retry policy.

use std::ops::ControlFlow;

use serenity::http::{Http, HttpError};
use serenity::model::channel::Nonce;
use serenity::model::id::ChannelId;

use super::{Deliverer, Step};
use crate::discord;
use crate::domain::DiscordId;
use crate::render::Message;
use crate::store::outbox::{DueDelivery, Part};
use crate::store::{self, StoreError};

/// Why a post failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum PostError {
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
    pub(super) fn definite(&self) -> bool {
        !matches!(self, PostError::Transient(_))
    }
}

impl Deliverer {
    /// Posts one part, fenced: this process must still hold the lease between parts and right
    /// before the POST (the pacer may have waited, the process may have been frozen), and the
    /// part is marked attempted before it. Posted, it is recorded with Discord's message id; a
    /// definite refusal clears the attempt (Discord created nothing), anything else leaves the
    /// part in doubt. `Break` with the step when the delivery stops here.
    pub(super) async fn post_part(
        &mut self,
        d: &DueDelivery,
        part: &Part,
    ) -> Result<ControlFlow<Step>, StoreError> {
        let not_leading = ControlFlow::Break(Step::NotLeading {
            delivery: Some(d.id),
        });
        if !self.store.may_post() {
            return Ok(not_leading);
        }
        if !self
            .store
            .record_attempt(d.id, part.part, store::now())
            .await?
        {
            // Unsubscribed or cancelled while posting: nothing more of it goes out.
            return Ok(ControlFlow::Break(Step::Skipped { delivery: d.id }));
        }
        self.pacer.wait(d.channel_id).await;
        if !self.store.may_post() {
            return Ok(not_leading);
        }
        let nonce = nonce(d.id, part.part);
        match post(&self.http, d.channel_id, &part.message, &nonce).await {
            Ok(id) => {
                self.telemetry.messages_posted.inc();
                self.rate_limited = 0;
                self.store.record_part_sent(d.id, part.part, id).await?;
                Ok(ControlFlow::Continue(()))
            }
            Err(e) => {
                if e.definite() {
                    self.store.clear_attempt(d.id, part.part).await?;
                }
                self.put_off(d, e).await.map(ControlFlow::Break)
            }
        }
    }
}

/// The nonce of part `part` of delivery `id`: at most 25 characters, as Discord requires.
pub fn nonce(delivery_id: i64, part: i64) -> String {
    let n = format!("bb{delivery_id}.{part}");
    debug_assert!(n.len() <= 25);
    n
}

pub(super) fn channel_id(channel_id: i64) -> Result<ChannelId, PostError> {
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
    let builder = discord::message(message)
        .nonce(Nonce::String(nonce.to_owned()))
        .enforce_nonce(true);
    match channel.send_message(http, builder).await {
        // The message exists whatever its id: one the outbox cannot hold is recorded as 0,
        // "posted, id unknown", so the part is never posted again.
        Ok(m) => Ok(DiscordId::try_from(m.id).map_or(0, DiscordId::get)),
        Err(e) => Err(classify(&e)),
    }
}

pub(super) fn classify(e: &serenity::Error) -> PostError {
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

    #[test]
    fn a_channel_id_discord_cannot_have_is_rejected_not_posted_to() {
        assert_eq!(channel_id(42), Ok(ChannelId::new(42)));
        assert!(matches!(channel_id(0), Err(PostError::Rejected(_))));
        assert!(matches!(channel_id(-1), Err(PostError::Rejected(_))));
    }
}
