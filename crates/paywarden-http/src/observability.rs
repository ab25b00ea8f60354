//! Request ids, one log span per request, and a last-resort panic guard.
//!
//! The request id comes from `x-request-id` when the caller sent one,
//! otherwise a fresh UUID; it is echoed in the response. The span names the
//! matched route (not the raw path, which may carry ids), the method and the
//! request id; `key.id` is filled in once an operator key is checked.

use std::any::Any;

use axum::extract::MatchedPath;
use axum::http::{HeaderName, Request, Response};
use axum::response::IntoResponse;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::request_id::{
    MakeRequestId, PropagateRequestIdLayer, RequestId, SetRequestIdLayer,
};
use tower_http::trace::{DefaultOnResponse, TraceLayer};
use tracing::{Level, Span};

use crate::error::ApiError;

const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// A random (v4) UUID per request from the thread's generator: the
/// `uuid` crate's own v4 asks the kernel for every id, one system call per
/// request on the hottest routes.
#[derive(Debug, Clone, Copy, Default)]
struct MakeRandomRequestId;

impl MakeRequestId for MakeRandomRequestId {
    fn make_request_id<B>(&mut self, _: &Request<B>) -> Option<RequestId> {
        let id = uuid::Builder::from_random_bytes(rand::random()).into_uuid();
        let mut text = [0u8; uuid::fmt::Hyphenated::LENGTH];
        let text = id.hyphenated().encode_lower(&mut text);
        axum::http::HeaderValue::from_str(text)
            .ok()
            .map(RequestId::new)
    }
}

fn make_span<B>(request: &Request<B>) -> Span {
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map(MatchedPath::as_str)
        .unwrap_or("unmatched");
    let request_id = request
        .headers()
        .get(&REQUEST_ID)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    tracing::info_span!(
        "request",
        http.method = %request.method(),
        http.route = route,
        request_id = request_id,
        key.id = tracing::field::Empty,
    )
}

fn panic_response(_: Box<dyn Any + Send + 'static>) -> Response<axum::body::Body> {
    tracing::error!("handler panicked");
    ApiError::Internal(None).into_response()
}

type PanicHandler = fn(Box<dyn Any + Send + 'static>) -> Response<axum::body::Body>;

/// Wraps a router in the middleware stack.
pub(crate) fn wrap(router: axum::Router) -> axum::Router {
    router
        .layer(CatchPanicLayer::custom(panic_response as PanicHandler))
        .layer(PropagateRequestIdLayer::new(REQUEST_ID))
        .layer(
            TraceLayer::new_for_http()
                .make_span_with(make_span as fn(&Request<axum::body::Body>) -> Span)
                .on_response(DefaultOnResponse::new().level(Level::INFO)),
        )
        .layer(SetRequestIdLayer::new(REQUEST_ID, MakeRandomRequestId))
}
