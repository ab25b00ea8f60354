//! `/v1/payment_methods`: card payment methods made from test numbers or
//! magic ids, attached to and detached from customers.
//!
//! A magic id (`pm_card_visa`, `tok_visa`…) is accepted wherever a payment
//! method id is: each use makes a fresh real `pm_…`, as Stripe does.

use axum::extract::{Path, State};
use axum::Json;
use serde_json::{json, Value};

use super::cards;
use crate::error::StripeError;
use crate::events::Cause;
use crate::ids::{new_id, PAYMENT_METHOD};
use crate::list::{matching, page, Created, LIST_PARAMS};
use crate::params::{or_null, Params};
use crate::state::{Objects, Sim};

const ADDRESS: &[&str] = &["city", "country", "line1", "line2", "postal_code", "state"];

/// A new, unattached card payment method for test `number`.
pub fn build(number: &str, exp_month: i64, exp_year: i64, at: i64) -> Value {
    let address: serde_json::Map<String, Value> = ADDRESS
        .iter()
        .map(|f| ((*f).to_owned(), Value::Null))
        .collect();
    json!({
        "id": new_id(PAYMENT_METHOD),
        "object": "payment_method",
        "type": "card",
        "created": at,
        "livemode": false,
        "customer": null,
        "metadata": {},
        "allow_redisplay": "unspecified",
        "billing_details": { "address": address, "email": null, "name": null, "phone": null },
        "card": cards::card_details(number, exp_month, exp_year),
        "_sim": { "number": number },
    })
}

/// A far-future expiry for cards made from magic ids.
fn magic_expiry(at: i64) -> (i64, i64) {
    (12, 1970 + at / 31_556_952 + 5)
}

/// Stores a payment method for a magic id and returns its id, or returns
/// `id` itself when it names a stored payment method.
pub fn resolve(objects: &mut Objects, id: &str, param: &str) -> Result<String, StripeError> {
    if let Some(number) = cards::magic_number(id) {
        let at = objects.now();
        let (month, year) = magic_expiry(at);
        let pm = build(number, month, year, at);
        let new = pm["id"].as_str().unwrap_or_default().to_owned();
        objects.payment_methods.insert(new.clone(), pm);
        return Ok(new);
    }
    if objects.payment_methods.get(id).is_some() {
        Ok(id.to_owned())
    } else {
        Err(StripeError::no_such("PaymentMethod", id, param).with_status_400())
    }
}

/// The test card number behind a payment method id or magic id, without
/// storing anything.
pub fn number_for(objects: &Objects, id: &str) -> Option<String> {
    if let Some(number) = cards::magic_number(id) {
        return Some(number.to_owned());
    }
    objects
        .payment_methods
        .get(id)
        .map(|pm| cards::number_of(pm).to_owned())
}

/// Attaches `pm` to `customer`, emitting `payment_method.attached`.
/// Cards that decline on attach return their card error and change nothing.
pub fn attach(
    objects: &mut Objects,
    cause: &Cause,
    pm: &str,
    customer: &str,
) -> Result<Value, StripeError> {
    if objects.customers.get(customer).is_none() {
        return Err(StripeError::no_such("customer", customer, "customer").with_status_400());
    }
    let current = objects
        .payment_methods
        .get(pm)
        .cloned()
        .ok_or_else(|| StripeError::no_such("PaymentMethod", pm, "payment_method"))?;
    if current["customer"] == customer {
        return Ok(current);
    }
    if !current["customer"].is_null() {
        return Err(StripeError::invalid(
            "The payment method you provided has already been attached to a customer.",
        )
        .with_code("payment_method_unexpected_state"));
    }
    if current["_sim"]["consumed"] == true {
        return Err(StripeError::invalid(
            "This PaymentMethod was previously used without being attached to a Customer or was detached from a Customer, and may not be used again.",
        )
        .with_code("payment_method_unexpected_state"));
    }
    if let Some(decline) = cards::behaviour(cards::number_of(&current)).attach_decline() {
        return Err(decline.error());
    }
    let after = objects.payment_methods.update("PaymentMethod", pm, |p| {
        p["customer"] = json!(customer);
        Ok(())
    })?;
    let at = objects.now_for_customer(Some(customer));
    objects.emit(cause, at, "payment_method.attached", &after, None);
    Ok(after)
}

