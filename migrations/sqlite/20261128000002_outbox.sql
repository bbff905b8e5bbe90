-- Channel subscriptions and the delivery outbox. A delivery row is written in the same
-- transaction that stores its issue; the delivery worker posts it and records each part, so a
-- process killed at any moment posts each pending delivery exactly once after a restart.

CREATE TABLE subscriptions (
    id           INTEGER PRIMARY KEY,
    guild_id     INTEGER NOT NULL,
    channel_id   INTEGER NOT NULL,
    source_key   TEXT NOT NULL,              -- a source id, or '*' for every source
    keywords     TEXT,                       -- comma-separated; NULL for every item
    created_by   INTEGER NOT NULL,
    created_at   TEXT NOT NULL,
    paused_at    TEXT,                       -- set when Discord refuses the channel (403/404)
    pause_reason TEXT,
    UNIQUE (channel_id, source_key)
);
CREATE INDEX subscriptions_by_guild ON subscriptions (guild_id);

CREATE TABLE deliveries (
    id              INTEGER PRIMARY KEY,
    subscription_id INTEGER REFERENCES subscriptions (id) ON DELETE SET NULL,
    channel_id      INTEGER NOT NULL,
    issue_id        INTEGER NOT NULL REFERENCES issues (id) ON DELETE CASCADE,
    kind            TEXT NOT NULL CHECK (kind IN ('new', 'repost')),
    keywords        TEXT,                    -- the subscription's filter when it was written
    status          TEXT NOT NULL DEFAULT 'pending'
                    CHECK (status IN ('pending', 'sent', 'skipped', 'failed', 'cancelled')),
    attempts        INTEGER NOT NULL DEFAULT 0,
    not_before      TEXT NOT NULL,
    parts_sent      INTEGER NOT NULL DEFAULT 0,  -- messages of this delivery already posted
    last_error      TEXT,
    created_at      TEXT NOT NULL,
    finished_at     TEXT
);
-- A channel gets each issue once; only /repost posts again.
CREATE UNIQUE INDEX deliveries_new_once ON deliveries (channel_id, issue_id) WHERE kind = 'new';
CREATE INDEX deliveries_due ON deliveries (status, not_before);

-- Which stories (dedup::story ids of brief items) a channel received, for leaving out items it
-- already has.
CREATE TABLE channel_stories (
    channel_id INTEGER NOT NULL,
    story_id   INTEGER NOT NULL,
    posted_at  TEXT NOT NULL,
    PRIMARY KEY (channel_id, story_id)
);
