-- Stories told apart by who and how much (dedup::story): each brief keeps its subject, so the
-- items of one subject are found again as candidates, and the rule's version, so a database
-- written by an earlier rule is re-fingerprinted once on open (store: `restory`), keeping what
-- each channel received.
ALTER TABLE briefs ADD COLUMN subject_key TEXT NOT NULL DEFAULT '';
CREATE INDEX briefs_by_subject ON briefs (subject_key, id);

CREATE TABLE dedup_rule (
    id      BIGINT PRIMARY KEY CHECK (id = 1),
    version BIGINT NOT NULL
);
-- Version 1: character 3-grams alone (every database before this migration).
INSERT INTO dedup_rule (id, version) VALUES (1, 1);
