//! `/v1/products`: create, retrieve, update, list.

use axum::extract::{Path, State};
use axum::Json;
use serde_json::{json, Value};

use crate::error::StripeError;
use crate::events::Cause;
use crate::ids::{new_id, PRODUCT};
use crate::list::{matching, page, Created, LIST_PARAMS};
use crate::params::{or_null, Params};
use crate::state::{now, Sim};

const WRITABLE: &[&str] = &[
    "name",
    "description",
    "active",
    "metadata",
    "unit_label",
    "url",
    "statement_descriptor",
    "tax_code",
    "expand",
];

fn apply(params: &Params, product: &mut Value) -> Result<(), StripeError> {
    if let Some(name) = params.string("name")? {
        if name.is_empty() {
            return Err(StripeError::invalid("You passed an empty string for 'name'. We assume empty values are an attempt to unset a parameter; however 'name' cannot be unset. You should remove 'name' from your request or supply a non-empty value.")
                .with_code("parameter_invalid_empty")
                .with_param("name"));
        }
        product["name"] = json!(name);
    }
    for field in [
        "description",
        "unit_label",
        "url",
        "statement_descriptor",
        "tax_code",
    ] {
        if let Some(value) = params.string(field)? {
            product[field] = or_null(Some(value));
        }
    }
    if let Some(active) = params.boolean("active")? {
        product["active"] = json!(active);
    }
    params.apply_metadata(product)?;
    product["updated"] = json!(now());
    Ok(())
}

pub async fn create(
    State(sim): State<Sim>,
    cause: Cause,
    params: Params,
) -> Result<Json<Value>, StripeError> {
    let mut allowed = WRITABLE.to_vec();
    allowed.push("id");
    params.only(&allowed)?;
    let mut product = build(&params)?;
    // Stripe lets the caller choose a product's id, once.
    let chosen = params.string("id")?;
    if let Some(id) = &chosen {
        let valid = !id.is_empty()
            && id.len() <= 255
            && id
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-'));
        if !valid {
            return Err(StripeError::invalid("Invalid product id").with_param("id"));
        }
        product["id"] = Value::String(id.clone());
    }
    let id = product["id"].as_str().unwrap_or_default().to_owned();
    let mut objects = sim.objects();
    if chosen.is_some() && objects.products.get(&id).is_some() {
        return Err(StripeError::invalid("Product already exists.")
            .with_code("resource_already_exists")
            .with_param("id"));
    }
    objects.products.insert(id, product.clone());
    let at = objects.now();
    objects.emit(&cause, at, "product.created", &product, None);
    Ok(Json(product))
}

/// A new product from create parameters (also `product_data` on a price).
pub fn build(params: &Params) -> Result<Value, StripeError> {
    params.required("name")?;
    let id = new_id(PRODUCT);
    let mut product = json!({
        "id": id, "object": "product", "created": now(), "updated": now(), "livemode": false,
        "name": null, "active": true, "description": null, "default_price": null,
        "images": [], "marketing_features": [], "metadata": {}, "tax_code": null,
        "unit_label": null, "url": null, "shippable": null, "statement_descriptor": null,
        "type": "service", "package_dimensions": null
    });
    apply(params, &mut product)?;
    Ok(product)
}

pub async fn retrieve(
    State(sim): State<Sim>,
    Path(id): Path<String>,
    params: Params,
) -> Result<Json<Value>, StripeError> {
    params.only(&["expand"])?;
    sim.objects()
        .products
        .get(&id)
        .cloned()
        .map(Json)
        .ok_or_else(|| StripeError::no_such("product", &id, "id"))
}

pub async fn update(
    State(sim): State<Sim>,
    cause: Cause,
    Path(id): Path<String>,
    params: Params,
) -> Result<Json<Value>, StripeError> {
    params.only(WRITABLE)?;
    let mut objects = sim.objects();
    let before = objects.products.get(&id).cloned();
    let after = objects
        .products
        .update("product", &id, |product| apply(&params, product))?;
    if let Some(before) = before {
        let at = objects.now();
        objects.emit_updated(&cause, at, "product.updated", &before, &after);
    }
    Ok(Json(after))
}

pub async fn list(State(sim): State<Sim>, params: Params) -> Result<Json<Value>, StripeError> {
    let allowed: Vec<&str> = LIST_PARAMS.iter().copied().chain(["active"]).collect();
    params.only(&allowed)?;
    let active = params.boolean("active")?;
    let created = Created::from_params(&params)?;
    let items = matching(&sim.objects().products, &created, |p| {
        active.is_none_or(|a| p["active"] == a)
    });
    page(&items, &params, "/v1/products").map(Json)
}
