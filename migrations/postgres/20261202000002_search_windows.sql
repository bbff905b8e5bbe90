-- Where the newest documents begin. A search ranks its newest RANKED matches; a word found in
-- one document of ten at 1,000,000 documents has 100,000 matches, and reading every one of them
-- to sort them by time is what made such searches slow. So a search first looks for its matches
-- among the newest documents only, in a window of `size` documents: `since` is the `at` of the
-- document that had `size` documents at or after it when the window was last measured (NULL
-- while the index holds fewer). If the window holds RANKED matches or more, they are the newest
-- RANKED overall, however old the measurement: every document outside it is older than every
-- one inside. If not, the search widens to a larger window or the whole index. Measurements are
-- refreshed as the index grows (`measured` is `search_stats.documents` when last measured).
CREATE TABLE search_windows (
    size     BIGINT PRIMARY KEY CHECK (size > 0),
    since    TIMESTAMPTZ,
    measured BIGINT NOT NULL DEFAULT 0
);
INSERT INTO search_windows (size) VALUES (4096), (16384), (65536), (262144);

-- One GIN index over a document's time and its terms (btree_gin, a standard contrib module,
-- indexes the time), so that the index itself intersects a window with a query's terms: only
-- the matches inside the window are read from the table. With the terms alone, the index gives
-- every match of a common word and the table is read for each before the window can drop it.
-- Without the pending list (fastupdate), so that a search never scans recent entries unsorted;
-- indexing is slower, and it happens a few times a day.
CREATE EXTENSION IF NOT EXISTS btree_gin;
DROP INDEX search_index_terms;
CREATE INDEX search_index_at_terms ON search_index USING GIN (at, terms) WITH (fastupdate = off);
