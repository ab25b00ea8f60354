//! Outbound webhooks: endpoints, messages and their deliveries.
//!
//! A message is written in the same transaction as the change it reports
//! (an entitlements row rewritten, a subscription projected), with one
//! delivery row per enabled endpoint subscribed to its type; so a change
//! that rolls back is never announced and one that commits always is. When
//! no endpoint wants the type, nothing is written. Workers then claim due
//! deliveries with a lease (`deliveries.rs`) and record each attempt.

mod deliveries;
mod endpoints;
mod subscription;

use paywarden_core::ids::{OutboundDeliveryId, OutboundMessageId};
use paywarden_core::outbound::{OutboundEvent, OutboundEventType};
use sqlx::{AnyConnection, Row};

use crate::entitlements::EntitlementsRow;
use crate::error::StoreError;
use crate::store::StoreTx;

pub use deliveries::{
    AttemptResult, ClaimedDelivery, Delivery, DeliveryFilter, DeliveryPage, DeliveryStatus,
    OutboundQueue,
};
pub use endpoints::{NewWebhookEndpoint, WebhookEndpoint, WebhookEndpoints};
pub(crate) use subscription::enqueue_subscription_updated;

/// Unix milliseconds as RFC 3339, the envelope's `timestamp`.
fn rfc3339(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms)
        .unwrap_or_default()
        .to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

/// Whether an endpoint's filter (a JSON array, or none for all) takes `event_type`.
fn subscribed(filter: Option<&str>, event_type: OutboundEventType) -> Result<bool, StoreError> {
    let Some(filter) = filter else {
        return Ok(true);
    };
    let names: Vec<String> = serde_json::from_str(filter)
        .map_err(|e| StoreError::Corrupt(format!("webhook_endpoints.event_types: {e}")))?;
    Ok(names.iter().any(|n| n == event_type.as_str()))
}

/// The enabled endpoints subscribed to `event_type`, read in the caller's
/// transaction.
pub(crate) async fn subscribers(
    conn: &mut AnyConnection,
    event_type: OutboundEventType,
) -> Result<Vec<String>, StoreError> {
    let endpoints = sqlx::query(
        "SELECT id, event_types FROM webhook_endpoints WHERE enabled AND deleted_at IS NULL",
    )
    .fetch_all(&mut *conn)
    .await?;
    let mut targets = Vec::new();
    for row in &endpoints {
        let filter: Option<String> = row.try_get("event_types")?;
        if subscribed(filter.as_deref(), event_type)? {
            targets.push(row.try_get::<String, _>("id")?);
        }
    }
    Ok(targets)
}

/// Writes `event` as a message with a pending delivery for each enabled
/// endpoint subscribed to its type, on `conn` (the caller's transaction).
/// `None` when no endpoint wants it (nothing written).
pub(crate) async fn enqueue(
    conn: &mut AnyConnection,
    event: &OutboundEvent,
    now_ms: i64,
) -> Result<Option<OutboundMessageId>, StoreError> {
    let targets = subscribers(conn, event.event_type).await?;
    enqueue_to(conn, &targets, event, now_ms).await
}

/// Writes `event` with a pending delivery to each of `targets` (endpoint
/// ids from [`subscribers`]); `None`, writing nothing, when there are none.
pub(crate) async fn enqueue_to(
    conn: &mut AnyConnection,
    targets: &[String],
    event: &OutboundEvent,
    now_ms: i64,
) -> Result<Option<OutboundMessageId>, StoreError> {
    if targets.is_empty() {
        return Ok(None);
    }
    let id = OutboundMessageId::generate();
    let body = event.body(&id.to_string(), &rfc3339(now_ms));
    sqlx::query(
        "INSERT INTO outbound_messages (id, event_type, payload, created_at) VALUES ($1, $2, $3, $4)",
    )
    .bind(id.to_string())
    .bind(event.event_type.as_str())
    .bind(body.as_str())
    .bind(now_ms)
    .execute(&mut *conn)
    .await?;
    for endpoint in targets {
        sqlx::query(
            "INSERT INTO outbound_deliveries (id, message_id, endpoint_id, status, attempts, next_attempt_at, created_at) \
             VALUES ($1, $2, $3, 'pending', 0, $4, $4)",
        )
        .bind(OutboundDeliveryId::generate().to_string())
        .bind(id.to_string())
        .bind(endpoint.as_str())
        .bind(now_ms)
        .execute(&mut *conn)
        .await?;
    }
    Ok(Some(id))
}

/// One `entitlements.updated` per rewritten row (each is a new version).
pub(crate) async fn enqueue_entitlements(
    conn: &mut AnyConnection,
    rows: &[EntitlementsRow],
) -> Result<(), StoreError> {
    if rows.is_empty() {
        return Ok(());
    }
    let targets = subscribers(conn, OutboundEventType::EntitlementsUpdated).await?;
    for row in rows {
        let event = OutboundEvent::entitlements_updated(
            &row.user_id,
            row.version,
            &row.features,
            row.expires_at,
        );
        enqueue_to(conn, &targets, &event, row.computed_at).await?;
    }
    Ok(())
}

impl StoreTx {
    /// Records `event` for every subscribed endpoint, in this transaction:
    /// it is sent only if the transaction commits. `None` when no endpoint
    /// wants this type.
    pub async fn enqueue_outbound(
        &mut self,
        event: &OutboundEvent,
        now_ms: i64,
    ) -> Result<Option<OutboundMessageId>, StoreError> {
        enqueue(&mut self.tx, event, now_ms).await
    }
}
