-- The scrape pipeline: sources, issues and their brief items, the URLs each issue was seen at,
-- HTTP validators for conditional GET, and the near-duplicate index.

CREATE TABLE sources (
    id                   TEXT PRIMARY KEY,
    name                 TEXT NOT NULL,
    last_attempt_at      TEXT,
    last_success_at      TEXT,
    last_error           TEXT,
    last_error_at        TEXT,
    consecutive_failures INTEGER NOT NULL DEFAULT 0
);

CREATE TABLE http_validators (
    url           TEXT PRIMARY KEY,
    etag          TEXT,
    last_modified TEXT,
    updated_at    TEXT NOT NULL
);

CREATE TABLE issues (
    id            INTEGER PRIMARY KEY,
    source_id     TEXT NOT NULL,
    url           TEXT NOT NULL UNIQUE,      -- canonical URL
    title         TEXT NOT NULL,
    published_at  TEXT,                      -- UTC; NULL when the page and list gave none
    first_seen_at TEXT NOT NULL,
    lead          TEXT NOT NULL,
    body_text     TEXT NOT NULL,             -- the whole main text, one paragraph a line
    content_hash  TEXT NOT NULL UNIQUE,      -- dedup::content_hash
    page_url      TEXT NOT NULL,             -- where the page was fetched
    page_html     TEXT NOT NULL,             -- the page as fetched (decoded), to re-parse later
    page_format   TEXT NOT NULL              -- the source format it was parsed with
);
CREATE INDEX issues_by_time ON issues (COALESCE(published_at, first_seen_at));
CREATE INDEX issues_by_source_time ON issues (source_id, COALESCE(published_at, first_seen_at));

-- Every canonical URL an issue was seen at: its own, list/feed links, republished copies.
CREATE TABLE issue_urls (
    url           TEXT PRIMARY KEY,
    issue_id      INTEGER NOT NULL REFERENCES issues (id) ON DELETE CASCADE,
    source_id     TEXT NOT NULL,
    first_seen_at TEXT NOT NULL
);
CREATE INDEX issue_urls_by_issue ON issue_urls (issue_id);

CREATE TABLE briefs (
    id           INTEGER PRIMARY KEY,
    issue_id     INTEGER NOT NULL REFERENCES issues (id) ON DELETE CASCADE,
    position     INTEGER NOT NULL,
    headline     TEXT NOT NULL,
    summary      TEXT NOT NULL,
    headline_key TEXT NOT NULL,              -- dedup::headline_key
    story_id     INTEGER NOT NULL,           -- id of the first brief telling this news (itself when new)
    UNIQUE (issue_id, position)
);
CREATE INDEX briefs_by_headline_key ON briefs (headline_key);
CREATE INDEX briefs_by_story ON briefs (story_id);

-- MinHash LSH band keys (dedup::band_keys) of issues and briefs.
CREATE TABLE similarity_bands (
    kind    TEXT NOT NULL CHECK (kind IN ('issue', 'brief')),
    band    INTEGER NOT NULL,
    item_id INTEGER NOT NULL,
    PRIMARY KEY (kind, band, item_id)
) WITHOUT ROWID;
