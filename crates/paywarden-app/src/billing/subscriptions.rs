//! A user's subscriptions: read from the projection, changed through
//! Stripe. A change is applied locally from Stripe's answer (as its webhook
//! will be), never from the request.
//!
//! Idempotency: a change sets absolute values (this price, this quantity,
//! cancel at period end or not, paused or not), so repeating it is harmless
//! and its key only has to cover the client's retries of one request: it is
//! derived from the request, the subscription and the caller's
//! `Idempotency-Key` (or a fresh id per request when there is none). A new
//! subscription is not harmless to repeat: its key is derived from the
//! user, the price and the user's latest subscription, so a retry finds
//! Stripe's first answer while a later, deliberate new subscription does not.

use paywarden_core::catalog::PurchaseMode;
use paywarden_core::ids::{CustomerId, SubscriptionId};
use paywarden_core::UserId;
use paywarden_store::{ProjectionReader, Purchases};
use paywarden_stripe::{
    Expand, IdempotencyKey, Metadata, PauseCollection, ResumeSubscription, SubscriptionItemParams,
    UpdateSubscription,
};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::Billing;
use crate::AppError;

/// `POST /api/subscriptions`: start a plan with the saved card.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewSubscription {
    pub price: String,
    pub quantity: Option<i64>,
}

/// `PUT /api/subscriptions/{id}`: what to change. At least one field.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct SubscriptionChange {
    /// Switch to this catalog price (a plan change, prorated).
    pub price: Option<String>,
    pub quantity: Option<i64>,
    pub cancel_at_period_end: Option<bool>,
    /// `true` pauses collection, `false` resumes (or resumes a `paused`
    /// subscription).
    pub pause: Option<bool>,
    /// With `pause: true`: `void` (default), `keep_as_draft` or
    /// `mark_uncollectible`.
    pub pause_behavior: Option<String>,
    /// `create_prorations` (default), `always_invoice` or `none`.
    pub proration_behavior: Option<String>,
}

/// One item of a subscription as the API shows it.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct ItemDetails {
    pub id: String,
    /// The catalog price (lookup key), when the item's price is one.
    pub price: Option<String>,
    pub price_id: Option<String>,
    /// The catalog product key.
    pub plan: Option<String>,
    pub quantity: Option<i64>,
    pub unit_amount: Option<i64>,
    pub currency: Option<String>,
}

/// A subscription as the API shows it: the projected state.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct SubscriptionDetails {
    pub id: String,
    pub status: String,
    pub items: Vec<ItemDetails>,
    pub current_period_start: Option<i64>,
    pub current_period_end: Option<i64>,
    pub cancel_at_period_end: bool,
    pub cancel_at: Option<i64>,
    pub canceled_at: Option<i64>,
    /// Set while collection is paused.
    pub pause_behavior: Option<String>,
    pub trial_end: Option<i64>,
}

const PAUSE_BEHAVIORS: &[&str] = &["void", "keep_as_draft", "mark_uncollectible"];
const PRORATION_BEHAVIORS: &[&str] = &["create_prorations", "always_invoice", "none"];

fn one_of(field: &str, value: &Option<String>, allowed: &[&str]) -> Result<(), AppError> {
    match value {
        Some(v) if !allowed.contains(&v.as_str()) => Err(AppError::Invalid(format!(
            "{field} must be one of {}",
            allowed.join(", ")
        ))),
        _ => Ok(()),
    }
}

fn parse_subscription_id(id: &str) -> Result<SubscriptionId, AppError> {
    id.parse().map_err(|_| AppError::NotFound("subscription"))
}

impl Billing {
    /// The user's subscriptions, as projected.
    pub async fn subscriptions(&self, user: &UserId) -> Result<Vec<SubscriptionDetails>, AppError> {
        let customer = self.existing_customer(user).await?;
        let ids = self
            .store()
            .subscriptions_of_user(user, customer.as_ref())
            .await?;
        let mut out = Vec::with_capacity(ids.len());
        for id in ids {
            if let Some(details) = self.details(&id).await? {
                out.push(details);
            }
        }
        Ok(out)
    }

    /// One of the user's subscriptions; another user's is not found.
    pub async fn subscription(
        &self,
        user: &UserId,
        id: &str,
    ) -> Result<SubscriptionDetails, AppError> {
        let id = self.owned_subscription(user, id).await?;
        self.details(&id)
            .await?
            .ok_or(AppError::NotFound("subscription"))
    }

    /// Checks that `id` is the user's (by `metadata.user_id` or customer).
    async fn owned_subscription(
        &self,
        user: &UserId,
        id: &str,
    ) -> Result<SubscriptionId, AppError> {
        let id = parse_subscription_id(id)?;
        let view = self
            .store()
            .subscription(&id)
            .await?
            .ok_or(AppError::NotFound("subscription"))?;
        let customer = self.existing_customer(user).await?;
        let by_user = view.user_id.as_deref() == Some(user.as_str());
        let by_customer = customer
            .as_ref()
            .is_some_and(|c| view.customer_id.as_deref() == Some(c.as_str()));
        if by_user || by_customer {
            Ok(id)
        } else {
            Err(AppError::NotFound("subscription"))
        }
    }

