//! The typed subset of Stripe's objects that paywarden reads.
//!
//! Stripe's shapes change across API versions (periods moved from the
//! subscription to its items in 2025-03-31.basil; an invoice's subscription
//! moved under `parent.subscription_details`). Every struct here is read
//! tolerantly: unknown fields are ignored, most fields are optional, open
//! enums keep unknown values, and references are accepted either as an id
//! string or as an expanded object.

mod envelope;
mod objects;
mod reference;
mod status;

pub use envelope::{EnvelopeError, Event, MAX_EVENT_BYTES};
pub use objects::*;
pub use reference::Reference;
pub use status::{CheckoutPaymentStatus, CheckoutStatus, SubscriptionStatus};
