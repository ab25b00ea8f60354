//! Billing: subscriptions and their items, invoices and invoice payments,
//! test clocks, the billing portal (API and hosted page), entitlements.
//!
//! OWNED BY THE BILLING HELPER. The functions below are the contract the
//! payments module relies on; keep their signatures.

use axum::Router;
use serde_json::Value;

use crate::error::StripeError;
use crate::events::Cause;
use crate::state::{Objects, Sim};

/// `/v1` routes served by this module (mounted under `/v1`).
pub fn routes() -> Router<Sim> {
    Router::new()
}

/// Hosted pages (outside `/v1`, no API key): the billing portal.
pub fn pages() -> Router<Sim> {
    Router::new()
}

/// Dunning and renewal knobs (retry schedule, what happens when retries
/// run out); the defaults follow Stripe's.
#[derive(Debug, Clone, Default)]
pub struct BillingSettings {}

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
    _objects: &mut Objects,
    _cause: &Cause,
    _at: i64,
    _request: SubscribeRequest,
) -> Result<Value, StripeError> {
    Err(StripeError::internal())
}

/// Applies renewals, trial ends, dunning retries and period-end
/// cancellations due on `clock` up to `until`, in time order.
pub fn advance(_objects: &mut Objects, _clock: Option<&str>, _until: i64) {}