    async fn details(&self, id: &SubscriptionId) -> Result<Option<SubscriptionDetails>, AppError> {
        let Some(view) = self.store().subscription(id).await? else {
            return Ok(None);
        };
        let mut items = Vec::new();
        for item in self.store().subscription_items(id).await? {
            let price = match &item.price_id {
                Some(price_id) => self.inner.prices.lookup_key_of(price_id).await,
                None => None,
            };
            let plan = item
                .product_id
                .as_deref()
                .and_then(|p| self.catalog().product_by_stripe_id(p))
                .map(|p| p.key.as_str().to_owned());
            items.push(ItemDetails {
                id: item.id,
                price,
                price_id: item.price_id,
                plan,
                quantity: item.quantity,
                unit_amount: item.unit_amount,
                currency: item.currency,
            });
        }
        Ok(Some(SubscriptionDetails {
            id: view.id,
            status: view.status,
            items,
            current_period_start: view.current_period_start,
            current_period_end: view.current_period_end,
            cancel_at_period_end: view.cancel_at_period_end,
            cancel_at: view.cancel_at,
            canceled_at: view.canceled_at,
            pause_behavior: view.pause_behavior,
            trial_end: view.trial_end,
        }))
    }

    /// Starts a plan directly, charging the customer's default payment
    /// method; a declined card creates nothing that grants access.
    pub async fn start_subscription(
        &self,
        user: &UserId,
        request: &NewSubscription,
        client_key: Option<&str>,
    ) -> Result<SubscriptionDetails, AppError> {
        let (product, price, quantity) = self.price_for_sale(&request.price, request.quantity)?;
        if price.mode() != PurchaseMode::Subscription {
            return Err(AppError::Invalid(format!(
                "price `{}` is a one-time price; buy it through checkout",
                price.lookup_key
            )));
        }
        let stripe_price = self
            .inner
            .prices
            .resolve(self.stripe(), price.lookup_key.as_str())
            .await?;
        let customer: CustomerId = self
            .existing_customer(user)
            .await?
            .ok_or_else(no_payment_method)?;
        self.refuse_second_subscription(user, &customer, &product.key, &stripe_price.product)
            .await?;
        let stripe_customer = self.stripe().retrieve_customer(customer.as_str()).await?;
        let payment_method = stripe_customer
            .invoice_settings
            .default_payment_method
            .ok_or_else(no_payment_method)?;
        let previous = self
            .store()
            .subscriptions_of_user(user, Some(&customer))
            .await?;
        let previous = previous.first().map(|s| s.as_str()).unwrap_or("");
        let metadata: Metadata = [
            ("user_id".to_owned(), user.as_str().to_owned()),
            ("plan".to_owned(), product.key.as_str().to_owned()),
            ("price".to_owned(), price.lookup_key.as_str().to_owned()),
        ]
        .into();
        let params = paywarden_stripe::CreateSubscription {
            customer: customer.as_str().to_owned(),
            items: vec![SubscriptionItemParams {
                id: None,
                price: Some(stripe_price.id.clone()),
                quantity: Some(u64::from(quantity)),
            }],
            default_payment_method: Some(payment_method),
            trial_period_days: None,
            payment_behavior: Some("error_if_incomplete".into()),
            metadata,
        };
        let key = IdempotencyKey::derive(
            "subscription.create",
            &[
                user.as_str(),
                price.lookup_key.as_str(),
                &quantity.to_string(),
                previous,
                client_key.unwrap_or(""),
            ],
        );
        let created: Value = self
            .stripe()
            .post("/v1/subscriptions", &params, &key)
            .await?;
        let id = created
            .get("id")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned();
        self.apply_fetched(vec![("customer.subscription.created", created)])
            .await?;
        self.subscription(user, &id).await
    }

