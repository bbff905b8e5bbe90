//! What a failure does to a delivery: put off with a growing wait (a 429, a server error, a
//! refusal not yet final, its own stored data unreadable), or failed for good (a rejected
//! message, a channel that keeps refusing, which is paused, or stored data that stays
//! unreadable).

use std::time::Duration;

use super::post::PostError;
use super::{Deliverer, Step};
use crate::store::outbox::{DueDelivery, Failure};
use crate::store::{self, StoreError};

impl Deliverer {
    /// A store error that belongs to this delivery (its frozen messages unreadable, a key
    /// clash): the delivery backs off on its own like a failing post, and fails with the
    /// reason after [`MAX_STORE_FAILURES`] tries, so the deliveries behind it go on (before,
    /// the same delivery was picked again a second later, for ever, and every channel waited).
    pub(super) async fn store_failed(
        &mut self,
        d: &DueDelivery,
        e: &StoreError,
    ) -> Result<Step, StoreError> {
        let reason = format!("cannot be posted: {e}");
        if d.attempts + 1 >= MAX_STORE_FAILURES {
            tracing::error!(delivery = d.id, channel = d.channel_id, %reason, "delivery failed");
            self.store.fail_delivery(d, &reason).await?;
            return Ok(Step::Failed {
                delivery: d.id,
                reason,
            });
        }
        let after = self.settings.backoff(d.attempts);
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

    /// A post or a look that failed: a 429 waits (growing while they go on) without counting
    /// as an attempt; a 401 stops all posting; a 400 fails the delivery; a refusal (403/404)
    /// backs off and, the [`super::DeliverySettings::refusals_before_pause`]th in a row, fails
    /// the delivery and pauses its channel; anything else backs off.
    pub(super) async fn put_off(
        &mut self,
        d: &DueDelivery,
        error: PostError,
    ) -> Result<Step, StoreError> {
        let now = store::now();
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
            PostError::Refused(m) => (
                self.settings.backoff(d.attempts),
                Failure::Refused,
                m.clone(),
            ),
            PostError::Transient(m) => {
                (self.settings.backoff(d.attempts), Failure::Other, m.clone())
            }
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
pub(super) fn of_this_delivery(e: &StoreError) -> bool {
    // The store sorts its errors: an unreadable value or a constraint clash is `Corrupt`.
    matches!(e, StoreError::Corrupt(_) | StoreError::Invariant(_))
}
