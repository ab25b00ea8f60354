//! Webhook endpoints and the Events API (`/v1/webhook_endpoints`,
//! `/v1/events`), and the sim's control routes under `/_sim`.
//!
//! Endpoints say where events go; the delivery worker (`crate::delivery`)
//! sends them. The control routes let tests and the CLI watch and steer
//! that: the delivery log, waiting for deliveries to finish, resending an
//! event, moving the sim's clock.

mod control;
mod endpoints;
mod events_api;

use axum::routing::{get, post};
use axum::Router;

use crate::state::Sim;

/// `/v1` routes served by this module (mounted under `/v1`).
pub fn routes() -> Router<Sim> {
    Router::new()
        .route(
            "/webhook_endpoints",
            get(endpoints::list).post(endpoints::create),
        )
        .route(
            "/webhook_endpoints/{id}",
            get(endpoints::retrieve)
                .post(endpoints::update)
                .delete(endpoints::delete),
        )
        .route("/events", get(events_api::list))
        .route("/events/{id}", get(events_api::retrieve))
}

/// Sim-only control routes, mounted under `/_sim` (no API key).
pub fn control() -> Router<Sim> {
    Router::new()
        .route("/health", get(control::health))
        .route("/deliveries", get(control::deliveries))
        .route("/webhooks/flush", post(control::flush))
        .route("/events/{id}/resend", post(control::resend))
        .route("/clock/advance", post(control::advance))
}
