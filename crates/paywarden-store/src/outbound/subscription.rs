//! The `subscription.updated` payload: the subscription as now projected,
//! read in the transaction that changed it.

use paywarden_core::catalog::Catalog;
use paywarden_core::outbound::OutboundEvent;
use serde_json::json;
use sqlx::{AnyConnection, Row};

use crate::entitlements::users_of_subscription;
use crate::error::StoreError;

/// Enqueues `subscription.updated` for subscription `id` (after its row
/// and items were written). The plan is the catalog key of the first item
/// whose product the catalog knows.
pub(crate) async fn enqueue_subscription_updated(
    conn: &mut AnyConnection,
    id: &str,
    catalog: Option<&Catalog>,
    now_ms: i64,
) -> Result<(), StoreError> {
    let Some(row) = sqlx::query(
        "SELECT customer_id, status, current_period_start, current_period_end, cancel_at_period_end, \
             canceled_at, ended_at FROM subscriptions WHERE id = $1",
    )
    .bind(id)
    .fetch_optional(&mut *conn)
    .await?
    else {
        return Ok(());
    };
    let items = sqlx::query(
        "SELECT price_id, product_id, quantity FROM subscription_items \
         WHERE subscription_id = $1 ORDER BY id",
    )
    .bind(id)
    .fetch_all(&mut *conn)
    .await?;
    let mut plan = None;
    let mut listed = Vec::new();
    for item in &items {
        let product: Option<String> = item.try_get("product_id")?;
        if plan.is_none() {
            plan = product
                .as_deref()
                .and_then(|p| catalog?.product_by_stripe_id(p))
                .map(|p| p.key.as_str().to_owned());
        }
        listed.push(json!({
            "price": item.try_get::<Option<String>, _>("price_id")?,
            "product": product,
            "quantity": item.try_get::<Option<i64>, _>("quantity")?,
        }));
    }
    let user = users_of_subscription(conn, id).await?.into_iter().next();
    let data = json!({
        "id": id,
        "user_id": user.as_ref().map(|u| u.as_str()),
        "customer_id": row.try_get::<Option<String>, _>("customer_id")?,
        "status": row.try_get::<String, _>("status")?,
        "plan": plan,
        "items": listed,
        "current_period_start": row.try_get::<Option<i64>, _>("current_period_start")?,
        "current_period_end": row.try_get::<Option<i64>, _>("current_period_end")?,
        "cancel_at_period_end": crate::row::flag(&row, "cancel_at_period_end")?,
        "canceled_at": row.try_get::<Option<i64>, _>("canceled_at")?,
        "ended_at": row.try_get::<Option<i64>, _>("ended_at")?,
    });
    super::enqueue(conn, &OutboundEvent::subscription_updated(data), now_ms).await?;
    Ok(())
}
