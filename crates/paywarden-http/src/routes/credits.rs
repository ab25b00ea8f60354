//! Credits: the wallet and its ledger, and the requests that spend them.
//!
//! Like the selling API, every route answers both the signed-in user
//! (`/api/…`, `/api/me/…`) and the host product's backend with a server key
//! (`/api/users/{user_id}/…`). Every request that moves credits needs an
//! `Idempotency-Key`; the answer says in `Idempotent-Replayed` whether it
//! is the first answer to that key, given again.

use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Json;
use paywarden_app::credits::{
    CreditAnswer, DebitRequest, HoldRequest, ReleaseRequest, SettleRequest,
};
use serde::Deserialize;
use serde_json::json;

use crate::error::ApiError;
use crate::extract::acting::{ActingCaller, ActingUser};
use crate::extract::limit::PaymentLimit;
use crate::extract::{idempotency_key, JsonBody, OptionalJsonBody, Path, Query};
use crate::route_table::Routes;
use crate::AppState;

pub fn routes() -> Routes {
    let mut router = Routes::new()
        .route("/api/me/credits", get(wallet))
        .route("/api/me/ledger", get(ledger));
    for base in ["/api", "/api/users/{user_id}"] {
        router = router
            .route(&format!("{base}/credits"), get(wallet))
            .route(&format!("{base}/ledger"), get(ledger))
            .route(&format!("{base}/credits/debit"), post(debit))
            .route(&format!("{base}/credits/hold"), post(hold))
            .route(&format!("{base}/credits/holds/{{id}}/settle"), post(settle))
            .route(
                &format!("{base}/credits/holds/{{id}}/release"),
                post(release),
            );
    }
    router
}

/// The `{id}` of a hold route (the `user_id` beside it is read by
/// [`ActingCaller`]).
#[derive(Debug, Deserialize)]
struct HoldPath {
    id: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct LedgerParams {
    cursor: Option<String>,
    limit: Option<u32>,
}

pub(crate) fn required_key(headers: &HeaderMap) -> Result<String, ApiError> {
    idempotency_key(headers)?.ok_or_else(|| {
        ApiError::InvalidRequest("this request needs an Idempotency-Key header".into())
    })
}

/// The receipt, with `Idempotent-Replayed` saying whether it is a replay.
pub(crate) fn answer(answer: CreditAnswer) -> Response {
    let mut response = Json(answer.receipt).into_response();
    response.headers_mut().insert(
        "idempotent-replayed",
        HeaderValue::from_static(if answer.replayed { "true" } else { "false" }),
    );
    response
}

async fn wallet(
    State(state): State<AppState>,
    ActingUser(user): ActingUser,
) -> Result<Json<serde_json::Value>, ApiError> {
    let (wallet, holds) = state.credits().wallet(&user).await?;
    Ok(Json(json!({
        "user_id": wallet.user_id,
        "balance": wallet.balance,
        "held": wallet.held,
        "available": wallet.available,
        "holds": holds,
    })))
}

async fn ledger(
    State(state): State<AppState>,
    ActingUser(user): ActingUser,
    Query(params): Query<LedgerParams>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let page = state
        .credits()
        .ledger(&user, params.cursor.as_deref(), params.limit)
        .await?;
    Ok(Json(
        json!({ "data": page.entries, "next_cursor": page.next_cursor }),
    ))
}

async fn debit(
    State(state): State<AppState>,
    _limit: PaymentLimit,
    acting: ActingCaller,
    headers: HeaderMap,
    JsonBody(request): JsonBody<DebitRequest>,
) -> Result<Response, ApiError> {
    let key = required_key(&headers)?;
    let done = state
        .credits()
        .debit(&acting.user, &acting.caller, &key, &request)
        .await?;
    Ok(answer(done))
}

async fn hold(
    State(state): State<AppState>,
    _limit: PaymentLimit,
    acting: ActingCaller,
    headers: HeaderMap,
    JsonBody(request): JsonBody<HoldRequest>,
) -> Result<Response, ApiError> {
    let key = required_key(&headers)?;
    let done = state
        .credits()
        .hold(&acting.user, &acting.caller, &key, &request)
        .await?;
    Ok(answer(done))
}

async fn settle(
    State(state): State<AppState>,
    acting: ActingCaller,
    Path(HoldPath { id }): Path<HoldPath>,
    headers: HeaderMap,
    OptionalJsonBody(request): OptionalJsonBody<SettleRequest>,
) -> Result<Response, ApiError> {
    let key = required_key(&headers)?;
    let done = state
        .credits()
        .settle(&acting.user, &acting.caller, &key, &id, &request)
        .await?;
    Ok(answer(done))
}

async fn release(
    State(state): State<AppState>,
    acting: ActingCaller,
    Path(HoldPath { id }): Path<HoldPath>,
    headers: HeaderMap,
    OptionalJsonBody(request): OptionalJsonBody<ReleaseRequest>,
) -> Result<Response, ApiError> {
    let key = required_key(&headers)?;
    let done = state
        .credits()
        .release(&acting.user, &acting.caller, &key, &id, &request)
        .await?;
    Ok(answer(done))
}
