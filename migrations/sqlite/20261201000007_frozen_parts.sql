-- Exactly once past Discord's nonce window (SPEC §6).
--
-- The messages of a delivery are fixed when it is first attempted: `delivery_parts` keeps each
-- rendered message, and `deliveries.stories` the stories they carry, so a retry or restart posts
-- exactly the parts not yet posted, whatever reached the channel meanwhile.
--
-- A part is marked `attempted_at` before its POST. A part with `attempted_at` and no
-- `message_id` is in doubt (the answer was lost, timed out, or the process died before
-- recording it): before posting it again the worker looks for it among the channel's messages
-- created since that attempt, and records what it finds instead of posting twice.
CREATE TABLE delivery_parts (
    delivery_id  INTEGER NOT NULL REFERENCES deliveries (id) ON DELETE CASCADE,
    part         INTEGER NOT NULL,
    body         TEXT NOT NULL,           -- the rendered message, as JSON (render::Message)
    attempted_at TEXT,                    -- the first POST of this part that may have reached Discord
    message_id   INTEGER,                 -- Discord's message id once posted or found; 0 when unknown
    PRIMARY KEY (delivery_id, part)
);
CREATE INDEX delivery_parts_by_message ON delivery_parts (message_id);

ALTER TABLE deliveries ADD COLUMN stories TEXT;       -- JSON array of the frozen parts' story ids
-- Refusals (403/404) in a row; only these pause a channel, not server errors.
ALTER TABLE deliveries ADD COLUMN refusals INTEGER NOT NULL DEFAULT 0;

-- What the worker learned about a channel: whether it denies Read Message History (then an
-- in-doubt part can only rely on Discord's nonce, and /status says so).
CREATE TABLE channel_state (
    channel_id        INTEGER PRIMARY KEY,
    history_denied_at TEXT
);
