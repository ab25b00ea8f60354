//! Entitlement checks: `GET /api/me/entitlements` for the signed-in user,
//! `GET /api/entitlements/{user_id}` for the product's backend (server
//! key). `?feature=` narrows the answer to one feature and says whether it
//! is allowed; `?min_version=` refuses to answer older than a version the
//! caller has seen.

use std::collections::BTreeMap;

use axum::extract::State;
use axum::http::header::CONTENT_TYPE;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use paywarden_app::entitlements::{allows, Checked};
use paywarden_core::catalog::FeatureValue;
use paywarden_core::UserId;
use serde::ser::{SerializeMap, Serializer};
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;

use crate::auth::ServerKey;
use crate::error::ApiError;
use crate::extract::user::EndUser;
use crate::extract::{Path, Query};
use crate::route_table::Routes;
use crate::AppState;

pub fn routes() -> Routes {
    Routes::new()
        .route("/api/me/entitlements", get(mine))
        .route("/api/entitlements/{user_id}", get(of_user))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct CheckParams {
    feature: Option<String>,
    min_version: Option<i64>,
}

/// A check's answer, written straight from the cached row: no
/// intermediate JSON tree, since this is the service's hottest route.
#[derive(Serialize)]
struct Answer<'a> {
    user_id: &'a UserId,
    version: i64,
    as_of: i64,
    expires_at: Option<i64>,
    features: Features<'a>,
    source: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    allowed: Option<bool>,
}

/// Every feature (already written as JSON when the snapshot was made, or
/// the map itself), or only the one asked about (`null` when the user has
/// no such feature).
enum Features<'a> {
    Written(&'a RawValue),
    All(&'a BTreeMap<String, FeatureValue>),
    One(&'a str, Option<&'a FeatureValue>),
}

impl Serialize for Features<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            Features::Written(json) => json.serialize(serializer),
            Features::All(all) => all.serialize(serializer),
            Features::One(name, value) => {
                let mut map = serializer.serialize_map(Some(1))?;
                map.serialize_entry(name, value)?;
                map.end()
            }
        }
    }
}

fn answer(checked: &Checked, feature: Option<&str>) -> Response {
    let row = checked.snapshot.row();
    let (features, allowed) = match (feature, checked.snapshot.features_json()) {
        (Some(name), _) => {
            let value = row.features.get(name);
            (Features::One(name, value), Some(allows(value)))
        }
        (None, Some(json)) => (Features::Written(json), None),
        (None, None) => (Features::All(&row.features), None),
    };
    let answer = Answer {
        user_id: &row.user_id,
        version: row.version,
        as_of: checked.as_of,
        expires_at: row.expires_at,
        features,
        source: checked.source.as_str(),
        allowed,
    };
    // Sized for a typical answer up front (`Json` starts smaller and grows).
    let mut body = Vec::with_capacity(ANSWER_CAPACITY);
    match serde_json::to_writer(&mut body, &answer) {
        Ok(()) => ([(CONTENT_TYPE, "application/json")], body).into_response(),
        Err(err) => {
            tracing::error!(error = %err, "writing an entitlement answer");
            ApiError::Internal(None).into_response()
        }
    }
}

/// Bytes reserved for an answer's body: a few features fit without a copy.
const ANSWER_CAPACITY: usize = 512;

async fn run(state: &AppState, user: &UserId, params: &CheckParams) -> Result<Response, ApiError> {
    let checked = state
        .entitlements()?
        .check(user, params.min_version)
        .await?;
    Ok(answer(&checked, params.feature.as_deref()))
}

async fn mine(
    State(state): State<AppState>,
    EndUser(user): EndUser,
    Query(params): Query<CheckParams>,
) -> Result<Response, ApiError> {
    run(&state, &user, &params).await
}

async fn of_user(
    State(state): State<AppState>,
    _key: ServerKey,
    Path(user): Path<String>,
    Query(params): Query<CheckParams>,
) -> Result<Response, ApiError> {
    let user: UserId = user
        .parse()
        .map_err(|_| ApiError::InvalidRequest("user_id is not a valid user id".into()))?;
    run(&state, &user, &params).await
}