/// Detaches `pm` from its customer (emitting `payment_method.detached`);
/// it cannot be used again. A customer whose default it was loses the
/// default (`customer.updated`).
pub fn detach(objects: &mut Objects, cause: &Cause, pm: &str) -> Result<Value, StripeError> {
    let before = objects
        .payment_methods
        .get(pm)
        .cloned()
        .ok_or_else(|| StripeError::no_such("PaymentMethod", pm, "id"))?;
    let Some(customer) = before["customer"].as_str().map(str::to_owned) else {
        return Err(StripeError::invalid(
            "The payment method you provided is not attached to a customer so detachment is impossible.",
        )
        .with_code("payment_method_unexpected_state"));
    };
    let at = objects.now_for_customer(Some(&customer));
    let after = objects.payment_methods.update("PaymentMethod", pm, |p| {
        p["customer"] = Value::Null;
        p["_sim"]["consumed"] = json!(true);
        Ok(())
    })?;
    objects.emit(
        cause,
        at,
        "payment_method.detached",
        &after,
        Some(json!({ "customer": customer })),
    );
    let was_default = objects
        .customers
        .get(&customer)
        .is_some_and(|c| c["invoice_settings"]["default_payment_method"] == pm);
    if was_default {
        if let Some(before) = objects.customers.get(&customer).cloned() {
            let after = objects.customers.update("customer", &customer, |c| {
                c["invoice_settings"]["default_payment_method"] = Value::Null;
                Ok(())
            })?;
            objects.emit_updated(cause, at, "customer.updated", &before, &after);
        }
    }
    Ok(after)
}

/// `exp_month` / `exp_year` as Stripe checks them (two-digit years allowed).
pub fn check_expiry(month: i64, year: i64, now: i64) -> Result<(i64, i64), StripeError> {
    let year = if (0..100).contains(&year) {
        year + 2000
    } else {
        year
    };
    let invalid = |code: &'static str, message: &'static str, param: &'static str| {
        cards::Decline {
            code,
            decline_code: None,
            message,
            param: Some(param),
        }
        .error()
    };
    if !(1..=12).contains(&month) {
        return Err(invalid(
            "invalid_expiry_month",
            "Your card's expiration month is invalid.",
            "exp_month",
        ));
    }
    let this_year = 1970 + now / 31_556_952;
    let this_month = (now % 31_556_952) / 2_629_746 + 1;
    if year < this_year || year > this_year + 50 {
        return Err(invalid(
            "invalid_expiry_year",
            "Your card's expiration year is invalid.",
            "exp_year",
        ));
    }
    if year == this_year && month < this_month {
        return Err(invalid(
            "invalid_expiry_month",
            "Your card's expiration month is invalid.",
            "exp_month",
        ));
    }
    Ok((month, year))
}

fn apply_billing_details(params: &Params, pm: &mut Value) -> Result<(), StripeError> {
    let Some(details) = params.hash("billing_details")? else {
        return Ok(());
    };
    let name = |f: &str| format!("billing_details[{f}]");
    details
        .only(&["address", "email", "name", "phone"])
        .map_err(|e| StripeError::unknown_param(&name(e.param.as_deref().unwrap_or(""))))?;
    for field in ["email", "name", "phone"] {
        if let Some(value) = details
            .string(field)
            .map_err(|e| e.with_param(name(field)))?
        {
            pm["billing_details"][field] = or_null(Some(value));
        }
    }
    if let Some(address) = details.hash("address")? {
        for (key, value) in &address.0 {
            if !ADDRESS.contains(&key.as_str()) {
                return Err(StripeError::unknown_param(&format!(
                    "billing_details[address][{key}]"
                )));
            }
            pm["billing_details"]["address"][key] = or_null(value.as_str().map(str::to_owned));
        }
    }
    Ok(())
}

