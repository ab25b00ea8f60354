//! The subscription object: building it, storing it with its items, and
//! starting one (the first invoice and its payment).

use serde_json::{json, Value};

use super::calendar::add_intervals;
use super::invoices::{self, LineSpec};
use super::{dunning, entitlements, BillingSettings, SubscribeRequest};
use crate::error::StripeError;
use crate::events::{changed_fields, Cause};
use crate::ids::{new_id, SUBSCRIPTION, SUBSCRIPTION_ITEM};
use crate::state::{Objects, Settings};

/// `payment_behavior` on create.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum PaymentBehavior {
    /// `allow_incomplete`: a failed first payment leaves it `incomplete`.
    #[default]
    Allow,
    /// `default_incomplete`: no payment is attempted.
    Defer,
    /// `error_if_incomplete`: a payment that would fail is refused.
    Refuse,
}

/// Create parameters beyond what Checkout asks for.
#[derive(Debug, Clone)]
pub struct CreateOptions {
    pub payment_behavior: PaymentBehavior,
    pub cancel_at_period_end: bool,
    pub cancel_at: Option<i64>,
    /// `trial_settings[end_behavior][missing_payment_method]`.
    pub missing_payment_method: String,
    pub settings: BillingSettings,
    pub public_url: String,
}

impl Default for CreateOptions {
    fn default() -> Self {
        Self {
            payment_behavior: PaymentBehavior::default(),
            cancel_at_period_end: false,
            cancel_at: None,
            missing_payment_method: "create_invoice".to_owned(),
            settings: BillingSettings::default(),
            public_url: Settings::default().public_url,
        }
    }
}

/// The price as a legacy `plan` (still present on subscription items).
pub fn plan_of(price: &Value) -> Value {
    json!({
        "id": price["id"], "object": "plan", "active": price["active"],
        "amount": price["unit_amount"], "amount_decimal": price["unit_amount_decimal"],
        "billing_scheme": price["billing_scheme"], "created": price["created"],
        "currency": price["currency"], "interval": price["recurring"]["interval"],
        "interval_count": price["recurring"]["interval_count"], "livemode": false,
        "metadata": price["metadata"], "meter": null, "nickname": price["nickname"],
        "product": price["product"], "tiers_mode": null, "transform_usage": null,
        "trial_period_days": null, "usage_type": price["recurring"]["usage_type"]
    })
}

/// A new subscription item for `price`.
pub fn item(subscription: &str, price: &Value, quantity: i64, start: i64, end: i64) -> Value {
    json!({
        "id": new_id(SUBSCRIPTION_ITEM), "object": "subscription_item",
        "billing_thresholds": null, "created": start,
        "current_period_start": start, "current_period_end": end,
        "discounts": [], "metadata": {}, "plan": plan_of(price), "price": price,
        "quantity": quantity, "subscription": subscription, "tax_rates": []
    })
}

/// The subscription's items (`items.data`).
pub fn items_of(subscription: &Value) -> Vec<Value> {
    subscription["items"]["data"]
        .as_array()
        .cloned()
        .unwrap_or_default()
}

/// The end of the current period (the same on every item).
pub fn period_end(subscription: &Value) -> Option<i64> {
    items_of(subscription)
        .iter()
        .filter_map(|i| i["current_period_end"].as_i64())
        .min()
}

pub fn period_start(subscription: &Value) -> Option<i64> {
    items_of(subscription)
        .iter()
        .filter_map(|i| i["current_period_start"].as_i64())
        .min()
}

/// `(interval, interval_count)` of the subscription's prices.
pub fn interval_of(subscription: &Value) -> (String, i64) {
    let items = items_of(subscription);
    let recurring = items.first().map(|i| i["price"]["recurring"].clone());
    let recurring = recurring.unwrap_or(Value::Null);
    (
        recurring["interval"].as_str().unwrap_or("month").to_owned(),
        recurring["interval_count"].as_i64().unwrap_or(1),
    )
}

/// Stores `subscription` and mirrors its items into `subscription_items`.
pub fn store(objects: &mut Objects, subscription: &Value) {
    let Some(id) = subscription["id"].as_str() else {
        return;
    };
    let items = items_of(subscription);
    let stale: Vec<String> = objects
        .subscription_items
        .newest_first()
        .filter(|i| i["subscription"] == id && !items.iter().any(|n| n["id"] == i["id"]))
        .filter_map(|i| i["id"].as_str().map(str::to_owned))
        .collect();
    for item in stale {
        objects.subscription_items.remove(&item);
    }
    for item in items {
        if let Some(item_id) = item["id"].as_str() {
            objects.subscription_items.insert(item_id.to_owned(), item);
        }
    }
    objects
        .subscriptions
        .insert(id.to_owned(), subscription.clone());
}

/// `before` and `after` compared as a client sees them (no `_sim`).
pub fn visible_changes(before: &Value, after: &Value) -> Value {
    let strip = |v: &Value| {
        let mut v = v.clone();
        if let Some(map) = v.as_object_mut() {
            map.remove("_sim");
        }
        v
    };
    changed_fields(&strip(before), &strip(after))
}

