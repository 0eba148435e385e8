-- Webhooks (API.md §6): endpoints an organization registers, and one
-- delivery row per event and subscribed webhook, written in the event's own
-- transaction and sent by the background sender the outbox uses.
CREATE TABLE webhooks (
    id TEXT PRIMARY KEY NOT NULL,
    organization_id TEXT NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
    url TEXT NOT NULL,
    -- A JSON list of audit actions, or ["*"].
    events TEXT NOT NULL,
    description TEXT,
    -- The signing secret, sealed with a key derived from the server's secret.
    secret TEXT NOT NULL,
    created_at BIGINT NOT NULL
);
CREATE INDEX webhooks_org ON webhooks(organization_id, id);

CREATE TABLE webhook_deliveries (
    id TEXT PRIMARY KEY NOT NULL,
    webhook_id TEXT NOT NULL REFERENCES webhooks(id) ON DELETE CASCADE,
    -- The audit event's id: the webhook-id header on every try. No foreign
    -- key, so audit retention never takes a pending delivery with it.
    event_id TEXT NOT NULL,
    event_type TEXT NOT NULL,
    -- The exact body sent on every try.
    payload TEXT NOT NULL,
    state TEXT NOT NULL CHECK (state IN ('pending', 'delivered', 'failed')),
    attempts INTEGER NOT NULL DEFAULT 0,
    next_attempt_at BIGINT NOT NULL,
    claimed_until BIGINT,
    claim TEXT,
    last_code INTEGER,
    last_error TEXT,
    last_attempt_at BIGINT,
    created_at BIGINT NOT NULL
);
-- The claim takes due rows in (next_attempt_at, id) order straight from it.
CREATE INDEX webhook_deliveries_due ON webhook_deliveries(state, next_attempt_at, id);
CREATE INDEX webhook_deliveries_claim ON webhook_deliveries(claim);
CREATE INDEX webhook_deliveries_webhook ON webhook_deliveries(webhook_id, id);
-- Rounds of either queue find and renew their rows by claim.
CREATE INDEX outbox_claim ON outbox(claim);
-- The outbox's claim takes the same order from its index.
DROP INDEX outbox_due;
CREATE INDEX outbox_due ON outbox(state, next_attempt_at, id);
