-- Courses and seat bookings.
--
-- A seat is taken by a `confirmed` booking, or by a `pending` one whose
-- hold has not run out (`hold_until`, unix seconds: the Checkout Session's
-- `expires_at` plus a grace for its last webhook). Bookings are created and
-- confirmed with the course row locked, so counting and taking a seat is
-- one step and a course is never oversold.
CREATE TABLE courses (
    id          TEXT PRIMARY KEY,
    -- Names a seeded course, so seeding twice changes nothing.
    seed_key    TEXT UNIQUE,
    title       TEXT NOT NULL CHECK (length(title) > 0),
    description TEXT NOT NULL,
    price       BIGINT NOT NULL CHECK (price > 0),
    currency    TEXT NOT NULL CHECK (length(currency) = 3),
    capacity    BIGINT NOT NULL CHECK (capacity >= 1),
    starts_at   BIGINT NOT NULL,
    ends_at     BIGINT NOT NULL,
    published   INTEGER NOT NULL CHECK (published IN (0, 1)),
    created_at  BIGINT NOT NULL,
    CHECK (ends_at > starts_at)
);
CREATE INDEX courses_by_start ON courses (starts_at, id);

CREATE TABLE bookings (
    id                  TEXT PRIMARY KEY,
    course_id           TEXT NOT NULL REFERENCES courses (id),
    user_id             TEXT NOT NULL,
    status              TEXT NOT NULL
        CHECK (status IN ('pending', 'confirmed', 'failed', 'cancelled', 'expired')),
    -- The session the user pays on now (retries start a new one).
    checkout_session_id TEXT UNIQUE,
    checkout_url        TEXT,
    hold_until          BIGINT NOT NULL,
    -- What the user was asked to pay, from the course (the server's price).
    amount              BIGINT NOT NULL CHECK (amount > 0),
    currency            TEXT NOT NULL,
    -- What Stripe says was paid, once confirmed.
    amount_paid         BIGINT,
    payment_intent_id   TEXT,
    -- Why the booking is where it is, for the user and the operator.
    status_reason       TEXT,
    created_at          BIGINT NOT NULL,
    updated_at          BIGINT NOT NULL,
    confirmed_at        BIGINT,
    -- When the user asked to cancel (a refund is on its way); the seat is
    -- freed once Stripe confirms the refund.
    cancel_requested_at BIGINT
);
-- One booking per user and course until it is cancelled: booking again is
-- a conflict, retrying a failed or expired one reuses its row.
CREATE UNIQUE INDEX bookings_one_open_per_user_and_course
    ON bookings (user_id, course_id) WHERE status <> 'cancelled';
CREATE INDEX bookings_taking_seats ON bookings (course_id, status, hold_until);
CREATE INDEX bookings_by_user ON bookings (user_id, created_at DESC);

-- Every Checkout Session made for a booking, so a late event of an earlier
-- session still finds its booking.
CREATE TABLE booking_sessions (
    session_id TEXT PRIMARY KEY,
    booking_id TEXT NOT NULL REFERENCES bookings (id),
    created_at BIGINT NOT NULL
);
CREATE INDEX booking_sessions_by_booking ON booking_sessions (booking_id);
