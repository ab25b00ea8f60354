//! Subscriptions: start, change plan or quantity, pause, resume, cancel.

use serde::{Deserialize, Serialize, Serializer};

use super::{listed, Metadata, Price};
use crate::{Expandable, IdempotencyKey, List, StripeClient, StripeError};

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct Subscription {
    pub id: String,
    /// The customer's id, or the customer with `expand[]=customer`.
    pub customer: Option<Expandable<super::Customer>>,
    /// `incomplete`, `trialing`, `active`, `past_due`, `paused`, `canceled`…
    pub status: String,
    pub items: List<SubscriptionItem>,
    pub cancel_at_period_end: bool,
    pub cancel_at: Option<i64>,
    pub canceled_at: Option<i64>,
    pub pause_collection: Option<PauseCollectionState>,
    pub latest_invoice: Option<Expandable<super::Invoice>>,
    pub default_payment_method: Option<String>,
    pub trial_end: Option<i64>,
    pub metadata: Metadata,
}

impl Default for List<SubscriptionItem> {
    fn default() -> Self {
        Self {
            data: Vec::new(),
            has_more: false,
            url: String::new(),
        }
    }
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct SubscriptionItem {
    pub id: String,
    pub price: Price,
    pub quantity: Option<u64>,
    /// Since basil the period lives on the item.
    pub current_period_start: Option<i64>,
    pub current_period_end: Option<i64>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct PauseCollectionState {
    pub behavior: String,
    pub resumes_at: Option<i64>,
}

/// One entry of `items[]` in a create or update.
#[derive(Debug, Clone, Default, Serialize)]
pub struct SubscriptionItemParams {
    /// The existing item to change (update only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub price: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub quantity: Option<u64>,
}

/// `pause_collection` on update: set a behaviour, or unset (resume billing).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PauseCollection {
    /// `keep_as_draft`, `mark_uncollectible` or `void`.
    Pause { behavior: String },
    /// Sent as `pause_collection=` (empty), Stripe's way to clear a field.
    Unset,
}

impl Serialize for PauseCollection {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        #[derive(Serialize)]
        struct Pause<'a> {
            behavior: &'a str,
        }
        match self {
            Self::Pause { behavior } => Pause { behavior }.serialize(serializer),
            Self::Unset => serializer.serialize_str(""),
        }
    }
}

/// `POST /v1/subscriptions`.
#[derive(Debug, Clone, Default, Serialize)]
pub struct CreateSubscription {
    pub customer: String,
    pub items: Vec<SubscriptionItemParams>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub default_payment_method: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub trial_period_days: Option<u32>,
    /// e.g. `error_if_incomplete`, `default_incomplete`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub payment_behavior: Option<String>,
    #[serde(skip_serializing_if = "Metadata::is_empty")]
    pub metadata: Metadata,
}

/// `POST /v1/subscriptions/{id}`.
#[derive(Debug, Clone, Default, Serialize)]
pub struct UpdateSubscription {
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub items: Vec<SubscriptionItemParams>,
    /// `create_prorations`, `always_invoice` or `none`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub proration_behavior: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cancel_at_period_end: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pause_collection: Option<PauseCollection>,
    #[serde(skip_serializing_if = "Metadata::is_empty")]
    pub metadata: Metadata,
}

/// `POST /v1/subscriptions/{id}/resume`.
#[derive(Debug, Clone, Default, Serialize)]
pub struct ResumeSubscription {
    /// `now` or `unchanged`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub billing_cycle_anchor: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub proration_behavior: Option<String>,
}

/// `GET /v1/subscriptions` filters.
#[derive(Debug, Clone, Default, Serialize)]
pub struct ListSubscriptions {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub customer: Option<String>,
    /// `all` includes canceled ones.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub limit: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub starting_after: Option<String>,
}

listed!(Subscription, SubscriptionItem);

impl StripeClient {
    pub async fn create_subscription(
        &self,
        params: &CreateSubscription,
        key: &IdempotencyKey,
    ) -> Result<Subscription, StripeError> {
        self.post("/v1/subscriptions", params, key).await
    }

    pub async fn retrieve_subscription(&self, id: &str) -> Result<Subscription, StripeError> {
        self.get(&format!("/v1/subscriptions/{id}"), &()).await
    }

    pub async fn update_subscription(
        &self,
        id: &str,
        params: &UpdateSubscription,
        key: &IdempotencyKey,
    ) -> Result<Subscription, StripeError> {
        self.post(&format!("/v1/subscriptions/{id}"), params, key)
            .await
    }

    /// Cancels now (`DELETE`, idempotent by nature).
    pub async fn cancel_subscription(&self, id: &str) -> Result<Subscription, StripeError> {
        self.delete(&format!("/v1/subscriptions/{id}")).await
    }

    /// Resumes a `paused` subscription.
    pub async fn resume_subscription(
        &self,
        id: &str,
        params: &ResumeSubscription,
        key: &IdempotencyKey,
    ) -> Result<Subscription, StripeError> {
        self.post(&format!("/v1/subscriptions/{id}/resume"), params, key)
            .await
    }

    pub async fn list_subscriptions(
        &self,
        params: &ListSubscriptions,
    ) -> Result<List<Subscription>, StripeError> {
        self.get("/v1/subscriptions", params).await
    }
}
