//! The polling loop: each source is scraped on its own interval, backing off while it fails,
//! independently of the others. A step function ([`poll_once`]) plus a loop around it.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;

use crate::config::SourceConfig;
use crate::scrape::Scraper;
use crate::telemetry::Telemetry;

/// The longest a failing source waits between tries (unless its own interval is longer).
pub const MAX_BACKOFF: Duration = Duration::from_secs(3600);

/// How long to wait before the next pass: the source's interval, doubled for each failure in
/// a row, at most [`MAX_BACKOFF`] (or the interval, when that is longer).
pub fn next_delay(poll_every: Duration, consecutive_failures: u32) -> Duration {
    let factor = 1u32 << consecutive_failures.min(16);
    poll_every
        .saturating_mul(factor)
        .min(MAX_BACKOFF.max(poll_every))
}

/// One pass over one source; returns the consecutive failure count after it.
pub async fn poll_once(scraper: &Scraper, source: &SourceConfig, failures: u32) -> u32 {
    match scraper.scrape_source(source, false).await {
        Ok(report) if report.entry_errors.is_empty() => 0,
        Ok(report) => {
            tracing::warn!(source = %source.id, failed = report.entry_errors.len(), "some issue pages failed");
            failures + 1
        }
        Err(e) => {
            tracing::warn!(source = %source.id, error = %e, "scrape failed");
            failures + 1
        }
    }
}

/// Polls every source until `shutdown` turns true. A pass in flight finishes first. Each pass
/// is counted in `telemetry`.
pub async fn run(
    scraper: Scraper,
    sources: Vec<SourceConfig>,
    telemetry: Arc<Telemetry>,
    shutdown: watch::Receiver<bool>,
) {
    let mut tasks = tokio::task::JoinSet::new();
    for source in sources {
        let scraper = scraper.clone();
        let mut shutdown = shutdown.clone();
        let telemetry = telemetry.clone();
        tasks.spawn(async move {
            let mut failures = 0;
            while !*shutdown.borrow() {
                failures = poll_once(&scraper, &source, failures).await;
                telemetry.scrape(source.id.as_str(), failures == 0);
                let delay = next_delay(source.poll_every, failures);
                tracing::debug!(source = %source.id, ?delay, "next pass");
                tokio::select! {
                    _ = tokio::time::sleep(delay) => {}
                    _ = shutdown.wait_for(|stop| *stop) => break,
                }
            }
        });
    }
    while let Some(result) = tasks.join_next().await {
        if let Err(e) = result {
            tracing::error!(error = %e, "a source's polling task ended abnormally");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failures_back_off_up_to_an_hour() {
        let ten_min = Duration::from_secs(600);
        assert_eq!(next_delay(ten_min, 0), ten_min);
        assert_eq!(next_delay(ten_min, 1), Duration::from_secs(1200));
        assert_eq!(next_delay(ten_min, 2), Duration::from_secs(2400));
        assert_eq!(next_delay(ten_min, 3), MAX_BACKOFF);
        assert_eq!(next_delay(ten_min, 400), MAX_BACKOFF);
        let day = Duration::from_secs(86_400);
        assert_eq!(next_delay(day, 5), day);
    }
}
