//! paywarden-sim: a local Stripe the official SDKs can talk to.
//!
//! No network reaches Stripe from where paywarden is built and tested, and
//! the public stand-ins are stateless or years behind. This crate speaks
//! Stripe's wire protocol (`/v1` paths, bracket form bodies, test keys,
//! Stripe's error object, list pagination, idempotency keys) over state kept
//! in memory. It is a library: tests start it on `127.0.0.1:0`;
//! `paywarden sim` serves it standalone and `paywarden serve` mounts it
//! under `/sim` when no real Stripe key is configured.
#![forbid(unsafe_code)]

pub mod api;
mod auth;
pub mod billing;
pub mod delivery;
pub mod error;
pub mod events;
pub mod form;
mod idempotency;
pub mod ids;
pub mod list;
pub mod params;
pub mod payments;
pub mod persist;
pub mod render;
pub mod state;
pub mod time;
pub mod webhooks;

use std::future::Future;

use axum::extract::Request;
use axum::http::HeaderValue;
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use tokio::net::TcpListener;

pub use error::StripeError;
pub use state::Sim;

/// The sim's routes under `/v1`, with auth, idempotency and request ids.
pub fn router(sim: Sim) -> Router {
    use api::{customers, prices, products};
    let v1 = Router::new()
        .route("/customers", get(customers::list).post(customers::create))
        .route(
            "/customers/{id}",
            get(customers::retrieve)
                .post(customers::update)
                .delete(customers::delete),
        )
        .route("/products", get(products::list).post(products::create))
        .route(
            "/products/{id}",
            get(products::retrieve).post(products::update),
        )
        .route("/prices", get(prices::list).post(prices::create))
        .route("/prices/{id}", get(prices::retrieve).post(prices::update))
        .merge(webhooks::routes())
        .merge(payments::routes())
        .merge(billing::routes())
        .method_not_allowed_fallback(unrecognized)
        .layer(middleware::from_fn_with_state(sim.clone(), render::layer))
        .layer(middleware::from_fn_with_state(
            sim.clone(),
            idempotency::layer,
        ))
        .layer(middleware::from_fn(auth::layer));
    Router::new()
        .nest("/v1", v1)
        .nest("/_sim", webhooks::control())
        .merge(payments::pages())
        .merge(billing::pages())
        .fallback(unrecognized)
        .layer(middleware::from_fn(request_id))
        .with_state(sim)
}

/// Serves `sim` on `listener` until `shutdown` completes.
pub async fn serve(
    listener: TcpListener,
    sim: Sim,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    sim.start_background();
    axum::serve(listener, router(sim))
        .with_graceful_shutdown(shutdown)
        .await
}

async fn unrecognized(request: Request) -> Response {
    StripeError::unrecognized_url(request.method().as_str(), request.uri().path()).into_response()
}

/// This request's `req_…` id, for handlers and middleware that record it.
#[derive(Debug, Clone)]
pub struct RequestId(pub String);

/// The API version the sim renders when the client names none.
pub const DEFAULT_STRIPE_VERSION: &str = "2026-10-28.endive";

/// Every response carries `Request-Id: req_…` and the `Stripe-Version` it
/// was rendered with, as Stripe's do.
async fn request_id(mut request: Request, next: Next) -> Response {
    let id = RequestId(ids::new_id(ids::REQUEST));
    request.extensions_mut().insert(id.clone());
    let version = request
        .headers()
        .get("stripe-version")
        .cloned()
        .unwrap_or(HeaderValue::from_static(DEFAULT_STRIPE_VERSION));
    let mut response = next.run(request).await;
    let headers = response.headers_mut();
    if let Ok(value) = HeaderValue::from_str(&id.0) {
        headers.insert("request-id", value);
    }
    headers.insert("stripe-version", version);
    response
}
