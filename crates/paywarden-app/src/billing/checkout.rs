//! Checkout: a Stripe Checkout Session for one catalog price, and the sync
//! that runs when the user comes back from it.
//!
//! Only catalog prices are sold, at the catalog's amount; the mode follows
//! the price; the redirect URLs come from the public base URL. The session
//! carries the user id (`client_reference_id` and `metadata.user_id`, also
//! on the subscription it starts) and the plan key, which is how the
//! webhook projection knows whose purchase it is.
//!
//! A request is recorded before Stripe is called and its id seeds the
//! idempotency key: asking again for the same purchase while its session is
//! open answers the same session, and a request retried after a lost
//! answer gets Stripe's cached answer, never a second session.

use paywarden_core::catalog::{CatalogPrice, CatalogProduct, PlanKey, PurchaseMode};
use paywarden_core::ids::CustomerId;
use paywarden_core::UserId;
use paywarden_store::{now_ms, CheckoutRequest, Purchases, LIVE_STATUSES};
use paywarden_stripe::{
    CheckoutMode, CheckoutSession, CreateCheckoutSession, Expand, IdempotencyKey, LineItem,
    ListSubscriptions, Metadata, SubscriptionData,
};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::{return_paths, Billing};
use crate::AppError;

/// A session whose `expires_at` is closer than this is not handed out
/// again; a new one is made.
const MIN_REMAINING_SECS: i64 = 5 * 60;

/// A request without a recorded session is picked up again (same
/// idempotency key) for this long; Stripe keeps keys for 24 hours.
const RESUME_WITHIN_MS: i64 = 60 * 60 * 1000;

/// `POST /api/checkout/session`: what to buy. Nothing else is accepted.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewCheckout {
    /// A catalog lookup key.
    pub price: String,
    /// Units; 1 when absent.
    pub quantity: Option<i64>,
}

/// The session to send the user to.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct CheckoutSessionCreated {
    pub id: String,
    pub url: String,
    pub expires_at: i64,
}

/// Where a purchase stands after the user came back from Checkout.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct CheckoutStatus {
    pub id: String,
    /// `open`, `complete` or `expired`, as Stripe says.
    pub status: String,
    /// `paid`, `unpaid` or `no_payment_required`.
    pub payment_status: String,
    /// `payment` or `subscription`.
    pub mode: String,
    /// Whether access was granted from this session.
    pub fulfilled: bool,
    pub subscription: Option<String>,
    pub amount_total: Option<i64>,
    pub currency: Option<String>,
    /// The catalog price and product bought, from the session's metadata.
    pub price: Option<String>,
    pub plan: Option<String>,
    /// The course booking the session pays for, if it is one.
    pub booking: Option<String>,
}

impl Billing {
    /// The catalog price `lookup_key`, for sale, and a valid quantity.
    pub fn price_for_sale(
        &self,
        lookup_key: &str,
        quantity: Option<i64>,
    ) -> Result<(&CatalogProduct, &CatalogPrice, u32), AppError> {
        let (product, price) = self.catalog().price(lookup_key).ok_or_else(|| {
            AppError::Invalid(format!(
                "price `{}` is not in the catalog",
                lookup_key.chars().take(200).collect::<String>()
            ))
        })?;
        if !price.active {
            return Err(AppError::Invalid(format!(
                "price `{lookup_key}` is no longer for sale"
            )));
        }
        let quantity = quantity.unwrap_or(1);
        if quantity < 1 || quantity > i64::from(price.max_quantity) {
            return Err(AppError::Invalid(format!(
                "quantity must be between 1 and {} for price `{lookup_key}`",
                price.max_quantity
            )));
        }
        let quantity = u32::try_from(quantity)
            .map_err(|_| AppError::Invalid("quantity is out of range".into()))?;
        Ok((product, price, quantity))
    }

