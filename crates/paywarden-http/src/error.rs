//! The one mapping from errors to HTTP.
//!
//! Every response that is not a success has the same body:
//! `{"error": {"code": "...", "message": "..."}}` with a stable snake_case
//! code. A store outage is 503, never 2xx or 400. A 500 says nothing about
//! its cause; the cause is logged once, here.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use paywarden_app::auth::AuthError;
use paywarden_app::AppError;
use paywarden_stripe::{ErrorKind, StripeError};
use serde_json::json;
use tracing::error;

/// An error on its way to becoming a response.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("{0}")]
    InvalidSignature(String),
    #[error("{0}")]
    InvalidRequest(String),
    #[error("missing or invalid API key")]
    Unauthenticated,
    /// An end user's token or session cookie was refused.
    #[error("{0}")]
    Unauthorized(String),
    #[error("this API key's role may not do that")]
    Forbidden,
    /// A page's form post without the visitor's CSRF token.
    #[error("{0}")]
    CsrfRejected(String),
    #[error("{0} not found")]
    NotFound(String),
    #[error("this route does not accept that method")]
    MethodNotAllowed,
    #[error("{0}")]
    Conflict(String),
    #[error("not enough credits: {available} available")]
    InsufficientCredits { available: i64 },
    #[error("this Idempotency-Key was used for a different request")]
    IdempotencyKeyReused,
    /// A payment endpoint's rate budget is used up.
    #[error("too many requests: at most {limit} in a burst; retry in {retry_after_secs} s")]
    RateLimited { limit: u32, retry_after_secs: u64 },
    #[error("request body is larger than {0} bytes")]
    PayloadTooLarge(usize),
    /// Stripe declined the payment (a card error); the message is Stripe's,
    /// written for the payer.
    #[error("{0}")]
    PaymentFailed(String),
    /// Stripe refused a request paywarden made: a configuration problem
    /// (key, catalog not synced) or a bug; details go to the log.
    #[error("the payment provider refused the request")]
    Upstream(#[source] AppError),
    /// Stripe cannot be reached or is overloaded.
    #[error("the payment provider is unavailable; retry later")]
    UpstreamUnavailable(#[source] AppError),
    #[error("the service is temporarily unavailable; retry later")]
    Unavailable(#[source] Option<AppError>),
    #[error("internal error")]
    Internal(#[source] Option<AppError>),
}

impl ApiError {
    fn status_and_code(&self) -> (StatusCode, &'static str) {
        match self {
            Self::InvalidSignature(_) => (StatusCode::BAD_REQUEST, "invalid_signature"),
            Self::InvalidRequest(_) => (StatusCode::BAD_REQUEST, "invalid_request"),
            Self::Unauthenticated => (StatusCode::UNAUTHORIZED, "unauthenticated"),
            Self::Unauthorized(_) => (StatusCode::UNAUTHORIZED, "unauthorized"),
            Self::Forbidden => (StatusCode::FORBIDDEN, "forbidden"),
            Self::CsrfRejected(_) => (StatusCode::FORBIDDEN, "csrf_failed"),
            Self::NotFound(_) => (StatusCode::NOT_FOUND, "not_found"),
            Self::MethodNotAllowed => (StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed"),
            Self::Conflict(_) => (StatusCode::CONFLICT, "conflict"),
            Self::InsufficientCredits { .. } => (StatusCode::CONFLICT, "insufficient_credits"),
            Self::IdempotencyKeyReused => {
                (StatusCode::UNPROCESSABLE_ENTITY, "idempotency_key_reused")
            }
            Self::PayloadTooLarge(_) => (StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large"),
            Self::RateLimited { .. } => (StatusCode::TOO_MANY_REQUESTS, "rate_limited"),
            Self::PaymentFailed(_) => (StatusCode::PAYMENT_REQUIRED, "payment_failed"),
            Self::Upstream(_) => (StatusCode::BAD_GATEWAY, "payment_provider_error"),
            Self::UpstreamUnavailable(_) => (
                StatusCode::SERVICE_UNAVAILABLE,
                "payment_provider_unavailable",
            ),
            Self::Unavailable(_) => (StatusCode::SERVICE_UNAVAILABLE, "unavailable"),
            Self::Internal(_) => (StatusCode::INTERNAL_SERVER_ERROR, "internal"),
        }
    }
}

impl From<AppError> for ApiError {
    fn from(err: AppError) -> Self {
        match err {
            AppError::Signature(e) => Self::InvalidSignature(e.to_string()),
            AppError::Envelope(e) => Self::InvalidRequest(e.to_string()),
            AppError::Invalid(message) => Self::InvalidRequest(message),
            AppError::NotFound(what) => Self::NotFound(what.to_owned()),
            AppError::Conflict(message) => Self::Conflict(message),
            AppError::InsufficientCredits { available } => Self::InsufficientCredits { available },
            AppError::IdempotencyKeyReused => Self::IdempotencyKeyReused,
            AppError::Unauthorized(AuthError::KeysUnavailable(_)) => Self::Unavailable(Some(err)),
            AppError::Unauthorized(e) => Self::Unauthorized(e.to_string()),
            AppError::Stripe(stripe) => from_stripe(stripe),
            err if err.is_unavailable() => Self::Unavailable(Some(err)),
            err => Self::Internal(Some(err)),
        }
    }
}

/// A failed Stripe call: a declined card is the payer's to fix (402), an
/// unreachable or overloaded Stripe is worth a retry (503), anything else
/// is ours to fix (502, logged).
fn from_stripe(err: StripeError) -> ApiError {
    match &err {
        StripeError::Api(api) if api.kind == ErrorKind::CardError => {
            ApiError::PaymentFailed(api.message.clone())
        }
        StripeError::Api(api) if api.status == 429 || api.status >= 500 => {
            ApiError::UpstreamUnavailable(AppError::Stripe(err))
        }
        StripeError::Network(_) | StripeError::Timeout => {
            ApiError::UpstreamUnavailable(AppError::Stripe(err))
        }
        _ => ApiError::Upstream(AppError::Stripe(err)),
    }
}

/// Logs the whole cause chain of an error.
fn chain(err: &dyn std::error::Error) -> String {
    let mut text = err.to_string();
    let mut source = err.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, code) = self.status_and_code();
        match &self {
            Self::Internal(Some(cause)) => error!(error = %chain(cause), "internal error"),
            Self::Unavailable(Some(cause)) => error!(error = %chain(cause), "store unavailable"),
            Self::Upstream(cause) => error!(error = %chain(cause), "stripe refused a request"),
            Self::UpstreamUnavailable(cause) => {
                error!(error = %chain(cause), "stripe unavailable")
            }
            _ => {}
        }
        let body = json!({ "error": { "code": code, "message": self.to_string() } });
        let mut response = (status, Json(body)).into_response();
        if let Self::RateLimited {
            limit,
            retry_after_secs,
        } = self
        {
            // RFC 9110 Retry-After, and the IETF RateLimit fields draft.
            let headers = response.headers_mut();
            for (name, value) in [
                ("retry-after", retry_after_secs.to_string()),
                (
                    "ratelimit",
                    format!("limit={limit}, remaining=0, reset={retry_after_secs}"),
                ),
                ("ratelimit-policy", format!("{limit};w=60")),
            ] {
                if let Ok(value) = axum::http::HeaderValue::from_str(&value) {
                    headers.insert(name, value);
                }
            }
        }
        if status == StatusCode::SERVICE_UNAVAILABLE {
            response.headers_mut().insert(
                axum::http::header::RETRY_AFTER,
                axum::http::HeaderValue::from_static("5"),
            );
        }
        response
    }
}

/// The fallback for unknown paths.
pub(crate) async fn not_found() -> ApiError {
    ApiError::NotFound("route".into())
}

/// The fallback for known paths asked with a method they do not route.
pub(crate) async fn method_not_allowed() -> ApiError {
    ApiError::MethodNotAllowed
}

#[cfg(test)]
mod tests {
    use super::*;
    use paywarden_store::StoreError;

    fn status(err: ApiError) -> StatusCode {
        err.into_response().status()
    }

    #[test]
    fn each_error_has_its_status() {
        assert_eq!(
            status(ApiError::InvalidSignature("x".into())),
            StatusCode::BAD_REQUEST
        );
        assert_eq!(status(ApiError::Unauthenticated), StatusCode::UNAUTHORIZED);
        assert_eq!(status(ApiError::Forbidden), StatusCode::FORBIDDEN);
        assert_eq!(
            status(ApiError::PayloadTooLarge(1)),
            StatusCode::PAYLOAD_TOO_LARGE
        );
        assert_eq!(status(ApiError::Conflict("x".into())), StatusCode::CONFLICT);
    }

    #[test]
    fn store_outages_are_503_and_other_store_errors_500() {
        let down = AppError::Store(StoreError::Unavailable(sqlx_pool_timeout()));
        assert_eq!(
            status(ApiError::from(down)),
            StatusCode::SERVICE_UNAVAILABLE
        );
        let corrupt = AppError::Store(StoreError::Corrupt("x".into()));
        assert_eq!(
            status(ApiError::from(corrupt)),
            StatusCode::INTERNAL_SERVER_ERROR
        );
    }

    fn sqlx_pool_timeout() -> paywarden_store::SqlxError {
        paywarden_store::SqlxError::PoolTimedOut
    }
}
