//! Probes: `/healthz` (the process answers) and `/readyz` (the database does).

use axum::extract::State;
use axum::routing::get;
use axum::Json;
use serde_json::{json, Value};

use crate::error::ApiError;
use crate::route_table::Routes;
use crate::AppState;

pub(crate) fn routes() -> Routes {
    Routes::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
}

async fn healthz() -> Json<Value> {
    Json(json!({ "status": "ok" }))
}

async fn readyz(State(state): State<AppState>) -> Result<Json<Value>, ApiError> {
    state
        .store()
        .ping()
        .await
        .map_err(|err| ApiError::from(paywarden_app::AppError::Store(err)))?;
    Ok(Json(
        json!({ "status": "ready", "database": state.store().backend().as_str() }),
    ))
}