    /// Starts (or resumes) a Checkout for `user`.
    pub async fn create_checkout(
        &self,
        user: &UserId,
        request: &NewCheckout,
    ) -> Result<CheckoutSessionCreated, AppError> {
        let (product, price, quantity) = self.price_for_sale(&request.price, request.quantity)?;
        let stripe_price = self
            .inner
            .prices
            .resolve(self.stripe(), price.lookup_key.as_str())
            .await?;
        let customer = self.customer_for(user).await?;
        if price.mode() == PurchaseMode::Subscription {
            self.refuse_second_subscription(user, &customer, &product.key, &stripe_price.product)
                .await?;
        }
        let now = now_ms();
        let resumable = self
            .store()
            .resumable_checkout(
                user,
                price.lookup_key.as_str(),
                i64::from(quantity),
                now - RESUME_WITHIN_MS,
                now / 1000 + MIN_REMAINING_SECS,
            )
            .await?;
        let request_row = match resumable {
            Some(CheckoutRequest {
                session_id: Some(id),
                url: Some(url),
                expires_at: Some(expires_at),
                ..
            }) => {
                return Ok(CheckoutSessionCreated {
                    id,
                    url,
                    expires_at,
                })
            }
            Some(row) => row,
            None => {
                let row = CheckoutRequest {
                    id: format!("chk_{}", ulid::Ulid::new()),
                    user_id: user.clone(),
                    lookup_key: price.lookup_key.as_str().to_owned(),
                    quantity: i64::from(quantity),
                    session_id: None,
                    url: None,
                    expires_at: None,
                    created_at: now,
                };
                self.store().insert_checkout_request(&row).await?;
                row
            }
        };
        let metadata: Metadata = [
            ("user_id".to_owned(), user.as_str().to_owned()),
            ("plan".to_owned(), product.key.as_str().to_owned()),
            ("price".to_owned(), price.lookup_key.as_str().to_owned()),
            ("checkout_request".to_owned(), request_row.id.clone()),
        ]
        .into();
        let (mode, subscription_data) = match price.mode() {
            PurchaseMode::Payment => (CheckoutMode::Payment, None),
            PurchaseMode::Subscription => (
                CheckoutMode::Subscription,
                Some(SubscriptionData {
                    metadata: metadata.clone(),
                    trial_period_days: None,
                }),
            ),
        };
        let urls = self.public_base_url();
        let params = CreateCheckoutSession {
            mode,
            line_items: vec![LineItem::price(
                stripe_price.id.clone(),
                u64::from(quantity),
            )],
            success_url: urls.join(return_paths::SUCCESS),
            cancel_url: urls.join(return_paths::CANCEL),
            customer: Some(customer.as_str().to_owned()),
            customer_email: None,
            client_reference_id: Some(user.as_str().to_owned()),
            metadata,
            subscription_data,
            payment_intent_data: None,
            allow_promotion_codes: None,
            expires_at: None,
        };
        let key = IdempotencyKey::derive("checkout", &[request_row.id.as_str()]);
        let session = self.stripe().create_checkout_session(&params, &key).await?;
        let url = session.url.clone().ok_or_else(|| {
            AppError::Internal("Stripe answered a Checkout Session without a url".into())
        })?;
        self.store()
            .record_checkout_session(&request_row.id, &session.id, &url, session.expires_at)
            .await?;
        Ok(CheckoutSessionCreated {
            id: session.id,
            url,
            expires_at: session.expires_at,
        })
    }

    /// 409 when the user already holds a live subscription to the product:
    /// known locally, or, since its webhook may not have arrived yet, known
    /// to Stripe.
    pub(super) async fn refuse_second_subscription(
        &self,
        user: &UserId,
        customer: &CustomerId,
        plan: &PlanKey,
        stripe_product: &str,
    ) -> Result<(), AppError> {
        let conflict = |existing: &str| {
            AppError::Conflict(format!(
                "you already subscribe to `{plan}` ({existing}); change that subscription instead"
            ))
        };
        if let Some(existing) = self
            .store()
            .live_subscription_to(user, Some(customer), stripe_product)
            .await?
        {
            return Err(conflict(existing.as_str()));
        }
        let at_stripe = self
            .stripe()
            .list_subscriptions(&ListSubscriptions {
                customer: Some(customer.as_str().to_owned()),
                limit: Some(100),
                ..ListSubscriptions::default()
            })
            .await?;
        let live = at_stripe.data.iter().find(|subscription| {
            LIVE_STATUSES.contains(&subscription.status.as_str())
                && subscription
                    .items
                    .data
                    .iter()
                    .any(|item| item.price.product == stripe_product)
        });
        match live {
            Some(subscription) => Err(conflict(&subscription.id)),
            None => Ok(()),
        }
    }

    /// The user is back from Checkout: fetch the session from Stripe and,
    /// if it is paid, apply it (and its subscription) as the webhook will.
    /// Another user's session, or one paywarden did not make, is not found.
    pub async fn sync_checkout(
        &self,
        user: &UserId,
        session_id: &str,
    ) -> Result<CheckoutStatus, AppError> {
        if !session_id.starts_with("cs_") || session_id.len() > 255 {
            return Err(AppError::NotFound("checkout session"));
        }
        let path = format!("/v1/checkout/sessions/{session_id}");
        let raw: Value = match self.stripe().get(&path, &Expand { expand: &[] }).await {
            Ok(raw) => raw,
            Err(err) if err.is_not_found() => return Err(AppError::NotFound("checkout session")),
            Err(err) => return Err(err.into()),
        };
        let session: CheckoutSession = serde_json::from_value(raw.clone()).map_err(|e| {
            AppError::Internal(format!("Stripe's Checkout Session does not read: {e}"))
        })?;
        if session.client_reference_id.as_deref() != Some(user.as_str()) {
            return Err(AppError::NotFound("checkout session"));
        }
        let status = session.status.clone().unwrap_or_default();
        let paid = status == "complete"
            && matches!(
                session.payment_status.as_str(),
                "paid" | "no_payment_required"
            );
        let subscription = session.subscription.as_ref().map(|s| s.id().to_owned());
        if paid {
            let mut objects = vec![("checkout.session.completed", raw)];
            if let Some(id) = &subscription {
                let sub: Value = self
                    .stripe()
                    .get(&format!("/v1/subscriptions/{id}"), &Expand { expand: &[] })
                    .await?;
                objects.push(("customer.subscription.updated", sub));
            }
            self.apply_fetched(objects).await?;
        }
        Ok(CheckoutStatus {
            id: session.id,
            status,
            payment_status: session.payment_status,
            mode: session.mode,
            fulfilled: paid,
            subscription,
            amount_total: session.amount_total,
            currency: session.currency,
            price: session.metadata.get("price").cloned(),
            plan: session.metadata.get("plan").cloned(),
            booking: session.metadata.get("booking_id").cloned(),
        })
    }
}
