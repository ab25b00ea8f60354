//! Checkout sessions: the hosted page a user pays on.

use serde::{Deserialize, Serialize};

use super::{listed, Expand, Metadata, Subscription};
use crate::{Expandable, IdempotencyKey, StripeClient, StripeError};

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct CheckoutSession {
    pub id: String,
    pub url: Option<String>,
    /// `payment`, `subscription` or `setup`.
    pub mode: String,
    /// `open`, `complete` or `expired`.
    pub status: Option<String>,
    /// `paid`, `unpaid` or `no_payment_required`.
    pub payment_status: String,
    pub customer: Option<Expandable<super::Customer>>,
    pub customer_email: Option<String>,
    pub client_reference_id: Option<String>,
    pub subscription: Option<Expandable<Subscription>>,
    pub payment_intent: Option<Expandable<super::PaymentIntent>>,
    pub expires_at: i64,
    pub amount_total: Option<i64>,
    pub currency: Option<String>,
    pub metadata: Metadata,
}

/// Whether the session takes a one-time payment or starts a subscription.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum CheckoutMode {
    Payment,
    Subscription,
}

/// One line of a session: a Price by id, or an inline `price_data` (what
/// paywarden uses for a course seat, priced from its own database).
#[derive(Debug, Clone, Serialize)]
pub struct LineItem {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub price: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub price_data: Option<InlinePrice>,
    pub quantity: u64,
}

impl LineItem {
    pub fn price(price: impl Into<String>, quantity: u64) -> Self {
        Self {
            price: Some(price.into()),
            price_data: None,
            quantity,
        }
    }
}

/// `line_items[][price_data]` for a one-time amount.
#[derive(Debug, Clone, Serialize)]
pub struct InlinePrice {
    pub currency: String,
    pub unit_amount: i64,
    pub product_data: InlineProduct,
}

#[derive(Debug, Clone, Serialize)]
pub struct InlineProduct {
    pub name: String,
    #[serde(skip_serializing_if = "Metadata::is_empty")]
    pub metadata: Metadata,
}

/// `payment_intent_data` of a payment-mode session.
#[derive(Debug, Clone, Default, Serialize)]
pub struct PaymentIntentData {
    #[serde(skip_serializing_if = "Metadata::is_empty")]
    pub metadata: Metadata,
}

/// `subscription_data` of a subscription-mode session.
#[derive(Debug, Clone, Default, Serialize)]
pub struct SubscriptionData {
    #[serde(skip_serializing_if = "Metadata::is_empty")]
    pub metadata: Metadata,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub trial_period_days: Option<u32>,
}

/// `POST /v1/checkout/sessions`.
#[derive(Debug, Clone, Serialize)]
pub struct CreateCheckoutSession {
    pub mode: CheckoutMode,
    pub line_items: Vec<LineItem>,
    pub success_url: String,
    pub cancel_url: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub customer: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub customer_email: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_reference_id: Option<String>,
    #[serde(skip_serializing_if = "Metadata::is_empty")]
    pub metadata: Metadata,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub subscription_data: Option<SubscriptionData>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub payment_intent_data: Option<PaymentIntentData>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub allow_promotion_codes: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<i64>,
}

listed!(CheckoutSession);

impl StripeClient {
    pub async fn create_checkout_session(
        &self,
        params: &CreateCheckoutSession,
        key: &IdempotencyKey,
    ) -> Result<CheckoutSession, StripeError> {
        self.post("/v1/checkout/sessions", params, key).await
    }

    /// `expand` e.g. `&["subscription", "payment_intent"]`.
    pub async fn retrieve_checkout_session(
        &self,
        id: &str,
        expand: &[&str],
    ) -> Result<CheckoutSession, StripeError> {
        self.get(&format!("/v1/checkout/sessions/{id}"), &Expand { expand })
            .await
    }
}
