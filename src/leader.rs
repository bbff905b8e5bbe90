//! One process at a time polls the sources and posts the deliveries (SPEC §7): the holder of
//! the store's [`Lease`]. Every process tries to take it; the holder checks every
//! [`CHECK_EVERY`] that it still holds it, the others try again as often, so when the holder
//! dies (its connection closes, and with it the lock) another takes over within seconds, far
//! inside SPEC's minute. With one process on SQLite the lease is always granted, and nothing
//! waits.
//!
//! Only the holder posts, so all processes together stay within Discord's global rate limit
//! with the one process's pacing; each process still answers the interactions of its own
//! shards. A holder that loses the lease stops its scheduler and worker, which finish what is
//! in flight: a post it had begun is recorded, or is left in doubt and reconciled by the next
//! holder (SPEC §6), and on PostgreSQL a delivery it claimed is not taken by another process
//! until the claim expires.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;

use crate::store::{Lease, Store};
use crate::telemetry::Telemetry;

/// How often the holder checks its lease, and a standby tries to take it.
pub const CHECK_EVERY: Duration = Duration::from_secs(5);

/// Whether this process leads, as the tasks that only the leader runs watch it.
#[derive(Debug, Clone)]
pub struct Leadership(watch::Receiver<bool>);

impl Leadership {
    /// Leading from the start and for ever: one process that owns its database (and tests).
    pub fn always() -> Self {
        Self(watch::channel(true).1)
    }

    pub fn is_leading(&self) -> bool {
        *self.0.borrow()
    }

    /// Leading until `leading` says otherwise (for tests of a lease changing hands).
    pub fn from_channel(leading: watch::Receiver<bool>) -> Self {
        Self(leading)
    }

    /// Waits until this process leads; then returns a signal that turns true when it no longer
    /// does or `shutdown` turns true, for the task to stop on. `None` when `shutdown` came
    /// first.
    pub async fn gate(
        &mut self,
        shutdown: &mut watch::Receiver<bool>,
    ) -> Option<watch::Receiver<bool>> {
        let leads = tokio::select! {
            biased;
            _ = shutdown.wait_for(|stop| *stop) => return None,
            leading = self.0.wait_for(|leading| *leading) => leading.is_ok(),
        };
        if !leads && !*self.0.borrow() {
            // The lease holder ended without leading: nothing to run.
            let _ = shutdown.wait_for(|stop| *stop).await;
            return None;
        }
        let (stop_tx, stop_rx) = watch::channel(false);
        let mut leading = self.0.clone();
        let mut shutdown = shutdown.clone();
        tokio::spawn(async move {
            // A leadership nobody can change any more (`always`, or the lease holder gone while
            // leading) never ends: only a change to "not leading" stops the task.
            let lost = async {
                if leading.wait_for(|leading| !*leading).await.is_err() {
                    std::future::pending::<()>().await;
                }
            };
            let shut = async {
                if shutdown.wait_for(|stop| *stop).await.is_err() {
                    std::future::pending::<()>().await;
                }
            };
            tokio::select! {
                () = shut => {}
                () = lost => {}
                () = stop_tx.closed() => {}
            }
            let _ = stop_tx.send(true);
        });
        Some(stop_rx)
    }
}

/// Takes and keeps the lease until `shutdown`, telling `Leadership` (and the telemetry) whether
/// this process leads. Returns the leadership to hand to the tasks that only the leader runs.
pub fn hold(
    store: Store,
    telemetry: Arc<Telemetry>,
    shutdown: watch::Receiver<bool>,
) -> (Leadership, tokio::task::JoinHandle<()>) {
    let (tx, rx) = watch::channel(false);
    let task = tokio::spawn(keep(store, telemetry, tx, shutdown));
    (Leadership(rx), task)
}

