//! paywarden's HTTP acceptance tests: the real router served on
//! `127.0.0.1:0`, driven over HTTP. Every case runs against SQLite and, when
//! `TEST_DATABASE_URL` is set, PostgreSQL, naming the backend in every
//! assertion.

mod admin;
mod auth;
mod batching;
mod billing;
mod bookings;
mod cache;
mod credits;
mod duplicates;
mod failed_events;
mod fixtures;
mod limits;
mod outbound;
mod pages;
mod probes;
mod receiver;
mod reorder;
mod sdk;
mod shop;
mod signatures;
mod storm;
mod support;
