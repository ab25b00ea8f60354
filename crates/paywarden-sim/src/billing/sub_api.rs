//! `/v1/subscriptions`: create, retrieve, list (updates, cancel and resume
//! are in `sub_changes`).

use axum::extract::{Path, State};
use axum::Json;
use serde_json::{json, Value};

use super::subscriptions::{self, CreateOptions, PaymentBehavior};
use super::SubscribeRequest;
use crate::error::StripeError;
use crate::events::Cause;
use crate::list::{matching, page, Created, LIST_PARAMS};
use crate::params::Params;
use crate::payments::would_decline;
use crate::state::Sim;

const CREATE: &[&str] = &[
    "customer",
    "items",
    "default_payment_method",
    "trial_period_days",
    "trial_end",
    "trial_settings",
    "metadata",
    "description",
    "cancel_at_period_end",
    "cancel_at",
    "payment_behavior",
    "collection_method",
    "proration_behavior",
    "off_session",
    "expand",
];

/// `items[i][...]` as one `Params` per item; `allowed` names the keys.
pub fn item_params(params: &Params, allowed: &[&str]) -> Result<Vec<Params>, StripeError> {
    let invalid = || StripeError::invalid("Invalid array: items").with_param("items");
    let Some(value) = params.0.get("items") else {
        return Ok(Vec::new());
    };
    let Value::Array(entries) = value else {
        return Err(invalid());
    };
    let mut items = Vec::new();
    for (index, entry) in entries.iter().enumerate() {
        let Value::Object(map) = entry else {
            return Err(invalid());
        };
        let item = Params(map.clone());
        if let Some(unknown) = item.0.keys().find(|k| !allowed.contains(&k.as_str())) {
            return Err(StripeError::unknown_param(&format!(
                "items[{index}][{unknown}]"
            )));
        }
        items.push(item);
    }
    Ok(items)
}

/// A timestamp parameter that may also be `now`.
pub fn timestamp_or_now(params: &Params, name: &str, now: i64) -> Result<Option<i64>, StripeError> {
    match params.string(name)?.as_deref() {
        None | Some("") => Ok(None),
        Some("now") => Ok(Some(now)),
        Some(other) => other
            .parse()
            .map(Some)
            .map_err(|_| StripeError::invalid_integer(name, other)),
    }
}

/// `trial_settings[end_behavior][missing_payment_method]`.
pub fn missing_payment_method(params: &Params) -> Result<Option<String>, StripeError> {
    let param = "trial_settings[end_behavior][missing_payment_method]";
    let Some(settings) = params.hash("trial_settings")? else {
        return Ok(None);
    };
    let Some(end) = settings.hash("end_behavior")? else {
        return Ok(None);
    };
    let value = end.string("missing_payment_method")?;
    match value.as_deref() {
        None => Ok(None),
        Some(v @ ("cancel" | "create_invoice" | "pause")) => Ok(Some(v.to_owned())),
        Some(_) => Err(StripeError::invalid(format!(
            "Invalid {param}: must be one of cancel, create_invoice, or pause"
        ))
        .with_param(param)),
    }
}

fn payment_behavior(params: &Params) -> Result<PaymentBehavior, StripeError> {
    match params.string("payment_behavior")?.as_deref() {
        None | Some("" | "allow_incomplete") => Ok(PaymentBehavior::Allow),
        Some("default_incomplete") => Ok(PaymentBehavior::Defer),
        Some("error_if_incomplete") => Ok(PaymentBehavior::Refuse),
        Some(_) => Err(StripeError::invalid(
            "Invalid payment_behavior: must be one of allow_incomplete, default_incomplete, error_if_incomplete, or pending_if_incomplete",
        )
        .with_param("payment_behavior")),
    }
}

