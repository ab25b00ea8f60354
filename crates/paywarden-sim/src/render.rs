//! Rendering objects at the request's `Stripe-Version`, and `expand[]`.
//!
//! Handlers answer with objects in the stored (newest) shape, ids in place
//! of related objects and private `_sim` bookkeeping. This layer turns that
//! into what Stripe would send the client: converted to the requested
//! version, with the asked-for expansions, without `_sim`. Webhook payloads
//! go through the same [`payload`] function at the endpoint's version.

pub mod expand;
pub mod versions;

use axum::body::{to_bytes, Body};
use axum::extract::{Request, State};
use axum::http::{header, Method};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use serde_json::Value;

use crate::error::StripeError;
use crate::form::FormError;
use crate::state::{Objects, Sim};

pub use versions::{render, render_in, version_date, NEWEST};

/// Largest request or response body the layer buffers.
const BODY_LIMIT: usize = 8 * 1024 * 1024;

/// Removes every `_sim` key, at any depth.
pub fn strip_private(value: &mut Value) {
    match value {
        Value::Object(map) => {
            map.remove("_sim");
            map.values_mut().for_each(strip_private);
        }
        Value::Array(items) => items.iter_mut().for_each(strip_private),
        _ => {}
    }
}

/// `object` as a client at `version` sees it: converted, without `_sim`.
pub fn payload(objects: &Objects, object: &Value, version: &str) -> Value {
    let mut out = render_in(objects, object, version);
    strip_private(&mut out);
    out
}

/// The request's `Stripe-Version`, if it names one.
///
/// Without one the sim answers in its stored shape, the newest it knows;
/// the default version (basil) differs from it only in Checkout's
/// `ui_mode` names, which clients that send no version cannot rely on.
pub fn requested_version(request: &Request) -> Option<String> {
    // A header that is not text is kept (lossily) so it is refused as a
    // malformed version rather than ignored.
    request
        .headers()
        .get("stripe-version")
        .map(|v| String::from_utf8_lossy(v.as_bytes()).trim().to_owned())
        .filter(|v| !v.is_empty())
}

/// The `expand[]` paths of a request (query string, and form body on POST).
/// Anything malformed is left for the handler to refuse.
fn expand_paths(query: &str, body: &str) -> Vec<String> {
    let Ok(params) = crate::form::decode_both(query, body) else {
        return Vec::new();
    };
    match params.get("expand") {
        Some(Value::Array(items)) => items
            .iter()
            .filter_map(|v| v.as_str().map(str::to_owned))
            .collect(),
        _ => Vec::new(),
    }
}

/// Middleware: expands and version-converts `/v1` JSON responses.
pub async fn layer(State(sim): State<Sim>, request: Request, next: Next) -> Response {
    let version = requested_version(&request);
    if let Some(Err(err)) = version.as_deref().map(version_date) {
        return err.into_response();
    }
    let version = version.unwrap_or_else(|| NEWEST.to_owned());
    let query = request.uri().query().unwrap_or("").to_owned();
    let (request, paths) = if request.method() == Method::POST {
        let (parts, body) = request.into_parts();
        let Ok(bytes) = to_bytes(body, BODY_LIMIT).await else {
            return StripeError::from(FormError::TooLarge).into_response();
        };
        let paths = expand_paths(&query, &String::from_utf8_lossy(&bytes));
        (Request::from_parts(parts, Body::from(bytes)), paths)
    } else {
        let paths = expand_paths(&query, "");
        (request, paths)
    };
    if let Err(err) = expand::check_paths(&paths) {
        return err.into_response();
    }
    let response = next.run(request).await;
    if !response.status().is_success() {
        return response;
    }
    let (mut parts, body) = response.into_parts();
    let Ok(bytes) = to_bytes(body, BODY_LIMIT).await else {
        return StripeError::internal().into_response();
    };
    let Ok(object) = serde_json::from_slice::<Value>(&bytes) else {
        return Response::from_parts(parts, Body::from(bytes));
    };
    let rendered = {
        let objects = sim.objects();
        let mut rendered = render_in(&objects, &object, &version);
        if let Err(err) = expand::expand(&objects, &mut rendered, &paths, &version) {
            return err.into_response();
        }
        rendered
    };
    let mut rendered = rendered;
    strip_private(&mut rendered);
    let Ok(out) = serde_json::to_vec(&rendered) else {
        return StripeError::internal().into_response();
    };
    parts.headers.remove(header::CONTENT_LENGTH);
    Response::from_parts(parts, Body::from(out))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn private_keys_go_at_any_depth() {
        let mut value = json!({"_sim": 1, "a": [{"_sim": {"x": 1}, "b": 2}], "c": {"_sim": null}});
        strip_private(&mut value);
        assert_eq!(value, json!({"a": [{"b": 2}], "c": {}}));
    }
}
