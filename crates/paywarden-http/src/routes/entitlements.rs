//! Entitlement checks: `GET /api/me/entitlements` for the signed-in user,
//! `GET /api/entitlements/{user_id}` for the product's backend (server
//! key). `?feature=` narrows the answer to one feature and says whether it
//! is allowed; `?min_version=` refuses to answer older than a version the
//! caller has seen.

use axum::extract::State;
use axum::routing::get;
use axum::{Json, Router};
use paywarden_app::entitlements::{allows, Checked};
use paywarden_core::UserId;
use serde::Deserialize;
use serde_json::{json, Value};

use crate::auth::ServerKey;
use crate::error::ApiError;
use crate::extract::user::EndUser;
use crate::extract::{Path, Query};
use crate::AppState;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/me/entitlements", get(mine))
        .route("/api/entitlements/{user_id}", get(of_user))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct CheckParams {
    feature: Option<String>,
    min_version: Option<i64>,
}

fn answer(checked: Checked, feature: Option<&str>) -> Value {
    let row = checked.row;
    let features = match feature {
        Some(name) => {
            let value = row.features.get(name);
            json!({ name: value })
        }
        None => json!(row.features),
    };
    let mut body = json!({
        "user_id": row.user_id,
        "version": row.version,
        "as_of": checked.as_of,
        "expires_at": row.expires_at,
        "features": features,
        "source": checked.source.as_str(),
    });
    if let Some(name) = feature {
        body["allowed"] = json!(allows(row.features.get(name)));
    }
    body
}

async fn run(state: &AppState, user: &UserId, params: &CheckParams) -> Result<Value, ApiError> {
    let checked = state
        .entitlements()?
        .check(user, params.min_version)
        .await?;
    Ok(answer(checked, params.feature.as_deref()))
}

async fn mine(
    State(state): State<AppState>,
    EndUser(user): EndUser,
    Query(params): Query<CheckParams>,
) -> Result<Json<Value>, ApiError> {
    Ok(Json(run(&state, &user, &params).await?))
}

async fn of_user(
    State(state): State<AppState>,
    _key: ServerKey,
    Path(user): Path<String>,
    Query(params): Query<CheckParams>,
) -> Result<Json<Value>, ApiError> {
    let user: UserId = user
        .parse()
        .map_err(|_| ApiError::InvalidRequest("user_id is not a valid user id".into()))?;
    Ok(Json(run(&state, &user, &params).await?))
}
