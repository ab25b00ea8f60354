//! paywarden's domain, free of I/O.
//!
//! Everything here is plain data and pure functions: ids that cannot hold a
//! wrong prefix, money in minor units, the `Stripe-Signature` check, the typed
//! (and version-tolerant) subset of Stripe objects paywarden reads, and the
//! projection rules that turn one verified event into the rows it changes.
//! Nothing here names a database, an HTTP type or an async runtime, so it is
//! tested with plain `#[test]`.
#![forbid(unsafe_code)]

pub mod access;
pub mod catalog;
pub mod courses;
pub mod credits;
pub mod ids;
pub mod money;
pub mod outbound;
pub mod precedence;
pub mod projection;
pub mod signature;
pub mod stripe;
pub mod user;

pub use ids::IdError;
pub use money::{Currency, Money};
pub use user::UserId;
