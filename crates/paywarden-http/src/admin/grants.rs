//! Manual grants for operators: give a user features until an expiry or
//! for good, list and revoke them.

use std::collections::BTreeMap;

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::{delete, get};
use axum::Json;
use paywarden_app::entitlements::GrantRequest;
use paywarden_core::catalog::FeatureValue;
use paywarden_core::UserId;
use paywarden_store::{EntitlementsRow, ManualGrant};
use serde::Deserialize;
use serde_json::{json, Value};

use crate::auth::AdminKey;
use crate::error::ApiError;
use crate::extract::{JsonBody, Path};
use crate::route_table::Routes;
use crate::AppState;

pub(super) fn routes() -> Routes {
    Routes::new()
        .route("/users/{user_id}/grants", get(list).post(create))
        .route("/users/{user_id}/grants/{id}", delete(revoke))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct NewGrant {
    features: BTreeMap<String, FeatureValue>,
    expires_at: Option<i64>,
    reason: String,
}

#[derive(Debug, Deserialize)]
struct UserPath {
    user_id: String,
}

#[derive(Debug, Deserialize)]
struct GrantPath {
    user_id: String,
    id: String,
}

fn user_id(raw: &str) -> Result<UserId, ApiError> {
    raw.parse()
        .map_err(|_| ApiError::InvalidRequest("user_id is not a valid user id".into()))
}

fn entitlements_json(row: &EntitlementsRow) -> Value {
    json!({
        "user_id": row.user_id,
        "version": row.version,
        "features": row.features,
        "expires_at": row.expires_at,
    })
}

fn grant_json(grant: &ManualGrant) -> Value {
    json!({
        "id": grant.id,
        "user_id": grant.user_id,
        "features": grant.features,
        "expires_at": grant.expires_at,
        "reason": grant.reason,
        "created_at": grant.created_at,
        "revoked_at": grant.revoked_at,
    })
}

async fn create(
    AdminKey(admin): AdminKey,
    State(state): State<AppState>,
    Path(path): Path<UserPath>,
    JsonBody(body): JsonBody<NewGrant>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let user = user_id(&path.user_id)?;
    let (id, row) = state
        .entitlements()?
        .grant(
            &user,
            GrantRequest {
                features: body.features,
                expires_at: body.expires_at,
                reason: body.reason,
            },
        )
        .await?;
    tracing::info!(key.id = %admin.id, user.id = %user, grant.id = %id, "operator granted features");
    Ok((
        StatusCode::CREATED,
        Json(json!({ "id": id, "entitlements": entitlements_json(&row) })),
    ))
}

async fn list(
    _admin: AdminKey,
    State(state): State<AppState>,
    Path(path): Path<UserPath>,
) -> Result<Json<Value>, ApiError> {
    let user = user_id(&path.user_id)?;
    let grants = state.entitlements()?.grants_of(&user).await?;
    Ok(Json(json!({
        "data": grants.iter().map(grant_json).collect::<Vec<_>>(),
    })))
}

async fn revoke(
    AdminKey(admin): AdminKey,
    State(state): State<AppState>,
    Path(path): Path<GrantPath>,
) -> Result<Json<Value>, ApiError> {
    let user = user_id(&path.user_id)?;
    let row = state.entitlements()?.revoke(&user, &path.id).await?;
    tracing::info!(key.id = %admin.id, user.id = %user, grant.id = %path.id, "operator revoked a grant");
    Ok(Json(json!({ "entitlements": entitlements_json(&row) })))
}
