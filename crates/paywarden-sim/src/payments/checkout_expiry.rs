//! Checkout expiry: `POST /v1/checkout/sessions/{id}/expire` and sessions
//! whose `expires_at` passes (STRIPE_NOTES §5.4).

use axum::extract::{Path, State};
use axum::Json;
use serde_json::{json, Value};

use super::intents;
use crate::error::StripeError;
use crate::events::Cause;
use crate::params::Params;
use crate::state::{Objects, Sim};

/// Expires open session `id` at `at`: `checkout.session.expired`, then
/// the cancelation of a payment intent an earlier attempt left.
pub fn expire(
    objects: &mut Objects,
    cause: &Cause,
    at: i64,
    id: &str,
) -> Result<Value, StripeError> {
    let before = objects
        .checkout_sessions
        .get(id)
        .cloned()
        .ok_or_else(|| StripeError::no_such("checkout.session", id, "id"))?;
    let status = before["status"].as_str().unwrap_or("");
    if status != "open" {
        return Err(StripeError::invalid(format!(
            "Only Checkout Sessions with a status in [\"open\"] can be expired. This Checkout Session has a status of \"{status}\"."
        ))
        .with_code("checkout_session_unexpected_state")
        .with_param("session"));
    }
    let after = objects
        .checkout_sessions
        .update("checkout.session", id, |s| {
            s["status"] = json!("expired");
            s["url"] = Value::Null;
            Ok(())
        })?;
    objects.emit(cause, at, "checkout.session.expired", &after, None);
    let cancelable = after["payment_intent"]
        .as_str()
        .and_then(|pi| objects.payment_intents.get(pi))
        .filter(|pi| intents::CANCELABLE.iter().any(|s| pi["status"] == *s))
        .and_then(|pi| pi["id"].as_str().map(str::to_owned));
    if let Some(pi) = cancelable {
        intents::cancel(objects, cause, at, &pi, Some("abandoned"))?;
    }
    Ok(after)
}

pub async fn expire_handler(
    State(sim): State<Sim>,
    cause: Cause,
    Path(id): Path<String>,
    params: Params,
) -> Result<Json<Value>, StripeError> {
    params.only(&["expand"])?;
    let mut objects = sim.objects();
    let clock = objects
        .checkout_sessions
        .get(&id)
        .and_then(|s| s["_sim"]["clock"].as_str().map(str::to_owned));
    let at = objects.now_on(clock.as_deref());
    expire(&mut objects, &cause, at, &id).map(Json)
}

/// Expires open sessions on `clock` whose `expires_at` ≤ `until`, oldest
/// deadline first.
pub fn expire_due(objects: &mut Objects, clock: Option<&str>, until: i64) {
    let mut due: Vec<(i64, String)> = objects
        .checkout_sessions
        .newest_first()
        .filter(|s| s["status"] == "open" && s["_sim"]["clock"].as_str() == clock)
        .filter_map(|s| {
            let at = s["expires_at"].as_i64()?;
            (at <= until).then(|| (at, s["id"].as_str().unwrap_or_default().to_owned()))
        })
        .collect();
    due.sort();
    for (at, id) in due {
        // A session that is no longer open was dealt with meanwhile; there
        // is nobody to tell about it.
        if let Err(error) = expire(objects, &Cause::automatic(), at, &id) {
            tracing::debug!(%id, %error, "checkout session not expired");
        }
    }
}