    /// Changes plan or quantity, schedules or undoes cancellation, pauses or
    /// resumes.
    pub async fn change_subscription(
        &self,
        user: &UserId,
        id: &str,
        change: &SubscriptionChange,
        client_key: Option<&str>,
    ) -> Result<SubscriptionDetails, AppError> {
        let nothing = change.price.is_none()
            && change.quantity.is_none()
            && change.cancel_at_period_end.is_none()
            && change.pause.is_none();
        if nothing {
            return Err(AppError::Invalid(
                "nothing to change: give price, quantity, cancel_at_period_end or pause".into(),
            ));
        }
        one_of("pause_behavior", &change.pause_behavior, PAUSE_BEHAVIORS)?;
        one_of(
            "proration_behavior",
            &change.proration_behavior,
            PRORATION_BEHAVIORS,
        )?;
        if change.pause_behavior.is_some() && change.pause != Some(true) {
            return Err(AppError::Invalid(
                "pause_behavior goes with pause: true".into(),
            ));
        }
        let id = self.owned_subscription(user, id).await?;
        let current: Value = self
            .stripe()
            .get(&format!("/v1/subscriptions/{id}"), &Expand { expand: &[] })
            .await?;
        let status = current
            .get("status")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned();
        if matches!(status.as_str(), "canceled" | "incomplete_expired") {
            return Err(AppError::Conflict(format!(
                "subscription {id} is {status} and cannot change"
            )));
        }
        let request = serde_json::to_string(change)
            .map_err(|e| AppError::Internal(format!("encoding the change: {e}")))?;
        let nonce = client_key.map_or_else(|| ulid::Ulid::new().to_string(), str::to_owned);
        let key_for = |step: &str| {
            IdempotencyKey::derive(step, &[id.as_str(), request.as_str(), nonce.as_str()])
        };

        // A `paused` subscription (not merely paused collection) resumes
        // through its own endpoint first.
        let mut answer = current.clone();
        if change.pause == Some(false) && status == "paused" {
            answer = self
                .stripe()
                .post(
                    &format!("/v1/subscriptions/{id}/resume"),
                    &ResumeSubscription {
                        billing_cycle_anchor: Some("now".into()),
                        proration_behavior: None,
                    },
                    &key_for("subscription.resume"),
                )
                .await?;
        }

        let mut update = UpdateSubscription {
            cancel_at_period_end: change.cancel_at_period_end,
            proration_behavior: None,
            ..UpdateSubscription::default()
        };
        match change.pause {
            Some(true) => {
                update.pause_collection = Some(PauseCollection::Pause {
                    behavior: change
                        .pause_behavior
                        .clone()
                        .unwrap_or_else(|| "void".into()),
                })
            }
            Some(false)
                if current
                    .get("pause_collection")
                    .is_some_and(|p| !p.is_null()) =>
            {
                update.pause_collection = Some(PauseCollection::Unset)
            }
            _ => {}
        }
        if change.price.is_some() || change.quantity.is_some() {
            update.items = vec![self.item_change(&current, change).await?];
            update.proration_behavior = Some(
                change
                    .proration_behavior
                    .clone()
                    .unwrap_or_else(|| "create_prorations".into()),
            );
        }
        let has_update = update.cancel_at_period_end.is_some()
            || update.pause_collection.is_some()
            || !update.items.is_empty();
        if has_update {
            answer = self
                .stripe()
                .post(
                    &format!("/v1/subscriptions/{id}"),
                    &update,
                    &key_for("subscription.update"),
                )
                .await?;
        }
        self.apply_fetched(vec![("customer.subscription.updated", answer)])
            .await?;
        self.subscription(user, id.as_str()).await
    }

    /// The item parameters of a plan or quantity change.
    async fn item_change(
        &self,
        current: &Value,
        change: &SubscriptionChange,
    ) -> Result<SubscriptionItemParams, AppError> {
        let items = current
            .pointer("/items/data")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default();
        let [item] = items.as_slice() else {
            return Err(AppError::Conflict(
                "this subscription has several items; change it in the billing portal".into(),
            ));
        };
        let item_id = item.get("id").and_then(Value::as_str).unwrap_or_default();
        let current_price = item
            .pointer("/price/id")
            .and_then(Value::as_str)
            .unwrap_or_default();
        let lookup_key = match &change.price {
            Some(key) => key.clone(),
            None => self
                .inner
                .prices
                .lookup_key_of(current_price)
                .await
                .or_else(|| {
                    item.pointer("/price/lookup_key")
                        .and_then(Value::as_str)
                        .map(str::to_owned)
                })
                .ok_or_else(|| {
                    AppError::Conflict(
                        "this subscription's price is not in the catalog; choose a price".into(),
                    )
                })?,
        };
        let quantity = change
            .quantity
            .or_else(|| item.get("quantity").and_then(Value::as_i64));
        let (_, price, quantity) = self.price_for_sale(&lookup_key, quantity)?;
        if price.mode() != PurchaseMode::Subscription {
            return Err(AppError::Invalid(format!(
                "price `{lookup_key}` is a one-time price"
            )));
        }
        let stripe_price = self
            .inner
            .prices
            .resolve(self.stripe(), price.lookup_key.as_str())
            .await?;
        Ok(SubscriptionItemParams {
            id: Some(item_id.to_owned()),
            price: Some(stripe_price.id),
            quantity: Some(u64::from(quantity)),
        })
    }

    /// Cancels now, or at the end of the paid period.
    pub async fn cancel_subscription(
        &self,
        user: &UserId,
        id: &str,
        at_period_end: bool,
    ) -> Result<SubscriptionDetails, AppError> {
        if at_period_end {
            let change = SubscriptionChange {
                cancel_at_period_end: Some(true),
                ..SubscriptionChange::default()
            };
            return self.change_subscription(user, id, &change, None).await;
        }
        let id = self.owned_subscription(user, id).await?;
        let canceled: Value = self
            .stripe()
            .delete(&format!("/v1/subscriptions/{id}"))
            .await?;
        self.apply_fetched(vec![("customer.subscription.deleted", canceled)])
            .await?;
        self.subscription(user, id.as_str()).await
    }
}

fn no_payment_method() -> AppError {
    AppError::Conflict(
        "no saved payment method: subscribe through checkout (POST /api/checkout/session)".into(),
    )
}
