//! Changing a subscription: `POST /v1/subscriptions/{id}` (items and
//! prorations, scheduled cancellation, `pause_collection`, trial end,
//! default payment method), `DELETE` (cancel now) and `/resume`.

use axum::extract::{Path, State};
use axum::Json;
use serde_json::{json, Value};

use super::calendar::add_intervals;
use super::invoices::{self, LineSpec};
use super::sub_api::{item_params, timestamp_or_now};
use super::subscriptions::{
    self, check_compatible, check_payment_method, interval_of, items_of, period_end,
    recurring_price,
};
use super::{dunning, entitlements, prorations, renewal};
use crate::error::StripeError;
use crate::events::Cause;
use crate::params::{or_null, Params};
use crate::state::{Objects, Sim};

const UPDATE: &[&str] = &[
    "items",
    "proration_behavior",
    "proration_date",
    "cancel_at_period_end",
    "cancel_at",
    "cancellation_details",
    "pause_collection",
    "default_payment_method",
    "metadata",
    "description",
    "trial_end",
    "trial_settings",
    "payment_behavior",
    "off_session",
    "expand",
];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Proration {
    Create,
    None,
    AlwaysInvoice,
}

fn proration(params: &Params) -> Result<Proration, StripeError> {
    match params.string("proration_behavior")?.as_deref() {
        None | Some("" | "create_prorations") => Ok(Proration::Create),
        Some("none") => Ok(Proration::None),
        Some("always_invoice") => Ok(Proration::AlwaysInvoice),
        Some(_) => Err(StripeError::invalid(
            "Invalid proration_behavior: must be one of always_invoice, create_prorations, or none",
        )
        .with_param("proration_behavior")),
    }
}

fn subscription(objects: &Objects, id: &str) -> Result<Value, StripeError> {
    objects
        .subscriptions
        .get(id)
        .cloned()
        .ok_or_else(|| StripeError::no_such("subscription", id, "id"))
}

fn ended(sub: &Value) -> bool {
    ["canceled", "incomplete_expired"].contains(&sub["status"].as_str().unwrap_or(""))
}

/// Applies `items[i][id|price|quantity|deleted]` to `sub`.
fn apply_items(objects: &Objects, params: &Params, sub: &mut Value) -> Result<(), StripeError> {
    let changes = item_params(
        params,
        &[
            "id",
            "price",
            "quantity",
            "deleted",
            "metadata",
            "clear_usage",
        ],
    )?;
    if changes.is_empty() {
        return Ok(());
    }
    let id = sub["id"].as_str().unwrap_or_default().to_owned();
    let start = subscriptions::period_start(sub).unwrap_or(0);
    let end = period_end(sub).unwrap_or(0);
    let mut items = items_of(sub);
    for (index, change) in changes.iter().enumerate() {
        let name = |field: &str| format!("items[{index}][{field}]");
        let existing = match change.string("id")?.filter(|s| !s.is_empty()) {
            Some(item_id) => match items.iter().position(|i| i["id"] == item_id.as_str()) {
                Some(position) => Some(position),
                None => {
                    return Err(
                        StripeError::no_such("subscription_item", &item_id, &name("id"))
                            .with_status_400(),
                    )
                }
            },
            None => None,
        };
        let price = match change.string("price")?.filter(|p| !p.is_empty()) {
            Some(p) => Some(recurring_price(objects, &p, &name("price"))?),
            None => None,
        };
        let quantity = change
            .integer("quantity")
            .map_err(|e| e.with_param(name("quantity")))?;
        if quantity.is_some_and(|q| q < 0) {
            return Err(StripeError::invalid(
                "Invalid non-negative integer: quantity must be at least 0",
            )
            .with_param(name("quantity")));
        }
        let deleted = change
            .boolean("deleted")
            .map_err(|e| e.with_param(name("deleted")))?
            .unwrap_or(false);
        match existing {
            Some(position) => {
                if deleted {
                    items.remove(position);
                    continue;
                }
                let item = &mut items[position];
                if let Some(price) = price {
                    item["plan"] = subscriptions::plan_of(&price);
                    item["price"] = price;
                }
                if let Some(quantity) = quantity {
                    item["quantity"] = json!(quantity);
                }
            }
            None => {
                let Some(price) = price else {
                    return Err(StripeError::missing_param(&name("price")));
                };
                items.push(subscriptions::item(
                    &id,
                    &price,
                    quantity.unwrap_or(1),
                    start,
                    end,
                ));
            }
        }
    }
    if items.is_empty() {
        return Err(StripeError::invalid(
            "A subscription must have at least one active plan. To cancel a subscription, please use the cancel API endpoint on /v1/subscriptions.",
        )
        .with_param("items"));
    }
    let prices: Vec<Value> = items.iter().map(|i| i["price"].clone()).collect();
    check_compatible(&prices)?;
    sub["items"]["total_count"] = json!(items.len());
    sub["items"]["data"] = json!(items);
    Ok(())
}

