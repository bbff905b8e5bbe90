-- List entries whose issue page failed, each with its own backoff, so one bad entry neither
-- slows its source down nor is fetched on every pass for ever: after MAX_ENTRY_FAILURES it is
-- given up (logged once, shown in /status).
CREATE TABLE entry_failures (
    url          TEXT PRIMARY KEY,          -- the entry's canonical URL
    source_id    TEXT NOT NULL,
    title        TEXT NOT NULL,
    failures     INTEGER NOT NULL,
    last_error   TEXT NOT NULL,
    first_failed_at TEXT NOT NULL,
    next_try_at  TEXT NOT NULL,
    given_up_at  TEXT
);
CREATE INDEX entry_failures_by_source ON entry_failures (source_id);
