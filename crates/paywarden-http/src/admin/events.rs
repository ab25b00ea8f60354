//! Webhook events for operators: list, show, retry.

use axum::extract::State;
use axum::routing::{get, post};
use axum::Json;
use paywarden_app::events;
use paywarden_app::retry::RetryOutcome;
use paywarden_store::StoredEvent;
use serde::Deserialize;
use serde_json::{json, Value};

use crate::auth::AdminKey;
use crate::error::ApiError;
use crate::extract::{Path, Query};
use crate::route_table::Routes;
use crate::AppState;

pub(super) fn routes() -> Routes {
    Routes::new()
        .route("/events", get(list_events))
        .route("/events/{id}", get(show_event))
        .route("/events/{id}/retry", post(retry_event))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ListParams {
    #[serde(rename = "type")]
    event_type: Option<String>,
    status: Option<String>,
    limit: Option<u32>,
    cursor: Option<String>,
}

/// The JSON an operator sees for an event. Times are unix milliseconds.
pub fn event_json(event: &StoredEvent, with_payload: bool) -> Value {
    let mut value = json!({
        "id": event.id.as_str(),
        "type": event.event_type,
        "status": event.status.as_str(),
        "api_version": event.api_version,
        "created": event.created,
        "livemode": event.livemode,
        "object_id": event.object_id,
        "attempts": event.attempts,
        "received_count": event.received_count,
        "first_received_at": event.first_received_at,
        "last_received_at": event.last_received_at,
        "processed_at": event.processed_at,
        "next_attempt_at": event.next_attempt_at,
        "error": event.last_error,
    });
    if with_payload {
        if let Ok(payload) = serde_json::from_str::<Value>(&event.payload) {
            value["payload"] = payload;
        }
    }
    value
}

async fn list_events(
    _admin: AdminKey,
    State(state): State<AppState>,
    Query(params): Query<ListParams>,
) -> Result<Json<Value>, ApiError> {
    let page = events::list(
        state.store(),
        params.event_type,
        params.status.as_deref(),
        params.limit,
        params.cursor,
    )
    .await?;
    Ok(Json(json!({
        "data": page.events.iter().map(|e| event_json(e, false)).collect::<Vec<_>>(),
        "next_cursor": page.next_cursor,
        "has_more": page.next_cursor.is_some(),
    })))
}

async fn show_event(
    _admin: AdminKey,
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let id = events::parse_id(&id).map_err(|_| ApiError::NotFound("event".into()))?;
    let event = events::show(state.store(), &id).await?;
    Ok(Json(event_json(&event, true)))
}

async fn retry_event(
    AdminKey(admin): AdminKey,
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let id = events::parse_id(&id).map_err(|_| ApiError::NotFound("event".into()))?;
    events::show(state.store(), &id).await?;
    let (outcome, event) = events::retry(state.store(), &id, state.inbox().projection()).await?;
    tracing::info!(key.id = %admin.id, event.id = %id, ?outcome, "operator retried event");
    let result = match outcome {
        RetryOutcome::Processed => "processed",
        RetryOutcome::StillFailing(_) => "failed",
        RetryOutcome::NotFailed => "not_failed",
    };
    Ok(Json(
        json!({ "result": result, "event": event_json(&event, false) }),
    ))
}
