-- Credits: a wallet per user and an append-only ledger.
--
-- `balance` is the sum of the user's ledger entries; `held` the sum of their
-- live holds. The checks keep both non-negative and the holds covered, so no
-- statement, buggy or not, can spend credits a user does not have.
CREATE TABLE credit_wallets (
    user_id    TEXT PRIMARY KEY,
    balance    BIGINT NOT NULL CHECK (balance >= 0),
    held       BIGINT NOT NULL CHECK (held >= 0),
    updated_at BIGINT NOT NULL,
    CHECK (held <= balance)
);

-- Every movement of credits, never changed and never removed: a mistake is
-- corrected by a reversing entry. `source_key` names the cause (an invoice,
-- a Checkout, a refund level, an idempotent request) and is unique, so one
-- cause moves credits once.
CREATE TABLE credit_ledger (
    seq             INTEGER PRIMARY KEY AUTOINCREMENT,
    id              TEXT NOT NULL UNIQUE,
    user_id         TEXT NOT NULL,
    amount          BIGINT NOT NULL CHECK (amount <> 0),
    balance_after   BIGINT NOT NULL CHECK (balance_after >= 0),
    kind            TEXT NOT NULL CHECK (kind IN ('grant', 'debit', 'settle', 'reversal')),
    source_key      TEXT NOT NULL UNIQUE,
    stripe_event_id TEXT,
    hold_id         TEXT,
    description     TEXT NOT NULL,
    created_at      BIGINT NOT NULL
);
CREATE INDEX credit_ledger_by_user ON credit_ledger (user_id, seq DESC);

CREATE TRIGGER credit_ledger_no_update
    BEFORE UPDATE ON credit_ledger
BEGIN
    SELECT RAISE(ABORT, 'credit_ledger is append-only: UPDATE refused');
END;
CREATE TRIGGER credit_ledger_no_delete
    BEFORE DELETE ON credit_ledger
BEGIN
    SELECT RAISE(ABORT, 'credit_ledger is append-only: DELETE refused');
END;

-- Credits set aside for a job whose cost is known later: settled (a ledger
-- entry), released, or expired (nothing moves).
CREATE TABLE credit_holds (
    id          TEXT PRIMARY KEY,
    user_id     TEXT NOT NULL,
    amount      BIGINT NOT NULL CHECK (amount > 0),
    status      TEXT NOT NULL CHECK (status IN ('active', 'settled', 'released', 'expired')),
    description TEXT NOT NULL,
    expires_at  BIGINT NOT NULL,
    created_at  BIGINT NOT NULL,
    closed_at   BIGINT,
    settled     BIGINT
);
CREATE INDEX credit_holds_live ON credit_holds (user_id, status, expires_at);

-- The first answer to each `Idempotency-Key`, per caller and route, with a
-- fingerprint of the request that got it.
CREATE TABLE idempotency_keys (
    scope       TEXT NOT NULL,
    key         TEXT NOT NULL,
    fingerprint TEXT NOT NULL,
    response    TEXT,
    created_at  BIGINT NOT NULL,
    PRIMARY KEY (scope, key)
);
