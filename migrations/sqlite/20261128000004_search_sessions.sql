-- /news search sessions: the ◀ ▶ buttons carry `ns:{id}:{page}` in their custom_id (at most 100
-- characters, too few for a 100-character query), so the query lives here and the buttons keep
-- working after a restart.
CREATE TABLE search_sessions (
    id         INTEGER PRIMARY KEY,
    user_id    INTEGER NOT NULL,
    query      TEXT NOT NULL,
    source_id  TEXT,
    total      INTEGER NOT NULL,   -- results when the search ran, to notice a changed result set
    created_at TEXT NOT NULL
);