/// Applies `change` to subscription `id`, stores it and emits `kind`
/// (normally `customer.subscription.updated`) when a visible field
/// changed. Returns the subscription after the change.
pub fn change(
    objects: &mut Objects,
    cause: &Cause,
    at: i64,
    id: &str,
    change: impl FnOnce(&mut Value),
) -> Option<Value> {
    let before = objects.subscriptions.get(id).cloned()?;
    let mut after = before.clone();
    change(&mut after);
    store(objects, &after);
    let previous = visible_changes(&before, &after);
    if previous.as_object().is_some_and(|m| !m.is_empty()) {
        objects.emit(
            cause,
            at,
            "customer.subscription.updated",
            &after,
            Some(previous),
        );
        entitlements::sync_subscription(objects, cause, at, &after);
    }
    Some(after)
}

/// The payment method renewals charge: the subscription's default, else
/// the customer's `invoice_settings.default_payment_method`.
pub fn payment_method(objects: &Objects, subscription: &Value) -> Option<String> {
    if let Some(pm) = subscription["default_payment_method"].as_str() {
        return Some(pm.to_owned());
    }
    let customer = subscription["customer"].as_str()?;
    objects.customers.get(customer)?["invoice_settings"]["default_payment_method"]
        .as_str()
        .map(str::to_owned)
}

/// Refuses a payment method that belongs to another customer or does not
/// exist (magic test ids such as `pm_card_visa` are left to payments).
pub fn check_payment_method(
    objects: &Objects,
    customer: &str,
    pm: &str,
    param: &str,
) -> Result<(), StripeError> {
    match objects.payment_methods.get(pm) {
        Some(method) if method["customer"].is_null() || method["customer"] == customer => Ok(()),
        None if pm.starts_with("pm_card_") => Ok(()),
        _ => Err(StripeError::invalid(format!(
            "The customer does not have a payment method with the ID {pm}. The payment method must be attached to the customer."
        ))
        .with_code("resource_missing")
        .with_param(param)),
    }
}

/// A recurring, active price for item `index`, as Stripe validates it.
pub fn recurring_price(objects: &Objects, price: &str, param: &str) -> Result<Value, StripeError> {
    let found = objects
        .prices
        .get(price)
        .cloned()
        .ok_or_else(|| StripeError::no_such("price", price, param).with_status_400())?;
    if found["type"] != "recurring" {
        return Err(StripeError::invalid(
            "The price specified is set to `type=one_time` but this field only accepts prices with `type=recurring`.",
        )
        .with_param(param));
    }
    if found["active"] == false {
        return Err(StripeError::invalid(
            "The price specified is inactive. This field only accepts active prices.",
        )
        .with_param(param));
    }
    Ok(found)
}

/// Refuses items whose prices differ in currency or billing interval.
pub fn check_compatible(prices: &[Value]) -> Result<(), StripeError> {
    let Some(first) = prices.first() else {
        return Ok(());
    };
    for price in prices {
        if price["currency"] != first["currency"] {
            return Err(StripeError::invalid(
                "Currency of all prices must be the same for a subscription.",
            )
            .with_param("items"));
        }
        if price["recurring"]["interval"] != first["recurring"]["interval"]
            || price["recurring"]["interval_count"] != first["recurring"]["interval_count"]
        {
            return Err(StripeError::invalid(
                "Subscriptions do not support prices with different billing intervals (e.g. month and year).",
            )
            .with_param("items"));
        }
    }
    Ok(())
}

/// The trial end a request asks for, checked.
fn trial_end(at: i64, request: &SubscribeRequest) -> Result<Option<i64>, StripeError> {
    if let Some(end) = request.trial_end {
        if end <= at {
            return Err(StripeError::invalid(
                "Invalid timestamp: must be an integer Unix timestamp in the future.",
            )
            .with_param("trial_end"));
        }
        return Ok(Some(end));
    }
    match request.trial_period_days {
        None | Some(0) => Ok(None),
        Some(days @ 1..=730) => Ok(Some(at + days * super::calendar::DAY)),
        Some(_) => Err(StripeError::invalid(
            "Invalid trial_period_days: must be between 1 and 730",
        )
        .with_param("trial_period_days")),
    }
}

