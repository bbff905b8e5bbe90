//! Freezing: a delivery's messages fixed at its first attempt — the items the channel wants
//! and does not have yet, rendered — so retries and restarts post exactly what was chosen then.

use std::collections::HashSet;

use super::{Deliverer, Step};
use crate::domain::{DeliveryKind, DeliveryStatus};
use crate::render::{self, ItemFilter};
use crate::store::outbox::{DueDelivery, Frozen, STORY_MEMORY};
use crate::store::{self, StoreError, StoredIssue};

impl Deliverer {
    /// The delivery's frozen messages, frozen now if this is its first attempt. `Err` with the
    /// step taken when nothing is to be posted.
    pub(super) async fn frozen_or_freeze(
        &self,
        d: &DueDelivery,
    ) -> Result<Result<Frozen, Step>, StoreError> {
        match self.store.frozen(d.id).await? {
            Some(frozen) => Ok(Ok(frozen)),
            None => self.freeze(d).await,
        }
    }

    /// Fixes a delivery's messages at its first attempt: the items the channel wants and does
    /// not have yet, rendered. `Err` with the step taken when nothing is to be posted.
    async fn freeze(&self, d: &DueDelivery) -> Result<Result<Frozen, Step>, StoreError> {
        let skipped = Err(Step::Skipped { delivery: d.id });
        let Some(issue) = self.store.issue(d.issue_id).await? else {
            self.store
                .finish_delivery(d, DeliveryStatus::Cancelled, &[], Some("the issue is gone"))
                .await?;
            return Ok(skipped);
        };
        let stories = self.store.story_ids(issue.id).await?;
        let skip: HashSet<usize> = if d.kind == DeliveryKind::New {
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
        self.note_left_out(d, &issue, &stories, &skip).await?;
        let filter = match &d.keywords {
            Some(keywords) if !keywords.words().is_empty() => {
                ItemFilter::Keywords(keywords.words())
            }
            _ => ItemFilter::All,
        };
        let source_name = self
            .source_names
            .get(issue.source_id.as_str())
            .map_or(issue.source_id.as_str(), String::as_str);
        let view = issue.view(source_name);
        let Some(selected) = render::selected_items(&issue.briefs, &filter, &skip) else {
            self.store
                .finish_delivery(d, DeliveryStatus::Skipped, &[], None)
                .await?;
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

    /// Logs each item left out because the channel has its story, with where it had it.
    async fn note_left_out(
        &self,
        d: &DueDelivery,
        issue: &StoredIssue,
        stories: &[i64],
        skip: &HashSet<usize>,
    ) -> Result<(), StoreError> {
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
        Ok(())
    }
}
