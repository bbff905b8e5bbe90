//! The look for an in-doubt part (attempted, never recorded): the bot's messages in the channel
//! created since the attempt are read, and one with the part's embeds is taken as the part, so
//! it is recorded instead of posted twice.

use serenity::builder::GetMessages;
use serenity::model::id::MessageId;

use super::Deliverer;
use super::post::{PostError, channel_id, classify};
use crate::domain::DiscordId;
use crate::render::Message;
use crate::store::outbox::DueDelivery;

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

/// What a look for an in-doubt part found.
pub(super) enum Found {
    /// The part is in the channel already, as this message.
    Posted(i64),
    /// It is not (or the channel's history cannot be read: then only the nonce guards it).
    Missing,
}

impl Deliverer {
    /// Looks for an in-doubt part among the bot's messages in the channel created since the
    /// part was first attempted (Discord does not return nonces there, so a message is
    /// recognised by its embeds, and one already recorded for another part never counts).
    pub(super) async fn look_for(
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
                // An id the outbox cannot hold (none before 2084) could not be recorded either.
                let Ok(id) = DiscordId::try_from(m.id).map(DiscordId::get) else {
                    continue;
                };
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
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_snowflake_carries_its_creation_time_in_milliseconds_since_2015() {
        let epoch = chrono::DateTime::from_timestamp_millis(1_420_070_400_000).unwrap();
        assert_eq!(snowflake_at(epoch), 0);
        assert_eq!(
            snowflake_at(epoch + chrono::Duration::milliseconds(1)),
            1 << 22
        );
        // Before Discord's epoch there is no snowflake: the smallest one stands for it.
        assert_eq!(snowflake_at(epoch - chrono::Duration::days(1)), 0);
    }
}
