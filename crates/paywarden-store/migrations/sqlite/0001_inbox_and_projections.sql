-- The webhook inbox, the projections of Stripe objects, accounts and API keys.
-- Times we stamp are unix milliseconds; Stripe's are unix seconds (as Stripe sends them).
-- Projected object rows carry the precedence (src_*) of the state they hold; see
-- paywarden_core::precedence.

CREATE TABLE events (
    id                TEXT PRIMARY KEY,
    event_type        TEXT NOT NULL,
    api_version       TEXT,
    created           BIGINT NOT NULL,
    livemode          INTEGER NOT NULL,
    object_id         TEXT,
    payload           TEXT NOT NULL,
    status            TEXT NOT NULL CHECK (status IN ('processed', 'ignored', 'failed')),
    attempts          INTEGER NOT NULL DEFAULT 1,
    received_count    INTEGER NOT NULL DEFAULT 1,
    first_received_at BIGINT NOT NULL,
    last_received_at  BIGINT NOT NULL,
    processed_at      BIGINT,
    last_error        TEXT,
    next_attempt_at   BIGINT
);
CREATE INDEX events_by_received ON events (first_received_at DESC, id DESC);
CREATE INDEX events_by_type ON events (event_type, first_received_at DESC);
CREATE INDEX events_retry_due ON events (next_attempt_at) WHERE status = 'failed';

CREATE TABLE customers (
    id           TEXT PRIMARY KEY,
    user_id      TEXT,
    email        TEXT,
    name         TEXT,
    deleted      INTEGER NOT NULL DEFAULT 0,
    src_terminal INTEGER,
    src_created  BIGINT,
    src_rank     INTEGER,
    src_event    TEXT,
    updated_at   BIGINT NOT NULL
);
CREATE INDEX customers_by_user ON customers (user_id);

CREATE TABLE products (
    id           TEXT PRIMARY KEY,
    name         TEXT,
    active       INTEGER NOT NULL,
    deleted      INTEGER NOT NULL,
    src_terminal INTEGER NOT NULL,
    src_created  BIGINT NOT NULL,
    src_rank     INTEGER NOT NULL,
    src_event    TEXT NOT NULL,
    updated_at   BIGINT NOT NULL
);

CREATE TABLE prices (
    id             TEXT PRIMARY KEY,
    product_id     TEXT,
    active         INTEGER NOT NULL,
    deleted        INTEGER NOT NULL,
    currency       TEXT,
    unit_amount    BIGINT,
    interval       TEXT,
    interval_count BIGINT,
    lookup_key     TEXT,
    nickname       TEXT,
    src_terminal   INTEGER NOT NULL,
    src_created    BIGINT NOT NULL,
    src_rank       INTEGER NOT NULL,
    src_event      TEXT NOT NULL,
    updated_at     BIGINT NOT NULL
);

CREATE TABLE checkout_sessions (
    id                TEXT PRIMARY KEY,
    user_id           TEXT,
    customer_id       TEXT,
    mode              TEXT,
    status            TEXT,
    payment_status    TEXT,
    outcome           TEXT NOT NULL,
    subscription_id   TEXT,
    payment_intent_id TEXT,
    amount_total      BIGINT,
    currency          TEXT,
    src_terminal      INTEGER NOT NULL,
    src_created       BIGINT NOT NULL,
    src_rank          INTEGER NOT NULL,
    src_event         TEXT NOT NULL,
    updated_at        BIGINT NOT NULL
);
CREATE INDEX checkout_sessions_by_user ON checkout_sessions (user_id);

-- Two precedence registers: snap_* for the fields only a full subscription
-- snapshot carries, status_* for the status, which a paid Checkout also
-- asserts. Each keeps its own maximum, so any delivery order converges.
CREATE TABLE subscriptions (
    id                   TEXT PRIMARY KEY,
    customer_id          TEXT,
    user_id              TEXT,
    status               TEXT NOT NULL,
    current_period_start BIGINT,
    current_period_end   BIGINT,
    cancel_at_period_end INTEGER NOT NULL DEFAULT 0,
    cancel_at            BIGINT,
    canceled_at          BIGINT,
    ended_at             BIGINT,
    pause_behavior       TEXT,
    pause_resumes_at     BIGINT,
    trial_start          BIGINT,
    trial_end            BIGINT,
    snap_terminal        INTEGER,
    snap_created         BIGINT,
    snap_rank            INTEGER,
    snap_event           TEXT,
    status_terminal      INTEGER NOT NULL,
    status_created       BIGINT NOT NULL,
    status_rank          INTEGER NOT NULL,
    status_event         TEXT NOT NULL,
    updated_at           BIGINT NOT NULL
);
CREATE INDEX subscriptions_by_user ON subscriptions (user_id);
CREATE INDEX subscriptions_by_customer ON subscriptions (customer_id);

