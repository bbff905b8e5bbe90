-- Fair delivery and bounded tables.
--
-- A repost knows its server, so one server's reposts can be limited (Store::enqueue_repost).
ALTER TABLE deliveries ADD COLUMN guild_id INTEGER;
CREATE INDEX deliveries_reposts_by_guild ON deliveries (guild_id) WHERE kind = 'repost' AND status = 'pending';

-- What Store::prune reads to forget what no guarantee needs any more.
CREATE INDEX deliveries_finished ON deliveries (finished_at) WHERE status <> 'pending';
CREATE INDEX channel_stories_by_time ON channel_stories (posted_at);
CREATE INDEX search_sessions_by_time ON search_sessions (created_at);
