//! Use-case tests against real parts: the retry worker and manual retries,
//! webhook ingestion, on both backends; `catalog sync` against the Stripe
//! stand-in on a loopback port.

mod catalog_sync;
mod retry;
mod support;
mod webhooks;
