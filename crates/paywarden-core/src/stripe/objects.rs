//! Typed snapshots of the Stripe objects paywarden projects.
//!
//! Every field is optional or defaulted (`#[serde(default)]` on the
//! struct): fixtures from 2014 to 2025 must all read. An object without an
//! id never gets this far (there is nothing to key a row on), and a field
//! present with the wrong type is an error, which marks the event `failed`
//! rather than storing a wrong value. Only a subscription's `status` is
//! required.

use std::collections::BTreeMap;

use serde::Deserialize;
use serde_json::Value;

use super::reference::{typed, Reference};
use super::status::{CheckoutPaymentStatus, CheckoutStatus, SubscriptionStatus};
use crate::ids::SubscriptionId;

/// Free-form metadata; Stripe sends strings, old captures sometimes other scalars.
pub type Metadata = BTreeMap<String, Value>;

/// Reads `metadata`, taking JSON `null` as no metadata: Stripe sends `{}`,
/// but stand-ins and hand-written payloads sometimes send `null`, and an
/// empty map is what the sender meant.
fn metadata_or_empty<'de, D: serde::Deserializer<'de>>(
    deserializer: D,
) -> Result<Metadata, D::Error> {
    Option::<Metadata>::deserialize(deserializer).map(Option::unwrap_or_default)
}

/// A metadata value as text, if it is a non-empty string.
pub fn metadata_text<'a>(metadata: &'a Metadata, key: &str) -> Option<&'a str> {
    metadata
        .get(key)
        .and_then(Value::as_str)
        .filter(|text| !text.is_empty())
}

/// A list wrapper (`{"object":"list","data":[…]}`); only `data` matters.
#[derive(Debug, Clone, Deserialize)]
pub struct List<T> {
    #[serde(default = "Vec::new")]
    pub data: Vec<T>,
}

