//! `/v1/test_helpers/test_clocks`: create, retrieve, list, advance, delete.
//!
//! Advancing runs every transition due on the clock's customers in time
//! order (`time::run_due`) while the sim's lock is held, so by the time the
//! response (status `advancing`, as Stripe answers) arrives the clock is
//! already `ready`; clients that poll until `ready` see the same thing as
//! against Stripe. Events an advance causes carry the clock's time of each
//! transition as `created`.

use axum::extract::{Path, State};
use axum::Json;
use serde_json::{json, Value};

use super::dunning;
use crate::error::StripeError;
use crate::events::Cause;
use crate::ids::{new_id, TEST_CLOCK};
use crate::list::{matching, page, Created, LIST_PARAMS};
use crate::params::{or_null, Params};
use crate::state::{now, Sim};

/// Clocks are deleted by Stripe 30 days after creation (not enforced).
const LIFETIME: i64 = 30 * 86_400;

pub async fn create(
    State(sim): State<Sim>,
    cause: Cause,
    params: Params,
) -> Result<Json<Value>, StripeError> {
    params.only(&["frozen_time", "name", "expand"])?;
    let frozen = params
        .integer("frozen_time")?
        .ok_or_else(|| StripeError::missing_param("frozen_time"))?;
    let created = now();
    let id = new_id(TEST_CLOCK);
    let clock = json!({
        "id": id, "object": "test_helpers.test_clock", "created": created,
        "deletes_after": created + LIFETIME, "frozen_time": frozen, "livemode": false,
        "name": or_null(params.string("name")?), "status": "ready", "status_details": {}
    });
    let mut objects = sim.objects();
    objects.test_clocks.insert(id, clock.clone());
    objects.emit(
        &cause,
        frozen,
        "test_helpers.test_clock.created",
        &clock,
        None,
    );
    Ok(Json(clock))
}

pub async fn retrieve(
    State(sim): State<Sim>,
    Path(id): Path<String>,
    params: Params,
) -> Result<Json<Value>, StripeError> {
    params.only(&["expand"])?;
    sim.objects()
        .test_clocks
        .get(&id)
        .cloned()
        .map(Json)
        .ok_or_else(|| StripeError::no_such("test_clock", &id, "id"))
}

pub async fn list(State(sim): State<Sim>, params: Params) -> Result<Json<Value>, StripeError> {
    params.only(LIST_PARAMS)?;
    let created = Created::from_params(&params)?;
    let items = matching(&sim.objects().test_clocks, &created, |_| true);
    page(&items, &params, "/v1/test_helpers/test_clocks").map(Json)
}

pub async fn advance(
    State(sim): State<Sim>,
    cause: Cause,
    Path(id): Path<String>,
    params: Params,
) -> Result<Json<Value>, StripeError> {
    params.only(&["frozen_time", "expand"])?;
    let target = params
        .integer("frozen_time")?
        .ok_or_else(|| StripeError::missing_param("frozen_time"))?;
    let mut objects = sim.objects();
    let mut clock = objects
        .test_clocks
        .get(&id)
        .cloned()
        .ok_or_else(|| StripeError::no_such("test_clock", &id, "id"))?;
    let current = clock["frozen_time"].as_i64().unwrap_or(0);
    if target <= current {
        return Err(StripeError::invalid(format!(
            "The test clock can only be advanced to a time after its current frozen_time ({current})."
        ))
        .with_param("frozen_time"));
    }
    if clock["status"] != "ready" {
        return Err(StripeError::invalid(
            "The test clock is already advancing; wait until its status is ready.",
        ));
    }
    clock["status"] = json!("advancing");
    clock["status_details"] = json!({ "advancing": { "target_frozen_time": target } });
    objects.test_clocks.insert(id.clone(), clock.clone());
    objects.emit(
        &cause,
        current,
        "test_helpers.test_clock.advancing",
        &clock,
        None,
    );
    let answer = clock.clone();
    crate::time::run_due(&mut objects, Some(&id), target);
    clock["status"] = json!("ready");
    clock["status_details"] = json!({});
    clock["frozen_time"] = json!(target);
    objects.test_clocks.insert(id.clone(), clock.clone());
    objects.emit(
        &Cause::automatic(),
        target,
        "test_helpers.test_clock.ready",
        &clock,
        None,
    );
    Ok(Json(answer))
}

/// Deletes the clock with its customers and their subscriptions.
pub async fn delete(
    State(sim): State<Sim>,
    cause: Cause,
    Path(id): Path<String>,
    params: Params,
) -> Result<Json<Value>, StripeError> {
    params.only(&[])?;
    let mut objects = sim.objects();
    let clock = objects
        .test_clocks
        .get(&id)
        .cloned()
        .ok_or_else(|| StripeError::no_such("test_clock", &id, "id"))?;
    let at = clock["frozen_time"].as_i64().unwrap_or(0);
    let subscriptions: Vec<String> = objects
        .subscriptions
        .newest_first()
        .filter(|s| s["test_clock"] == id.as_str())
        .filter_map(|s| s["id"].as_str().map(str::to_owned))
        .collect();
    for sub in subscriptions {
        dunning::end(&mut objects, &cause, at, &sub, "cancellation_requested");
    }
    let customers: Vec<String> = objects
        .customers
        .newest_first()
        .filter(|c| c["test_clock"] == id.as_str())
        .filter_map(|c| c["id"].as_str().map(str::to_owned))
        .collect();
    for customer in customers {
        if let Some(removed) = objects.customers.remove(&customer) {
            objects.emit(&cause, at, "customer.deleted", &removed, None);
        }
    }
    objects.test_clocks.remove(&id);
    objects.emit(&cause, at, "test_helpers.test_clock.deleted", &clock, None);
    Ok(Json(
        json!({ "id": id, "object": "test_helpers.test_clock", "deleted": true }),
    ))
}
