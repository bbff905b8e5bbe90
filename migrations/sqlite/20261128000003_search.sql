-- Full-text search over brief items, and over issues without items (their title and lead).
-- `terms` holds search::index_terms of the text: words, and Hangul syllables and bigrams, so
-- unicode61 only has to split on spaces. The rowid is the brief's id, or minus the issue's id
-- for an issue without items. Rows for what was stored before this migration are written by
-- Store::open (SQL alone cannot compute the terms).
CREATE VIRTUAL TABLE search_index USING fts5(
    terms,
    tokenize = 'unicode61 remove_diacritics 0'
);
