//! Who a user-scoped request acts for: the signed-in end user on
//! `/api/…`, or the user named in the path on `/api/users/{user_id}/…`,
//! where the host product's backend calls with a `server` key.

use axum::extract::{FromRequestParts, RawPathParams};
use axum::http::request::Parts;
use paywarden_app::credits::Caller;
use paywarden_core::UserId;

use super::user::EndUser;
use crate::auth::ServerKey;
use crate::error::ApiError;
use crate::AppState;

/// The user a request acts for.
#[derive(Debug, Clone)]
pub struct ActingUser(pub UserId);

/// The user a request acts for, and who sent it (the scope of an
/// `Idempotency-Key`).
#[derive(Debug, Clone)]
pub struct ActingCaller {
    pub user: UserId,
    pub caller: Caller,
}

impl FromRequestParts<AppState> for ActingUser {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let acting = ActingCaller::from_request_parts(parts, state).await?;
        Ok(ActingUser(acting.user))
    }
}

impl FromRequestParts<AppState> for ActingCaller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let params = RawPathParams::from_request_parts(parts, state)
            .await
            .map_err(|rejection| ApiError::InvalidRequest(rejection.body_text()))?;
        let named = params
            .iter()
            .find(|(name, _)| *name == "user_id")
            .map(|(_, value)| value.to_owned());
        match named {
            Some(user) => {
                let ServerKey(key) = ServerKey::from_request_parts(parts, state).await?;
                let user: UserId = user.parse().map_err(|_| {
                    ApiError::InvalidRequest("user_id is not a valid user id".into())
                })?;
                tracing::Span::current().record("user.id", tracing::field::display(&user));
                Ok(ActingCaller {
                    user,
                    caller: Caller::Key(key),
                })
            }
            None => {
                let EndUser(user) = EndUser::from_request_parts(parts, state).await?;
                Ok(ActingCaller {
                    caller: Caller::User(user.clone()),
                    user,
                })
            }
        }
    }
}
