//! Entitlements: the resolved features of each user, kept beside the facts
//! they come from.
//!
//! A projection that touches a user's subscriptions or purchases calls
//! [`recompute`] in its own transaction, so the entitlements row is never
//! older than the facts. The row changes (and its version grows by one)
//! only when the resolved features or their expiry differ. Reading a row
//! whose `expires_at` has passed recomputes it first, so an expired grant is
//! never reported.

use std::collections::BTreeMap;
use std::future::Future;

use paywarden_core::access::{entitlements_of, Grant, SubscriptionFacts, Until, UserFacts};
use paywarden_core::catalog::{Catalog, FeatureValue};
use paywarden_core::stripe::SubscriptionStatus;
use paywarden_core::UserId;
use sqlx::{AnyConnection, Row};

use crate::error::StoreError;
use crate::store::{Store, StoreTx};

/// A user's entitlements as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EntitlementsRow {
    pub user_id: UserId,
    /// 0 for a user paywarden has never resolved (nothing granted).
    pub version: i64,
    pub features: BTreeMap<String, FeatureValue>,
    /// Unix seconds when these stop holding; `None` for never.
    pub expires_at: Option<i64>,
    /// Unix milliseconds of the computation.
    pub computed_at: i64,
}

impl EntitlementsRow {
    fn empty(user: &UserId, now_ms: i64) -> Self {
        Self {
            user_id: user.clone(),
            version: 0,
            features: BTreeMap::new(),
            expires_at: None,
            computed_at: now_ms,
        }
    }
}

/// Reading entitlements.
pub trait EntitlementReader {
    /// The user's entitlements, recomputed first if they have expired.
    fn entitlements(
        &self,
        user: &UserId,
        catalog: &Catalog,
        now_ms: i64,
    ) -> impl Future<Output = Result<EntitlementsRow, StoreError>> + Send;
}

fn corrupt(what: &str, err: impl std::fmt::Display) -> StoreError {
    StoreError::Corrupt(format!("{what}: {err}"))
}

async fn read_row(
    conn: &mut AnyConnection,
    user: &UserId,
) -> Result<Option<EntitlementsRow>, StoreError> {
    let row = sqlx::query(
        "SELECT version, features, expires_at, computed_at FROM entitlements WHERE user_id = $1",
    )
    .bind(user.as_str())
    .fetch_optional(&mut *conn)
    .await?;
    let Some(row) = row else {
        return Ok(None);
    };
    let features: String = row.try_get("features")?;
    Ok(Some(EntitlementsRow {
        user_id: user.clone(),
        version: row.try_get("version")?,
        features: serde_json::from_str(&features)
            .map_err(|e| corrupt("entitlements.features", e))?,
        expires_at: row.try_get("expires_at")?,
        computed_at: row.try_get("computed_at")?,
    }))
}

/// The users whose Stripe customer is `customer`.
pub(crate) async fn users_of_customer(
    conn: &mut AnyConnection,
    customer: &str,
) -> Result<Vec<UserId>, StoreError> {
    let rows = sqlx::query(
        "SELECT user_id FROM user_customers WHERE customer_id = $1 \
         UNION SELECT user_id FROM customers WHERE id = $1 AND user_id IS NOT NULL",
    )
    .bind(customer)
    .fetch_all(&mut *conn)
    .await?;
    rows.iter()
        .map(|r| {
            let user: String = r.try_get("user_id")?;
            user.parse().map_err(|_| corrupt("user id", &user))
        })
        .collect()
}

/// The users a subscription row belongs to.
pub(crate) async fn users_of_subscription(
    conn: &mut AnyConnection,
    subscription: &str,
) -> Result<Vec<UserId>, StoreError> {
    let row = sqlx::query("SELECT user_id, customer_id FROM subscriptions WHERE id = $1")
        .bind(subscription)
        .fetch_optional(&mut *conn)
        .await?;
    let Some(row) = row else {
        return Ok(Vec::new());
    };
    let mut users = Vec::new();
    if let Some(user) = row.try_get::<Option<String>, _>("user_id")? {
        users.push(user.parse().map_err(|_| corrupt("user id", &user))?);
    }
    if let Some(customer) = row.try_get::<Option<String>, _>("customer_id")? {
        users.extend(users_of_customer(conn, &customer).await?);
    }
    users.sort();
    users.dedup();
    Ok(users)
}