fn card_number(card: &Params, now: i64) -> Result<(String, i64, i64), StripeError> {
    let param = |f: &str| format!("card[{f}]");
    card.only(&["number", "exp_month", "exp_year", "cvc", "token"])
        .map_err(|e| StripeError::unknown_param(&param(e.param.as_deref().unwrap_or(""))))?;
    if let Some(token) = card.string("token")?.filter(|t| !t.is_empty()) {
        let number = cards::magic_number(&token).ok_or_else(|| {
            StripeError::no_such("token", &token, "card[token]").with_status_400()
        })?;
        let (month, year) = magic_expiry(now);
        return Ok((number.to_owned(), month, year));
    }
    let raw = card
        .required("number")
        .map_err(|_| StripeError::missing_param(&param("number")))?;
    let number = cards::normalize_number(&raw).map_err(|d| d.error())?;
    let month = card
        .integer("exp_month")
        .map_err(|e| e.with_param(param("exp_month")))?
        .ok_or_else(|| StripeError::missing_param(&param("exp_month")))?;
    let year = card
        .integer("exp_year")
        .map_err(|e| e.with_param(param("exp_year")))?
        .ok_or_else(|| StripeError::missing_param(&param("exp_year")))?;
    let (month, year) = check_expiry(month, year, now)?;
    Ok((number, month, year))
}

pub async fn create(State(sim): State<Sim>, params: Params) -> Result<Json<Value>, StripeError> {
    params.only(&[
        "type",
        "card",
        "billing_details",
        "metadata",
        "allow_redisplay",
        "expand",
    ])?;
    let kind = params.required("type")?;
    if kind != "card" {
        return Err(StripeError::invalid(format!(
            "Invalid type: paywarden-sim supports only `card` payment methods (got '{kind}')"
        ))
        .with_param("type"));
    }
    let card = params
        .hash("card")?
        .ok_or_else(|| StripeError::missing_param("card"))?;
    let mut objects = sim.objects();
    let at = objects.now();
    let (number, month, year) = card_number(&card, at)?;
    let mut pm = build(&number, month, year, at);
    apply_billing_details(&params, &mut pm)?;
    if let Some(redisplay) = params.string("allow_redisplay")? {
        if !["always", "limited", "unspecified"].contains(&redisplay.as_str()) {
            return Err(StripeError::invalid(
                "Invalid allow_redisplay: must be one of always, limited, or unspecified",
            )
            .with_param("allow_redisplay"));
        }
        pm["allow_redisplay"] = json!(redisplay);
    }
    params.apply_metadata(&mut pm)?;
    let id = pm["id"].as_str().unwrap_or_default().to_owned();
    objects.payment_methods.insert(id, pm.clone());
    Ok(Json(pm))
}

pub async fn retrieve(
    State(sim): State<Sim>,
    Path(id): Path<String>,
    params: Params,
) -> Result<Json<Value>, StripeError> {
    params.only(&["expand"])?;
    let objects = sim.objects();
    objects
        .payment_methods
        .get(&id)
        .cloned()
        .map(Json)
        .ok_or_else(|| StripeError::no_such("PaymentMethod", &id, "id"))
}

