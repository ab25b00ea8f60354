//! [`PaymentLimit`]: an extractor that spends one share of the caller's
//! rate budget (per end user and per client IP; see
//! `paywarden_app::limits`) and refuses with 429 once it is used up. It
//! goes on every route that costs money or calls Stripe for an end user.
//!
//! Requests made with a valid `server` or `admin` API key are not limited
//! here: they are the product's own backend, one address serving all of
//! its users.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};

use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::request::Parts;
use paywarden_app::limits::Decision;

use crate::auth::api_key;
use crate::error::ApiError;
use crate::extract::user::EndUser;
use crate::AppState;

/// Present on a request that was within its budget.
#[derive(Debug, Clone, Copy)]
pub struct PaymentLimit;

impl FromRequestParts<AppState> for PaymentLimit {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let Some(limits) = state.limits() else {
            return Ok(Self);
        };
        if api_key(parts, state).await.is_ok() {
            return Ok(Self);
        }
        let user = EndUser::from_request_parts(parts, state)
            .await
            .ok()
            .map(|EndUser(user)| user);
        let ip = parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED), |info| info.0.ip());
        match limits.check(user.as_ref(), ip).await {
            Decision::Allowed { .. } => Ok(Self),
            Decision::Limited {
                limit,
                retry_after_secs,
            } => Err(ApiError::RateLimited {
                limit,
                retry_after_secs,
            }),
        }
    }
}
