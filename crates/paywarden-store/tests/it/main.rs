//! Storage conformance: every case runs against SQLite and, when
//! `TEST_DATABASE_URL` is set, PostgreSQL, with the backend named in every
//! assertion.

mod accounts;
mod api_keys;
mod bookings;
mod concurrency;
mod convergence;
mod credits;
mod deadlock;
mod fixtures;
mod inbox;
mod outbound;
mod payments;
mod precedence;
mod savepoint;
mod smoke;
mod support;
