//! From a source's list page to stored issues: fetch the list (conditionally), pick the
//! entries that are issues and not yet known, fetch and parse each, and let the store decide
//! whether it is new.

pub mod article;
pub mod brief;
pub mod charset;
pub mod fetch;
#[cfg(feature = "testing")]
pub mod fuzzing;
pub mod guard;
pub mod html;
pub mod listing;
pub mod meta;
pub mod tame;

use std::time::Duration;

use chrono::Utc;
use tokio::sync::Semaphore;

use crate::config::SourceConfig;
use crate::domain::{CanonicalUrl, Format, Issue, SourceId};
use crate::store::{self, Recorded, SourcePage, Store, StoreError};
use article::{ParseError, parse_article};
use fetch::{FetchError, Fetched, Fetcher};
use listing::{ListEntry, ListingError, parse_listing};

/// An issue page fetched in this pass that was not known by URL before.
#[derive(Debug, Clone)]
pub struct ScrapedIssue {
    pub source: SourceId,
    pub issue: Issue,
    /// The stored issue this one repeats (same content at another URL or source).
    pub duplicate_of: Option<CanonicalUrl>,
    /// Its id in the store, unless this was a dry run.
    pub id: Option<i64>,
}

/// What one pass over one source found.
#[derive(Debug, Clone, Default)]
pub struct SourceReport {
    pub issues: Vec<ScrapedIssue>,
    /// The list page answered 304: nothing changed since the last pass.
    pub not_modified: bool,
    /// Entries that could not be fetched or parsed; each is tried again after its own backoff
    /// (the first time on the next pass) and given up after repeated failures.
    pub entry_errors: Vec<String>,
}

