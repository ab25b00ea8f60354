//! paywarden's Stripe client: the typed calls paywarden makes, and nothing else.
//!
//! Every request carries the pinned [`API_VERSION`], so Stripe answers in the
//! shape this crate's types were written against whatever the account's default
//! version is. Every POST carries an `Idempotency-Key` derived from *our* operation
//! (see [`IdempotencyKey::derive`]): a request of ours that is retried — by this
//! client after a dropped connection, or by the caller after a crash — reuses the
//! key, so Stripe creates the object once. Failures the SDKs retry (connection
//! errors, timeouts, 409, 429, 5xx, or whatever `Stripe-Should-Retry` says) are
//! retried with exponential backoff and jitter, bounded in attempts and in time.
//!
//! # Why not async-stripe
//!
//! async-stripe is the well-kept community crate and was judged first:
//! - *Compile weight*: it generates types for the whole Stripe API (hundreds of
//!   resources); even with per-resource features the codegen'd crates dominate a
//!   clean build on our two-core CI, for the dozen endpoints we call.
//! - *Version pinning*: each release is generated against one Stripe API version
//!   and sends it; following Stripe's versions means following the crate's
//!   releases (and their breaking type changes), whereas we pin
//!   `2026-10-28.endive` in one const and own the types that read it.
//! - *Fit*: we need deterministic idempotency keys derived from our own
//!   operation, `Stripe-Should-Retry`-aware retries with a total time budget, and
//!   errors in our vocabulary that can never carry the secret key; with
//!   async-stripe these would be wrapped around it anyway.
//!
//! The cost is owning the form encoding and a few hundred lines of types; both
//! are tested against the stand-in (`paywarden-sim`) over real HTTP.
#![forbid(unsafe_code)]

mod client;
mod config;
mod error;
mod expandable;
mod form;
mod idempotency;
mod list;
pub mod resources;
mod retry;

pub use client::StripeClient;
pub use config::{StripeConfig, API_VERSION};
pub use error::{ApiError, ErrorKind, StripeError};
pub use expandable::Expandable;
pub use form::encode as encode_form;
pub use idempotency::IdempotencyKey;
pub use list::{List, Listed};
pub use resources::*;
