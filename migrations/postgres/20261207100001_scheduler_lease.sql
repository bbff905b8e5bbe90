-- The scheduler lease (SPEC §7, issue 19): one row, held until `expires_at` (the database's
-- clock) by the process whose presence pid is `holder`, renewed only by a holder that works.
-- `generation` grows by one at every taking: the fencing token every write of the holder's work
-- checks, so a holder that lost the lease (hung, cut off) writes nothing more when it wakes up.
-- It replaces a session advisory lock, which a hung holder kept for as long as its connection.
CREATE TABLE scheduler_lease (
    id         SMALLINT PRIMARY KEY CHECK (id = 1),
    holder     BIGINT NOT NULL,
    generation BIGINT NOT NULL,
    expires_at TIMESTAMPTZ NOT NULL
);
INSERT INTO scheduler_lease (id, holder, generation, expires_at)
VALUES (1, 0, 0, '1970-01-01T00:00:00Z');
