//! paywarden-sim over real HTTP: the router on `127.0.0.1:0`, driven with
//! reqwest as an SDK would drive Stripe.

mod auth;
mod checkout;
mod clocks;
mod endpoints;
mod errors;
mod expand;
mod fuzz;
mod idempotency;
mod pagination;
mod payments;
mod portal;
mod sdk;
mod sequences_billing;
mod sequences_payments;
mod state_file;
mod subscriptions;
mod support;
mod versions;
mod webhooks;