/// Creates a subscription (see [`super::subscribe`]).
pub fn create(
    objects: &mut Objects,
    cause: &Cause,
    at: i64,
    request: SubscribeRequest,
    options: &CreateOptions,
) -> Result<Value, StripeError> {
    let customer = objects
        .customers
        .get(&request.customer)
        .cloned()
        .ok_or_else(|| {
            StripeError::no_such("customer", &request.customer, "customer").with_status_400()
        })?;
    if request.items.is_empty() {
        return Err(StripeError::missing_param("items"));
    }
    let mut prices = Vec::new();
    for (index, (price, quantity)) in request.items.iter().enumerate() {
        let param = format!("items[{index}][price]");
        prices.push(recurring_price(objects, price, &param)?);
        if *quantity < 0 {
            return Err(StripeError::invalid(
                "Invalid non-negative integer: quantity must be at least 0",
            )
            .with_param(format!("items[{index}][quantity]")));
        }
    }
    check_compatible(&prices)?;
    if let Some(pm) = &request.default_payment_method {
        check_payment_method(objects, &request.customer, pm, "default_payment_method")?;
    }
    let trial_end = trial_end(at, &request)?;
    let id = new_id(SUBSCRIPTION);
    let first = &prices[0];
    let interval = first["recurring"]["interval"].as_str().unwrap_or("month");
    let count = first["recurring"]["interval_count"].as_i64().unwrap_or(1);
    let end = trial_end.unwrap_or_else(|| add_intervals(at, interval, count, 1));
    let items: Vec<Value> = prices
        .iter()
        .zip(&request.items)
        .map(|(price, (_, quantity))| item(&id, price, *quantity, at, end))
        .collect();
    let cancel_at = if options.cancel_at_period_end {
        Some(end)
    } else {
        options.cancel_at
    };
    let metadata = if request.metadata.is_object() {
        request.metadata.clone()
    } else {
        json!({})
    };
    let mut subscription = json!({
        "id": id, "object": "subscription", "application": null,
        "application_fee_percent": null,
        "automatic_tax": { "disabled_reason": null, "enabled": false, "liability": null },
        "billing_cycle_anchor": if trial_end.is_some() { end } else { at },
        "billing_cycle_anchor_config": null,
        "billing_mode": { "type": "flexible", "flexible": null, "updated_at": null },
        "billing_thresholds": null, "cancel_at": cancel_at,
        "cancel_at_period_end": options.cancel_at_period_end,
        "canceled_at": if cancel_at.is_some() { json!(at) } else { Value::Null },
        "cancellation_details": {
            "comment": null, "feedback": null,
            "reason": if cancel_at.is_some() { json!("cancellation_requested") } else { Value::Null }
        },
        "collection_method": "charge_automatically", "created": at,
        "currency": first["currency"], "customer": request.customer,
        "days_until_due": null, "default_payment_method": request.default_payment_method,
        "default_source": null, "default_tax_rates": [], "description": request.description,
        "discounts": [], "ended_at": null
    });
    let rest = json!({
        "invoice_settings": { "account_tax_ids": null, "issuer": { "type": "self" } },
        "items": {
            "object": "list", "data": items, "has_more": false, "total_count": request.items.len(),
            "url": format!("/v1/subscription_items?subscription={id}")
        },
        "latest_invoice": null, "livemode": false, "metadata": metadata,
        "next_pending_invoice_item_invoice": null, "on_behalf_of": null,
        "pause_collection": null,
        "payment_settings": {
            "payment_method_options": null, "payment_method_types": null,
            "save_default_payment_method": "off"
        },
        "pending_invoice_item_interval": null, "pending_setup_intent": null,
        "pending_update": null, "schedule": null, "start_date": at,
        "status": if trial_end.is_some() { "trialing" } else { "incomplete" },
        "test_clock": customer["test_clock"], "transfer_data": null,
        "trial_end": trial_end,
        "trial_settings": { "end_behavior": { "missing_payment_method": options.missing_payment_method } },
        "trial_start": trial_end.map(|_| at),
        "_sim": {
            "billing": options.settings.to_json(),
            "public_url": options.public_url,
            "trial_will_end_sent": false
        }
    });
    // Built in two parts: one `json!` this large exceeds the macro's
    // recursion limit.
    if let (Some(map), Value::Object(rest)) = (subscription.as_object_mut(), rest) {
        map.extend(rest);
    }
    store(objects, &subscription);
    objects.emit(
        cause,
        at,
        "customer.subscription.created",
        &subscription,
        None,
    );
    entitlements::sync_subscription(objects, cause, at, &subscription);
    dunning::trial_will_end_if_due(objects, cause, at, &id);
    let lines: Vec<LineSpec> = items_of(&subscription)
        .iter()
        .map(|item| LineSpec::for_item(item, at, end, trial_end.is_some()))
        .collect();
    let invoice = invoices::create_draft(
        objects,
        cause,
        at,
        &id,
        "subscription_create",
        lines,
        (at, at),
    )?;
    invoices::finalize(objects, cause, at, &invoice)?;
    let due = objects
        .invoices
        .get(&invoice)
        .and_then(|i| i["amount_due"].as_i64())
        .unwrap_or(0);
    if due == 0 {
        // A trial or a free price: nothing to charge.
        invoices::mark_paid(objects, cause, at, &invoice, None);
    } else if options.payment_behavior != PaymentBehavior::Defer {
        let pm = payment_method(objects, &subscription);
        if pm.is_some() {
            // A decline leaves the subscription `incomplete` with its
            // invoice open (allow_incomplete), which is the answer.
            let _declined = invoices::attempt(objects, cause, at, &invoice, pm, None);
        }
    }
    dunning::settle_after_payment(objects, cause, at, &id);
    objects
        .subscriptions
        .get(&id)
        .cloned()
        .ok_or_else(StripeError::internal)
}
