//! The worker loop around [`Deliverer::step`], and its supervisor.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;
use tokio::time::Instant;

use super::{Deliverer, Step};
use crate::store::{self, StoreError};
use crate::telemetry::Telemetry;

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

/// How often the outbox and the other tables are pruned ([`crate::store::Store::prune`]).
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
}
