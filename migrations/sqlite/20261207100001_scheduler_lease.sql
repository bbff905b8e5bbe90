-- The scheduler lease's fencing token (issue 19), as on PostgreSQL: one process owns a SQLite
-- file (a lock file says so), so the lease is always granted, but each run takes a new
-- `generation` and the delivery writes check it with the same SQL as on PostgreSQL.
CREATE TABLE scheduler_lease (
    id         INTEGER PRIMARY KEY CHECK (id = 1),
    holder     INTEGER NOT NULL,
    generation INTEGER NOT NULL,
    expires_at TEXT NOT NULL
);
INSERT INTO scheduler_lease (id, holder, generation, expires_at)
VALUES (1, 0, 0, '1970-01-01T00:00:00Z');
