-- The search index, rebuilt so a search can rank the newest matches without scoring every match
-- of a common word (see src/store/search.rs). Rowids now follow the order documents were indexed,
-- oldest first; `doc` says what a row is: the brief's id, or minus the issue's id for an issue
-- without items. `source` holds the source's id as one token (`tokenchars '-'`), so a source
-- filter is part of the MATCH. `terms` is unchanged: search::index_terms never writes a '-'.
-- Store::open refills the table from the stored briefs, oldest first.
DROP TABLE search_index;
CREATE VIRTUAL TABLE search_index USING fts5(
    terms,
    source,
    doc UNINDEXED,
    tokenize = "unicode61 remove_diacritics 0 tokenchars '-'"
);
