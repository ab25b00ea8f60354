//! paywarden-sim over real HTTP: the router on `127.0.0.1:0`, driven with
//! reqwest as an SDK would drive Stripe.

mod auth;
mod endpoints;
mod errors;
mod fuzz;
mod idempotency;
mod pagination;
mod support;
