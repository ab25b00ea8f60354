//! `/v1/webhook_endpoints`: create, retrieve, update, delete, list.
//!
//! The signing secret is minted at creation and shown only in that
//! response, as on Stripe; the sim keeps it under `_sim` to sign with.

use axum::extract::{Path, State};
use axum::Json;
use serde_json::{json, Value};

use crate::error::StripeError;
use crate::ids::{new_id, WEBHOOK_ENDPOINT, WEBHOOK_SECRET};
use crate::list::{matching, page, Created, LIST_PARAMS};
use crate::params::{or_null, Params};
use crate::state::Sim;

const CREATE: &[&str] = &[
    "url",
    "enabled_events",
    "api_version",
    "description",
    "metadata",
    "connect",
    "expand",
];
const UPDATE: &[&str] = &[
    "url",
    "enabled_events",
    "description",
    "metadata",
    "disabled",
    "expand",
];

fn check_url(url: &str) -> Result<(), StripeError> {
    match url::Url::parse(url) {
        Ok(parsed) if ["http", "https"].contains(&parsed.scheme()) && parsed.has_host() => Ok(()),
        _ => Err(StripeError::invalid(format!("Invalid URL: {url}")).with_param("url")),
    }
}

/// `enabled_events`: `*` or event types such as `invoice.paid`.
fn enabled_events(params: &Params) -> Result<Option<Vec<String>>, StripeError> {
    let Some(events) = params.strings("enabled_events")? else {
        return Ok(None);
    };
    if events.is_empty() {
        return Err(StripeError::missing_param("enabled_events"));
    }
    for (i, event) in events.iter().enumerate() {
        let parts: Vec<&str> = event.split('.').collect();
        let known_shape = parts.len() >= 2
            && parts
                .iter()
                .all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_lowercase() || b == b'_'));
        if event != "*" && !known_shape {
            return Err(StripeError::invalid(format!(
                "Invalid enabled_events[{i}]: must be '*' or an event type such as 'invoice.paid' (got '{event}')"
            ))
            .with_param(format!("enabled_events[{i}]")));
        }
    }
    Ok(Some(events))
}

pub async fn create(State(sim): State<Sim>, params: Params) -> Result<Json<Value>, StripeError> {
    params.only(CREATE)?;
    let url = params.required("url")?;
    check_url(&url)?;
    let events =
        enabled_events(&params)?.ok_or_else(|| StripeError::missing_param("enabled_events"))?;
    let api_version = params.string("api_version")?.filter(|v| !v.is_empty());
    if let Some(version) = &api_version {
        crate::render::version_date(version).map_err(|e| e.with_param("api_version"))?;
    }
    let id = new_id(WEBHOOK_ENDPOINT);
    let secret = new_id(WEBHOOK_SECRET);
    let mut objects = sim.objects();
    let mut endpoint = json!({
        "id": id, "object": "webhook_endpoint", "api_version": api_version,
        "application": null, "created": objects.now(),
        "description": or_null(params.string("description")?),
        "enabled_events": events, "livemode": false, "metadata": {},
        "status": "enabled", "url": url,
        "_sim": {
            "secret": secret,
            "events_before": crate::delivery::events_so_far(&objects)
        }
    });
    params.apply_metadata(&mut endpoint)?;
    objects.webhook_endpoints.insert(id, endpoint.clone());
    endpoint["secret"] = json!(secret);
    Ok(Json(endpoint))
}

pub async fn retrieve(
    State(sim): State<Sim>,
    Path(id): Path<String>,
    params: Params,
) -> Result<Json<Value>, StripeError> {
    params.only(&["expand"])?;
    sim.objects()
        .webhook_endpoints
        .get(&id)
        .cloned()
        .map(Json)
        .ok_or_else(|| StripeError::no_such("webhook_endpoint", &id, "id"))
}

pub async fn update(
    State(sim): State<Sim>,
    Path(id): Path<String>,
    params: Params,
) -> Result<Json<Value>, StripeError> {
    params.only(UPDATE)?;
    let url = params.string("url")?;
    if let Some(url) = &url {
        check_url(url)?;
    }
    let events = enabled_events(&params)?;
    let disabled = params.boolean("disabled")?;
    let description = params.string("description")?;
    let mut objects = sim.objects();
    let updated = objects
        .webhook_endpoints
        .update("webhook_endpoint", &id, |endpoint| {
            if let Some(url) = url {
                endpoint["url"] = json!(url);
            }
            if let Some(events) = events {
                endpoint["enabled_events"] = json!(events);
            }
            if let Some(disabled) = disabled {
                endpoint["status"] = json!(if disabled { "disabled" } else { "enabled" });
            }
            if description.is_some() {
                endpoint["description"] = or_null(description);
            }
            params.apply_metadata(endpoint)
        })?;
    Ok(Json(updated))
}

pub async fn delete(
    State(sim): State<Sim>,
    Path(id): Path<String>,
) -> Result<Json<Value>, StripeError> {
    sim.objects()
        .webhook_endpoints
        .remove(&id)
        .ok_or_else(|| StripeError::no_such("webhook_endpoint", &id, "id"))?;
    Ok(Json(
        json!({ "id": id, "object": "webhook_endpoint", "deleted": true }),
    ))
}

pub async fn list(State(sim): State<Sim>, params: Params) -> Result<Json<Value>, StripeError> {
    params.only(LIST_PARAMS)?;
    let created = Created::from_params(&params)?;
    let items = matching(&sim.objects().webhook_endpoints, &created, |_| true);
    Ok(Json(page(&items, &params, "/v1/webhook_endpoints")?))
}
