-- Two-way sync: messages the bridge sends to customers, polling cursors, rotated vendor
-- credentials, and what the channel reports about a conversation (assignment, tags).

CREATE TABLE outbound_messages (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    channel TEXT NOT NULL,
    conversation_key TEXT NOT NULL,
    link_id BIGINT NULL,
    -- What the message delivers, unique per part: e.g. "reply:<helpdesk reply id>".
    source TEXT NOT NULL,
    part INTEGER NOT NULL DEFAULT 0,
    kind TEXT NOT NULL,
    remote_id TEXT NULL,
    alt_remote_id TEXT NULL,
    -- sent | delivered | read | failed | window_closed
    status TEXT NOT NULL,
    error TEXT NULL,
    event_id BIGINT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    UNIQUE (source, part)
);
CREATE INDEX outbound_messages_remote ON outbound_messages (channel, remote_id);
CREATE INDEX outbound_messages_alt ON outbound_messages (channel, alt_remote_id);
CREATE INDEX outbound_messages_conversation ON outbound_messages (channel, conversation_key, id);

CREATE TABLE sync_cursors (
    name TEXT PRIMARY KEY,
    position BIGINT NOT NULL,
    lease_owner TEXT NULL,
    lease_until BIGINT NULL,
    updated_at BIGINT NOT NULL
);

CREATE TABLE vendor_credentials (
    name TEXT PRIMARY KEY,
    value TEXT NOT NULL,
    updated_at BIGINT NOT NULL
);

ALTER TABLE links ADD COLUMN assignee TEXT NULL;
ALTER TABLE links ADD COLUMN tags TEXT NULL;
ALTER TABLE links ADD COLUMN resolved_on_channel_at BIGINT NULL;
ALTER TABLE links ADD COLUMN contact_id TEXT NULL;
