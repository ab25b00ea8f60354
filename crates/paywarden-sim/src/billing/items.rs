//! `/v1/subscription_items`: list (by subscription) and retrieve. Items are
//! changed through their subscription (`POST /v1/subscriptions/{id}`).

use axum::extract::{Path, State};
use axum::Json;
use serde_json::Value;

use crate::error::StripeError;
use crate::list::{matching, page, Created, LIST_PARAMS};
use crate::params::Params;
use crate::state::Sim;

pub async fn list(State(sim): State<Sim>, params: Params) -> Result<Json<Value>, StripeError> {
    let allowed: Vec<&str> = LIST_PARAMS
        .iter()
        .copied()
        .chain(["subscription"])
        .collect();
    params.only(&allowed)?;
    let subscription = params.required("subscription")?;
    let created = Created::from_params(&params)?;
    let objects = sim.objects();
    if objects.subscriptions.get(&subscription).is_none() {
        return Err(
            StripeError::no_such("subscription", &subscription, "subscription").with_status_400(),
        );
    }
    let items = matching(&objects.subscription_items, &created, |i| {
        i["subscription"] == subscription.as_str()
    });
    page(
        &items,
        &params,
        &format!("/v1/subscription_items?subscription={subscription}"),
    )
    .map(Json)
}

pub async fn retrieve(
    State(sim): State<Sim>,
    Path(id): Path<String>,
    params: Params,
) -> Result<Json<Value>, StripeError> {
    params.only(&["expand"])?;
    sim.objects()
        .subscription_items
        .get(&id)
        .cloned()
        .map(Json)
        .ok_or_else(|| StripeError::no_such("subscription_item", &id, "id"))
}
