-- One Stripe customer per user, created by paywarden and reused.
CREATE TABLE user_customers (
    user_id     TEXT PRIMARY KEY,
    customer_id TEXT NOT NULL UNIQUE,
    created_at  BIGINT NOT NULL
);

-- A user's request to buy a price. Its id seeds the Checkout Session's
-- idempotency key, so a retried request (ours or the client's) finds the
-- row and gets the same session back from Stripe instead of a second one.
CREATE TABLE checkout_requests (
    id         TEXT PRIMARY KEY,
    user_id    TEXT NOT NULL,
    lookup_key TEXT NOT NULL,
    quantity   BIGINT NOT NULL CHECK (quantity > 0),
    session_id TEXT UNIQUE,
    url        TEXT,
    expires_at BIGINT,
    created_at BIGINT NOT NULL
);
CREATE INDEX checkout_requests_by_purchase ON checkout_requests (user_id, lookup_key, quantity, created_at DESC);
