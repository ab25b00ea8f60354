//! What paywarden itself records about a user's purchases before Stripe
//! has told it anything: the user's Stripe customer, and the Checkout
//! requests whose ids seed idempotency keys. Plus the reads that scope
//! subscriptions to their user.

use std::future::Future;

use paywarden_core::ids::{CustomerId, SubscriptionId};
use paywarden_core::UserId;
use sqlx::any::AnyRow;
use sqlx::Row;

use crate::error::StoreError;
use crate::store::Store;

/// A request to buy `quantity` of the price `lookup_key`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckoutRequest {
    /// Ours (`chk_…`); seeds the Checkout Session's idempotency key.
    pub id: String,
    pub user_id: UserId,
    pub lookup_key: String,
    pub quantity: i64,
    /// Known once Stripe answered.
    pub session_id: Option<String>,
    pub url: Option<String>,
    /// Stripe's `expires_at` (unix seconds).
    pub expires_at: Option<i64>,
    /// Unix milliseconds.
    pub created_at: i64,
}

/// One item of a projected subscription.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SubscriptionItemRow {
    pub id: String,
    pub price_id: Option<String>,
    pub product_id: Option<String>,
    pub quantity: Option<i64>,
    pub unit_amount: Option<i64>,
    pub currency: Option<String>,
}

/// One payment Stripe reported for a user's customer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PaymentRow {
    /// The invoice or PaymentIntent id.
    pub source_id: String,
    /// `invoice` or `payment_intent`.
    pub source: String,
    pub subscription_id: Option<String>,
    pub amount: i64,
    pub currency: Option<String>,
    /// Unix seconds (the event's time).
    pub created: i64,
}

/// Subscription statuses in which a user already has the plan: buying it
/// again is refused, changing it is the way.
pub const LIVE_STATUSES: &[&str] = &["active", "trialing", "past_due", "unpaid", "paused"];

/// Users' Stripe customers and their Checkout requests.
pub trait Purchases {
    /// The customer paywarden made for this user, if any.
    fn customer_of(
        &self,
        user: &UserId,
    ) -> impl Future<Output = Result<Option<CustomerId>, StoreError>> + Send;

    /// Links a newly created customer to the user, unless one is linked
    /// already; answers the customer that is linked afterwards.
    fn link_customer(
        &self,
        user: &UserId,
        customer: &CustomerId,
        now_ms: i64,
    ) -> impl Future<Output = Result<CustomerId, StoreError>> + Send;

    /// The newest request for this purchase that can be picked up again:
    /// one whose session is not known yet and that was made after
    /// `fresh_after_ms`, or one whose session is still open (expires after
    /// `open_after_secs`, and no event has closed it).
    fn resumable_checkout(
        &self,
        user: &UserId,
        lookup_key: &str,
        quantity: i64,
        fresh_after_ms: i64,
        open_after_secs: i64,
    ) -> impl Future<Output = Result<Option<CheckoutRequest>, StoreError>> + Send;

