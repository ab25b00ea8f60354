//! Webhook endpoints and the Events API (`/v1/webhook_endpoints`,
//! `/v1/events`), and the sim's control routes under `/_sim`.
//!
//! OWNED BY THE WEBHOOKS HELPER.

use axum::Router;

use crate::state::Sim;

/// `/v1` routes served by this module (mounted under `/v1`).
pub fn routes() -> Router<Sim> {
    Router::new()
}

/// Sim-only control routes, mounted under `/_sim` (no API key).
pub fn control() -> Router<Sim> {
    Router::new()
}
