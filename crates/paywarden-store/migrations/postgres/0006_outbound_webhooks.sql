-- Outbound webhooks to the host product (0005 belongs to credits).

-- Where the host product wants to hear from us. The secret signs every
-- message (Standard Webhooks, `whsec_…`) and must be readable to sign, so
-- it is stored as given; `event_types` is a JSON array of type names, or
-- NULL for every type. A deleted endpoint keeps its row for the delivery log.
CREATE TABLE webhook_endpoints (
    id          TEXT PRIMARY KEY,
    url         TEXT NOT NULL,
    secret      TEXT NOT NULL,
    event_types TEXT,
    enabled     BOOLEAN NOT NULL DEFAULT TRUE,
    created_at  BIGINT NOT NULL,
    deleted_at  BIGINT
);

-- One message per change, written in the transaction of the change; the
-- payload is the exact body sent, so every retry signs the same bytes.
CREATE TABLE outbound_messages (
    id         TEXT PRIMARY KEY,
    event_type TEXT NOT NULL,
    payload    TEXT NOT NULL,
    created_at BIGINT NOT NULL
);

-- One message to one endpoint: its state, attempts and last result. A
-- worker claims a due row by setting a lease (token and expiry), so two
-- replicas never send the same delivery at once.
CREATE TABLE outbound_deliveries (
    id               TEXT PRIMARY KEY,
    message_id       TEXT NOT NULL REFERENCES outbound_messages (id),
    endpoint_id      TEXT NOT NULL REFERENCES webhook_endpoints (id),
    status           TEXT NOT NULL CHECK (status IN ('pending', 'delivered', 'failed', 'dead')),
    attempts         BIGINT NOT NULL DEFAULT 0 CHECK (attempts >= 0),
    next_attempt_at  BIGINT,
    last_attempt_at  BIGINT,
    last_status_code BIGINT,
    last_error       TEXT,
    delivered_at     BIGINT,
    lease_token      TEXT,
    lease_until      BIGINT,
    created_at       BIGINT NOT NULL,
    UNIQUE (message_id, endpoint_id)
);
CREATE INDEX outbound_deliveries_due ON outbound_deliveries (next_attempt_at)
    WHERE status IN ('pending', 'failed');
CREATE INDEX outbound_deliveries_by_endpoint ON outbound_deliveries (endpoint_id, id);
CREATE INDEX outbound_deliveries_by_lease ON outbound_deliveries (lease_token);
