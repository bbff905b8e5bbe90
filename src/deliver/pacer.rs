//! Pacing: every request under Discord's limits without relying on 429s.

use std::collections::{HashMap, VecDeque};
use std::time::Duration;

use tokio::time::Instant;

use super::DeliverySettings;

/// Keeps posts under Discord's limits without relying on 429s: a least interval between any
/// two posts, and a burst limit per channel.
pub(super) struct Pacer {
    min_interval: Duration,
    burst: usize,
    window: Duration,
    last: Option<Instant>,
    channels: HashMap<i64, VecDeque<Instant>>,
}

impl Pacer {
    pub(super) fn new(s: &DeliverySettings) -> Self {
        Self {
            min_interval: s.min_interval,
            burst: s.channel_burst.max(1),
            window: s.channel_window,
            last: None,
            channels: HashMap::new(),
        }
    }

    /// Channels that have used up their burst and would make a post wait now.
    pub(super) fn busy(&self) -> Vec<i64> {
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
    pub(super) async fn wait_any(&mut self) {
        let mut at = Instant::now();
        if let Some(last) = self.last {
            at = at.max(last + self.min_interval);
        }
        tokio::time::sleep_until(at).await;
        self.last = Some(at);
    }

    pub(super) async fn wait(&mut self, channel: i64) {
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

#[cfg(test)]
mod tests {
    use super::*;

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
