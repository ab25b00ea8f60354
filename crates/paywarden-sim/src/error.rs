//! Stripe's error object, the only non-2xx body the sim sends.
//!
//! The SDKs pick their exception class from the HTTP status (and, for 400,
//! from `error.type`), so the status and type travel together here and a
//! handler cannot pair them wrongly. Field names and messages copy Stripe's
//! so that SDK users see what production would tell them.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Serialize;
use serde_json::json;

use crate::form::FormError;

/// `error.type` values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorType {
    InvalidRequestError,
    ApiError,
    CardError,
    IdempotencyError,
    AuthenticationError,
    RateLimitError,
}

/// A Stripe error on its way to becoming a response.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct StripeError {
    pub status: StatusCode,
    pub kind: ErrorType,
    pub code: Option<&'static str>,
    pub message: String,
    pub param: Option<String>,
    pub decline_code: Option<&'static str>,
}

impl StripeError {
    fn new(status: StatusCode, kind: ErrorType, message: impl Into<String>) -> Self {
        Self {
            status,
            kind,
            code: None,
            message: message.into(),
            param: None,
            decline_code: None,
        }
    }

    /// 400 `invalid_request_error`.
    pub fn invalid(message: impl Into<String>) -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            ErrorType::InvalidRequestError,
            message,
        )
    }

    /// Attaches `code`.
    pub fn with_code(mut self, code: &'static str) -> Self {
        self.code = Some(code);
        self
    }

    /// Attaches `param`.
    pub fn with_param(mut self, param: impl Into<String>) -> Self {
        self.param = Some(param.into());
        self
    }

    /// "Received unknown parameter: X".
    pub fn unknown_param(param: &str) -> Self {
        Self::invalid(format!("Received unknown parameter: {param}"))
            .with_code("parameter_unknown")
            .with_param(param)
    }

    /// "Missing required param: X."
    pub fn missing_param(param: &str) -> Self {
        Self::invalid(format!("Missing required param: {param}."))
            .with_code("parameter_missing")
            .with_param(param)
    }

    /// "Invalid integer: abc".
    pub fn invalid_integer(param: &str, value: &str) -> Self {
        Self::invalid(format!("Invalid integer: {value}"))
            .with_code("parameter_invalid_integer")
            .with_param(param)
    }

    /// 404 `resource_missing`: "No such customer: 'cus_x'".
    pub fn no_such(kind: &str, id: &str, param: &str) -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            ErrorType::InvalidRequestError,
            format!("No such {kind}: '{id}'"),
        )
        .with_code("resource_missing")
        .with_param(param)
    }

    /// The same error answered with 400, as Stripe does for an unknown id
    /// given as a parameter rather than in the path.
    pub fn with_status_400(mut self) -> Self {
        self.status = StatusCode::BAD_REQUEST;
        self
    }

    /// 401 for a missing or unusable API key. Stripe answers these with
    /// `invalid_request_error`; the SDKs choose `AuthenticationError` by status.
    pub fn unauthenticated(message: impl Into<String>) -> Self {
        Self::new(
            StatusCode::UNAUTHORIZED,
            ErrorType::InvalidRequestError,
            message,
        )
    }

    /// 400 `idempotency_error`.
    pub fn idempotency(message: impl Into<String>) -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            ErrorType::IdempotencyError,
            message,
        )
    }

    /// 404 for a path no endpoint serves.
    pub fn unrecognized_url(method: &str, path: &str) -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            ErrorType::InvalidRequestError,
            format!(
                "Unrecognized request URL ({method}: {path}). Please see https://stripe.com/docs or we can help at https://support.stripe.com/."
            ),
        )
    }

    /// 500 `api_error`; the message reveals nothing.
    pub fn internal() -> Self {
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            ErrorType::ApiError,
            "An unknown error occurred",
        )
    }

    /// The JSON body.
    pub fn body(&self) -> serde_json::Value {
        let mut error = json!({ "type": self.kind, "message": self.message });
        if let Some(code) = self.code {
            error["code"] = json!(code);
            error["doc_url"] = json!(format!(
                "https://stripe.com/docs/error-codes/{}",
                code.replace('_', "-")
            ));
        }
        if let Some(param) = &self.param {
            error["param"] = json!(param);
        }
        if let Some(decline) = self.decline_code {
            error["decline_code"] = json!(decline);
        }
        json!({ "error": error })
    }
}

impl From<FormError> for StripeError {
    fn from(err: FormError) -> Self {
        let out = Self::invalid(err.to_string());
        match err.param() {
            Some(p) => out.with_param(p),
            None => out,
        }
    }
}

impl IntoResponse for StripeError {
    fn into_response(self) -> Response {
        (self.status, Json(self.body())).into_response()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_follow_kinds() {
        assert_eq!(
            StripeError::unknown_param("x").status,
            StatusCode::BAD_REQUEST
        );
        assert_eq!(
            StripeError::no_such("customer", "c", "id").status,
            StatusCode::NOT_FOUND
        );
        assert_eq!(
            StripeError::unauthenticated("no").status,
            StatusCode::UNAUTHORIZED
        );
        assert_eq!(
            StripeError::internal().status,
            StatusCode::INTERNAL_SERVER_ERROR
        );
    }

    #[test]
    fn body_shape() {
        let body = StripeError::invalid_integer("unit_amount", "abc").body();
        assert_eq!(body["error"]["type"], "invalid_request_error");
        assert_eq!(body["error"]["code"], "parameter_invalid_integer");
        assert_eq!(body["error"]["param"], "unit_amount");
        assert_eq!(body["error"]["message"], "Invalid integer: abc");
    }
}
