//! What the process counts, and what it knows of its gateway connection, for the operator's
//! endpoint ([`crate::http`]). One [`Telemetry`] is shared by the bot, the delivery worker and
//! the scheduler; counting is a relaxed atomic add.

use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};

use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;

/// Metric labels: name and value pairs.
pub type Labels = Vec<(&'static str, String)>;

#[derive(Debug, Default)]
pub struct Telemetry {
    connected: AtomicBool,
    /// Discord answered 401 to a post: the token was reset or revoked; nothing is posted.
    unauthorized: AtomicBool,
    /// Messages posted to channels (each part of a delivery is one).
    pub messages_posted: Counter,
    /// 429 Too Many Requests answers from Discord to posts.
    pub rate_limited: Counter,
    /// Looks for an in-doubt part among a channel's messages (each is one or more reads).
    pub reconciliations: Counter,
    /// Interactions handled, by `type`: `command`, `autocomplete`, `component` (or `other`).
    pub interactions: Family<Labels, Counter>,
    /// Scrape passes, by `source` and `outcome`: `ok` or `error`.
    pub scrapes: Family<Labels, Counter>,
    /// Restarts of a source's polling loop that ended abnormally, by `source`.
    pub source_restarts: Family<Labels, Counter>,
    /// Why each source's loop last ended abnormally (a std mutex: held for a lookup, never
    /// across an await).
    restart_reasons: Mutex<HashMap<String, String>>,
    /// Restarts of the delivery worker after it ended abnormally (a panic).
    pub worker_restarts: Counter,
    /// Why the delivery worker last ended abnormally.
    worker_restart_reason: Mutex<Option<String>>,
    /// The gateway shards this process runs: first, last, total (known once the gateway starts).
    shards: Mutex<Option<[u32; 3]>>,
    /// Whether this process holds the scheduler lease.
    leading: AtomicBool,
}

impl Telemetry {
    /// Connected and identified: READY received, and the shard connected when last looked at
    /// (at most a second ago).
    pub fn connected(&self) -> bool {
        self.connected.load(Ordering::Relaxed)
    }

    pub(crate) fn set_shards(&self, first: u32, last: u32, total: u32) {
        *self.shards.lock().unwrap_or_else(|p| p.into_inner()) = Some([first, last, total]);
    }

    /// This process's gateway shards, `[first, last, total]`, once the gateway has started.
    pub fn shards(&self) -> Option<[u32; 3]> {
        *self.shards.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Whether this process holds the scheduler lease: it polls the sources and posts.
    pub fn leading(&self) -> bool {
        self.leading.load(Ordering::Relaxed)
    }

    pub(crate) fn set_leading(&self, leading: bool) {
        self.leading.store(leading, Ordering::Relaxed);
    }

    pub(crate) fn set_connected(&self, connected: bool) {
        self.connected.store(connected, Ordering::Relaxed);
    }

    /// Whether Discord rejected the bot's token (401) since the process started.
    pub fn unauthorized(&self) -> bool {
        self.unauthorized.load(Ordering::Relaxed)
    }

    pub(crate) fn set_unauthorized(&self) {
        self.unauthorized.store(true, Ordering::Relaxed);
    }

    /// Counts an interaction of `kind` (`command`, `autocomplete`, `component`).
    pub fn interaction(&self, kind: &'static str) {
        self.interactions
            .get_or_create(&vec![("type", kind.to_owned())])
            .inc();
    }

    /// Records that `source`'s polling loop ended abnormally (`why`) and is restarted.
    pub fn source_restarted(&self, source: &str, why: &str) {
        self.source_restarts
            .get_or_create(&vec![("source", source.to_owned())])
            .inc();
        if let Ok(mut reasons) = self.restart_reasons.lock() {
            reasons.insert(source.to_owned(), why.to_owned());
        }
    }

    /// How often `source`'s loop was restarted since the process started, and why it last was.
    pub fn source_restarts(&self, source: &str) -> (u64, Option<String>) {
        let labels = vec![("source", source.to_owned())];
        let count = self.source_restarts.get(&labels).map_or(0, |c| c.get());
        let why = self
            .restart_reasons
            .lock()
            .ok()
            .and_then(|r| r.get(source).cloned());
        (count, why)
    }

    /// Records that the delivery worker ended abnormally (`why`) and is restarted.
    pub fn worker_restarted(&self, why: &str) {
        self.worker_restarts.inc();
        if let Ok(mut reason) = self.worker_restart_reason.lock() {
            *reason = Some(why.to_owned());
        }
    }

    /// How often the delivery worker was restarted since the process started, and why it last
    /// was.
    pub fn worker_restarts(&self) -> (u64, Option<String>) {
        let why = self
            .worker_restart_reason
            .lock()
            .ok()
            .and_then(|r| r.clone());
        (self.worker_restarts.get(), why)
    }

    /// Counts a scrape pass of `source`.
    pub fn scrape(&self, source: &str, ok: bool) {
        let outcome = if ok { "ok" } else { "error" };
        self.scrapes
            .get_or_create(&vec![
                ("source", source.to_owned()),
                ("outcome", outcome.to_owned()),
            ])
            .inc();
    }
}
