//! paywarden's use cases: what happens when a webhook arrives, when a
//! failed event is retried, when an operator lists events or creates a
//! key. This crate owns transactions and never sees HTTP types; the HTTP
//! layer and the CLI both call into it.
#![forbid(unsafe_code)]

pub mod auth;
pub mod billing;
pub mod credits;
pub mod entitlements;
mod error;
pub mod events;
pub mod keys;
pub mod limits;
pub mod outbound;
mod projecting;
mod public_url;
pub mod retry;
pub mod seed;
pub mod webhooks;

pub use error::AppError;
pub use projecting::ProjectionSettings;
pub use public_url::{PublicBaseUrl, PublicUrlError};
