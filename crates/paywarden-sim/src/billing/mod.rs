//! Billing: subscriptions and their items, invoices and invoice payments,
//! test clocks, the billing portal (API and hosted page), entitlements.
//!
//! OWNED BY THE BILLING HELPER. The functions below are the contract the
//! payments module relies on; keep their signatures.
//!
//! Everything is stored in Stripe's newest shape (periods on items, invoice
//! `parent`, `payments`). What the sim needs but a client must not see
//! (dunning settings captured at creation, the invoice's payment intent for
//! retries) lives under `_sim`, which the render layer strips.

mod calendar;
mod dunning;
mod entitlements;
mod invoice_api;
mod invoice_page;
mod invoices;
mod items;
mod portal;
mod portal_page;
mod prorations;
mod renewal;
mod sub_api;
mod sub_changes;
mod subscriptions;
mod test_clocks;

use axum::routing::{get, post};
use axum::Router;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use crate::error::StripeError;
use crate::events::Cause;
use crate::state::{Objects, Sim};

/// `/v1` routes served by this module (mounted under `/v1`).
pub fn routes() -> Router<Sim> {
    Router::new()
        .route("/subscriptions", get(sub_api::list).post(sub_api::create))
        .route(
            "/subscriptions/{id}",
            get(sub_api::retrieve)
                .post(sub_changes::update)
                .delete(sub_changes::cancel),
        )
        .route("/subscriptions/{id}/resume", post(sub_changes::resume))
        .route("/subscriptions/{id}/pause", post(sub_changes::pause))
        .route("/subscription_items", get(items::list))
        .route("/subscription_items/{id}", get(items::retrieve))
        .route("/invoices", get(invoice_api::list))
        .route("/invoices/{id}", get(invoice_api::retrieve))
        .route("/invoices/{id}/lines", get(invoice_api::lines))
        .route("/invoices/{id}/pay", post(invoice_api::pay))
        .route("/invoices/{id}/finalize", post(invoice_api::finalize))
        .route("/invoices/{id}/void", post(invoice_api::void))
        .route(
            "/invoices/{id}/mark_uncollectible",
            post(invoice_api::mark_uncollectible),
        )
        .route("/invoice_payments", get(invoice_api::list_payments))
        .route("/invoice_payments/{id}", get(invoice_api::retrieve_payment))
        .route("/invoiceitems", get(invoice_api::list_items))
        .route("/invoiceitems/{id}", get(invoice_api::retrieve_item))
        .route(
            "/test_helpers/test_clocks",
            get(test_clocks::list).post(test_clocks::create),
        )
        .route(
            "/test_helpers/test_clocks/{id}",
            get(test_clocks::retrieve).delete(test_clocks::delete),
        )
        .route(
            "/test_helpers/test_clocks/{id}/advance",
            post(test_clocks::advance),
        )
        .route("/billing_portal/sessions", post(portal::create))
        .route(
            "/entitlements/features",
            get(entitlements::list_features).post(entitlements::create_feature),
        )
        .route(
            "/entitlements/features/{id}",
            get(entitlements::retrieve_feature).post(entitlements::update_feature),
        )
        .route(
            "/products/{id}/features",
            get(entitlements::list_attached).post(entitlements::attach),
        )
        .route(
            "/products/{id}/features/{feature}",
            axum::routing::delete(entitlements::detach),
        )
        .route(
            "/entitlements/active_entitlements",
            get(entitlements::list_active),
        )
        .route(
            "/entitlements/active_entitlements/{id}",
            get(entitlements::retrieve_active),
        )
}

/// Hosted pages (outside `/v1`, no API key): the billing portal and the
/// hosted invoice page.
pub fn pages() -> Router<Sim> {
    portal_page::routes().route("/invoices/{id}", get(invoice_page::show))
}

/// What happens to a subscription when every dunning retry has failed
/// (Stripe's "subscription status after all retries fail" setting).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AfterRetries {
    /// `customer.subscription.deleted`, reason `payment_failed`.
    #[default]
    Cancel,
    /// `past_due` → `unpaid`.
    MarkUnpaid,
    /// Stays `past_due`.
    LeavePastDue,
}

/// Dunning and renewal knobs (retry schedule, what happens when retries
/// run out); the defaults follow Stripe's.
///
/// A subscription keeps the settings it was created under.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BillingSettings {
    /// Days after the previous failed attempt at which a renewal invoice is
    /// retried; its length is the number of retries.
    pub retry_days: Vec<i64>,
    /// The subscription's fate once the last retry fails.
    pub after_retries: AfterRetries,
    /// Seconds an `incomplete` subscription waits for its first payment
    /// before becoming `incomplete_expired` (Stripe: 23 hours).
    pub incomplete_expires_after: i64,
    /// Seconds before `trial_end` that `trial_will_end` is sent (3 days).
    pub trial_will_end_before: i64,
}

impl Default for BillingSettings {
    fn default() -> Self {
        Self {
            retry_days: vec![3, 5, 7],
            after_retries: AfterRetries::Cancel,
            incomplete_expires_after: 23 * 3600,
            trial_will_end_before: 3 * calendar::DAY,
        }
    }
}

impl BillingSettings {
    /// The settings a subscription was created under.
    fn of(subscription: &Value) -> Self {
        serde_json::from_value(subscription["_sim"]["billing"].clone()).unwrap_or_default()
    }

    fn to_json(&self) -> Value {
        serde_json::to_value(self).unwrap_or_else(|_| json!({}))
    }
}

/// A subscription to start, as Checkout (subscription mode) or
/// `POST /v1/subscriptions` asks for it.
#[derive(Debug, Clone, Default)]
pub struct SubscribeRequest {
    pub customer: String,
    /// `(price id, quantity)` per item.
    pub items: Vec<(String, i64)>,
    pub default_payment_method: Option<String>,
    pub trial_period_days: Option<i64>,
    pub trial_end: Option<i64>,
    pub metadata: Value,
    pub description: Option<String>,
}

/// Creates a subscription and its first invoice, collecting payment with
/// `crate::payments::collect`, emitting Stripe's sequence
/// (`customer.subscription.created`, `invoice.created`, `invoice.finalized`,
/// payment events, `invoice.paid`, `invoice.payment_succeeded`,
/// `invoice_payment.paid`, `customer.subscription.updated`). Returns the
/// subscription as it ends up.
pub fn subscribe(
    objects: &mut Objects,
    cause: &Cause,
    at: i64,
    request: SubscribeRequest,
) -> Result<Value, StripeError> {
    subscriptions::create(
        objects,
        cause,
        at,
        request,
        &subscriptions::CreateOptions {
            settings: objects.settings.billing.clone(),
            public_url: objects.settings.public_url.clone(),
            ..subscriptions::CreateOptions::default()
        },
    )
}

/// Cancels every live subscription of `customer` at once, as deleting a
/// customer does in Stripe (`customer.subscription.deleted` for each).
pub fn cancel_all_for_customer(objects: &mut Objects, cause: &Cause, at: i64, customer: &str) {
    let live: Vec<String> = objects
        .subscriptions
        .newest_first()
        .filter(|sub| sub["customer"] == customer)
        .filter_map(|sub| sub["id"].as_str().map(str::to_owned))
        .collect();
    for id in live {
        dunning::end(objects, cause, at, &id, "cancellation_requested");
    }
}

/// Applies renewals, trial ends, dunning retries and period-end
/// cancellations due on `clock` up to `until`, in time order.
pub fn advance(objects: &mut Objects, clock: Option<&str>, until: i64) {
    renewal::advance(objects, clock, until);
}
