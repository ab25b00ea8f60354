//! `/v1/customers`: create, retrieve, update, list, delete.

use axum::extract::{Path, State};
use axum::Json;
use serde_json::{json, Value};

use crate::error::StripeError;
use crate::events::Cause;
use crate::ids::{new_id, CUSTOMER};
use crate::list::{matching, page, Created, LIST_PARAMS};
use crate::params::{or_null, Params};
use crate::state::{now, Objects, Sim};

const WRITABLE: &[&str] = &[
    "email",
    "name",
    "description",
    "phone",
    "metadata",
    "address",
    "preferred_locales",
    "tax_exempt",
    "invoice_settings",
    "expand",
];

const ADDRESS: &[&str] = &["city", "country", "line1", "line2", "postal_code", "state"];

fn apply(params: &Params, customer: &mut Value) -> Result<(), StripeError> {
    for field in ["email", "name", "description", "phone"] {
        if let Some(value) = params.string(field)? {
            customer[field] = or_null(Some(value));
        }
    }
    apply_address(params, customer)?;
    if let Some(locales) = params.strings("preferred_locales")? {
        customer["preferred_locales"] = json!(locales);
    }
    if let Some(exempt) = params.string("tax_exempt")? {
        if !["none", "exempt", "reverse"].contains(&exempt.as_str()) {
            return Err(StripeError::invalid(format!(
                "Invalid tax_exempt: must be one of none, exempt, or reverse (got '{exempt}')"
            ))
            .with_param("tax_exempt"));
        }
        customer["tax_exempt"] = json!(exempt);
    }
    apply_invoice_settings(params, customer)?;
    params.apply_metadata(customer)
}

/// `invoice_settings[default_payment_method]`: the card renewals charge.
/// Whether the payment method belongs to the customer is checked by the
/// caller, which holds the objects.
fn apply_invoice_settings(params: &Params, customer: &mut Value) -> Result<(), StripeError> {
    let Some(settings) = params.hash("invoice_settings")? else {
        return Ok(());
    };
    if let Some(unknown) = settings
        .0
        .keys()
        .find(|k| !["default_payment_method", "footer", "custom_fields"].contains(&k.as_str()))
    {
        return Err(StripeError::unknown_param(&format!(
            "invoice_settings[{unknown}]"
        )));
    }
    if let Some(pm) = settings.string("default_payment_method")? {
        customer["invoice_settings"]["default_payment_method"] = or_null(Some(pm));
    }
    if let Some(footer) = settings.string("footer")? {
        customer["invoice_settings"]["footer"] = or_null(Some(footer));
    }
    Ok(())
}

/// Refuses a default payment method that is not attached to `customer`.
fn check_default_payment_method(objects: &Objects, customer: &Value) -> Result<(), StripeError> {
    let Some(pm) = customer["invoice_settings"]["default_payment_method"].as_str() else {
        return Ok(());
    };
    let attached = objects
        .payment_methods
        .get(pm)
        .is_some_and(|method| method["customer"] == customer["id"]);
    if attached {
        Ok(())
    } else {
        Err(StripeError::invalid(format!(
            "No such PaymentMethod: '{pm}'; the payment method must be attached to this customer."
        ))
        .with_code("resource_missing")
        .with_param("invoice_settings[default_payment_method]"))
    }
}

/// `address[line1]=…` sets fields (the rest stay as they were or null);
/// `address=` clears the address.
fn apply_address(params: &Params, customer: &mut Value) -> Result<(), StripeError> {
    if params
        .string("address")
        .is_ok_and(|a| a.as_deref() == Some(""))
    {
        customer["address"] = Value::Null;
        return Ok(());
    }
    let Some(address) = params.hash("address")? else {
        return Ok(());
    };
    if let Some(unknown) = address.0.keys().find(|k| !ADDRESS.contains(&k.as_str())) {
        return Err(StripeError::unknown_param(&format!("address[{unknown}]")));
    }
    let mut current = match &customer["address"] {
        Value::Object(map) => map.clone(),
        _ => ADDRESS
            .iter()
            .map(|f| ((*f).to_owned(), Value::Null))
            .collect(),
    };
    for field in ADDRESS {
        if let Some(value) = address.string(field)? {
            current.insert((*field).to_owned(), or_null(Some(value)));
        }
    }
    customer["address"] = Value::Object(current);
    Ok(())
}