/// `cancel_at_period_end`, `cancel_at`.
fn apply_cancellation(params: &Params, sub: &mut Value, at: i64) -> Result<(), StripeError> {
    if let Some(flag) = params.boolean("cancel_at_period_end")? {
        sub["cancel_at_period_end"] = json!(flag);
        if flag {
            sub["cancel_at"] = json!(period_end(sub));
            sub["canceled_at"] = json!(at);
            sub["cancellation_details"]["reason"] = json!("cancellation_requested");
        } else {
            sub["cancel_at"] = Value::Null;
            sub["canceled_at"] = Value::Null;
            sub["cancellation_details"]["reason"] = Value::Null;
        }
    }
    if params.0.contains_key("cancel_at") {
        match timestamp_or_now(params, "cancel_at", at)? {
            Some(when) => {
                sub["cancel_at"] = json!(when);
                sub["cancel_at_period_end"] = json!(period_end(sub) == Some(when));
                sub["canceled_at"] = json!(at);
                sub["cancellation_details"]["reason"] = json!("cancellation_requested");
            }
            None => {
                sub["cancel_at"] = Value::Null;
                sub["cancel_at_period_end"] = json!(false);
                sub["canceled_at"] = Value::Null;
                sub["cancellation_details"]["reason"] = Value::Null;
            }
        }
    }
    if let Some(details) = params.hash("cancellation_details")? {
        details.only(&["comment", "feedback"]).map_err(|e| {
            StripeError::unknown_param(&format!(
                "cancellation_details[{}]",
                e.param.unwrap_or_default()
            ))
        })?;
        for field in ["comment", "feedback"] {
            if let Some(value) = details.string(field)? {
                sub["cancellation_details"][field] = or_null(Some(value));
            }
        }
    }
    Ok(())
}

/// `pause_collection[behavior|resumes_at]`, or `pause_collection=` to resume.
fn apply_pause_collection(params: &Params, sub: &mut Value) -> Result<(), StripeError> {
    if params
        .string("pause_collection")
        .is_ok_and(|v| v.as_deref() == Some(""))
    {
        sub["pause_collection"] = Value::Null;
        return Ok(());
    }
    let Some(pause) = params.hash("pause_collection")? else {
        return Ok(());
    };
    let behavior = pause
        .required("behavior")
        .map_err(|_| StripeError::missing_param("pause_collection[behavior]"))?;
    if !["keep_as_draft", "mark_uncollectible", "void"].contains(&behavior.as_str()) {
        return Err(StripeError::invalid(
            "Invalid pause_collection[behavior]: must be one of keep_as_draft, mark_uncollectible, or void",
        )
        .with_param("pause_collection[behavior]"));
    }
    let resumes_at = pause
        .integer("resumes_at")
        .map_err(|e| e.with_param("pause_collection[resumes_at]"))?;
    sub["pause_collection"] = json!({ "behavior": behavior, "resumes_at": resumes_at });
    Ok(())
}

/// Resets the billing cycle to start at `at` when the interval changed.
fn reset_cycle_if_interval_changed(before: &Value, sub: &mut Value, at: i64) -> bool {
    if interval_of(before) == interval_of(sub) {
        return false;
    }
    let (interval, count) = interval_of(sub);
    let end = add_intervals(at, &interval, count, 1);
    sub["billing_cycle_anchor"] = json!(at);
    if let Some(items) = sub["items"]["data"].as_array_mut() {
        for item in items {
            item["current_period_start"] = json!(at);
            item["current_period_end"] = json!(end);
        }
    }
    true
}

pub async fn update(
    State(sim): State<Sim>,
    cause: Cause,
    Path(id): Path<String>,
    params: Params,
) -> Result<Json<Value>, StripeError> {
    params.only(UPDATE)?;
    let mut objects = sim.objects();
    apply_update(&mut objects, &cause, &id, &params).map(Json)
}

