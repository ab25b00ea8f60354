//! Selling: the catalog in Stripe, Checkout Sessions, subscriptions and the
//! billing portal, on behalf of one user.
//!
//! Every Stripe call goes through `paywarden-stripe` with an idempotency key
//! derived from our own request, so a retry (by the client, by us, or by the
//! user clicking twice) never creates a second object. Local state changes
//! only from Stripe's own answer or its webhook, through the same projection
//! the webhook uses.

pub mod sync;
