//! `/v1/customers`: create, retrieve, update, list, delete.

use axum::extract::{Path, State};
use axum::Json;
use serde_json::{json, Value};

use crate::error::StripeError;
use crate::ids::{new_id, CUSTOMER};
use crate::list::{matching, page, Created, LIST_PARAMS};
use crate::params::{or_null, Params};
use crate::state::{now, Sim};

const WRITABLE: &[&str] = &[
    "email",
    "name",
    "description",
    "phone",
    "metadata",
    "address",
    "preferred_locales",
    "tax_exempt",
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
    params.apply_metadata(customer)
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

pub async fn create(State(sim): State<Sim>, params: Params) -> Result<Json<Value>, StripeError> {
    params.only(WRITABLE)?;
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
    sim.objects().customers.insert(id, customer.clone());
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
    Path(id): Path<String>,
    params: Params,
) -> Result<Json<Value>, StripeError> {
    params.only(WRITABLE)?;
    sim.objects()
        .customers
        .update("customer", &id, |customer| apply(&params, customer))
        .map(Json)
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
    Path(id): Path<String>,
    params: Params,
) -> Result<Json<Value>, StripeError> {
    params.only(&[])?;
    sim.objects()
        .customers
        .remove(&id)
        .map(|_| Json(deleted(&id)))
        .ok_or_else(|| StripeError::no_such("customer", &id, "id"))
}
