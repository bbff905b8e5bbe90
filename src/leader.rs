//! One process at a time polls the sources and posts the deliveries (README: Deployment): the
//! holder of the store's [`Lease`], a database row with an expiry that only a working holder renews
//! and a generation (the fencing token) that every write of the holder's work checks. Every process
//! tries to take it; the holder renews it every sixth of its length ([`LeaseSettings`]), and a
//! standby tries to take it as often once it has expired. So when the holder dies **or hangs**
//! (SIGSTOP, a blocked runtime, a paused machine, a partition from the database), another takes
//! over within the lease and a sixth (35 s by default), within the minute the takeover is promised
//! in (README: Deployment).
//!
//! A holder stops acting on its lease by its own clock half a lease after its last renewal
//! began, before the lease can expire in the database: it posts nothing more (checked before
//! every POST, also right after waking from a freeze), its scheduler and worker stop, and any
//! write of its work that still reaches the database is refused by the fencing token once
//! another process took the lease. A post it had begun is left in doubt and looked for by the
//! next holder (RELIABILITY.md). With one process on SQLite the lease is always granted.
//!
//! Only the holder posts, so all processes together stay within Discord's global rate limit
//! with the one process's pacing; each process still answers the interactions of its own
//! shards.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;

use crate::config::ConfigError;
use crate::store::{Lease, Store};
use crate::telemetry::Telemetry;

/// How long the lease lasts unless renewed, by default (`BRIEFBOT_LEASE_TTL`).
pub const LEASE_TTL: Duration = Duration::from_secs(30);
/// How often the holder renews its lease, and a standby tries to take it, with the default
/// lease.
pub const CHECK_EVERY: Duration = Duration::from_secs(5);

/// The lease's length, and from it how often it is renewed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LeaseSettings {
    pub ttl: Duration,
}

impl Default for LeaseSettings {
    fn default() -> Self {
        Self { ttl: LEASE_TTL }
    }
}

impl LeaseSettings {
    /// `BRIEFBOT_LEASE_TTL` (humantime, 3 s to 10 min; default 30 s): shorter for tests of a
    /// hung holder, longer for a database that may pause for longer than a lease.
    pub fn from_lookup(get: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let Some(value) = get("BRIEFBOT_LEASE_TTL").filter(|v| !v.trim().is_empty()) else {
            return Ok(Self::default());
        };
        match humantime::parse_duration(value.trim()) {
            Ok(ttl) if (Duration::from_secs(3)..=Duration::from_secs(600)).contains(&ttl) => {
                Ok(Self { ttl })
            }
            _ => Err(ConfigError {
                origin: "environment".into(),
                field: "BRIEFBOT_LEASE_TTL".into(),
                message: format!("'{value}' is not a duration from 3s to 10m (like 30s)"),
            }),
        }
    }

    /// How often the holder renews, and a standby tries: a sixth of the lease.
    pub fn check_every(&self) -> Duration {
        self.ttl / 6
    }
}

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

/// Takes and keeps the lease until `release` turns true, telling `Leadership` (and the
/// telemetry) whether this process leads. Returns the leadership to hand to the tasks that only
/// the leader runs. `release` should turn true only once those tasks have stopped (at
/// shutdown): the lease is then given up at once, and a standby takes over without waiting for
/// it to expire while a post of this process is still in flight.
pub fn hold(
    store: Store,
    telemetry: Arc<Telemetry>,
    settings: LeaseSettings,
    release: watch::Receiver<bool>,
) -> (Leadership, tokio::task::JoinHandle<()>) {
    let (tx, rx) = watch::channel(false);
    let task = tokio::spawn(keep(store, telemetry, settings, tx, release));
    (Leadership(rx), task)
}

async fn keep(
    store: Store,
    telemetry: Arc<Telemetry>,
    settings: LeaseSettings,
    leading: watch::Sender<bool>,
    mut release: watch::Receiver<bool>,
) {
    let every = settings.check_every();
    let mut waiting_logged = false;
    let mut failure: Option<String> = None;
    loop {
        if *release.borrow() {
            return;
        }
        // A database that does not answer must not keep a standby from trying again.
        let taken = match tokio::time::timeout(every, store.try_lease(settings.ttl)).await {
            Ok(taken) => taken.map_err(|e| e.to_string()),
            Err(_) => Err(format!("the database did not answer within {every:?}")),
        };
        match taken {
            Ok(Some(lease)) => {
                failure = None;
                waiting_logged = false;
                if store.engine() != "sqlite" {
                    tracing::info!(
                        generation = lease.generation(),
                        "this process now holds the scheduler lease: it polls the sources and posts"
                    );
                }
                telemetry.set_leading(true);
                let _ = leading.send(true);
                let lost = lead(lease, &mut release, every).await;
                telemetry.set_leading(false);
                let _ = leading.send(false);
                if !lost {
                    return;
                }
                tracing::warn!(
                    "the scheduler lease was lost (not renewed in time: this process hung or lost the database, or another took it); polling and posting stop until it is taken again"
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
            Err(error) => {
                if failure.as_deref() != Some(error.as_str()) {
                    tracing::warn!(%error, "cannot take the scheduler lease; trying again");
                }
                failure = Some(error);
            }
        }
        tokio::select! {
            _ = tokio::time::sleep(every) => {}
            _ = release.wait_for(|stop| *stop) => return,
        }
    }
}

/// Renews the lease every `every` until `release` (then gives it up: `false`) or until it is
/// lost (`true`).
async fn lead(mut lease: Lease, release: &mut watch::Receiver<bool>, every: Duration) -> bool {
    loop {
        let releasing = tokio::select! {
            _ = tokio::time::sleep(every) => false,
            // A closed channel releases too: nobody is left to say so.
            _ = release.wait_for(|stop| *stop) => true,
        };
        if releasing {
            lease.release().await;
            return false;
        }
        if !lease.renew().await {
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

    #[test]
    fn the_lease_length_is_read_from_the_environment_within_its_bounds() {
        let read = |v: &'static str| LeaseSettings::from_lookup(move |_| Some(v.to_owned()));
        assert_eq!(read("").unwrap().ttl, LEASE_TTL);
        assert_eq!(read("6s").unwrap().ttl, Duration::from_secs(6));
        assert_eq!(read("6s").unwrap().check_every(), Duration::from_secs(1));
        assert_eq!(LeaseSettings::default().check_every(), CHECK_EVERY);
        for bad in ["1s", "11m", "soon"] {
            let e = read(bad).unwrap_err();
            assert_eq!(e.field, "BRIEFBOT_LEASE_TTL", "{bad}");
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
