//! A Stripe error that may carry the payment objects it is about.
//!
//! A declined confirm answers 402 with the error object plus the
//! `payment_intent` (as it now is), the failed `charge` id and the
//! `payment_method`, which `StripeError` has no room for; SDK users read
//! `err.payment_intent.id` to retry.

use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::Value;

use crate::error::StripeError;

/// A `StripeError` with Stripe's payment-failure extras (boxed: it travels
/// in `Result`s).
#[derive(Debug, Clone)]
pub struct PayError(pub Box<Failure>);

/// What a payment failure carries.
#[derive(Debug, Clone)]
pub struct Failure {
    pub error: StripeError,
    pub payment_intent: Option<Value>,
    pub charge: Option<String>,
    pub payment_method: Option<Value>,
}

impl From<StripeError> for PayError {
    fn from(error: StripeError) -> Self {
        Self(Box::new(Failure {
            error,
            payment_intent: None,
            charge: None,
            payment_method: None,
        }))
    }
}

impl PayError {
    /// The JSON body: Stripe's error object with the payment extras.
    pub fn body(&self) -> Value {
        self.0.body()
    }
}

impl Failure {
    /// The JSON body: Stripe's error object with the payment extras.
    pub fn body(&self) -> Value {
        let mut body = self.error.body();
        if let Some(pi) = &self.payment_intent {
            body["error"]["payment_intent"] = pi.clone();
        }
        if let Some(charge) = &self.charge {
            body["error"]["charge"] = Value::String(charge.clone());
        }
        if let Some(pm) = &self.payment_method {
            body["error"]["payment_method"] = pm.clone();
        }
        body
    }
}

impl IntoResponse for PayError {
    fn into_response(self) -> Response {
        (self.0.error.status, Json(self.body())).into_response()
    }
}