/// A pass over a source that failed as a whole.
#[derive(Debug, thiserror::Error)]
pub enum ScrapeError {
    #[error("list page {0}")]
    Fetch(#[from] FetchError),
    #[error("list page {url}: {error}")]
    Listing { url: String, error: ListingError },
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Why one entry's page did not become an issue.
#[derive(Debug, thiserror::Error)]
enum EntryError {
    #[error(transparent)]
    Fetch(#[from] FetchError),
    #[error("{url}: {error}")]
    Parse { url: String, error: ParseError },
}

/// Scrapes sources into a store.
#[derive(Debug, Clone)]
pub struct Scraper {
    fetcher: Fetcher,
    store: Store,
}

impl Scraper {
    pub fn new(fetcher: Fetcher, store: Store) -> Self {
        Self { fetcher, store }
    }

    pub fn store(&self) -> &Store {
        &self.store
    }

    /// One pass over `source`. With `dry_run`, nothing is written: duplicates are still
    /// recognised against what is stored.
    pub async fn scrape_source(
        &self,
        source: &SourceConfig,
        dry_run: bool,
    ) -> Result<SourceReport, ScrapeError> {
        if !dry_run {
            self.store.upsert_source(&source.id, &source.name).await?;
        }
        let result = self.pass(source, dry_run).await;
        if !dry_run {
            let at = store::now();
            match &result {
                // The list was read: the source works. Failing entries back off on their own
                // (`entry_failures`), so one bad entry does not slow its source down.
                Ok(_) => self.store.record_scrape_success(&source.id, at).await?,
                Err(e) => {
                    self.store
                        .record_scrape_failure(&source.id, at, &e.to_string())
                        .await?;
                }
            }
        }
        result
    }

    async fn pass(
        &self,
        source: &SourceConfig,
        dry_run: bool,
    ) -> Result<SourceReport, ScrapeError> {
        let list_key = source.list_url.as_str();
        let validators = self.store.validators(list_key).await?;
        let fetcher = self
            .fetcher
            .for_source(&source.list_url, source.allow_private)
            .await;
        let page = match fetcher.get(&source.list_url, validators.as_ref()).await? {
            Fetched::NotModified => {
                tracing::debug!(source = %source.id, "list page not modified");
                return Ok(SourceReport {
                    not_modified: true,
                    ..SourceReport::default()
                });
            }
            Fetched::Page(page) => page,
        };
        let entries = parse_list(page.text.clone(), page.url.clone(), source.format)
            .await
            .map_err(|error| ScrapeError::Listing {
                url: page.url.to_string(),
                error,
            })?;
        let mut report = SourceReport::default();
        // The newest issues a list shows, at most MAX_ENTRIES (lists and feeds put the newest
        // first): a feed of a thousand items must not become a thousand fetches in one pass, and
        // what is older than that is older than any catch-up posts anyway.
        let wanted: Vec<&ListEntry> = entries
            .iter()
            .filter(|e| source.accepts_title(&e.title))
            .take(MAX_ENTRIES)
            .collect();
        // Oldest first, so issues are stored (and later posted) in publishing order.
        for entry in wanted.into_iter().rev() {
            if self.store.issue_for_url(&entry.url).await?.is_some() {
                continue;
            }
            // A failing entry waits for its own next try; one given up is not tried again.
            let failed = self.store.entry_failure(entry.url.as_str()).await?;
            if !dry_run
                && failed
                    .as_ref()
                    .is_some_and(|f| f.given_up_at.is_some() || f.next_try_at > store::now())
            {
                continue;
            }
            match self.fetch_issue(&fetcher, source, entry).await {
                Ok((issue, page)) => {
                    let scraped = self.record(source, entry, issue, &page, dry_run).await?;
                    if !dry_run && failed.is_some() {
                        self.store.clear_entry_failure(entry.url.as_str()).await?;
                    }
                    report.issues.push(scraped);
                }
                Err(e) => {
                    report.entry_errors.push(e.to_string());
                    if dry_run {
                        continue;
                    }
                    let f = self
                        .store
                        .record_entry_failure(
                            source.id.as_str(),
                            entry.url.as_str(),
                            &entry.title,
                            &e.to_string(),
                            source.poll_every,
                            store::now(),
                        )
                        .await?;
                    // Logged when it starts and when it is given up; the retries between at debug.
                    if f.given_up_at.is_some() {
                        tracing::error!(source = %source.id, url = %entry.url, failures = f.failures, error = %e, "issue page given up after repeated failures; see /status");
                    } else if f.failures == 1 {
                        tracing::warn!(source = %source.id, url = %entry.url, next_try = %f.next_try_at, error = %e, "issue page failed; tried again later");
                    } else {
                        tracing::debug!(source = %source.id, url = %entry.url, failures = f.failures, next_try = %f.next_try_at, error = %e, "issue page failed again");
                    }
                }
            }
        }
        // Remember the list's validators only while no failed entry waits for another try, so
        // such an entry is retried even if the list page would then answer 304.
        if !dry_run && !self.store.entries_to_retry(source.id.as_str()).await? {
            self.store
                .save_validators(list_key, &page.validators)
                .await?;
        }
        Ok(report)
    }

    async fn fetch_issue(
        &self,
        fetcher: &Fetcher,
        source: &SourceConfig,
        entry: &ListEntry,
    ) -> Result<(Issue, fetch::Page), EntryError> {
        let page = match fetcher.get(entry.url.as_url(), None).await? {
            Fetched::Page(page) => page,
            // Never without validators; a server that does it anyway gets an error, not a panic.
            Fetched::NotModified => {
                return Err(EntryError::Fetch(FetchError::Status {
                    url: entry.url.as_url().clone(),
                    status: reqwest::StatusCode::NOT_MODIFIED,
                }));
            }
        };
        let issue = parse_issue(
            page.text.clone(),
            page.url.clone(),
            source.format,
            Some(entry.clone()),
        )
        .await
        .map_err(|error| EntryError::Parse {
            url: entry.url.to_string(),
            error,
        })?;
        Ok((issue, page))
    }

    async fn record(
        &self,
        source: &SourceConfig,
        entry: &ListEntry,
        issue: Issue,
        page: &fetch::Page,
        dry_run: bool,
    ) -> Result<ScrapedIssue, StoreError> {
        let seen_at = [&entry.url];
        let (id, duplicate_of) = if dry_run {
            let dup = self.store.find_duplicate(&issue, &seen_at).await?;
            (None, dup.map(|(_, url)| url))
        } else {
            let stored = SourcePage {
                url: page.url.as_str(),
                html: &page.text,
                format: &source.format.to_string(),
            };
            match self
                .store
                .record_issue(&source.id, &issue, &seen_at, &stored)
                .await?
            {
                Recorded::New { id } => (Some(id), None),
                Recorded::Duplicate { id, url } => (Some(id), Some(url)),
            }
        };
        if let Some(of) = &duplicate_of {
            tracing::info!(source = %source.id, url = %issue.url, duplicate_of = %of, "issue seen before");
        } else {
            tracing::info!(source = %source.id, url = %issue.url, items = issue.briefs.len(), "new issue");
        }
        Ok(ScrapedIssue {
            source: source.id.clone(),
            issue,
            duplicate_of,
            id,
        })
    }
}

/// The most list entries one pass looks at: the first (newest) that pass the title filter.
pub const MAX_ENTRIES: usize = 50;

/// How long parsing one page may take before it is an error instead of a stall. Pages are
/// bounded in size and nesting ([`tame`]), so no page should come near it; it is the backstop.
pub const PARSE_BUDGET: Duration = Duration::from_secs(10);

/// Pages parsed at once, at most: parsing runs on blocking threads, never on the async
/// runtime's workers (where a slow page would stop the gateway's heartbeats, interactions and
/// deliveries), and at most this many of those threads parse at a time.
pub const PARSERS: usize = 2;

static PARSE_SLOTS: Semaphore = Semaphore::const_new(PARSERS);

/// Why work sent off the runtime did not come back.
#[derive(Debug)]
enum Offloaded {
    TooSlow(Duration),
    Panicked(String),
}

/// Runs `work` on a blocking thread, one of at most [`PARSERS`], and waits for it at most
/// `budget`. Past the budget the caller gets an error at once; the thread finishes on its own
/// (holding its slot, so a run of slow pages cannot pile threads up).
async fn offload<T: Send + 'static>(
    budget: Duration,
    work: impl FnOnce() -> T + Send + 'static,
) -> Result<T, Offloaded> {
    let slot = PARSE_SLOTS
        .acquire()
        .await
        .expect("the parser slots are never closed");
    let task = tokio::task::spawn_blocking(move || {
        let _slot = slot;
        work()
    });
    match tokio::time::timeout(budget, task).await {
        Ok(Ok(value)) => Ok(value),
        Ok(Err(join)) => Err(Offloaded::Panicked(crate::schedule::why_task_ended(join))),
        Err(_) => Err(Offloaded::TooSlow(budget)),
    }
}

/// [`issue_from_page`] off the async runtime, within [`PARSE_BUDGET`].
pub async fn parse_issue(
    text: String,
    url: url::Url,
    format: Format,
    entry: Option<ListEntry>,
) -> Result<Issue, ParseError> {
    offload(PARSE_BUDGET, move || {
        issue_from_page(&text, &url, format, entry.as_ref())
    })
    .await
    .unwrap_or_else(|e| {
        Err(match e {
            Offloaded::TooSlow(d) => ParseError::TooSlow(d),
            Offloaded::Panicked(why) => ParseError::Panicked(why),
        })
    })
}

/// [`parse_listing`] off the async runtime, within [`PARSE_BUDGET`].
pub async fn parse_list(
    text: String,
    url: url::Url,
    format: Format,
) -> Result<Vec<ListEntry>, ListingError> {
    offload(PARSE_BUDGET, move || {
        parse_listing(&text, &url, format, Utc::now())
    })
    .await
    .unwrap_or_else(|e| {
        Err(match e {
            Offloaded::TooSlow(d) => ListingError::TooSlow(d),
            Offloaded::Panicked(why) => ListingError::Panicked(why),
        })
    })
}

/// Parses an issue page as the scraper does. `entry` (from the list page or feed) fills in
/// the title, publish time and lead the page lacks.
pub fn issue_from_page(
    text: &str,
    url: &url::Url,
    format: Format,
    entry: Option<&ListEntry>,
) -> Result<Issue, ParseError> {
    let article_format = match format {
        Format::Rss => Format::Auto,
        other => other,
    };
    let article = parse_article(text, url, article_format)?;
    let mut issue = article.into_issue(entry.map(|e| e.title.as_str()))?;
    if let Some(entry) = entry {
        issue.published_at = issue.published_at.or(entry.published_at);
        if issue.lead.is_empty()
            && let Some(summary) = &entry.summary
        {
            issue.lead = summary.clone();
        }
    }
    Ok(issue)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};

    /// A slow parse must neither hold up the runtime's worker (one worker here: if parsing ran
    /// on it, the ticker could not tick) nor make its caller wait past the budget.
    #[tokio::test(flavor = "current_thread")]
    async fn slow_parsing_runs_off_the_runtime_and_ends_at_its_budget() {
        let ticks = Arc::new(AtomicUsize::new(0));
        let counter = ticks.clone();
        let ticker = tokio::spawn(async move {
            loop {
                tokio::time::sleep(Duration::from_millis(10)).await;
                counter.fetch_add(1, Ordering::Relaxed);
            }
        });
        let started = std::time::Instant::now();
        let slow = offload(Duration::from_millis(300), || {
            std::thread::sleep(Duration::from_millis(900));
        })
        .await;
        let waited = started.elapsed();
        ticker.abort();

        assert!(matches!(slow, Err(Offloaded::TooSlow(_))), "{slow:?}");
        assert!(waited < Duration::from_millis(800), "waited {waited:?}");
        assert!(
            ticks.load(Ordering::Relaxed) >= 10,
            "the runtime was blocked: {} ticks",
            ticks.load(Ordering::Relaxed)
        );
        // The slow thread holds its slot until it ends; then the slot is free again (other
        // tests may hold one for a moment, so wait for it).
        let deadline = std::time::Instant::now() + Duration::from_secs(5);
        while PARSE_SLOTS.available_permits() < PARSERS {
            assert!(
                std::time::Instant::now() < deadline,
                "a slot was never given back"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    #[tokio::test]
    async fn a_parser_that_panics_is_an_error_of_that_page() {
        let got = offload(PARSE_BUDGET, || -> u32 { panic!("index out of bounds") }).await;
        assert!(
            matches!(&got, Err(Offloaded::Panicked(why)) if why == "index out of bounds"),
            "{got:?}"
        );
        let err = parse_issue(
            "<html><body><p>짧은 본문</p></body></html>".into(),
            url::Url::parse("https://example.com/a").unwrap(),
            Format::Auto,
            None,
        )
        .await
        .unwrap_err();
        assert_eq!(err, ParseError::NoTitle);
    }
}
