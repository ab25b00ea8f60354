//! `Idempotency-Key` on POST: the first response is kept and replayed.
//!
//! Requests with one key are serialised on a per-key async lock, so 32
//! concurrent retries create one object and all see its response. The
//! fingerprint is method, path and the decoded parameters (a sorted JSON
//! map, so parameter order does not matter); the same key with another
//! fingerprint is a 400 `idempotency_error`. Responses rejected before the
//! endpoint ran (400 validation errors) are not kept, as Stripe does, so a
//! corrected retry with the same key goes through. Keys are scoped to the
//! API key that sent them, as Stripe scopes them to the account.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use axum::body::{to_bytes, Body};
use axum::extract::{Request, State};
use axum::http::{header, HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use bytes::Bytes;

use crate::error::StripeError;
use crate::form::{self, MAX_INPUT};
use crate::state::Sim;

/// Longest key Stripe accepts.
const MAX_KEY_LEN: usize = 255;

/// A response kept for replay.
#[derive(Debug, Clone)]
struct Stored {
    fingerprint: String,
    status: StatusCode,
    body: Bytes,
    request_id: Option<String>,
}

type Slot = Arc<tokio::sync::Mutex<Option<Stored>>>;

/// Every key seen, each with its own lock.
#[derive(Debug, Default)]
pub struct Keys {
    slots: Mutex<HashMap<String, Slot>>,
}

impl Keys {
    fn slot(&self, key: &str) -> Slot {
        let mut slots = self
            .slots
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        slots.entry(key.to_owned()).or_default().clone()
    }
}

/// Middleware: replays, rejects or records POSTs that carry a key.
pub async fn layer(State(sim): State<Sim>, request: Request, next: Next) -> Response {
    if request.method() != Method::POST {
        return next.run(request).await;
    }
    let Some(key) = request
        .headers()
        .get("idempotency-key")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
    else {
        return next.run(request).await;
    };
    if key.len() > MAX_KEY_LEN {
        return StripeError::invalid(format!(
            "Invalid idempotency key: keys must be at most {MAX_KEY_LEN} characters long."
        ))
        .with_param("Idempotency-Key")
        .into_response();
    }
    let request_id = request
        .extensions()
        .get::<crate::RequestId>()
        .map(|id| id.0.clone());
    let (parts, body) = request.into_parts();
    let Ok(bytes) = to_bytes(body, MAX_INPUT).await else {
        return StripeError::from(form::FormError::TooLarge).into_response();
    };
    let params = match form::decode_both(
        parts.uri.query().unwrap_or(""),
        &String::from_utf8_lossy(&bytes),
    ) {
        Ok(params) => params,
        Err(err) => return StripeError::from(err).into_response(),
    };
    let fingerprint = format!(
        "{} {} {}",
        parts.method,
        parts.uri.path(),
        serde_json::Value::Object(params)
    );

    let account = parts
        .headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    let slot = sim.keys().slot(&format!("{account}\n{key}"));
    let mut guard = slot.lock().await;
    if let Some(stored) = guard.as_ref() {
        if stored.fingerprint != fingerprint {
            return StripeError::idempotency(format!(
                "Keys for idempotent requests can only be used with the same parameters they were first used with. Try using a key other than '{key}' if you meant to execute a different request."
            ))
            .into_response();
        }
        return replay(stored);
    }
    let response = next
        .run(Request::from_parts(parts, Body::from(bytes)))
        .await;
    let (parts, body) = response.into_parts();
    let Ok(body) = to_bytes(body, usize::MAX).await else {
        return StripeError::internal().into_response();
    };
    if !rejected_before_execution(parts.status, &body) {
        *guard = Some(Stored {
            fingerprint,
            status: parts.status,
            body: body.clone(),
            request_id,
        });
    }
    Response::from_parts(parts, Body::from(body))
}

/// Validation failures are not stored: the endpoint did nothing.
fn rejected_before_execution(status: StatusCode, body: &[u8]) -> bool {
    if status != StatusCode::BAD_REQUEST {
        return false;
    }
    serde_json::from_slice::<serde_json::Value>(body)
        .ok()
        .is_some_and(|v| v["error"]["type"] == "invalid_request_error")
}

fn replay(stored: &Stored) -> Response {
    let mut response = (stored.status, stored.body.clone()).into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    headers.insert("idempotent-replayed", HeaderValue::from_static("true"));
    if let Some(original) = stored
        .request_id
        .as_deref()
        .and_then(|id| HeaderValue::from_str(id).ok())
    {
        headers.insert("original-request", original);
    }
    response
}
