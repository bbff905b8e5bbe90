-- Every issue's title and lead story are searchable now, beside its items (they were only for an
-- issue without items). The index is emptied so that Store::open refills it from the stored
-- issues and briefs, oldest first, with each issue's own document before its items: rowids must
-- follow age for the newest-first ranking window (src/store/search.rs), which appending the
-- issues' documents after the existing rows would break. Same table as in 20261128000005.
DROP TABLE search_index;
CREATE VIRTUAL TABLE search_index USING fts5(
    terms,
    source,
    doc UNINDEXED,
    tokenize = "unicode61 remove_diacritics 0 tokenchars '-'"
);