    fn insert_checkout_request(
        &self,
        request: &CheckoutRequest,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// Records the session Stripe answered with.
    fn record_checkout_session(
        &self,
        request_id: &str,
        session_id: &str,
        url: &str,
        expires_at: i64,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// The user's subscriptions (by `metadata.user_id` or by the user's
    /// customer), newest period first.
    fn subscriptions_of_user(
        &self,
        user: &UserId,
        customer: Option<&CustomerId>,
    ) -> impl Future<Output = Result<Vec<SubscriptionId>, StoreError>> + Send;

    /// A subscription's items, by item id.
    fn subscription_items(
        &self,
        subscription: &SubscriptionId,
    ) -> impl Future<Output = Result<Vec<SubscriptionItemRow>, StoreError>> + Send;

    /// The newest payments of the user's customer, at most `limit`.
    fn payments_of_user(
        &self,
        user: &UserId,
        limit: u32,
    ) -> impl Future<Output = Result<Vec<PaymentRow>, StoreError>> + Send;

    /// A subscription of the user's to `product` in a [`LIVE_STATUSES`] status.
    fn live_subscription_to(
        &self,
        user: &UserId,
        customer: Option<&CustomerId>,
        product: &str,
    ) -> impl Future<Output = Result<Option<SubscriptionId>, StoreError>> + Send;
}

fn checkout_request(row: &AnyRow) -> Result<CheckoutRequest, StoreError> {
    let user: String = row.try_get("user_id")?;
    Ok(CheckoutRequest {
        id: row.try_get("id")?,
        user_id: user
            .parse()
            .map_err(|_| StoreError::Corrupt(format!("checkout_requests.user_id `{user}`")))?,
        lookup_key: row.try_get("lookup_key")?,
        quantity: row.try_get("quantity")?,
        session_id: row.try_get("session_id")?,
        url: row.try_get("url")?,
        expires_at: row.try_get("expires_at")?,
        created_at: row.try_get("created_at")?,
    })
}

fn parse_id<T: std::str::FromStr>(text: String, what: &str) -> Result<T, StoreError> {
    text.parse()
        .map_err(|_| StoreError::Corrupt(format!("{what} `{text}`")))
}

fn live_statuses() -> String {
    LIVE_STATUSES
        .iter()
        .map(|s| format!("'{s}'"))
        .collect::<Vec<_>>()
        .join(", ")
}

impl Purchases for Store {
    async fn customer_of(&self, user: &UserId) -> Result<Option<CustomerId>, StoreError> {
        let row = sqlx::query("SELECT customer_id FROM user_customers WHERE user_id = $1")
            .bind(user.as_str())
            .fetch_optional(&self.read)
            .await?;
        row.map(|r| parse_id(r.try_get("customer_id")?, "user_customers.customer_id"))
            .transpose()
    }

    async fn link_customer(
        &self,
        user: &UserId,
        customer: &CustomerId,
        now_ms: i64,
    ) -> Result<CustomerId, StoreError> {
        sqlx::query(
            "INSERT INTO user_customers (user_id, customer_id, created_at) VALUES ($1, $2, $3) \
             ON CONFLICT (user_id) DO NOTHING",
        )
        .bind(user.as_str())
        .bind(customer.as_str())
        .bind(now_ms)
        .execute(&self.write)
        .await?;
        let row = sqlx::query("SELECT customer_id FROM user_customers WHERE user_id = $1")
            .bind(user.as_str())
            .fetch_one(&self.write)
            .await?;
        parse_id(row.try_get("customer_id")?, "user_customers.customer_id")
    }

    async fn resumable_checkout(
        &self,
        user: &UserId,
        lookup_key: &str,
        quantity: i64,
        fresh_after_ms: i64,
        open_after_secs: i64,
    ) -> Result<Option<CheckoutRequest>, StoreError> {
        let row = sqlx::query(
            "SELECT r.id, r.user_id, r.lookup_key, r.quantity, r.session_id, r.url, r.expires_at, r.created_at \
             FROM checkout_requests r LEFT JOIN checkout_sessions s ON s.id = r.session_id \
             WHERE r.user_id = $1 AND r.lookup_key = $2 AND r.quantity = $3 \
               AND ((r.session_id IS NULL AND r.created_at > $4) \
                 OR (r.session_id IS NOT NULL AND r.expires_at > $5 AND s.id IS NULL)) \
             ORDER BY r.created_at DESC, r.id DESC LIMIT 1",
        )
        .bind(user.as_str())
        .bind(lookup_key)
        .bind(quantity)
        .bind(fresh_after_ms)
        .bind(open_after_secs)
        .fetch_optional(&self.read)
        .await?;
        row.as_ref().map(checkout_request).transpose()
    }

    async fn insert_checkout_request(&self, r: &CheckoutRequest) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO checkout_requests (id, user_id, lookup_key, quantity, session_id, url, expires_at, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        )
        .bind(r.id.as_str())
        .bind(r.user_id.as_str())
        .bind(r.lookup_key.as_str())
        .bind(r.quantity)
        .bind(r.session_id.as_deref())
        .bind(r.url.as_deref())
        .bind(r.expires_at)
        .bind(r.created_at)
        .execute(&self.write)
        .await?;
        Ok(())
    }

    async fn record_checkout_session(
        &self,
        request_id: &str,
        session_id: &str,
        url: &str,
        expires_at: i64,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "UPDATE checkout_requests SET session_id = $2, url = $3, expires_at = $4 WHERE id = $1",
        )
        .bind(request_id)
        .bind(session_id)
        .bind(url)
        .bind(expires_at)
        .execute(&self.write)
        .await?;
        Ok(())
    }

