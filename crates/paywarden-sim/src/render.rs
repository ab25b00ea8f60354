//! Rendering objects at the request's `Stripe-Version`, and `expand[]`.
//!
//! OWNED BY THE WEBHOOKS HELPER.

use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::Response;

use crate::state::Sim;

/// Middleware: expands and version-converts `/v1` JSON responses.
pub async fn layer(State(_sim): State<Sim>, request: Request, next: Next) -> Response {
    next.run(request).await
}