/// Applies an update (the API's parameters) to subscription `id`; the
/// billing portal's actions come through here too.
pub fn apply_update(
    objects: &mut Objects,
    cause: &Cause,
    id: &str,
    params: &Params,
) -> Result<Value, StripeError> {
    let behavior = proration(params)?;
    let before = subscription(objects, id)?;
    let customer = before["customer"].as_str().unwrap_or_default().to_owned();
    let at = objects.now_for_customer(Some(&customer));
    if ended(&before)
        && params
            .0
            .keys()
            .any(|k| !["metadata", "expand", "cancellation_details"].contains(&k.as_str()))
    {
        return Err(StripeError::invalid(
            "A canceled subscription can only update its cancellation_details and metadata.",
        ));
    }
    let mut after = before.clone();
    apply_items(objects, params, &mut after)?;
    let interval_changed = reset_cycle_if_interval_changed(&before, &mut after, at);
    apply_cancellation(params, &mut after, at)?;
    apply_pause_collection(params, &mut after)?;
    if let Some(pm) = params.string("default_payment_method")? {
        if !pm.is_empty() {
            check_payment_method(objects, &customer, &pm, "default_payment_method")?;
        }
        after["default_payment_method"] = or_null(Some(pm));
    }
    if let Some(description) = params.string("description")? {
        after["description"] = or_null(Some(description));
    }
    params.apply_metadata(&mut after)?;
    if let Some(missing) = super::sub_api::missing_payment_method(params)? {
        after["trial_settings"]["end_behavior"]["missing_payment_method"] = json!(missing);
    }
    let trial_end = timestamp_or_now(params, "trial_end", at)?;
    let end_trial_now = match trial_end {
        Some(end) if end <= at => before["status"] == "trialing",
        Some(end) if before["status"] == "trialing" => {
            after["trial_end"] = json!(end);
            after["_sim"]["trial_will_end_sent"] = json!(false);
            if let Some(items) = after["items"]["data"].as_array_mut() {
                for item in items {
                    item["current_period_end"] = json!(end);
                }
            }
            after["billing_cycle_anchor"] = json!(end);
            false
        }
        Some(_) => {
            return Err(StripeError::invalid(
                "trial_end can only be changed on a subscription that is trialing.",
            )
            .with_param("trial_end"))
        }
        None => false,
    };
    subscriptions::change(objects, cause, at, id, |s| *s = after.clone());
    let billed = ["active", "past_due"].contains(&before["status"].as_str().unwrap_or(""));
    let prorate = billed && (behavior != Proration::None || interval_changed);
    let created = if prorate {
        prorations::create(objects, cause, at, &before, &after)
    } else {
        Vec::new()
    };
    if prorate && (behavior == Proration::AlwaysInvoice || interval_changed) && !created.is_empty()
    {
        invoice_now(objects, cause, at, id, "subscription_update")?;
    }
    dunning::trial_will_end_if_due(objects, cause, at, id);
    if end_trial_now {
        renewal::end_trial(objects, cause, at, id);
    }
    subscription(objects, id)
}

/// Invoices the subscription's pending items now and collects payment.
fn invoice_now(
    objects: &mut Objects,
    cause: &Cause,
    at: i64,
    id: &str,
    reason: &str,
) -> Result<(), StripeError> {
    let invoice = invoices::create_draft(objects, cause, at, id, reason, Vec::new(), (at, at))?;
    invoices::finalize(objects, cause, at, &invoice)?;
    dunning::collect_renewal(objects, cause, at, id, &invoice);
    Ok(())
}

pub async fn cancel(
    State(sim): State<Sim>,
    cause: Cause,
    Path(id): Path<String>,
    params: Params,
) -> Result<Json<Value>, StripeError> {
    params.only(&["invoice_now", "prorate", "cancellation_details", "expand"])?;
    let invoice_now_flag = params.boolean("invoice_now")?.unwrap_or(false);
    let prorate = params.boolean("prorate")?.unwrap_or(false);
    let mut objects = sim.objects();
    let before = subscription(&objects, &id)?;
    if ended(&before) {
        return Err(StripeError::invalid(format!(
            "This subscription has already been canceled: {id}"
        )));
    }
    let mut details = before.clone();
    apply_cancellation(&params, &mut details, 0)?;
    let at = objects.now_for_customer(before["customer"].as_str());
    if let Some(stored) = objects.subscriptions.get_mut(&id) {
        stored["cancellation_details"] = details["cancellation_details"].clone();
        stored["canceled_at"] = json!(at);
    }
    if prorate && ["active", "past_due"].contains(&before["status"].as_str().unwrap_or("")) {
        let mut none = before.clone();
        none["items"]["data"] = json!([]);
        prorations::create(&mut objects, &cause, at, &before, &none);
    }
    dunning::end(&mut objects, &cause, at, &id, "cancellation_requested");
    let pending = objects.invoice_items.newest_first().any(|ii| {
        ii["invoice"].is_null()
            && ii["parent"]["subscription_details"]["subscription"] == id.as_str()
    });
    if invoice_now_flag && pending {
        let invoice = invoices::create_draft(
            &mut objects,
            &cause,
            at,
            &id,
            "subscription_update",
            Vec::new(),
            (at, at),
        )?;
        invoices::finalize(&mut objects, &cause, at, &invoice)?;
        let pm = subscriptions::payment_method(&objects, &before);
        // A declined final invoice stays open; the cancellation stands.
        let _declined = invoices::attempt(&mut objects, &cause, at, &invoice, pm, None);
    }
    subscription(&objects, &id).map(Json)
}

