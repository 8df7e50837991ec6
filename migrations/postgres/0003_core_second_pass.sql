-- Core second pass: vendor-neutral link columns, the vendor's event time for ordering what is
-- pending, process heartbeats for lease takeover, and helpdesk events held until their ticket's
-- link commits.

ALTER TABLE links RENAME COLUMN inbenta_user_id TO helpdesk_user_id;
ALTER TABLE links RENAME COLUMN inbenta_ticket_id TO helpdesk_ticket_id;
DROP INDEX IF EXISTS links_ticket;
CREATE INDEX links_helpdesk_ticket ON links (helpdesk_ticket_id);

-- When the vendor says the event happened (unix ms); pending events are applied in this order,
-- ties by arrival (seq).
ALTER TABLE inbound_events ADD COLUMN occurred_at BIGINT NULL;
UPDATE inbound_events SET occurred_at = received_at WHERE occurred_at IS NULL;
CREATE INDEX inbound_events_pending_order ON inbound_events (conversation_id, occurred_at, seq)
    WHERE state = 'pending';

-- One row per running bridge process; a lease whose owner stopped beating is taken over.
CREATE TABLE bridge_processes (
    owner TEXT PRIMARY KEY,
    started_at BIGINT NOT NULL,
    heartbeat_at BIGINT NOT NULL
);

-- Helpdesk events about a ticket the bridge has no link for yet (an answer written before the
-- link of a new ticket committed). Moved into the conversation when the link commits.
CREATE TABLE held_helpdesk_events (
    id BIGSERIAL PRIMARY KEY,
    ticket_id TEXT NOT NULL,
    dedupe_key TEXT NOT NULL UNIQUE,
    occurred_at BIGINT NOT NULL,
    payload TEXT NOT NULL,
    received_at BIGINT NOT NULL
);
CREATE INDEX held_helpdesk_events_ticket ON held_helpdesk_events (ticket_id);