CREATE TABLE subscription_items (
    id                   TEXT PRIMARY KEY,
    subscription_id      TEXT NOT NULL REFERENCES subscriptions (id) ON DELETE CASCADE,
    price_id             TEXT,
    product_id           TEXT,
    quantity             BIGINT,
    unit_amount          BIGINT,
    currency             TEXT,
    current_period_start BIGINT,
    current_period_end   BIGINT
);
CREATE INDEX subscription_items_by_subscription ON subscription_items (subscription_id);

CREATE TABLE payments (
    source_id         TEXT PRIMARY KEY,
    source            TEXT NOT NULL CHECK (source IN ('invoice', 'payment_intent')),
    invoice_id        TEXT,
    payment_intent_id TEXT,
    customer_id       TEXT,
    subscription_id   TEXT,
    amount            BIGINT NOT NULL,
    currency          TEXT,
    period_start      BIGINT,
    period_end        BIGINT,
    event_id          TEXT NOT NULL,
    created           BIGINT NOT NULL
);
CREATE INDEX payments_by_customer ON payments (customer_id, created DESC);

CREATE TABLE payment_failures (
    event_id          TEXT PRIMARY KEY,
    invoice_id        TEXT,
    payment_intent_id TEXT,
    customer_id       TEXT,
    subscription_id   TEXT,
    amount            BIGINT,
    currency          TEXT,
    attempt_count     BIGINT,
    next_attempt_at   BIGINT,
    message           TEXT,
    created           BIGINT NOT NULL
);

CREATE TABLE notifications (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    cause_key   TEXT NOT NULL UNIQUE,
    kind        TEXT NOT NULL,
    customer_id TEXT,
    payload     TEXT NOT NULL,
    status      TEXT NOT NULL DEFAULT 'pending',
    created     BIGINT NOT NULL
);

CREATE TABLE refunds (
    key               TEXT PRIMARY KEY,
    refund_id         TEXT,
    charge_id         TEXT,
    payment_intent_id TEXT,
    amount            BIGINT NOT NULL,
    currency          TEXT,
    status            TEXT,
    reason            TEXT,
    src_terminal      INTEGER NOT NULL,
    src_created       BIGINT NOT NULL,
    src_rank          INTEGER NOT NULL,
    src_event         TEXT NOT NULL,
    updated_at        BIGINT NOT NULL
);

CREATE TABLE disputes (
    id                TEXT PRIMARY KEY,
    charge_id         TEXT,
    payment_intent_id TEXT,
    amount            BIGINT NOT NULL,
    currency          TEXT,
    status            TEXT,
    reason            TEXT,
    src_terminal      INTEGER NOT NULL,
    src_created       BIGINT NOT NULL,
    src_rank          INTEGER NOT NULL,
    src_event         TEXT NOT NULL,
    updated_at        BIGINT NOT NULL
);

-- Brand, last4 and expiry only: no other card data is ever stored.
CREATE TABLE payment_methods (
    id           TEXT PRIMARY KEY,
    customer_id  TEXT,
    method_type  TEXT,
    brand        TEXT,
    last4        TEXT CHECK (last4 IS NULL OR length(last4) <= 4),
    exp_month    BIGINT,
    exp_year     BIGINT,
    attached     INTEGER NOT NULL,
    src_terminal INTEGER NOT NULL,
    src_created  BIGINT NOT NULL,
    src_rank     INTEGER NOT NULL,
    src_event    TEXT NOT NULL,
    updated_at   BIGINT NOT NULL
);
CREATE INDEX payment_methods_by_customer ON payment_methods (customer_id);

CREATE TABLE accounts (
    id                TEXT PRIMARY KEY,
    user_id           TEXT NOT NULL UNIQUE,
    status            TEXT NOT NULL CHECK (status IN ('provisioning', 'active', 'suspended', 'closed')),
    locale            TEXT NOT NULL,
    quiet_hours_start TEXT NOT NULL,
    quiet_hours_end   TEXT NOT NULL,
    daily_cap         BIGINT NOT NULL CHECK (daily_cap >= 0),
    billing           TEXT NOT NULL,
    created_at        BIGINT NOT NULL
);

CREATE TABLE account_events (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    account_id      TEXT NOT NULL REFERENCES accounts (id),
    event_type      TEXT NOT NULL,
    stripe_event_id TEXT,
    payload         TEXT NOT NULL,
    created_at      BIGINT NOT NULL,
    UNIQUE (account_id, event_type, stripe_event_id)
);

CREATE TABLE api_keys (
    id         TEXT PRIMARY KEY,
    name       TEXT NOT NULL,
    role       TEXT NOT NULL CHECK (role IN ('admin', 'server')),
    key_hash   TEXT NOT NULL UNIQUE,
    key_hint   TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    revoked_at BIGINT
);
