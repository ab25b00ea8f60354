//! Outbound webhook endpoints and their delivery log, for operators.
//!
//! An endpoint's secret appears in the response that creates it and
//! nowhere else.

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::{delete, get, post};
use axum::Json;
use paywarden_store::{Delivery, WebhookEndpoint};
use serde::Deserialize;
use serde_json::{json, Value};

use crate::auth::AdminKey;
use crate::error::ApiError;
use crate::extract::{JsonBody, Path, Query};
use crate::route_table::Routes;
use crate::AppState;

pub(super) fn routes() -> Routes {
    Routes::new()
        .route(
            "/webhook-endpoints",
            get(list_webhook_endpoints).post(create_webhook_endpoint),
        )
        .route("/webhook-endpoints/{id}", delete(delete_webhook_endpoint))
        .route("/webhook-deliveries", get(list_webhook_deliveries))
        .route(
            "/webhook-deliveries/{id}/retry",
            post(retry_webhook_delivery),
        )
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct NewEndpoint {
    url: String,
    event_types: Option<Vec<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct DeliveryParams {
    status: Option<String>,
    endpoint: Option<String>,
    cursor: Option<String>,
    limit: Option<u32>,
}

#[derive(Debug, Deserialize)]
struct IdPath {
    id: String,
}

fn endpoint_json(endpoint: &WebhookEndpoint) -> Value {
    json!({
        "id": endpoint.id,
        "url": endpoint.url,
        "event_types": endpoint
            .event_types
            .as_ref()
            .map(|types| types.iter().map(|t| t.as_str()).collect::<Vec<_>>()),
        "enabled": endpoint.enabled,
        "created_at": endpoint.created_at,
    })
}

/// A delivery as the log shows it. Times are unix milliseconds.
fn delivery_json(delivery: &Delivery) -> Value {
    json!({
        "id": delivery.id,
        "message_id": delivery.message_id,
        "endpoint_id": delivery.endpoint_id,
        "type": delivery.event_type,
        "status": delivery.status.as_str(),
        "attempts": delivery.attempts,
        "next_attempt_at": delivery.next_attempt_at,
        "last_attempt_at": delivery.last_attempt_at,
        "last_status_code": delivery.last_status_code,
        "error": delivery.last_error,
        "delivered_at": delivery.delivered_at,
        "created_at": delivery.created_at,
    })
}

async fn create_webhook_endpoint(
    AdminKey(admin): AdminKey,
    State(state): State<AppState>,
    JsonBody(body): JsonBody<NewEndpoint>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let created = state
        .outbound()?
        .create_endpoint(&body.url, body.event_types.as_deref())
        .await?;
    tracing::info!(key.id = %admin.id, endpoint.id = %created.endpoint.id, "operator added a webhook endpoint");
    let mut shown = endpoint_json(&created.endpoint);
    shown["secret"] = json!(created.secret.expose());
    Ok((StatusCode::CREATED, Json(shown)))
}

async fn list_webhook_endpoints(
    _admin: AdminKey,
    State(state): State<AppState>,
) -> Result<Json<Value>, ApiError> {
    let endpoints = state.outbound()?.endpoints().await?;
    Ok(Json(json!({
        "data": endpoints.iter().map(endpoint_json).collect::<Vec<_>>(),
    })))
}

async fn delete_webhook_endpoint(
    AdminKey(admin): AdminKey,
    State(state): State<AppState>,
    Path(path): Path<IdPath>,
) -> Result<StatusCode, ApiError> {
    state.outbound()?.delete_endpoint(&path.id).await?;
    tracing::info!(key.id = %admin.id, endpoint.id = %path.id, "operator deleted a webhook endpoint");
    Ok(StatusCode::NO_CONTENT)
}

async fn list_webhook_deliveries(
    _admin: AdminKey,
    State(state): State<AppState>,
    Query(params): Query<DeliveryParams>,
) -> Result<Json<Value>, ApiError> {
    let page = state
        .outbound()?
        .deliveries(
            params.status.as_deref(),
            params.endpoint.as_deref(),
            params.cursor,
            params.limit,
        )
        .await?;
    Ok(Json(json!({
        "data": page.deliveries.iter().map(delivery_json).collect::<Vec<_>>(),
        "next_cursor": page.next_cursor,
    })))
}

async fn retry_webhook_delivery(
    AdminKey(admin): AdminKey,
    State(state): State<AppState>,
    Path(path): Path<IdPath>,
) -> Result<Json<Value>, ApiError> {
    let delivery = state.outbound()?.retry_delivery(&path.id).await?;
    tracing::info!(key.id = %admin.id, delivery.id = %delivery.id, "operator retried a webhook delivery");
    Ok(Json(delivery_json(&delivery)))
}
