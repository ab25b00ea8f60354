//! Payment intents and refunds: one-time purchases and giving money back.

use serde::{Deserialize, Serialize};

use super::{listed, Metadata};
use crate::{IdempotencyKey, StripeClient, StripeError};

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct PaymentIntent {
    pub id: String,
    pub amount: i64,
    pub amount_received: i64,
    pub currency: String,
    pub customer: Option<String>,
    /// `requires_payment_method`, `succeeded`, `canceled`…
    pub status: String,
    pub latest_charge: Option<String>,
    pub metadata: Metadata,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct Refund {
    pub id: String,
    pub amount: i64,
    pub currency: String,
    pub payment_intent: Option<String>,
    pub charge: Option<String>,
    /// `pending`, `succeeded`, `failed`, `canceled`.
    pub status: Option<String>,
    pub metadata: Metadata,
}

/// `POST /v1/payment_intents` (server-side charges of a saved card).
#[derive(Debug, Clone, Default, Serialize)]
pub struct CreatePaymentIntent {
    pub amount: i64,
    pub currency: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub customer: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub payment_method: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub confirm: Option<bool>,
    #[serde(skip_serializing_if = "Metadata::is_empty")]
    pub metadata: Metadata,
}

/// `POST /v1/refunds`.
#[derive(Debug, Clone, Default, Serialize)]
pub struct CreateRefund {
    pub payment_intent: String,
    /// Partial refund in minor units; the whole payment when absent.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub amount: Option<i64>,
    /// `duplicate`, `fraudulent` or `requested_by_customer`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    #[serde(skip_serializing_if = "Metadata::is_empty")]
    pub metadata: Metadata,
}

listed!(PaymentIntent, Refund);

impl StripeClient {
    pub async fn create_payment_intent(
        &self,
        params: &CreatePaymentIntent,
        key: &IdempotencyKey,
    ) -> Result<PaymentIntent, StripeError> {
        self.post("/v1/payment_intents", params, key).await
    }

    pub async fn retrieve_payment_intent(&self, id: &str) -> Result<PaymentIntent, StripeError> {
        self.get(&format!("/v1/payment_intents/{id}"), &()).await
    }

    pub async fn create_refund(
        &self,
        params: &CreateRefund,
        key: &IdempotencyKey,
    ) -> Result<Refund, StripeError> {
        self.post("/v1/refunds", params, key).await
    }
}