pub async fn update(
    State(sim): State<Sim>,
    cause: Cause,
    Path(id): Path<String>,
    params: Params,
) -> Result<Json<Value>, StripeError> {
    params.only(&[
        "billing_details",
        "metadata",
        "card",
        "allow_redisplay",
        "expand",
    ])?;
    let mut objects = sim.objects();
    let before = objects
        .payment_methods
        .get(&id)
        .cloned()
        .ok_or_else(|| StripeError::no_such("PaymentMethod", &id, "id"))?;
    if before["customer"].is_null() {
        return Err(StripeError::invalid(
            "You must save this PaymentMethod to a customer before you can update it.",
        )
        .with_code("payment_method_unexpected_state"));
    }
    let mut after = before.clone();
    apply_billing_details(&params, &mut after)?;
    if let Some(card) = params.hash("card")? {
        card.only(&["exp_month", "exp_year"]).map_err(|e| {
            StripeError::unknown_param(&format!("card[{}]", e.param.unwrap_or_default()))
        })?;
        let month = card
            .integer("exp_month")?
            .or(before["card"]["exp_month"].as_i64());
        let year = card
            .integer("exp_year")?
            .or(before["card"]["exp_year"].as_i64());
        let (month, year) = check_expiry(month.unwrap_or(0), year.unwrap_or(0), objects.now())?;
        after["card"]["exp_month"] = json!(month);
        after["card"]["exp_year"] = json!(year);
    }
    if let Some(redisplay) = params.string("allow_redisplay")? {
        after["allow_redisplay"] = json!(redisplay);
    }
    params.apply_metadata(&mut after)?;
    let stored = after.clone();
    objects.payment_methods.update("PaymentMethod", &id, |pm| {
        *pm = stored;
        Ok(())
    })?;
    let at = objects.now_for_customer(before["customer"].as_str());
    objects.emit_updated(&cause, at, "payment_method.updated", &before, &after);
    Ok(Json(after))
}

pub async fn attach_handler(
    State(sim): State<Sim>,
    cause: Cause,
    Path(id): Path<String>,
    params: Params,
) -> Result<Json<Value>, StripeError> {
    params.only(&["customer", "expand"])?;
    let customer = params.required("customer")?;
    let mut objects = sim.objects();
    if cards::magic_number(&id).is_some() {
        // Check before storing, so a refused magic card leaves nothing behind.
        if let Some(decline) =
            number_for(&objects, &id).and_then(|n| cards::behaviour(&n).attach_decline())
        {
            return Err(decline.error());
        }
        if objects.customers.get(&customer).is_none() {
            return Err(StripeError::no_such("customer", &customer, "customer").with_status_400());
        }
    }
    let pm = if cards::magic_number(&id).is_some() {
        resolve(&mut objects, &id, "id")?
    } else {
        id
    };
    attach(&mut objects, &cause, &pm, &customer).map(Json)
}

pub async fn detach_handler(
    State(sim): State<Sim>,
    cause: Cause,
    Path(id): Path<String>,
    params: Params,
) -> Result<Json<Value>, StripeError> {
    params.only(&["expand"])?;
    detach(&mut sim.objects(), &cause, &id).map(Json)
}

pub async fn list(State(sim): State<Sim>, params: Params) -> Result<Json<Value>, StripeError> {
    let allowed: Vec<&str> = LIST_PARAMS
        .iter()
        .copied()
        .chain(["customer", "type"])
        .collect();
    params.only(&allowed)?;
    let customer = params.string("customer")?;
    let kind = params.string("type")?;
    let created = Created::from_params(&params)?;
    let objects = sim.objects();
    if let Some(c) = &customer {
        if objects.customers.get(c).is_none() {
            return Err(StripeError::no_such("customer", c, "customer").with_status_400());
        }
    }
    let items = matching(&objects.payment_methods, &created, |pm| {
        customer.as_deref().is_none_or(|c| pm["customer"] == c)
            && kind.as_deref().is_none_or(|k| pm["type"] == k)
    });
    page(&items, &params, "/v1/payment_methods").map(Json)
}

pub async fn list_for_customer(
    State(sim): State<Sim>,
    Path(customer): Path<String>,
    params: Params,
) -> Result<Json<Value>, StripeError> {
    let allowed: Vec<&str> = LIST_PARAMS
        .iter()
        .copied()
        .chain(["type", "allow_redisplay"])
        .collect();
    params.only(&allowed)?;
    let kind = params.string("type")?;
    let created = Created::from_params(&params)?;
    let objects = sim.objects();
    if objects.customers.get(&customer).is_none() {
        return Err(StripeError::no_such("customer", &customer, "customer"));
    }
    let items = matching(&objects.payment_methods, &created, |pm| {
        pm["customer"] == customer.as_str() && kind.as_deref().is_none_or(|k| pm["type"] == k)
    });
    page(
        &items,
        &params,
        &format!("/v1/customers/{customer}/payment_methods"),
    )
    .map(Json)
}