    async fn subscriptions_of_user(
        &self,
        user: &UserId,
        customer: Option<&CustomerId>,
    ) -> Result<Vec<SubscriptionId>, StoreError> {
        sqlx::query(
            "SELECT id FROM subscriptions WHERE user_id = $1 OR customer_id = $2 \
             ORDER BY current_period_start DESC, id DESC",
        )
        .bind(user.as_str())
        .bind(customer.map(CustomerId::as_str))
        .fetch_all(&self.read)
        .await?
        .iter()
        .map(|r| parse_id(r.try_get("id")?, "subscriptions.id"))
        .collect()
    }

    async fn subscription_items(
        &self,
        subscription: &SubscriptionId,
    ) -> Result<Vec<SubscriptionItemRow>, StoreError> {
        sqlx::query(
            "SELECT id, price_id, product_id, quantity, unit_amount, currency FROM subscription_items \
             WHERE subscription_id = $1 ORDER BY id",
        )
        .bind(subscription.as_str())
        .fetch_all(&self.read)
        .await?
        .iter()
        .map(|r| {
            Ok(SubscriptionItemRow {
                id: r.try_get("id")?,
                price_id: r.try_get("price_id")?,
                product_id: r.try_get("product_id")?,
                quantity: r.try_get("quantity")?,
                unit_amount: r.try_get("unit_amount")?,
                currency: r.try_get("currency")?,
            })
        })
        .collect()
    }

    async fn payments_of_user(
        &self,
        user: &UserId,
        limit: u32,
    ) -> Result<Vec<PaymentRow>, StoreError> {
        sqlx::query(
            "SELECT p.source_id, p.source, p.subscription_id, p.amount, p.currency, p.created \
             FROM payments p JOIN user_customers u ON u.customer_id = p.customer_id \
             WHERE u.user_id = $1 ORDER BY p.created DESC, p.source_id DESC LIMIT $2",
        )
        .bind(user.as_str())
        .bind(i64::from(limit))
        .fetch_all(&self.read)
        .await?
        .iter()
        .map(|r| {
            Ok(PaymentRow {
                source_id: r.try_get("source_id")?,
                source: r.try_get("source")?,
                subscription_id: r.try_get("subscription_id")?,
                amount: r.try_get("amount")?,
                currency: r.try_get("currency")?,
                created: r.try_get("created")?,
            })
        })
        .collect()
    }

    async fn live_subscription_to(
        &self,
        user: &UserId,
        customer: Option<&CustomerId>,
        product: &str,
    ) -> Result<Option<SubscriptionId>, StoreError> {
        let row = sqlx::query(&format!(
            "SELECT s.id FROM subscriptions s JOIN subscription_items i ON i.subscription_id = s.id \
             WHERE (s.user_id = $1 OR s.customer_id = $2) AND i.product_id = $3 \
               AND s.status IN ({}) ORDER BY s.id LIMIT 1",
            live_statuses()
        ))
        .bind(user.as_str())
        .bind(customer.map(CustomerId::as_str))
        .bind(product)
        .fetch_optional(&self.read)
        .await?;
        row.map(|r| parse_id(r.try_get("id")?, "subscriptions.id"))
            .transpose()
    }
}