pub async fn create(
    State(sim): State<Sim>,
    cause: Cause,
    params: Params,
) -> Result<Json<Value>, StripeError> {
    params.only(CREATE)?;
    let customer = params.required("customer")?;
    let mut items = Vec::new();
    for (index, item) in item_params(&params, &["price", "quantity", "metadata"])?
        .iter()
        .enumerate()
    {
        let price = item
            .required("price")
            .map_err(|_| StripeError::missing_param(&format!("items[{index}][price]")))?;
        let quantity = item
            .integer("quantity")
            .map_err(|e| e.with_param(format!("items[{index}][quantity]")))?
            .unwrap_or(1);
        items.push((price, quantity));
    }
    if let Some(method) = params.string("collection_method")? {
        if method != "charge_automatically" {
            return Err(StripeError::invalid(
                "The sim only supports collection_method=charge_automatically.",
            )
            .with_param("collection_method"));
        }
    }
    let behavior = payment_behavior(&params)?;
    let mut metadata = json!({ "metadata": {} });
    params.apply_metadata(&mut metadata)?;
    let trial_period_days = params.integer("trial_period_days")?;
    let cancel_at_period_end = params.boolean("cancel_at_period_end")?.unwrap_or(false);
    let missing = missing_payment_method(&params)?.unwrap_or_else(|| "create_invoice".to_owned());
    let settings = &sim.settings();
    let mut objects = sim.objects();
    let at = objects.now_for_customer(Some(&customer));
    let trial_end = timestamp_or_now(&params, "trial_end", at)?;
    let cancel_at = timestamp_or_now(&params, "cancel_at", at)?;
    let request = SubscribeRequest {
        customer,
        items,
        default_payment_method: params
            .string("default_payment_method")?
            .filter(|s| !s.is_empty()),
        trial_period_days,
        // `trial_end=now` means no trial; a past time is refused.
        trial_end: trial_end
            .filter(|_| params.string("trial_end").ok().flatten().as_deref() != Some("now")),
        metadata: metadata["metadata"].clone(),
        description: params.string("description")?.filter(|s| !s.is_empty()),
    };
    if behavior == PaymentBehavior::Refuse {
        refuse_unpayable(&objects, &request)?;
    }
    let options = CreateOptions {
        payment_behavior: behavior,
        cancel_at_period_end,
        cancel_at,
        missing_payment_method: missing,
        settings: settings.billing.clone(),
        public_url: settings.public_url.clone(),
    };
    subscriptions::create(&mut objects, &cause, at, request, &options).map(Json)
}

/// `error_if_incomplete`: a first payment that would fail is refused before
/// anything is created.
fn refuse_unpayable(
    objects: &crate::state::Objects,
    request: &SubscribeRequest,
) -> Result<(), StripeError> {
    if request.trial_end.is_some() || request.trial_period_days.is_some_and(|d| d > 0) {
        return Ok(());
    }
    let free = request.items.iter().all(|(price, quantity)| {
        objects
            .prices
            .get(price)
            .is_some_and(|p| p["unit_amount"].as_i64().unwrap_or(0) * quantity == 0)
    });
    if free {
        return Ok(());
    }
    let pm = request.default_payment_method.clone().or_else(|| {
        objects
            .customers
            .get(&request.customer)
            .and_then(|c| c["invoice_settings"]["default_payment_method"].as_str())
            .map(str::to_owned)
    });
    match pm {
        None if objects.customers.get(&request.customer).is_some() => Err(StripeError::invalid(
            "This customer has no attached payment source or default payment method. Please consider adding a default payment method.",
        )
        .with_code("resource_missing")),
        None => Ok(()),
        Some(pm) => match would_decline(objects, &pm) {
            Some(error) => Err(error),
            None => Ok(()),
        },
    }
}

pub async fn retrieve(
    State(sim): State<Sim>,
    Path(id): Path<String>,
    params: Params,
) -> Result<Json<Value>, StripeError> {
    params.only(&["expand"])?;
    sim.objects()
        .subscriptions
        .get(&id)
        .cloned()
        .map(Json)
        .ok_or_else(|| StripeError::no_such("subscription", &id, "id"))
}

const STATUSES: &[&str] = &[
    "incomplete",
    "incomplete_expired",
    "trialing",
    "active",
    "past_due",
    "canceled",
    "unpaid",
    "paused",
    "all",
    "ended",
];

pub async fn list(State(sim): State<Sim>, params: Params) -> Result<Json<Value>, StripeError> {
    let allowed: Vec<&str> = LIST_PARAMS
        .iter()
        .copied()
        .chain([
            "customer",
            "price",
            "status",
            "test_clock",
            "collection_method",
        ])
        .collect();
    params.only(&allowed)?;
    let customer = params.string("customer")?;
    let price = params.string("price")?;
    let clock = params.string("test_clock")?;
    let status = params.string("status")?;
    if let Some(s) = status.as_deref() {
        if !STATUSES.contains(&s) {
            return Err(StripeError::invalid(format!(
                "Invalid status: must be one of {}",
                STATUSES.join(", ")
            ))
            .with_param("status"));
        }
    }
    let created = Created::from_params(&params)?;
    let objects = sim.objects();
    let items = matching(&objects.subscriptions, &created, |s| {
        let state = s["status"].as_str().unwrap_or("");
        let status_ok = match status.as_deref() {
            None => !["canceled", "incomplete_expired"].contains(&state),
            Some("all") => true,
            Some("ended") => ["canceled", "incomplete_expired"].contains(&state),
            Some(wanted) => state == wanted,
        };
        status_ok
            && customer.as_deref().is_none_or(|c| s["customer"] == c)
            && clock.as_deref().is_none_or(|c| s["test_clock"] == c)
            && price.as_deref().is_none_or(|p| {
                subscriptions::items_of(s)
                    .iter()
                    .any(|i| i["price"]["id"] == p)
            })
    });
    page(&items, &params, "/v1/subscriptions").map(Json)
}
