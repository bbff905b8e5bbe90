-- The stored briefs a new brief is compared with (`BackendContract::story_candidates`), in this
-- order: the oldest `p_by_headline` of the same headline key, the `p_by_bands` sharing the most
-- LSH band keys, the newest `p_by_subject` of the same subject key. A NULL key finds nothing; a
-- brief may come twice. SQLite runs the same lookups as one statement (`src/store/sqlite/`).
--
-- A function so that its query is planned once per connection (PL/pgSQL keeps the plan) and not
-- for every check's keys, as every other statement of briefbot is (`plan_cache_mode =
-- force_custom_plan` on its connections): planned for each check, planning took almost as long
-- as running it, 0.2-0.3 ms of every check at 100,000 briefs (BENCHMARKS.md).
--
-- A plan made once must be right for every key and every size of the tables: it is made at a
-- connection's first check, perhaps while the tables are nearly empty, and kept while they grow
-- to millions of rows. A plan left to estimates is not: for `band = ANY (...)` on a table of a
-- few pages the planner prefers to read every brief band (the index on `kind` alone, `band` a
-- filter), cheap at 20 rows and kept, 100 ms a check at 13,000 briefs (RELIABILITY.md). So each
-- lookup is written so that the way that reads least is also the one estimated cheapest:
--   - each band key is looked up on its own, `(kind, band) = ('brief', key)` in the primary key
--     (a LATERAL subquery per element of the array);
--   - the headline key's and the subject key's briefs are read in id order from the `(key, id)`
--     indexes and cut at the limit;
--   - each candidate's row is fetched by its id.
-- Reading more (every band, the briefs in id order, another index's every entry) is estimated
-- dearer at every size but one: a table of one page believed to hold one row (analyzed with one
-- brief), where the indexes on `id` tie; a plan made then is replaced at the next ANALYZE, which
-- autovacuum runs after 50 briefs. Sequential and bitmap scans (a bitmap scan reads every match
-- before sorting), merge and hash joins are ruled out for the function besides: with them the
-- plan read whole tables at small sizes.
CREATE FUNCTION story_candidates(
    p_headline_key TEXT,
    p_subject_key  TEXT,
    p_bands        BIGINT[],
    p_by_headline  INTEGER,
    p_by_bands     INTEGER,
    p_by_subject   INTEGER
) RETURNS TABLE (
    id           BIGINT,
    story_id     BIGINT,
    headline     TEXT,
    summary      TEXT,
    headline_key TEXT,
    story_terms  BYTEA
)
LANGUAGE plpgsql STABLE
SET plan_cache_mode = force_generic_plan
SET enable_seqscan = off
SET enable_bitmapscan = off
SET enable_mergejoin = off
SET enable_hashjoin = off
AS $$
#variable_conflict use_column
BEGIN
    RETURN QUERY
    SELECT c.id, c.story_id, c.headline, c.summary, c.headline_key, c.story_terms
    FROM (
        (SELECT h.id, h.story_id, h.headline, h.summary, h.headline_key, h.story_terms,
                0 AS src, 0::BIGINT AS rank
         FROM briefs h WHERE h.headline_key = p_headline_key ORDER BY h.id LIMIT p_by_headline)
        UNION ALL
        (SELECT b.id, b.story_id, b.headline, b.summary, b.headline_key, b.story_terms,
                1, m.rank
         FROM (SELECT s.item_id, -COUNT(*) AS rank
               FROM unnest(p_bands) AS k (band)
               CROSS JOIN LATERAL (SELECT sb.item_id FROM similarity_bands sb
                                   WHERE sb.kind = 'brief' AND sb.band = k.band OFFSET 0) s
               GROUP BY s.item_id ORDER BY COUNT(*) DESC, s.item_id LIMIT p_by_bands) m
         CROSS JOIN LATERAL (SELECT * FROM briefs bb WHERE bb.id = m.item_id OFFSET 0) b)
        UNION ALL
        (SELECT t.id, t.story_id, t.headline, t.summary, t.headline_key, t.story_terms,
                2, -t.id
         FROM briefs t WHERE t.subject_key = p_subject_key ORDER BY t.id DESC LIMIT p_by_subject)
    ) AS c
    ORDER BY c.src, c.rank, c.id;
END
$$;
