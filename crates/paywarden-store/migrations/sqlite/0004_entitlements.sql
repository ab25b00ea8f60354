-- What each user may do now, resolved from their subscriptions, one-time
-- purchases and manual grants under the catalog's access policy; rewritten
-- in the transaction of the projection that changed it. `version` grows by
-- one with every change, so a reader can ask for "at least version N".
CREATE TABLE entitlements (
    user_id     TEXT PRIMARY KEY,
    version     BIGINT NOT NULL CHECK (version > 0),
    features    TEXT NOT NULL,
    expires_at  BIGINT,
    computed_at BIGINT NOT NULL
);

-- Features an operator granted by hand, until an expiry or for good.
CREATE TABLE manual_grants (
    id         TEXT PRIMARY KEY,
    user_id    TEXT NOT NULL,
    features   TEXT NOT NULL,
    expires_at BIGINT,
    reason     TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    revoked_at BIGINT
);
CREATE INDEX manual_grants_by_user ON manual_grants (user_id);

-- The catalog product a Checkout bought (paywarden's own sessions say so in
-- their metadata): what a one-time purchase grants.
ALTER TABLE checkout_sessions ADD COLUMN plan TEXT;
