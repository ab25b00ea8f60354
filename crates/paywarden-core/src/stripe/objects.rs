//! Typed snapshots of the Stripe objects paywarden projects.
//!
//! Every field but `id` is optional or defaulted: fixtures from 2014 to
//! 2025 must all read. A field present with the wrong type is an error,
//! which marks the event `failed` rather than storing a wrong value.

use std::collections::BTreeMap;

use serde::Deserialize;
use serde_json::Value;

use super::reference::{typed, Reference};
use super::status::{CheckoutPaymentStatus, CheckoutStatus, SubscriptionStatus};
use crate::ids::SubscriptionId;

/// Free-form metadata; Stripe sends strings, old captures sometimes other scalars.
pub type Metadata = BTreeMap<String, Value>;

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

#[derive(Debug, Clone, Deserialize)]
pub struct Customer {
    pub id: String,
    #[serde(default)]
    pub email: Option<String>,
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub deleted: Option<bool>,
    #[serde(default)]
    pub created: Option<i64>,
    #[serde(default)]
    pub metadata: Metadata,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Product {
    pub id: String,
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub active: Option<bool>,
    #[serde(default)]
    pub deleted: Option<bool>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Recurring {
    #[serde(default)]
    pub interval: Option<String>,
    #[serde(default)]
    pub interval_count: Option<i64>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Price {
    pub id: String,
    #[serde(default)]
    pub product: Option<Reference>,
    #[serde(default)]
    pub active: Option<bool>,
    #[serde(default)]
    pub deleted: Option<bool>,
    #[serde(default)]
    pub currency: Option<String>,
    #[serde(default)]
    pub unit_amount: Option<i64>,
    /// Legacy `plan` objects carry `amount` instead of `unit_amount`.
    #[serde(default)]
    pub amount: Option<i64>,
    #[serde(default)]
    pub recurring: Option<Recurring>,
    /// Legacy `plan` objects carry the interval at the top level.
    #[serde(default)]
    pub interval: Option<String>,
    #[serde(default)]
    pub interval_count: Option<i64>,
    #[serde(default)]
    pub lookup_key: Option<String>,
    #[serde(default)]
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
pub struct CustomerDetails {
    #[serde(default)]
    pub email: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct CheckoutSession {
    pub id: String,
    #[serde(default)]
    pub mode: Option<String>,
    #[serde(default)]
    pub status: Option<CheckoutStatus>,
    #[serde(default)]
    pub payment_status: Option<CheckoutPaymentStatus>,
    #[serde(default)]
    pub customer: Option<Reference>,
    #[serde(default)]
    pub customer_email: Option<String>,
    #[serde(default)]
    pub customer_details: Option<CustomerDetails>,
    #[serde(default)]
    pub client_reference_id: Option<String>,
    #[serde(default)]
    pub metadata: Metadata,
    #[serde(default)]
    pub subscription: Option<Reference>,
    #[serde(default)]
    pub payment_intent: Option<Reference>,
    #[serde(default)]
    pub invoice: Option<Reference>,
    #[serde(default)]
    pub amount_total: Option<i64>,
    #[serde(default)]
    pub currency: Option<String>,
    #[serde(default)]
    pub created: Option<i64>,
    #[serde(default)]
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

#[derive(Debug, Clone, Deserialize)]
pub struct PauseCollection {
    #[serde(default)]
    pub behavior: Option<String>,
    #[serde(default)]
    pub resumes_at: Option<i64>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct SubscriptionItem {
    pub id: String,
    #[serde(default)]
    pub price: Option<Price>,
    /// Legacy mirror of `price`.
    #[serde(default)]
    pub plan: Option<Price>,
    #[serde(default)]
    pub quantity: Option<i64>,
    /// Since 2025-03-31.basil the billing period lives on the item.
    #[serde(default)]
    pub current_period_start: Option<i64>,
    #[serde(default)]
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

#[derive(Debug, Clone, Deserialize)]
pub struct Period {
    #[serde(default)]
    pub start: Option<i64>,
    #[serde(default)]
    pub end: Option<i64>,
}

#[derive(Debug, Clone, Default, Deserialize)]
pub struct SubscriptionDetails {
    #[serde(default)]
    pub subscription: Option<Reference>,
}

#[derive(Debug, Clone, Default, Deserialize)]
pub struct InvoiceParent {
    #[serde(default)]
    pub subscription_details: Option<SubscriptionDetails>,
    #[serde(default)]
    pub subscription_item_details: Option<SubscriptionDetails>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct InvoiceLine {
    #[serde(default)]
    pub subscription: Option<Reference>,
    #[serde(default)]
    pub parent: Option<InvoiceParent>,
    #[serde(default)]
    pub period: Option<Period>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct InvoicePaymentDetails {
    #[serde(default)]
    pub payment_intent: Option<Reference>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct InvoicePayment {
    #[serde(default)]
    pub payment: Option<InvoicePaymentDetails>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Invoice {
    /// `invoice.upcoming` previews have no id.
    #[serde(default)]
    pub id: Option<String>,
    #[serde(default)]
    pub customer: Option<Reference>,
    #[serde(default)]
    pub customer_email: Option<String>,
    /// ≤ acacia.
    #[serde(default)]
    pub subscription: Option<Value>,
    /// ≥ basil.
    #[serde(default)]
    pub parent: Option<InvoiceParent>,
    #[serde(default)]
    pub lines: List<InvoiceLine>,
    #[serde(default)]
    pub status: Option<String>,
    #[serde(default)]
    pub amount_paid: Option<i64>,
    #[serde(default)]
    pub amount_due: Option<i64>,
    #[serde(default)]
    pub total: Option<i64>,
    #[serde(default)]
    pub currency: Option<String>,
    #[serde(default)]
    pub attempt_count: Option<i64>,
    #[serde(default)]
    pub next_payment_attempt: Option<i64>,
    #[serde(default)]
    pub billing_reason: Option<String>,
    /// ≤ acacia.
    #[serde(default)]
    pub payment_intent: Option<Reference>,
    /// ≥ basil, when `payments` is included.
    #[serde(default)]
    pub payments: Option<List<InvoicePayment>>,
    #[serde(default)]
    pub hosted_invoice_url: Option<String>,
    #[serde(default)]
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

#[derive(Debug, Clone, Deserialize)]
pub struct PaymentError {
    #[serde(default)]
    pub code: Option<String>,
    #[serde(default)]
    pub message: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct PaymentIntent {
    pub id: String,
    #[serde(default)]
    pub amount: Option<i64>,
    #[serde(default)]
    pub amount_received: Option<i64>,
    #[serde(default)]
    pub currency: Option<String>,
    #[serde(default)]
    pub customer: Option<Reference>,
    #[serde(default)]
    pub status: Option<String>,
    /// ≤ acacia.
    #[serde(default)]
    pub invoice: Option<Reference>,
    #[serde(default)]
    pub last_payment_error: Option<PaymentError>,
    #[serde(default)]
    pub created: Option<i64>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Refund {
    pub id: String,
    #[serde(default)]
    pub amount: Option<i64>,
    #[serde(default)]
    pub currency: Option<String>,
    #[serde(default)]
    pub charge: Option<Reference>,
    #[serde(default)]
    pub payment_intent: Option<Reference>,
    #[serde(default)]
    pub status: Option<String>,
    #[serde(default)]
    pub reason: Option<String>,
    #[serde(default)]
    pub created: Option<i64>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Charge {
    pub id: String,
    #[serde(default)]
    pub amount: Option<i64>,
    #[serde(default)]
    pub amount_refunded: Option<i64>,
    #[serde(default)]
    pub currency: Option<String>,
    #[serde(default)]
    pub customer: Option<Reference>,
    #[serde(default)]
    pub payment_intent: Option<Reference>,
    #[serde(default)]
    pub refunds: Option<List<Refund>>,
    #[serde(default)]
    pub created: Option<i64>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Dispute {
    pub id: String,
    #[serde(default)]
    pub amount: Option<i64>,
    #[serde(default)]
    pub currency: Option<String>,
    #[serde(default)]
    pub charge: Option<Reference>,
    #[serde(default)]
    pub payment_intent: Option<Reference>,
    #[serde(default)]
    pub status: Option<String>,
    #[serde(default)]
    pub reason: Option<String>,
    #[serde(default)]
    pub created: Option<i64>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Card {
    #[serde(default)]
    pub brand: Option<String>,
    #[serde(default)]
    pub last4: Option<String>,
    #[serde(default)]
    pub exp_month: Option<i64>,
    #[serde(default)]
    pub exp_year: Option<i64>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct PaymentMethod {
    pub id: String,
    #[serde(default)]
    pub customer: Option<Reference>,
    #[serde(default, rename = "type")]
    pub method_type: Option<String>,
    #[serde(default)]
    pub card: Option<Card>,
    #[serde(default)]
    pub created: Option<i64>,
}
