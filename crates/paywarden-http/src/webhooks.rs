//! `POST /webhooks/stripe`.

use axum::extract::{DefaultBodyLimit, State};
use axum::http::HeaderMap;
use axum::routing::post;
use axum::Json;
use serde::Serialize;

use crate::error::ApiError;
use crate::extract::{RawBody, MAX_BODY_BYTES};
use crate::route_table::Routes;
use crate::AppState;

pub(crate) fn routes() -> Routes {
    Routes::new().route(
        "/webhooks/stripe",
        post(receive_stripe_event).layer(DefaultBodyLimit::max(MAX_BODY_BYTES)),
    )
}

/// The acknowledgement Stripe gets. Fields serialize in this order.
#[derive(Debug, Serialize)]
struct Acknowledgement {
    received: bool,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    duplicate: bool,
}

/// Answers 200 only once the event is stored and applied (or stored and
/// queued for retry). The body is read raw: the signature covers its exact bytes.
async fn receive_stripe_event(
    State(state): State<AppState>,
    headers: HeaderMap,
    RawBody(body): RawBody,
) -> Result<Json<Acknowledgement>, ApiError> {
    let signature = headers
        .get("stripe-signature")
        .and_then(|v| v.to_str().ok());
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
        .unwrap_or(0);
    let receipt = state.inbox().receive(signature, &body, now).await?;
    Ok(Json(Acknowledgement {
        received: true,
        duplicate: receipt.duplicate,
    }))
}
