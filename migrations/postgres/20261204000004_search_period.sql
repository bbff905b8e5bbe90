-- The search index rewritten for a search's two costs at 1,000,000 briefs
-- (src/store/postgres/search.rs; BENCHMARKS.md has the measurements).
--
-- 1. A window of the newest documents is found by its period, not by a range of times. The GIN
--    index over (at, terms) answered `at >= since` as a range of `at` entries, and GIN gathers
--    every document of a range into a bitmap before it intersects it with the terms. `period`
--    holds a document's year, month and day (UTC) as three lexemes, and a window is the few of
--    them that cover it (`period_cover`: the days left in the month it begins in, the months
--    left in that year, then whole years), plain entries that GIN steps through beside the
--    query's, skipping to the documents both hold. `at >= since` is still checked, on the
--    documents of the window's first day that are older than it.
-- 2. `terms` kept in the row (STORAGE MAIN). A document's vector is some 2.2 KB, and PostgreSQL
--    kept each out of line, in the TOAST table, from 2 KB: ranking a search's 1,000 candidates
--    read each through the TOAST index, 5.5 µs a vector, more than half of a search. In the row
--    it costs 1 µs.
--
-- The rows are copied into a new table rather than updated in place: an update would leave the
-- old vectors' 2.6 GB (at 1,000,000 briefs) behind in the TOAST table, where nothing reuses it.
CREATE FUNCTION search_period(at TIMESTAMPTZ) RETURNS TSVECTOR
LANGUAGE sql STABLE PARALLEL SAFE AS $$
    SELECT array_to_tsvector(ARRAY[
        to_char(at AT TIME ZONE 'UTC', '"y"YYYY'),
        to_char(at AT TIME ZONE 'UTC', '"m"YYYY-MM'),
        to_char(at AT TIME ZONE 'UTC', '"d"YYYY-MM-DD')])
$$;

CREATE TABLE search_index_new (
    seq         BIGINT GENERATED ALWAYS AS IDENTITY,
    doc         BIGINT NOT NULL,
    source      TEXT NOT NULL,
    at          TIMESTAMPTZ NOT NULL,
    terms_count BIGINT NOT NULL,
    terms       TSVECTOR NOT NULL,
    period      TSVECTOR NOT NULL
);
ALTER TABLE search_index_new ALTER COLUMN terms SET STORAGE MAIN;
INSERT INTO search_index_new (seq, doc, source, at, terms_count, terms, period)
OVERRIDING SYSTEM VALUE
SELECT seq, doc, source, at, terms_count, terms, search_period(at)
FROM search_index ORDER BY seq;
SELECT setval(pg_get_serial_sequence('search_index_new', 'seq'),
              COALESCE((SELECT max(seq) FROM search_index_new), 0) + 1, false);
DROP TABLE search_index;
ALTER TABLE search_index_new RENAME TO search_index;
ALTER SEQUENCE search_index_new_seq_seq RENAME TO search_index_seq_seq;

SET LOCAL maintenance_work_mem = '256MB';
ALTER TABLE search_index ADD CONSTRAINT search_index_pkey PRIMARY KEY (seq);
ALTER TABLE search_index ADD CONSTRAINT search_index_doc_key UNIQUE (doc);
CREATE INDEX search_index_by_time ON search_index (at DESC, seq DESC);
CREATE INDEX search_index_terms_period ON search_index USING GIN (terms, period)
    WITH (fastupdate = off);
