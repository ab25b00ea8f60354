//! The selling API: plans for a pricing page, Checkout, subscriptions and
//! the billing portal.
//!
//! Every user-scoped route is mounted twice: under `/api` for the signed-in
//! end user, and under `/api/users/{user_id}` for the host product's
//! backend with a `server` key. The handlers are the same; [`ActingUser`]
//! says whom a request acts for. Another user's objects answer 404.

use axum::extract::State;
use axum::http::HeaderMap;
use axum::routing::{get, post};
use axum::Json;
use paywarden_app::billing::{
    CheckoutSessionCreated, CheckoutStatus, NewCheckout, NewSubscription, PlanView,
    PortalSessionCreated, SubscriptionChange, SubscriptionDetails,
};
use serde::Deserialize;
use serde_json::{json, Value};

use crate::error::ApiError;
use crate::extract::acting::ActingUser;
use crate::extract::limit::PaymentLimit;
use crate::extract::{idempotency_key, JsonBody, Path, Query};
use crate::route_table::Routes;
use crate::AppState;

pub fn routes() -> Routes {
    Routes::new()
        .route("/api/plans", get(plans))
        .nest("/api", user_routes())
        .nest("/api/users/{user_id}", user_routes())
}

fn user_routes() -> Routes {
    Routes::new()
        .route("/checkout/session", post(create_checkout))
        .route("/checkout/session/{id}", get(checkout_status))
        .route(
            "/subscriptions",
            get(list_subscriptions).post(start_subscription),
        )
        .route(
            "/subscriptions/{id}",
            get(show_subscription)
                .put(change_subscription)
                .delete(cancel_subscription),
        )
        .route("/portal/session", post(portal_session))
}

/// The `{id}` of a user-scoped route (the `user_id` beside it is read by
/// [`ActingUser`]).
#[derive(Debug, Deserialize)]
struct ObjectPath {
    id: String,
}

async fn plans(State(state): State<AppState>) -> Result<Json<Value>, ApiError> {
    let plans: Vec<PlanView> = state.billing()?.plans();
    Ok(Json(json!({ "data": plans })))
}

async fn create_checkout(
    State(state): State<AppState>,
    _limit: PaymentLimit,
    ActingUser(user): ActingUser,
    JsonBody(request): JsonBody<NewCheckout>,
) -> Result<Json<CheckoutSessionCreated>, ApiError> {
    Ok(Json(
        state.billing()?.create_checkout(&user, &request).await?,
    ))
}

/// Fetches the session from Stripe and, when paid, applies it: what the
/// success page does, for clients that render their own.
async fn checkout_status(
    State(state): State<AppState>,
    ActingUser(user): ActingUser,
    Path(ObjectPath { id }): Path<ObjectPath>,
) -> Result<Json<CheckoutStatus>, ApiError> {
    Ok(Json(state.billing()?.sync_checkout(&user, &id).await?))
}

async fn list_subscriptions(
    State(state): State<AppState>,
    ActingUser(user): ActingUser,
) -> Result<Json<Value>, ApiError> {
    let subscriptions = state.billing()?.subscriptions(&user).await?;
    Ok(Json(json!({ "data": subscriptions })))
}

async fn show_subscription(
    State(state): State<AppState>,
    ActingUser(user): ActingUser,
    Path(ObjectPath { id }): Path<ObjectPath>,
) -> Result<Json<SubscriptionDetails>, ApiError> {
    Ok(Json(state.billing()?.subscription(&user, &id).await?))
}

async fn start_subscription(
    State(state): State<AppState>,
    _limit: PaymentLimit,
    ActingUser(user): ActingUser,
    headers: HeaderMap,
    JsonBody(request): JsonBody<NewSubscription>,
) -> Result<Json<SubscriptionDetails>, ApiError> {
    let key = idempotency_key(&headers)?;
    Ok(Json(
        state
            .billing()?
            .start_subscription(&user, &request, key.as_deref())
            .await?,
    ))
}

async fn change_subscription(
    State(state): State<AppState>,
    _limit: PaymentLimit,
    ActingUser(user): ActingUser,
    Path(ObjectPath { id }): Path<ObjectPath>,
    headers: HeaderMap,
    JsonBody(change): JsonBody<SubscriptionChange>,
) -> Result<Json<SubscriptionDetails>, ApiError> {
    let key = idempotency_key(&headers)?;
    Ok(Json(
        state
            .billing()?
            .change_subscription(&user, &id, &change, key.as_deref())
            .await?,
    ))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct CancelParams {
    #[serde(default)]
    at_period_end: bool,
}

async fn cancel_subscription(
    State(state): State<AppState>,
    ActingUser(user): ActingUser,
    Path(ObjectPath { id }): Path<ObjectPath>,
    Query(params): Query<CancelParams>,
) -> Result<Json<SubscriptionDetails>, ApiError> {
    Ok(Json(
        state
            .billing()?
            .cancel_subscription(&user, &id, params.at_period_end)
            .await?,
    ))
}

async fn portal_session(
    State(state): State<AppState>,
    _limit: PaymentLimit,
    ActingUser(user): ActingUser,
) -> Result<Json<PortalSessionCreated>, ApiError> {
    Ok(Json(state.billing()?.portal_session(&user).await?))
}
