//! Operator authentication: `Authorization: Bearer pw_…`.
//!
//! No key, an unknown key or a revoked key is 401; a valid key whose role
//! does not allow the route is 403.

use std::sync::Arc;

use axum::extract::FromRequestParts;
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;
use paywarden_app::keys::PresentedKey;
use paywarden_core::ids::ApiKeyId;
use paywarden_store::{ApiKey, ApiKeyRole};

use crate::error::ApiError;
use crate::AppState;

/// A request made with a live admin key.
#[derive(Debug, Clone)]
pub struct AdminKey(pub Arc<ApiKey>);

fn bearer(parts: &Parts) -> Option<PresentedKey> {
    let value = parts.headers.get(AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| PresentedKey::new(token.trim()))
}

pub(crate) async fn api_key(parts: &Parts, state: &AppState) -> Result<Arc<ApiKey>, ApiError> {
    let presented = bearer(parts).ok_or(ApiError::Unauthenticated)?;
    let key = state
        .keys()
        .authenticate(&presented)
        .await?
        .ok_or(ApiError::Unauthenticated)?;
    tracing::Span::current().record("key.id", tracing::field::display(&key.id));
    Ok(key)
}

impl FromRequestParts<AppState> for AdminKey {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let key = api_key(parts, state).await?;
        if key.role != ApiKeyRole::Admin {
            return Err(ApiError::Forbidden);
        }
        Ok(AdminKey(key))
    }
}

/// A request made with a live `server` key: the host product's backend,
/// acting for one of its users.
#[derive(Debug, Clone, Copy)]
pub struct ServerKey(pub ApiKeyId);

impl FromRequestParts<AppState> for ServerKey {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let key = api_key(parts, state).await?;
        if key.role != ApiKeyRole::Server {
            return Err(ApiError::Forbidden);
        }
        Ok(ServerKey(key.id))
    }
}
