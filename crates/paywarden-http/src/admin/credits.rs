//! Credits for operators: a goodwill grant (under an `Idempotency-Key`, like
//! every movement), a user's wallet with the newest ledger entries, and the
//! ledger check.

use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::Response;
use axum::routing::get;
use axum::Json;
use paywarden_app::credits::GrantRequest;
use paywarden_core::UserId;
use serde::Deserialize;
use serde_json::{json, Value};

use crate::auth::AdminKey;
use crate::error::ApiError;
use crate::extract::{JsonBody, Path};
use crate::route_table::Routes;
use crate::routes::credits::{answer, required_key};
use crate::AppState;

pub(super) fn routes() -> Routes {
    Routes::new()
        .route("/users/{user_id}/credits", get(show).post(grant))
        .route("/ledger/verify", get(verify))
}

#[derive(Debug, Deserialize)]
struct UserPath {
    user_id: String,
}

fn user_of(path: &UserPath) -> Result<UserId, ApiError> {
    path.user_id
        .parse()
        .map_err(|_| ApiError::InvalidRequest("user_id is not a valid user id".into()))
}

async fn grant(
    State(state): State<AppState>,
    AdminKey(admin): AdminKey,
    Path(path): Path<UserPath>,
    headers: HeaderMap,
    JsonBody(request): JsonBody<GrantRequest>,
) -> Result<Response, ApiError> {
    let user = user_of(&path)?;
    let key = required_key(&headers)?;
    let done = state
        .credits()
        .grant(&user, admin.id, &key, &request)
        .await?;
    Ok(answer(done))
}

async fn show(
    State(state): State<AppState>,
    _admin: AdminKey,
    Path(path): Path<UserPath>,
) -> Result<Json<Value>, ApiError> {
    let user = user_of(&path)?;
    let (wallet, holds) = state.credits().wallet(&user).await?;
    let page = state.credits().ledger(&user, None, Some(100)).await?;
    Ok(Json(json!({
        "wallet": wallet,
        "holds": holds,
        "ledger": page.entries,
        "next_cursor": page.next_cursor,
    })))
}

async fn verify(State(state): State<AppState>, _admin: AdminKey) -> Result<Json<Value>, ApiError> {
    let report = state.credits().verify().await?;
    Ok(Json(json!({
        "consistent": report.is_consistent(),
        "wallets": report.wallets,
        "entries": report.entries,
        "mismatches": report.mismatches,
    })))
}
