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
