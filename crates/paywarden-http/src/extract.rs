//! Our own extractors: axum's, with rejections answered in our error shape
//! (a malformed query or path is a 400 in `{"error":…}`, never axum's text).

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::StatusCode;
use paywarden_core::credits::IdempotencyKeyError;
use serde::de::DeserializeOwned;

use crate::error::ApiError;

pub mod acting;
pub mod limit;
pub mod user;

/// Largest request body accepted anywhere (the webhook included): 1 MiB.
pub const MAX_BODY_BYTES: usize = paywarden_core::stripe::MAX_EVENT_BYTES;

/// The raw request body, at most [`MAX_BODY_BYTES`].
#[derive(Debug)]
pub struct RawBody(pub Bytes);

impl<S: Send + Sync> FromRequest<S> for RawBody {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        Bytes::from_request(req, state)
            .await
            .map(RawBody)
            .map_err(|rejection: BytesRejection| {
                if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
                    ApiError::PayloadTooLarge(MAX_BODY_BYTES)
                } else {
                    ApiError::InvalidRequest(rejection.body_text())
                }
            })
    }
}

/// Query parameters, rejected with a 400 in our shape.
#[derive(Debug)]
pub struct Query<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequestParts<S> for Query<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        axum::extract::Query::<T>::from_request_parts(parts, state)
            .await
            .map(|q| Query(q.0))
            .map_err(|rejection| ApiError::InvalidRequest(rejection.body_text()))
    }
}

/// Path parameters, rejected with a 400 in our shape.
#[derive(Debug)]
pub struct Path<T>(pub T);

impl<T: DeserializeOwned + Send, S: Send + Sync> FromRequestParts<S> for Path<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        axum::extract::Path::<T>::from_request_parts(parts, state)
            .await
            .map(|p| Path(p.0))
            .map_err(|rejection| ApiError::InvalidRequest(rejection.body_text()))
    }
}

/// A JSON request body read into `T` (whose `deny_unknown_fields` refuses
/// extra fields), rejected in our shape: the message names the field.
#[derive(Debug)]
pub struct JsonBody<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for JsonBody<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        let is_json = req
            .headers()
            .get(axum::http::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split(';').next())
            .is_some_and(|v| v.trim().eq_ignore_ascii_case("application/json"));
        if !is_json {
            return Err(ApiError::InvalidRequest(
                "send a JSON body with Content-Type: application/json".into(),
            ));
        }
        let RawBody(bytes) = RawBody::from_request(req, state).await?;
        parse_json(&bytes).map(JsonBody)
    }
}

/// Reads a JSON body into `T`, naming the field that is wrong.
fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    let mut reader = serde_json::Deserializer::from_slice(bytes);
    let value = serde_path_to_error::deserialize(&mut reader).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner();
        if path == "." {
            ApiError::InvalidRequest(format!("invalid body: {inner}"))
        } else {
            ApiError::InvalidRequest(format!("invalid body at `{path}`: {inner}"))
        }
    })?;
    reader
        .end()
        .map_err(|e| ApiError::InvalidRequest(format!("invalid body: {e}")))?;
    Ok(value)
}

/// A JSON body that may be left out: an empty body reads as
/// `T::default()`; a body that is there follows [`JsonBody`]'s rules.
#[derive(Debug)]
pub struct OptionalJsonBody<T>(pub T);

impl<T: DeserializeOwned + Default, S: Send + Sync> FromRequest<S> for OptionalJsonBody<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        let has_content_type = req.headers().contains_key(axum::http::header::CONTENT_TYPE);
        let RawBody(bytes) = RawBody::from_request(req, state).await?;
        if bytes.is_empty() && !has_content_type {
            return Ok(OptionalJsonBody(T::default()));
        }
        parse_json(&bytes).map(OptionalJsonBody)
    }
}

/// The `Idempotency-Key` header, if sent; a key that is not 1 to 255
/// visible ASCII characters is a 400.
pub fn idempotency_key(headers: &axum::http::HeaderMap) -> Result<Option<String>, ApiError> {
    use paywarden_core::credits::IdempotencyKey;
    let Some(value) = headers.get("idempotency-key") else {
        return Ok(None);
    };
    let key = value
        .to_str()
        .map_err(|_| IdempotencyKeyError)
        .and_then(IdempotencyKey::parse)
        .map_err(|e| ApiError::InvalidRequest(e.to_string()))?;
    Ok(Some(key.as_str().to_owned()))
}
