//! Payments: payment methods and test cards, payment intents, charges,
//! refunds, disputes, and Checkout (API and hosted page).
//!
//! OWNED BY THE PAYMENTS HELPER. The functions below are the contract the
//! billing module relies on; keep their signatures.

use axum::Router;
use serde_json::Value;

use crate::error::StripeError;
use crate::events::Cause;
use crate::state::{Objects, Sim};

/// `/v1` routes served by this module (mounted under `/v1`).
pub fn routes() -> Router<Sim> {
    Router::new()
}

/// Hosted pages (outside `/v1`, no API key): the Checkout page.
pub fn pages() -> Router<Sim> {
    Router::new()
}

/// A payment to collect off-session (renewals, invoice pay, subscription
/// create) or on-session (Checkout).
#[derive(Debug, Clone)]
pub struct PaymentRequest {
    pub customer: Option<String>,
    pub payment_method: String,
    pub amount: i64,
    pub currency: String,
    pub description: Option<String>,
    pub metadata: Value,
    /// Reuse this payment intent (dunning retries reuse the invoice's PI).
    pub existing_intent: Option<String>,
}

/// A successful payment.
#[derive(Debug, Clone)]
pub struct Collected {
    pub payment_intent: String,
    pub charge: String,
}

/// A declined payment: the intent (back to `requires_payment_method`,
/// `last_payment_error` set) and the card error Stripe would answer with.
#[derive(Debug, Clone)]
pub struct Declined {
    pub payment_intent: String,
    pub charge: Option<String>,
    pub error: StripeError,
}

/// Charges `request`: creates (or reuses) the payment intent and a charge,
/// emitting `payment_intent.created`, then `charge.succeeded` +
/// `payment_intent.succeeded`, or `charge.failed` +
/// `payment_intent.payment_failed`, as the card behaves.
pub fn collect(
    _objects: &mut Objects,
    _cause: &Cause,
    _at: i64,
    _request: PaymentRequest,
) -> Result<Collected, Box<Declined>> {
    Err(Box::new(Declined {
        payment_intent: String::new(),
        charge: None,
        error: StripeError::internal(),
    }))
}

/// The card error a charge to `payment_method` would meet, without
/// charging; `None` when it would succeed.
pub fn would_decline(_objects: &Objects, _payment_method: &str) -> Option<StripeError> {
    Some(StripeError::internal())
}

/// Creates a card payment method from a raw test card number and attaches
/// it to `customer` (emitting `payment_method.attached`). Cards declined on
/// attach return their card error and create nothing.
pub fn card_for_customer(
    _objects: &mut Objects,
    _cause: &Cause,
    _at: i64,
    _number: &str,
    _customer: &str,
) -> Result<String, StripeError> {
    Err(StripeError::internal())
}

/// Expires open Checkout sessions on `clock` whose `expires_at` ≤ `until`.
pub fn expire_due(_objects: &mut Objects, _clock: Option<&str>, _until: i64) {}
