-- Each brief's terms as the near-duplicate rule reads them (dedup::story, `Story::terms_print`),
-- so a candidate with little in common is passed over without its text being read again. NULL
-- until written: a brief without them is read from its text. A database of an earlier rule gets
-- them when it is re-fingerprinted on open (rule version 3).
ALTER TABLE briefs ADD COLUMN story_terms BYTEA;
