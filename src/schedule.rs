//! The polling loop: each source is scraped on its own interval, backing off while it fails,
//! independently of the others. A step function ([`poll_once`]) plus a loop around it.

use std::collections::HashMap;
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

/// A source's run of failed passes (of its list page: a failing issue page backs off on its
/// own).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Streak {
    pub failures: u32,
    /// What the last failed pass said.
    pub last_error: Option<String>,
}

/// One pass over one source; returns the streak after it. A failure is logged as a warning
/// when it starts or its cause changes, not at every retry (a site that is down for a day
/// would otherwise fill the log); the recovery is logged too.
pub async fn poll_once(scraper: &Scraper, source: &SourceConfig, streak: Streak) -> Streak {
    match scraper.scrape_source(source, false).await {
        // A list that was read is a working source: failing entries back off on their own
        // (one bad entry must not slow every new issue of its source down to hourly).
        Ok(_) => {
            if streak.failures > 0 {
                tracing::info!(source = %source.id, failed_passes = streak.failures, "source works again");
            }
            Streak::default()
        }
        Err(e) => {
            let error = e.to_string();
            let failures = streak.failures + 1;
            let retry_in = humantime::format_duration(next_delay(source.poll_every, failures));
            if streak.last_error.as_deref() == Some(error.as_str()) {
                tracing::debug!(source = %source.id, %error, failures, %retry_in, "scrape failed again");
            } else {
                tracing::warn!(source = %source.id, %error, failures, %retry_in, "scrape failed; retrying with backoff");
            }
            Streak {
                failures,
                last_error: Some(error),
            }
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
    let pass = move |source: SourceConfig, streak: Streak| {
        let scraper = scraper.clone();
        async move { poll_once(&scraper, &source, streak).await }
    };
    supervise(sources, pass, telemetry, shutdown, RESTART_BASE).await;
}

/// The first wait before a source's polling loop that ended abnormally is started again; it
/// doubles with each restart of that source, up to [`MAX_RESTART_WAIT`].
pub const RESTART_BASE: Duration = Duration::from_secs(1);
pub const MAX_RESTART_WAIT: Duration = Duration::from_secs(300);

/// Runs one polling loop per source, each independent of the others, and restarts a loop that
/// ends abnormally (a panic in a pass) after a growing wait: one bad page must not stop a source
/// for good. Restarts are logged with the source and the panic, and counted in `telemetry`
/// (shown by `/healthz`, `/metrics` and `/status`).
pub async fn supervise<P, F>(
    sources: Vec<SourceConfig>,
    pass: P,
    telemetry: Arc<Telemetry>,
    shutdown: watch::Receiver<bool>,
    restart_base: Duration,
) where
    P: Fn(SourceConfig, Streak) -> F + Clone + Send + 'static,
    F: std::future::Future<Output = Streak> + Send + 'static,
{
    let mut tasks = tokio::task::JoinSet::new();
    let mut running: HashMap<tokio::task::Id, (SourceConfig, u32)> = HashMap::new();
    let spawn = |tasks: &mut tokio::task::JoinSet<()>, source: SourceConfig, wait: Duration| {
        let pass = pass.clone();
        let mut shutdown = shutdown.clone();
        let telemetry = telemetry.clone();
        tasks
            .spawn(async move {
                tokio::select! {
                    _ = tokio::time::sleep(wait) => {}
                    _ = shutdown.wait_for(|stop| *stop) => return,
                }
                let mut streak = Streak::default();
                while !*shutdown.borrow() {
                    streak = pass(source.clone(), streak).await;
                    telemetry.scrape(source.id.as_str(), streak.failures == 0);
                    let delay = next_delay(source.poll_every, streak.failures);
                    tracing::debug!(source = %source.id, ?delay, "next pass");
                    tokio::select! {
                        _ = tokio::time::sleep(delay) => {}
                        _ = shutdown.wait_for(|stop| *stop) => break,
                    }
                }
            })
            .id()
    };
    for source in sources {
        let id = spawn(&mut tasks, source.clone(), Duration::ZERO);
        running.insert(id, (source, 0));
    }
    while let Some(ended) = tasks.join_next_with_id().await {
        let Err(error) = ended else {
            continue;
        };
        let Some((source, restarts)) = running.remove(&error.id()) else {
            continue;
        };
        if *shutdown.borrow() || error.is_cancelled() {
            continue;
        }
        let why = why_task_ended(error);
        let wait = restart_base
            .saturating_mul(1u32 << restarts.min(16))
            .min(MAX_RESTART_WAIT.max(restart_base));
        tracing::error!(source = %source.id, error = %why, ?wait, "a source's polling loop ended abnormally; restarting it");
        telemetry.source_restarted(source.id.as_str(), &why);
        let id = spawn(&mut tasks, source.clone(), wait);
        running.insert(id, (source, restarts + 1));
    }
}

/// What a task that ended abnormally says: its panic's message, or why it was stopped.
pub(crate) fn why_task_ended(error: tokio::task::JoinError) -> String {
    match error.try_into_panic() {
        Ok(panic) => panic
            .downcast_ref::<&str>()
            .map(|s| (*s).to_owned())
            .or_else(|| panic.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "a panic".to_owned()),
        Err(error) => error.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn a_source_loop_that_panics_is_restarted_and_the_others_go_on() {
        let telemetry = Arc::new(Telemetry::default());
        let passes = Arc::new(std::sync::Mutex::new(Vec::<String>::new()));
        let seen = passes.clone();
        // The "bad" source panics on its first two passes, then works.
        let pass = move |source: SourceConfig, _streak: Streak| {
            let seen = seen.clone();
            async move {
                let id = source.id.to_string();
                let n = {
                    let mut seen = seen.lock().unwrap();
                    seen.push(id.clone());
                    seen.iter().filter(|s| **s == id).count()
                };
                if id == "bad" && n <= 2 {
                    panic!("byte index 512 is not a char boundary");
                }
                Streak::default()
            }
        };
        let source = |id: &str| SourceConfig {
            id: crate::domain::SourceId::parse(id).unwrap(),
            poll_every: Duration::from_secs(60),
            ..SourceConfig::aitimes_briefing()
        };
        let (stop, stopped) = watch::channel(false);
        let task = tokio::spawn(supervise(
            vec![source("bad"), source("good")],
            pass,
            telemetry.clone(),
            stopped,
            Duration::from_secs(1),
        ));
        // Restarts wait 1 s, then 2 s; a minute later both sources have polled again.
        tokio::time::sleep(Duration::from_secs(65)).await;
        stop.send(true).unwrap();
        task.await.unwrap();

        let passes = passes.lock().unwrap().clone();
        let of = |id: &str| passes.iter().filter(|s| *s == id).count();
        assert_eq!(of("good"), 2, "{passes:?}");
        assert_eq!(
            of("bad"),
            4,
            "two panics, then a pass, and one a minute later: {passes:?}"
        );
        assert_eq!(
            telemetry.source_restarts("bad"),
            (2, Some("byte index 512 is not a char boundary".to_owned()))
        );
        assert_eq!(telemetry.source_restarts("good"), (0, None));
    }

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
