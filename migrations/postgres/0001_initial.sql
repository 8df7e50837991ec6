-- omnibridge schema, PostgreSQL flavour. Timestamps are unix milliseconds (BIGINT) in both databases.

CREATE TABLE conversations (
    id BIGSERIAL PRIMARY KEY,
    channel TEXT NOT NULL,
    conversation_key TEXT NOT NULL,
    next_seq BIGINT NOT NULL DEFAULT 0,
    wake_seq BIGINT NOT NULL DEFAULT 0,
    due_at BIGINT NULL,
    lease_owner TEXT NULL,
    lease_until BIGINT NULL,
    recovering BIGINT NOT NULL DEFAULT 0,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    UNIQUE (channel, conversation_key)
);
CREATE INDEX conversations_due ON conversations (due_at) WHERE due_at IS NOT NULL;

CREATE TABLE inbound_events (
    id BIGSERIAL PRIMARY KEY,
    channel TEXT NOT NULL,
    dedupe_key TEXT NOT NULL,
    conversation_id BIGINT NOT NULL REFERENCES conversations (id),
    seq BIGINT NOT NULL,
    kind TEXT NOT NULL,
    payload TEXT NOT NULL,
    state TEXT NOT NULL DEFAULT 'pending',
    attempts INTEGER NOT NULL DEFAULT 0,
    next_attempt_at BIGINT NULL,
    last_error TEXT NULL,
    outcome TEXT NULL,
    received_at BIGINT NOT NULL,
    processed_at BIGINT NULL,
    UNIQUE (channel, dedupe_key)
);
CREATE INDEX inbound_events_pending ON inbound_events (conversation_id, seq) WHERE state = 'pending';
CREATE INDEX inbound_events_state ON inbound_events (state, id);

CREATE TABLE links (
    id BIGSERIAL PRIMARY KEY,
    channel TEXT NOT NULL,
    conversation_key TEXT NOT NULL,
    generation INTEGER NOT NULL,
    contact_name TEXT NULL,
    route TEXT NULL,
    inbenta_user_id TEXT NULL,
    inbenta_ticket_id TEXT NULL,
    ticket_external_id TEXT NOT NULL,
    state TEXT NOT NULL,
    status_checked_at BIGINT NULL,
    closed_at BIGINT NULL,
    vendor_meta TEXT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    UNIQUE (channel, conversation_key, generation)
);
CREATE INDEX links_ticket ON links (inbenta_ticket_id);

CREATE TABLE message_statuses (
    channel TEXT NOT NULL,
    message_id TEXT NOT NULL,
    status TEXT NOT NULL,
    alt_message_id TEXT NULL,
    recipient TEXT NOT NULL,
    errors TEXT NULL,
    event_id BIGINT NOT NULL,
    recorded_at BIGINT NOT NULL,
    PRIMARY KEY (channel, message_id, status)
);

CREATE TABLE bridge_effects (
    vendor TEXT NOT NULL,
    remote_id TEXT NOT NULL,
    kind TEXT NOT NULL,
    event_id BIGINT NOT NULL,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (vendor, remote_id)
);
CREATE INDEX bridge_effects_event ON bridge_effects (event_id);
