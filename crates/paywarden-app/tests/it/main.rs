//! paywarden-app's use cases against real parts: a store (SQLite and
//! PostgreSQL) and the Stripe stand-in on a loopback port.

mod catalog_sync;
mod support;
