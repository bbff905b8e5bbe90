-- The stored briefs a new brief is compared with (store: `BackendContract::story_candidates`),
-- in order: the oldest of the same headline, those sharing the most LSH bands, the newest of the
-- same subject. A NULL key finds nothing; a brief may come twice.
--
-- A function so that its query is planned once per connection (a generic plan, kept by
-- PL/pgSQL) instead of for every call's keys, as every other statement of briefbot is
-- (`plan_cache_mode = force_custom_plan` on its connections): planning it took as long as
-- running it, 0.25 ms of every check at 100,000 briefs. A generic plan made while the tables
-- were small would scan them whole and stay once they are large (a sequential scan of the bands
-- took 60-90 ms at 137,000 rows); every part of this query is a lookup by an indexed key, so
-- sequential scans are ruled out for it and the plan is the same at every size.
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
AS $$
#variable_conflict use_column
BEGIN
    RETURN QUERY
    SELECT b.id, b.story_id, b.headline, b.summary, b.headline_key, b.story_terms
    FROM (
        (SELECT h.id, 0 AS src, 0::BIGINT AS rank FROM briefs h
         WHERE h.headline_key = p_headline_key ORDER BY h.id LIMIT p_by_headline)
        UNION ALL
        (SELECT s.item_id, 1, -COUNT(*) FROM similarity_bands s
         WHERE s.kind = 'brief' AND s.band = ANY (p_bands)
         GROUP BY s.item_id ORDER BY COUNT(*) DESC, s.item_id LIMIT p_by_bands)
        UNION ALL
        (SELECT t.id, 2, -t.id FROM briefs t
         WHERE t.subject_key = p_subject_key ORDER BY t.id DESC LIMIT p_by_subject)
    ) AS c (id, src, rank)
    JOIN briefs b ON b.id = c.id
    ORDER BY c.src, c.rank, b.id;
END
$$;
