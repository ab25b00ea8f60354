//! Webhook endpoints: the host product's destinations for outbound
//! messages. The secret is written once and read only by the worker that
//! signs; listings never carry it.

use std::future::Future;

use paywarden_core::ids::WebhookEndpointId;
use paywarden_core::outbound::{EndpointSecret, OutboundEventType};
use sqlx::any::AnyRow;
use sqlx::Row;

use crate::error::StoreError;
use crate::store::Store;

/// An endpoint to record.
#[derive(Debug, Clone)]
pub struct NewWebhookEndpoint {
    pub id: WebhookEndpointId,
    pub url: String,
    pub secret: EndpointSecret,
    /// `None`: every type.
    pub event_types: Option<Vec<OutboundEventType>>,
    /// Unix milliseconds.
    pub created_at: i64,
}

/// An endpoint as listed (without its secret).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebhookEndpoint {
    pub id: WebhookEndpointId,
    pub url: String,
    pub event_types: Option<Vec<OutboundEventType>>,
    pub enabled: bool,
    pub created_at: i64,
}

/// Managing endpoints.
pub trait WebhookEndpoints {
    fn create_webhook_endpoint(
        &self,
        endpoint: &NewWebhookEndpoint,
    ) -> impl Future<Output = Result<WebhookEndpoint, StoreError>> + Send;

    /// Live endpoints, oldest first.
    fn webhook_endpoints(
        &self,
    ) -> impl Future<Output = Result<Vec<WebhookEndpoint>, StoreError>> + Send;

    /// Deletes a live endpoint; its deliveries not yet made become `dead`.
    /// `false` when there is no such live endpoint.
    fn delete_webhook_endpoint(
        &self,
        id: &WebhookEndpointId,
        now_ms: i64,
    ) -> impl Future<Output = Result<bool, StoreError>> + Send;
}

pub(super) fn parse_types(
    text: Option<String>,
) -> Result<Option<Vec<OutboundEventType>>, StoreError> {
    let Some(text) = text else {
        return Ok(None);
    };
    let names: Vec<String> = serde_json::from_str(&text)
        .map_err(|e| StoreError::Corrupt(format!("webhook_endpoints.event_types: {e}")))?;
    names
        .iter()
        .map(|n| {
            n.parse()
                .map_err(|e| StoreError::Corrupt(format!("webhook_endpoints.event_types: {e}")))
        })
        .collect::<Result<Vec<_>, _>>()
        .map(Some)
}

fn read_endpoint(row: &AnyRow) -> Result<WebhookEndpoint, StoreError> {
    let id: String = row.try_get("id")?;
    Ok(WebhookEndpoint {
        id: id
            .parse()
            .map_err(|e| StoreError::Corrupt(format!("webhook_endpoints.id: {e}")))?,
        url: row.try_get("url")?,
        event_types: parse_types(row.try_get("event_types")?)?,
        enabled: crate::row::flag(row, "enabled")?,
        created_at: row.try_get("created_at")?,
    })
}

impl WebhookEndpoints for Store {
    async fn create_webhook_endpoint(
        &self,
        endpoint: &NewWebhookEndpoint,
    ) -> Result<WebhookEndpoint, StoreError> {
        let types = match &endpoint.event_types {
            Some(types) => Some(
                serde_json::to_string(&types.iter().map(|t| t.as_str()).collect::<Vec<_>>())
                    .map_err(|e| StoreError::Corrupt(format!("encoding event types: {e}")))?,
            ),
            None => None,
        };
        sqlx::query(
            "INSERT INTO webhook_endpoints (id, url, secret, event_types, created_at) \
             VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(endpoint.id.to_string())
        .bind(endpoint.url.as_str())
        .bind(endpoint.secret.expose())
        .bind(types)
        .bind(endpoint.created_at)
        .execute(&self.write)
        .await?;
        Ok(WebhookEndpoint {
            id: endpoint.id,
            url: endpoint.url.clone(),
            event_types: endpoint.event_types.clone(),
            enabled: true,
            created_at: endpoint.created_at,
        })
    }

    async fn webhook_endpoints(&self) -> Result<Vec<WebhookEndpoint>, StoreError> {
        let rows = sqlx::query(
            "SELECT id, url, event_types, enabled, created_at FROM webhook_endpoints \
             WHERE deleted_at IS NULL ORDER BY id",
        )
        .fetch_all(&self.read)
        .await?;
        rows.iter().map(read_endpoint).collect()
    }

    async fn delete_webhook_endpoint(
        &self,
        id: &WebhookEndpointId,
        now_ms: i64,
    ) -> Result<bool, StoreError> {
        let mut tx = self.begin().await?;
        let done = sqlx::query(
            "UPDATE webhook_endpoints SET enabled = FALSE, deleted_at = $1 \
             WHERE id = $2 AND deleted_at IS NULL",
        )
        .bind(now_ms)
        .bind(id.to_string())
        .execute(&mut *tx.tx)
        .await?;
        if done.rows_affected() == 0 {
            tx.rollback().await?;
            return Ok(false);
        }
        sqlx::query(
            "UPDATE outbound_deliveries SET status = 'dead', next_attempt_at = NULL, \
                 last_error = 'endpoint deleted' \
             WHERE endpoint_id = $1 AND status IN ('pending', 'failed')",
        )
        .bind(id.to_string())
        .execute(&mut *tx.tx)
        .await?;
        tx.commit().await?;
        Ok(true)
    }
}
