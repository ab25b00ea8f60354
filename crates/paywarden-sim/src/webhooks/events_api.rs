//! `/v1/events`: retrieve and list the events the sim recorded.
//!
//! Events are rendered like any response, so `data.object` comes in the
//! request's `Stripe-Version` and `api_version` says which that is.

use axum::extract::{Path, State};
use axum::Json;
use serde_json::Value;

use crate::error::StripeError;
use crate::list::{matching, page, Created, LIST_PARAMS};
use crate::params::Params;
use crate::state::Sim;

/// Stripe's limit on `types[]`.
const MAX_TYPES: usize = 20;

pub async fn retrieve(
    State(sim): State<Sim>,
    Path(id): Path<String>,
    params: Params,
) -> Result<Json<Value>, StripeError> {
    params.only(&["expand"])?;
    sim.objects()
        .events
        .get(&id)
        .cloned()
        .map(Json)
        .ok_or_else(|| StripeError::no_such("event", &id, "id"))
}

/// Whether event type `kind` matches `pattern` (`customer.*` takes every
/// `customer.` type).
fn type_matches(pattern: &str, kind: &str) -> bool {
    match pattern.strip_suffix('*') {
        Some(prefix) => kind.starts_with(prefix),
        None => pattern == kind,
    }
}

pub async fn list(State(sim): State<Sim>, params: Params) -> Result<Json<Value>, StripeError> {
    let mut allowed = LIST_PARAMS.to_vec();
    allowed.extend(["type", "types", "delivery_success"]);
    params.only(&allowed)?;
    let created = Created::from_params(&params)?;
    let single = params.string("type")?.filter(|t| !t.is_empty());
    let types = params.strings("types")?;
    let patterns = match (single, types) {
        (Some(_), Some(_)) => {
            return Err(StripeError::invalid(
                "You may only specify one of these parameters: type, types.",
            )
            .with_param("types"))
        }
        (Some(one), None) => vec![one],
        (None, Some(many)) if many.len() > MAX_TYPES => {
            return Err(StripeError::invalid(format!(
                "You may pass at most {MAX_TYPES} values for types."
            ))
            .with_param("types"))
        }
        (None, Some(many)) => many,
        (None, None) => Vec::new(),
    };
    let delivered = params.boolean("delivery_success")?;
    let items = matching(&sim.objects().events, &created, |event| {
        let kind = event["type"].as_str().unwrap_or("");
        (patterns.is_empty() || patterns.iter().any(|p| type_matches(p, kind)))
            && delivered.is_none_or(|d| (event["pending_webhooks"] == 0) == d)
    });
    Ok(Json(page(&items, &params, "/v1/events")?))
}