pub async fn resume(
    State(sim): State<Sim>,
    cause: Cause,
    Path(id): Path<String>,
    params: Params,
) -> Result<Json<Value>, StripeError> {
    params.only(&[
        "billing_cycle_anchor",
        "proration_behavior",
        "proration_date",
        "payment_behavior",
        "expand",
    ])?;
    let mut objects = sim.objects();
    let before = subscription(&objects, &id)?;
    if before["status"] != "paused" {
        return Err(StripeError::invalid(format!(
            "Subscription {id} cannot be resumed because its status is {}; only paused subscriptions can be resumed.",
            before["status"].as_str().unwrap_or("")
        )));
    }
    let at = objects.now_for_customer(before["customer"].as_str());
    let (interval, count) = interval_of(&before);
    let end = add_intervals(at, &interval, count, 1);
    let mut after = before.clone();
    after["status"] = json!("active");
    after["billing_cycle_anchor"] = json!(at);
    after["status_details"] = Value::Null;
    if let Some(items) = after["items"]["data"].as_array_mut() {
        for item in items {
            item["current_period_start"] = json!(at);
            item["current_period_end"] = json!(end);
        }
    }
    subscriptions::store(&mut objects, &after);
    objects.emit(&cause, at, "customer.subscription.resumed", &after, None);
    let previous = subscriptions::visible_changes(&before, &after);
    objects.emit(
        &cause,
        at,
        "customer.subscription.updated",
        &after,
        Some(previous),
    );
    entitlements::sync_subscription(&mut objects, &cause, at, &after);
    let lines: Vec<LineSpec> = items_of(&after)
        .iter()
        .map(|item| LineSpec::for_item(item, at, end, false))
        .collect();
    let invoice = invoices::create_draft(
        &mut objects,
        &cause,
        at,
        &id,
        "subscription_cycle",
        lines,
        (at, at),
    )?;
    invoices::finalize(&mut objects, &cause, at, &invoice)?;
    dunning::collect_renewal(&mut objects, &cause, at, &id, &invoice);
    subscription(&objects, &id).map(Json)
}

/// `POST /v1/subscriptions/{id}/pause`: status `paused` (no invoices, the
/// period frozen) until `/resume`. Stripe's newer pause endpoint; the sim
/// accepts its parameters but does not bill for the partial period.
pub async fn pause(
    State(sim): State<Sim>,
    cause: Cause,
    Path(id): Path<String>,
    params: Params,
) -> Result<Json<Value>, StripeError> {
    params.only(&["type", "invoicing_behavior", "bill_for", "expand"])?;
    let mut objects = sim.objects();
    let before = subscription(&objects, &id)?;
    if !["active", "trialing", "past_due"].contains(&before["status"].as_str().unwrap_or("")) {
        return Err(StripeError::invalid(format!(
            "Subscription {id} cannot be paused because its status is {}.",
            before["status"].as_str().unwrap_or("")
        )));
    }
    let at = objects.now_for_customer(before["customer"].as_str());
    let mut after = before.clone();
    after["status"] = json!("paused");
    after["status_details"] = json!({ "paused": { "reason": "paused_by_request", "at": at } });
    subscriptions::store(&mut objects, &after);
    objects.emit(&cause, at, "customer.subscription.paused", &after, None);
    let previous = subscriptions::visible_changes(&before, &after);
    objects.emit(
        &cause,
        at,
        "customer.subscription.updated",
        &after,
        Some(previous),
    );
    entitlements::sync_subscription(&mut objects, &cause, at, &after);
    Ok(Json(after))
}