async fn keep(
    store: Store,
    telemetry: Arc<Telemetry>,
    leading: watch::Sender<bool>,
    mut shutdown: watch::Receiver<bool>,
) {
    let mut waiting_logged = false;
    let mut failure: Option<String> = None;
    loop {
        if *shutdown.borrow() {
            return;
        }
        match store.try_lease().await {
            Ok(Some(lease)) => {
                failure = None;
                waiting_logged = false;
                if store.engine() != "sqlite" {
                    tracing::info!(
                        "this process now holds the scheduler lease: it polls the sources and posts"
                    );
                }
                telemetry.set_leading(true);
                let _ = leading.send(true);
                let lost = lead(lease, &mut shutdown).await;
                telemetry.set_leading(false);
                let _ = leading.send(false);
                if !lost {
                    return;
                }
                tracing::warn!(
                    "the scheduler lease was lost (its database connection ended); polling and posting stop until it is taken again"
                );
            }
            Ok(None) => {
                failure = None;
                if !waiting_logged {
                    tracing::info!(
                        "another process holds the scheduler lease: this one answers its shards' interactions and stands by"
                    );
                    waiting_logged = true;
                }
            }
            Err(e) => {
                let error = e.to_string();
                if failure.as_deref() != Some(error.as_str()) {
                    tracing::warn!(%error, "cannot take the scheduler lease; trying again");
                }
                failure = Some(error);
            }
        }
        tokio::select! {
            _ = tokio::time::sleep(CHECK_EVERY) => {}
            _ = shutdown.wait_for(|stop| *stop) => return,
        }
    }
}

/// Holds the lease until shutdown (then releases it: `false`) or until it is lost (`true`).
async fn lead(mut lease: Lease, shutdown: &mut watch::Receiver<bool>) -> bool {
    loop {
        let stopping = tokio::select! {
            _ = tokio::time::sleep(CHECK_EVERY) => false,
            // A closed channel stops too: nobody is left to say stop.
            _ = shutdown.wait_for(|stop| *stop) => true,
        };
        if stopping {
            lease.release().await;
            return false;
        }
        if !lease.held(CHECK_EVERY).await {
            return true;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Runs `gate` and counts how often the gated task starts in `for_ms`.
    async fn starts(
        mut leadership: Leadership,
        shutdown: watch::Receiver<bool>,
        for_ms: u64,
    ) -> u32 {
        let mut shutdown = shutdown;
        let mut starts = 0;
        let deadline = tokio::time::Instant::now() + Duration::from_millis(for_ms);
        loop {
            let gated = tokio::time::timeout_at(deadline, leadership.gate(&mut shutdown)).await;
            let Ok(Some(mut stop)) = gated else {
                return starts;
            };
            starts += 1;
            if tokio::time::timeout_at(deadline, stop.wait_for(|s| *s))
                .await
                .is_err()
            {
                return starts;
            }
        }
    }

    #[tokio::test]
    async fn a_task_that_always_leads_starts_once_and_runs_until_shutdown() {
        let (_stop, shutdown) = watch::channel(false);
        // Before: the closed channel of `always` read as "no longer leading", and the task was
        // stopped and started again in a busy loop.
        assert_eq!(starts(Leadership::always(), shutdown, 200).await, 1);
    }

    #[tokio::test]
    async fn losing_and_regaining_the_lease_stops_and_restarts_the_task() {
        let (stop, shutdown) = watch::channel(false);
        let (leading, rx) = watch::channel(false);
        let mut leadership = Leadership::from_channel(rx);
        let mut shut = shutdown.clone();
        let waiting = tokio::time::timeout(Duration::from_millis(50), leadership.gate(&mut shut));
        assert!(waiting.await.is_err(), "not leading: the task waits");
        leading.send(true).unwrap();
        let mut run = leadership
            .gate(&mut shut)
            .await
            .expect("leading: the task runs");
        assert!(!*run.borrow());
        leading.send(false).unwrap();
        run.wait_for(|s| *s).await.unwrap();
        leading.send(true).unwrap();
        let mut again = leadership.gate(&mut shut).await.expect("leading again");
        stop.send(true).unwrap();
        again.wait_for(|s| *s).await.unwrap();
        assert!(leadership.gate(&mut shut).await.is_none(), "shut down");
    }
}
