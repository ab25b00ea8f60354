//! `/_sim/…`: steering the sim from tests and the CLI (no API key).
//!
//! The delivery log, waiting until webhook deliveries are done, resending
//! an event, moving the sim's clock for objects on no test clock, health.

use std::time::Duration;

use axum::extract::{Path, State};
use axum::Json;
use serde_json::{json, Value};

use crate::error::StripeError;
use crate::params::Params;
use crate::state::Sim;

/// Longest a flush waits.
const FLUSH_LIMIT: Duration = Duration::from_secs(10);
/// How often a flush looks again.
const FLUSH_POLL: Duration = Duration::from_millis(20);

pub async fn health() -> Json<Value> {
    Json(json!({ "object": "sim.health", "status": "ok" }))
}

/// `GET /_sim/deliveries[?event=evt_…][&endpoint=we_…]`: every delivery
/// attempt, oldest first: event, endpoint, attempt number, HTTP status or
/// error, time, and the order deliveries were started in (`dispatch`).
pub async fn deliveries(
    State(sim): State<Sim>,
    params: Params,
) -> Result<Json<Value>, StripeError> {
    params.only(&["event", "endpoint"])?;
    let event = params.string("event")?;
    let endpoint = params.string("endpoint")?;
    let mut data = crate::delivery::attempts(&sim.objects(), event.as_deref());
    if let Some(endpoint) = endpoint {
        data.retain(|d| d["endpoint"] == endpoint.as_str());
    }
    Ok(Json(json!({ "object": "list", "data": data })))
}

/// `POST /_sim/webhooks/flush`: waits (at most 10 s) until every event
/// was taken by the delivery worker and none has a delivery running.
pub async fn flush(State(sim): State<Sim>) -> Json<Value> {
    let deadline = tokio::time::Instant::now() + FLUSH_LIMIT;
    loop {
        let (unsettled, attempts) = {
            let objects = sim.objects();
            (
                crate::delivery::unsettled(&objects),
                crate::delivery::attempts(&objects, None).len(),
            )
        };
        if unsettled == 0 || tokio::time::Instant::now() >= deadline {
            return Json(json!({
                "object": "sim.flush", "settled": unsettled == 0,
                "unsettled_events": unsettled, "attempts": attempts
            }));
        }
        tokio::time::sleep(FLUSH_POLL).await;
    }
}

/// `POST /_sim/events/{id}/resend[?endpoint=we_…]`.
pub async fn resend(
    State(sim): State<Sim>,
    Path(id): Path<String>,
    params: Params,
) -> Result<Json<Value>, StripeError> {
    params.only(&["endpoint"])?;
    let endpoint = params.string("endpoint")?.filter(|e| !e.is_empty());
    if sim.objects().events.get(&id).is_none() {
        return Err(StripeError::no_such("event", &id, "id"));
    }
    let started = crate::delivery::resend(&sim, &id, endpoint.as_deref());
    Ok(Json(
        json!({ "object": "sim.resend", "event": id, "deliveries": started }),
    ))
}

/// `POST /_sim/clock/advance` with `seconds=N` or `to=<unix>`: moves the
/// sim's time for objects on no test clock forward and applies what fell
/// due (renewals, expiries, dunning).
pub async fn advance(State(sim): State<Sim>, params: Params) -> Result<Json<Value>, StripeError> {
    params.only(&["seconds", "to"])?;
    let seconds = params.integer("seconds")?;
    let to = params.integer("to")?;
    let mut objects = sim.objects();
    let current = objects.now();
    let delta = match (seconds, to) {
        (Some(_), Some(_)) => {
            return Err(StripeError::invalid(
                "You may only specify one of these parameters: seconds, to.",
            )
            .with_param("to"))
        }
        (Some(s), None) if s >= 0 => s,
        (Some(_), None) => {
            return Err(StripeError::invalid("The clock only moves forward.").with_param("seconds"))
        }
        (None, Some(t)) if t >= current => t - current,
        (None, Some(_)) => {
            return Err(StripeError::invalid(format!(
                "`to` must not be before the sim's current time ({current})."
            ))
            .with_param("to"))
        }
        (None, None) => return Err(StripeError::missing_param("seconds")),
    };
    objects.time_offset = objects.time_offset.saturating_add(delta);
    let now = objects.now();
    crate::time::run_due(&mut objects, None, now);
    Ok(Json(
        json!({ "object": "sim.clock", "now": now, "time_offset": objects.time_offset }),
    ))
}