fn deleted(id: &str) -> Value {
    json!({ "id": id, "object": "customer", "deleted": true })
}

pub async fn create(
    State(sim): State<Sim>,
    cause: Cause,
    params: Params,
) -> Result<Json<Value>, StripeError> {
    let allowed: Vec<&str> = WRITABLE.iter().copied().chain(["test_clock"]).collect();
    params.only(&allowed)?;
    let id = new_id(CUSTOMER);
    let mut customer = json!({
        "id": id, "object": "customer", "created": now(), "livemode": false,
        "email": null, "name": null, "phone": null, "description": null,
        "metadata": {}, "balance": 0, "currency": null, "delinquent": false,
        "default_source": null, "address": null, "shipping": null, "discount": null,
        "invoice_prefix": null, "next_invoice_sequence": 1, "preferred_locales": [],
        "tax_exempt": "none", "test_clock": null,
        "invoice_settings": {
            "default_payment_method": null, "custom_fields": null,
            "footer": null, "rendering_options": null
        }
    });
    apply(&params, &mut customer)?;
    let mut objects = sim.objects();
    check_default_payment_method(&objects, &customer)?;
    if let Some(clock) = params.string("test_clock")?.filter(|c| !c.is_empty()) {
        let Some(frozen) = objects
            .test_clocks
            .get(&clock)
            .map(|c| c["frozen_time"].clone())
        else {
            return Err(StripeError::no_such("test_clock", &clock, "test_clock").with_status_400());
        };
        customer["test_clock"] = json!(clock);
        customer["created"] = frozen;
    }
    let at = objects.now_on(customer["test_clock"].as_str());
    objects.customers.insert(id, customer.clone());
    objects.emit(&cause, at, "customer.created", &customer, None);
    Ok(Json(customer))
}

pub async fn retrieve(
    State(sim): State<Sim>,
    Path(id): Path<String>,
    params: Params,
) -> Result<Json<Value>, StripeError> {
    params.only(&["expand"])?;
    let objects = sim.objects();
    if objects.customers.was_deleted(&id) {
        return Ok(Json(deleted(&id)));
    }
    objects
        .customers
        .get(&id)
        .cloned()
        .map(Json)
        .ok_or_else(|| StripeError::no_such("customer", &id, "id"))
}

pub async fn update(
    State(sim): State<Sim>,
    cause: Cause,
    Path(id): Path<String>,
    params: Params,
) -> Result<Json<Value>, StripeError> {
    params.only(WRITABLE)?;
    let mut objects = sim.objects();
    let before = objects
        .customers
        .get(&id)
        .cloned()
        .ok_or_else(|| StripeError::no_such("customer", &id, "id"))?;
    let mut after = before.clone();
    apply(&params, &mut after)?;
    check_default_payment_method(&objects, &after)?;
    objects.customers.update("customer", &id, |customer| {
        *customer = after.clone();
        Ok(())
    })?;
    let at = objects.now_for_customer(Some(&id));
    objects.emit_updated(&cause, at, "customer.updated", &before, &after);
    Ok(Json(after))
}

pub async fn list(State(sim): State<Sim>, params: Params) -> Result<Json<Value>, StripeError> {
    let allowed: Vec<&str> = LIST_PARAMS.iter().copied().chain(["email"]).collect();
    params.only(&allowed)?;
    let email = params.string("email")?;
    let created = Created::from_params(&params)?;
    let items = matching(&sim.objects().customers, &created, |c| {
        email.as_deref().is_none_or(|e| c["email"] == e)
    });
    page(&items, &params, "/v1/customers").map(Json)
}

pub async fn delete(
    State(sim): State<Sim>,
    cause: Cause,
    Path(id): Path<String>,
    params: Params,
) -> Result<Json<Value>, StripeError> {
    params.only(&[])?;
    let mut objects = sim.objects();
    let at = objects.now_for_customer(Some(&id));
    if objects.customers.get(&id).is_some() {
        crate::billing::cancel_all_for_customer(&mut objects, &cause, at, &id);
    }
    let customer = objects
        .customers
        .remove(&id)
        .ok_or_else(|| StripeError::no_such("customer", &id, "id"))?;
    objects.emit(&cause, at, "customer.deleted", &customer, None);
    Ok(Json(deleted(&id)))
}
