//! Selling: the catalog in Stripe, Checkout Sessions, subscriptions and the
//! billing portal, on behalf of one user.
//!
//! Every Stripe call goes through `paywarden-stripe` with an idempotency key
//! derived from our own request, so a retry (by the client, by us, or by the
//! user clicking twice) never creates a second object. Local state changes
//! only from Stripe's own answer or its webhook, through the same projection
//! the webhook uses (`apply.rs`).

mod apply;
mod bookings;
mod checkout;
mod customers;
mod plans;
mod portal;
mod prices;
mod subscriptions;
pub mod sync;

use std::sync::Arc;

use paywarden_core::catalog::Catalog;
use paywarden_store::Store;
use paywarden_stripe::StripeClient;

use crate::PublicBaseUrl;

pub use bookings::{BookingCheckout, CHECKOUT_OPEN_SECS};
pub use checkout::{CheckoutSessionCreated, CheckoutStatus, NewCheckout};
pub use plans::{plans_of, PlanPrice, PlanView};
pub use portal::PortalSessionCreated;
pub use subscriptions::{ItemDetails, NewSubscription, SubscriptionChange, SubscriptionDetails};

/// Paths under the public base URL that Stripe sends users back to.
pub mod return_paths {
    /// Checkout's `success_url` (Stripe fills in the session id).
    pub const SUCCESS: &str = "/payment/success?session_id={CHECKOUT_SESSION_ID}";
    /// Checkout's `cancel_url`.
    pub const CANCEL: &str = "/payment/cancel";
    /// The portal's `return_url`.
    pub const ACCOUNT: &str = "/account";
}

/// Bookings may be cancelled with a full refund until a day before the
/// course starts, unless configured otherwise.
pub const DEFAULT_CANCEL_UNTIL: std::time::Duration = std::time::Duration::from_secs(24 * 3600);

/// The selling use cases; cheap to clone.
#[derive(Debug, Clone)]
pub struct Billing {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    store: Store,
    stripe: StripeClient,
    catalog: Arc<Catalog>,
    urls: PublicBaseUrl,
    prices: prices::PriceBook,
    default_daily_cap: i64,
    /// A confirmed booking may be cancelled (and refunded) until this long
    /// before its course starts.
    cancel_until: std::time::Duration,
}

impl Billing {
    pub fn new(
        store: Store,
        stripe: StripeClient,
        catalog: Arc<Catalog>,
        urls: PublicBaseUrl,
        default_daily_cap: i64,
    ) -> Self {
        Self {
            inner: Arc::new(Inner {
                store,
                stripe,
                catalog,
                urls,
                prices: prices::PriceBook::default(),
                default_daily_cap,
                cancel_until: DEFAULT_CANCEL_UNTIL,
            }),
        }
    }

    /// Sets how long before a course starts its bookings may still be
    /// cancelled with a refund (before the Billing is shared).
    pub fn with_cancel_until(mut self, cancel_until: std::time::Duration) -> Self {
        if let Some(inner) = Arc::get_mut(&mut self.inner) {
            inner.cancel_until = cancel_until;
        }
        self
    }

    pub fn catalog(&self) -> &Catalog {
        &self.inner.catalog
    }

    pub fn stripe(&self) -> &StripeClient {
        &self.inner.stripe
    }

    pub fn public_base_url(&self) -> &PublicBaseUrl {
        &self.inner.urls
    }

    /// The user's newest payments (at most 50), as Stripe reported them.
    pub async fn payments_of(
        &self,
        user: &paywarden_core::UserId,
    ) -> Result<Vec<paywarden_store::PaymentRow>, crate::AppError> {
        use paywarden_store::Purchases;
        Ok(self.store().payments_of_user(user, 50).await?)
    }

    fn store(&self) -> &Store {
        &self.inner.store
    }
}