/// Everything that can grant `user` access, read in the caller's transaction.
async fn facts_of(conn: &mut AnyConnection, user: &UserId) -> Result<UserFacts, StoreError> {
    let subscriptions = sqlx::query(
        "SELECT id, status, current_period_start, current_period_end, cancel_at_period_end, ended_at \
         FROM subscriptions WHERE user_id = $1 \
            OR customer_id IN (SELECT customer_id FROM user_customers WHERE user_id = $1) \
            OR customer_id IN (SELECT id FROM customers WHERE user_id = $1)",
    )
    .bind(user.as_str())
    .fetch_all(&mut *conn)
    .await?;
    let mut facts = UserFacts::default();
    for row in &subscriptions {
        let id: String = row.try_get("id")?;
        let status: String = row.try_get("status")?;
        let products = sqlx::query(
            "SELECT product_id FROM subscription_items WHERE subscription_id = $1 AND product_id IS NOT NULL",
        )
        .bind(id.as_str())
        .fetch_all(&mut *conn)
        .await?
        .iter()
        .map(|r| r.try_get::<String, _>("product_id"))
        .collect::<Result<Vec<_>, _>>()?;
        facts.subscriptions.push((
            SubscriptionFacts {
                status: SubscriptionStatus::parse(&status),
                current_period_start: row.try_get("current_period_start")?,
                current_period_end: row.try_get("current_period_end")?,
                cancel_at_period_end: crate::row::flag(row, "cancel_at_period_end")?,
                ended_at: row.try_get("ended_at")?,
            },
            products,
        ));
    }
    let purchases = sqlx::query(
        "SELECT plan, src_created FROM checkout_sessions \
         WHERE user_id = $1 AND outcome = 'paid' AND mode = 'payment' AND plan IS NOT NULL",
    )
    .bind(user.as_str())
    .fetch_all(&mut *conn)
    .await?;
    for row in &purchases {
        facts
            .purchases
            .push((row.try_get("plan")?, row.try_get("src_created")?));
    }
    let manual = sqlx::query(
        "SELECT features, expires_at FROM manual_grants WHERE user_id = $1 AND revoked_at IS NULL",
    )
    .bind(user.as_str())
    .fetch_all(&mut *conn)
    .await?;
    for row in &manual {
        let features: String = row.try_get("features")?;
        let expires_at: Option<i64> = row.try_get("expires_at")?;
        facts.manual.push(Grant {
            features: serde_json::from_str(&features)
                .map_err(|e| corrupt("manual_grants.features", e))?,
            until: expires_at.map_or(Until::Forever, Until::At),
        });
    }
    Ok(facts)
}

/// Resolves `user`'s entitlements from the facts in this transaction and
/// stores them if they changed (version + 1). Answers the row now stored,
/// and whether this call rewrote it.
pub(crate) async fn recompute(
    conn: &mut AnyConnection,
    user: &UserId,
    catalog: &Catalog,
    now_ms: i64,
) -> Result<(EntitlementsRow, bool), StoreError> {
    let facts = facts_of(conn, user).await?;
    let resolved = entitlements_of(catalog, &facts, now_ms.div_euclid(1000));
    let current = read_row(conn, user).await?;
    if let Some(current) = &current {
        if current.features == resolved.features && current.expires_at == resolved.expires_at {
            return Ok((current.clone(), false));
        }
    } else if resolved.features.is_empty() && resolved.expires_at.is_none() {
        // Nothing granted and nothing ever was: no row needed.
        return Ok((EntitlementsRow::empty(user, now_ms), false));
    }
    let version = current.as_ref().map_or(0, |c| c.version) + 1;
    let features = serde_json::to_string(&resolved.features)
        .map_err(|e| corrupt("encoding entitlements", e))?;
    sqlx::query(
        "INSERT INTO entitlements (user_id, version, features, expires_at, computed_at) \
         VALUES ($1, $2, $3, $4, $5) ON CONFLICT (user_id) DO UPDATE SET version = excluded.version, \
         features = excluded.features, expires_at = excluded.expires_at, computed_at = excluded.computed_at",
    )
    .bind(user.as_str())
    .bind(version)
    .bind(features.as_str())
    .bind(resolved.expires_at)
    .bind(now_ms)
    .execute(&mut *conn)
    .await?;
    let row = EntitlementsRow {
        user_id: user.clone(),
        version,
        features: resolved.features,
        expires_at: resolved.expires_at,
        computed_at: now_ms,
    };
    Ok((row, true))
}

impl StoreTx {
    /// Recomputes `user`'s entitlements in this transaction; a rewritten
    /// row is announced to the store's listener after commit.
    pub(crate) async fn recompute_entitlements(
        &mut self,
        user: &UserId,
        catalog: &Catalog,
        now_ms: i64,
    ) -> Result<EntitlementsRow, StoreError> {
        let (row, changed) = recompute(&mut self.tx, user, catalog, now_ms).await?;
        if changed {
            self.changed_entitlements.push(row.clone());
        }
        Ok(row)
    }
}

impl EntitlementReader for Store {
    async fn entitlements(
        &self,
        user: &UserId,
        catalog: &Catalog,
        now_ms: i64,
    ) -> Result<EntitlementsRow, StoreError> {
        let now = now_ms.div_euclid(1000);
        {
            let mut conn = self.read.acquire().await?;
            match read_row(&mut conn, user).await? {
                Some(row) if row.expires_at.is_none_or(|end| now < end) => return Ok(row),
                None => return Ok(EntitlementsRow::empty(user, now_ms)),
                Some(_) => {}
            }
        }
        // Expired: recompute under a write transaction.
        let mut tx = self.begin().await?;
        let row = tx.recompute_entitlements(user, catalog, now_ms).await?;
        tx.commit().await?;
        Ok(row)
    }
}