impl<T> Default for List<T> {
    fn default() -> Self {
        Self { data: Vec::new() }
    }
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct Customer {
    pub id: String,
    pub email: Option<String>,
    pub name: Option<String>,
    pub deleted: Option<bool>,
    pub created: Option<i64>,
    #[serde(deserialize_with = "metadata_or_empty")]
    pub metadata: Metadata,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct Product {
    pub id: String,
    pub name: Option<String>,
    pub active: Option<bool>,
    pub deleted: Option<bool>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct Recurring {
    pub interval: Option<String>,
    pub interval_count: Option<i64>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct Price {
    pub id: String,
    pub product: Option<Reference>,
    pub active: Option<bool>,
    pub deleted: Option<bool>,
    pub currency: Option<String>,
    pub unit_amount: Option<i64>,
    /// Legacy `plan` objects carry `amount` instead of `unit_amount`.
    pub amount: Option<i64>,
    pub recurring: Option<Recurring>,
    /// Legacy `plan` objects carry the interval at the top level.
    pub interval: Option<String>,
    pub interval_count: Option<i64>,
    pub lookup_key: Option<String>,
    pub nickname: Option<String>,
}

impl Price {
    pub fn amount(&self) -> Option<i64> {
        self.unit_amount.or(self.amount)
    }

    pub fn interval(&self) -> Option<&str> {
        self.recurring
            .as_ref()
            .and_then(|r| r.interval.as_deref())
            .or(self.interval.as_deref())
    }

    pub fn interval_count(&self) -> Option<i64> {
        self.recurring
            .as_ref()
            .and_then(|r| r.interval_count)
            .or(self.interval_count)
    }
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct CustomerDetails {
    pub email: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct CheckoutSession {
    pub id: String,
    pub mode: Option<String>,
    pub status: Option<CheckoutStatus>,
    pub payment_status: Option<CheckoutPaymentStatus>,
    pub customer: Option<Reference>,
    pub customer_email: Option<String>,
    pub customer_details: Option<CustomerDetails>,
    pub client_reference_id: Option<String>,
    #[serde(deserialize_with = "metadata_or_empty")]
    pub metadata: Metadata,
    pub subscription: Option<Reference>,
    pub payment_intent: Option<Reference>,
    pub invoice: Option<Reference>,
    pub amount_total: Option<i64>,
    pub currency: Option<String>,
    pub created: Option<i64>,
    pub expires_at: Option<i64>,
}

impl CheckoutSession {
    /// The email the buyer gave, from whichever field this version filled.
    pub fn email(&self) -> Option<&str> {
        self.customer_details
            .as_ref()
            .and_then(|d| d.email.as_deref())
            .or(self.customer_email.as_deref())
    }
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct PauseCollection {
    pub behavior: Option<String>,
    pub resumes_at: Option<i64>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct SubscriptionItem {
    pub id: String,
    pub price: Option<Price>,
    /// Legacy mirror of `price`.
    pub plan: Option<Price>,
    pub quantity: Option<i64>,
    /// Since 2025-03-31.basil the billing period lives on the item.
    pub current_period_start: Option<i64>,
    pub current_period_end: Option<i64>,
}

impl SubscriptionItem {
    pub fn price(&self) -> Option<&Price> {
        self.price.as_ref().or(self.plan.as_ref())
    }
}

#[derive(Debug, Clone, Deserialize)]
pub struct Subscription {
    pub id: String,
    #[serde(default)]
    pub customer: Option<Reference>,
    pub status: SubscriptionStatus,
    #[serde(default)]
    pub items: List<SubscriptionItem>,
    /// Until 2025-02-24.acacia the billing period lives on the subscription.
    #[serde(default)]
    pub current_period_start: Option<i64>,
    #[serde(default)]
    pub current_period_end: Option<i64>,
    #[serde(default)]
    pub cancel_at_period_end: Option<bool>,
    #[serde(default)]
    pub cancel_at: Option<i64>,
    #[serde(default)]
    pub canceled_at: Option<i64>,
    #[serde(default)]
    pub ended_at: Option<i64>,
    #[serde(default)]
    pub pause_collection: Option<PauseCollection>,
    #[serde(default)]
    pub trial_start: Option<i64>,
    #[serde(default)]
    pub trial_end: Option<i64>,
    #[serde(default)]
    #[serde(deserialize_with = "metadata_or_empty")]
    pub metadata: Metadata,
    #[serde(default)]
    pub created: Option<i64>,
}

impl Subscription {
    /// The current period, wherever this API version put it: on the
    /// subscription (≤ acacia) or on its items (≥ basil; earliest start,
    /// latest end).
    pub fn current_period(&self) -> (Option<i64>, Option<i64>) {
        let start = self.current_period_start.or_else(|| {
            self.items
                .data
                .iter()
                .filter_map(|i| i.current_period_start)
                .min()
        });
        let end = self.current_period_end.or_else(|| {
            self.items
                .data
                .iter()
                .filter_map(|i| i.current_period_end)
                .max()
        });
        (start, end)
    }
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct Period {
    pub start: Option<i64>,
    pub end: Option<i64>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct SubscriptionDetails {
    pub subscription: Option<Reference>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct InvoiceParent {
    pub subscription_details: Option<SubscriptionDetails>,
    pub subscription_item_details: Option<SubscriptionDetails>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct InvoiceLine {
    pub subscription: Option<Reference>,
    pub parent: Option<InvoiceParent>,
    pub period: Option<Period>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct InvoicePaymentDetails {
    pub payment_intent: Option<Reference>,
}

/// An `invoice_payment` (≥ basil): an invoice and one payment towards it.
/// Inside an invoice's `payments` list only `payment` is read.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct InvoicePayment {
    pub id: String,
    pub invoice: Option<Reference>,
    pub status: Option<String>,
    pub payment: Option<InvoicePaymentDetails>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct Invoice {
    /// `invoice.upcoming` previews have no id.
    pub id: Option<String>,
    pub customer: Option<Reference>,
    pub customer_email: Option<String>,
    /// ≤ acacia.
    pub subscription: Option<Value>,
    /// ≥ basil.
    pub parent: Option<InvoiceParent>,
    pub lines: List<InvoiceLine>,
    pub status: Option<String>,
    pub amount_paid: Option<i64>,
    pub amount_due: Option<i64>,
    pub total: Option<i64>,
    pub currency: Option<String>,
    pub attempt_count: Option<i64>,
    pub next_payment_attempt: Option<i64>,
    pub billing_reason: Option<String>,
    /// ≤ acacia.
    pub payment_intent: Option<Reference>,
    /// ≥ basil, when `payments` is included.
    pub payments: Option<List<InvoicePayment>>,
    pub hosted_invoice_url: Option<String>,
    pub created: Option<i64>,
}

impl Invoice {
    /// The subscription this invoice bills, in any API version's shape.
    pub fn subscription_id(&self) -> Option<SubscriptionId> {
        let from_parent = self
            .parent
            .as_ref()
            .and_then(|p| p.subscription_details.as_ref())
            .and_then(|d| typed(&d.subscription));
        let legacy = self.subscription.as_ref().and_then(|value| match value {
            Value::String(id) => id.parse().ok(),
            Value::Object(map) => map
                .get("id")
                .and_then(Value::as_str)
                .and_then(|id| id.parse().ok()),
            _ => None,
        });
        let from_lines = || {
            self.lines.data.iter().find_map(|line| {
                line.parent
                    .as_ref()
                    .and_then(|p| p.subscription_item_details.as_ref())
                    .and_then(|d| typed(&d.subscription))
                    .or_else(|| typed(&line.subscription))
            })
        };
        from_parent.or(legacy).or_else(from_lines)
    }

    /// The embedded subscription object, when the invoice was sent with it expanded.
    pub fn expanded_subscription(&self) -> Option<&Value> {
        self.subscription.as_ref().filter(|value| value.is_object())
    }

    /// The service period billed: the widest span of the invoice's lines.
    pub fn service_period(&self) -> (Option<i64>, Option<i64>) {
        let periods = self
            .lines
            .data
            .iter()
            .filter_map(|line| line.period.as_ref());
        let start = periods.clone().filter_map(|p| p.start).min();
        let end = periods.filter_map(|p| p.end).max();
        (start, end)
    }

    /// The PaymentIntent that paid this invoice, where the version says.
    pub fn payment_intent_ref(&self) -> Option<&Reference> {
        self.payment_intent.as_ref().or_else(|| {
            self.payments.as_ref().and_then(|list| {
                list.data
                    .iter()
                    .find_map(|p| p.payment.as_ref().and_then(|d| d.payment_intent.as_ref()))
            })
        })
    }
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct PaymentError {
    pub code: Option<String>,
    pub message: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct PaymentIntent {
    pub id: String,
    pub amount: Option<i64>,
    pub amount_received: Option<i64>,
    pub currency: Option<String>,
    pub customer: Option<Reference>,
    pub status: Option<String>,
    /// ≤ acacia.
    pub invoice: Option<Reference>,
    pub last_payment_error: Option<PaymentError>,
    pub created: Option<i64>,
    #[serde(deserialize_with = "metadata_or_empty")]
    pub metadata: Metadata,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct Refund {
    pub id: String,
    pub amount: Option<i64>,
    pub currency: Option<String>,
    pub charge: Option<Reference>,
    pub payment_intent: Option<Reference>,
    pub status: Option<String>,
    pub reason: Option<String>,
    pub created: Option<i64>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct Charge {
    pub id: String,
    pub amount: Option<i64>,
    pub amount_refunded: Option<i64>,
    pub currency: Option<String>,
    pub customer: Option<Reference>,
    pub payment_intent: Option<Reference>,
    pub refunds: Option<List<Refund>>,
    pub created: Option<i64>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct Dispute {
    pub id: String,
    pub amount: Option<i64>,
    pub currency: Option<String>,
    pub charge: Option<Reference>,
    pub payment_intent: Option<Reference>,
    pub status: Option<String>,
    pub reason: Option<String>,
    pub created: Option<i64>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct Card {
    pub brand: Option<String>,
    pub last4: Option<String>,
    pub exp_month: Option<i64>,
    pub exp_year: Option<i64>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct PaymentMethod {
    pub id: String,
    pub customer: Option<Reference>,
    #[serde(rename = "type")]
    pub method_type: Option<String>,
    pub card: Option<Card>,
    pub created: Option<i64>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn null_or_missing_metadata_reads_as_empty() {
        let null: CheckoutSession =
            serde_json::from_value(serde_json::json!({ "id": "cs_test_1", "metadata": null }))
                .expect("null metadata");
        assert!(null.metadata.is_empty());
        let missing: CheckoutSession =
            serde_json::from_value(serde_json::json!({ "id": "cs_test_1" })).expect("no metadata");
        assert!(missing.metadata.is_empty());
        let set: CheckoutSession = serde_json::from_value(
            serde_json::json!({ "id": "cs_test_1", "metadata": { "plan": "pro" } }),
        )
        .expect("metadata");
        assert_eq!(metadata_text(&set.metadata, "plan"), Some("pro"));
    }
}
