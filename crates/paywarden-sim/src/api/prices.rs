//! `/v1/prices`: create (one-time and recurring), retrieve, update, list.
//!
//! Amounts are immutable once created, as in Stripe; only `active`,
//! `nickname`, `lookup_key` and `metadata` change on update.

use axum::extract::{Path, State};
use axum::Json;
use serde_json::{json, Value};

use crate::error::StripeError;
use crate::events::Cause;
use crate::ids::{new_id, PRICE};
use crate::list::{matching, page, Created, LIST_PARAMS};
use crate::params::{or_null, Params};
use crate::state::{now, Collection, Sim};

const CREATE: &[&str] = &[
    "currency",
    "product",
    "product_data",
    "unit_amount",
    "recurring",
    "lookup_key",
    "nickname",
    "metadata",
    "active",
    "tax_behavior",
    "transfer_lookup_key",
    "expand",
];
const UPDATE: &[&str] = &[
    "active",
    "nickname",
    "lookup_key",
    "transfer_lookup_key",
    "metadata",
    "expand",
];

/// A lookup key belongs to one price at a time: taking one already in use
/// needs `transfer_lookup_key=true`, which removes it from the other price.
fn claim_lookup_key(
    prices: &mut Collection,
    id: &str,
    key: &str,
    transfer: bool,
) -> Result<(), StripeError> {
    let holder = prices
        .newest_first()
        .find(|p| p["lookup_key"] == key && p["id"] != id)
        .and_then(|p| p["id"].as_str().map(str::to_owned));
    let Some(holder) = holder else {
        return Ok(());
    };
    if !transfer {
        return Err(StripeError::invalid(format!(
            "A price (`{holder}`) already uses that lookup key."
        ))
        .with_param("lookup_key"));
    }
    if let Some(price) = prices.get_mut(&holder) {
        price["lookup_key"] = Value::Null;
    }
    Ok(())
}

fn recurring(params: &Params) -> Result<Value, StripeError> {
    let Some(recurring) = params.hash("recurring")? else {
        return Ok(Value::Null);
    };
    let name = |field: &str| format!("recurring[{field}]");
    recurring
        .only(&["interval", "interval_count", "usage_type"])
        .map_err(|e| StripeError::unknown_param(&name(e.param.as_deref().unwrap_or(""))))?;
    let interval = recurring
        .required("interval")
        .map_err(|_| StripeError::missing_param(&name("interval")))?;
    if !["day", "week", "month", "year"].contains(&interval.as_str()) {
        return Err(StripeError::invalid(
            "Invalid recurring[interval]: must be one of day, week, month, or year",
        )
        .with_param(name("interval")));
    }
    let count = match recurring.string("interval_count")? {
        None => 1,
        Some(s) => s
            .parse::<i64>()
            .ok()
            .filter(|n| *n >= 1)
            .ok_or_else(|| StripeError::invalid_integer(&name("interval_count"), &s))?,
    };
    let usage = recurring
        .string("usage_type")?
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "licensed".to_owned());
    if !["licensed", "metered"].contains(&usage.as_str()) {
        return Err(StripeError::invalid(
            "Invalid recurring[usage_type]: must be one of licensed or metered",
        )
        .with_param(name("usage_type")));
    }
    Ok(json!({
        "interval": interval, "interval_count": count, "usage_type": usage,
        "meter": null, "trial_period_days": null
    }))
}

pub async fn create(
    State(sim): State<Sim>,
    cause: Cause,
    params: Params,
) -> Result<Json<Value>, StripeError> {
    params.only(CREATE)?;
    let currency = params.required("currency")?.to_ascii_lowercase();
    let product_data = match (params.string("product")?, params.hash("product_data")?) {
        (Some(_), Some(_)) => {
            return Err(StripeError::invalid(
                "You may only specify one of these parameters: product, product_data.",
            )
            .with_param("product_data"))
        }
        (None, Some(data)) => {
            let rename = |e: StripeError| {
                let param = e.param.clone().unwrap_or_default();
                e.with_param(format!("product_data[{param}]"))
            };
            data.only(&[
                "name",
                "active",
                "metadata",
                "unit_label",
                "statement_descriptor",
                "tax_code",
            ])
            .map_err(rename)?;
            Some(crate::api::products::build(&data).map_err(rename)?)
        }
        _ => None,
    };
    let product = match &product_data {
        Some(data) => data["id"].as_str().unwrap_or_default().to_owned(),
        None => params.required("product")?,
    };
    let unit_amount = params
        .integer("unit_amount")?
        .ok_or_else(|| StripeError::missing_param("unit_amount"))?;
    if unit_amount < 0 {
        return Err(StripeError::invalid(
            "Invalid non-negative integer: unit_amount must be at least 0",
        )
        .with_param("unit_amount"));
    }
    let recurring = recurring(&params)?;
    let active = params.boolean("active")?.unwrap_or(true);
    let transfer = params.boolean("transfer_lookup_key")?.unwrap_or(false);
    let tax_behavior = params
        .string("tax_behavior")?
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "unspecified".to_owned());
    let id = new_id(PRICE);
    let mut price = json!({
        "id": id, "object": "price", "created": now(), "livemode": false,
        "active": active, "currency": currency, "product": product,
        "type": if recurring.is_null() { "one_time" } else { "recurring" },
        "unit_amount": unit_amount, "unit_amount_decimal": unit_amount.to_string(),
        "billing_scheme": "per_unit", "recurring": recurring,
        "lookup_key": or_null(params.string("lookup_key")?),
        "nickname": or_null(params.string("nickname")?),
        "metadata": {}, "tax_behavior": tax_behavior, "tiers_mode": null,
        "transform_quantity": null, "custom_unit_amount": null
    });
    params.apply_metadata(&mut price)?;
    let mut objects = sim.objects();
    if product_data.is_none() && objects.products.get(&product).is_none() {
        return Err(StripeError::no_such("product", &product, "product").with_status_400());
    }
    if let Some(key) = price["lookup_key"].as_str() {
        claim_lookup_key(&mut objects.prices, &id, key, transfer)?;
    }
    // Only now, with the price valid, does an inline product come to exist.
    let at = objects.now();
    if let Some(data) = product_data {
        objects.products.insert(product.clone(), data.clone());
        objects.emit(&cause, at, "product.created", &data, None);
    }
    objects.prices.insert(id, price.clone());
    objects.emit(&cause, at, "price.created", &price, None);
    Ok(Json(price))
}

pub async fn retrieve(
    State(sim): State<Sim>,
    Path(id): Path<String>,
    params: Params,
) -> Result<Json<Value>, StripeError> {
    params.only(&["expand"])?;
    let expand = params.strings("expand")?.unwrap_or_default();
    let objects = sim.objects();
    let mut price = objects
        .prices
        .get(&id)
        .cloned()
        .ok_or_else(|| StripeError::no_such("price", &id, "id"))?;
    if expand.iter().any(|e| e == "product") {
        expand_product(&objects.products, &mut price);
    }
    Ok(Json(price))
}

/// Replaces the `product` id with the product object (`expand[]=product`).
fn expand_product(products: &Collection, price: &mut Value) {
    let product = price["product"]
        .as_str()
        .and_then(|id| products.get(id))
        .cloned();
    if let Some(product) = product {
        price["product"] = product;
    }
}

pub async fn update(
    State(sim): State<Sim>,
    cause: Cause,
    Path(id): Path<String>,
    params: Params,
) -> Result<Json<Value>, StripeError> {
    params.only(UPDATE)?;
    let active = params.boolean("active")?;
    let nickname = params.string("nickname")?;
    let lookup_key = params.string("lookup_key")?;
    let transfer = params.boolean("transfer_lookup_key")?.unwrap_or(false);
    let mut objects = sim.objects();
    if let Some(key) = lookup_key.as_deref().filter(|k| !k.is_empty()) {
        if objects.prices.get(&id).is_some() {
            claim_lookup_key(&mut objects.prices, &id, key, transfer)?;
        }
    }
    let before = objects.prices.get(&id).cloned();
    let after = objects.prices.update("price", &id, |price| {
        if let Some(active) = active {
            price["active"] = json!(active);
        }
        if nickname.is_some() {
            price["nickname"] = or_null(nickname);
        }
        if lookup_key.is_some() {
            price["lookup_key"] = or_null(lookup_key);
        }
        params.apply_metadata(price)
    })?;
    if let Some(before) = before {
        let at = objects.now();
        objects.emit_updated(&cause, at, "price.updated", &before, &after);
    }
    Ok(Json(after))
}

pub async fn list(State(sim): State<Sim>, params: Params) -> Result<Json<Value>, StripeError> {
    let allowed: Vec<&str> = LIST_PARAMS
        .iter()
        .copied()
        .chain(["active", "lookup_keys", "product", "type", "currency"])
        .collect();
    params.only(&allowed)?;
    let active = params.boolean("active")?;
    let lookup_keys = params.strings("lookup_keys")?;
    let product = params.string("product")?;
    let kind = params.string("type")?;
    let currency = params.string("currency")?;
    let expand = params.strings("expand")?.unwrap_or_default();
    let objects = sim.objects();
    let created = Created::from_params(&params)?;
    let mut items = matching(&objects.prices, &created, |p| {
        active.is_none_or(|a| p["active"] == a)
            && lookup_keys
                .as_ref()
                .is_none_or(|keys| keys.iter().any(|k| p["lookup_key"] == k.as_str()))
            && product.as_deref().is_none_or(|x| p["product"] == x)
            && kind.as_deref().is_none_or(|x| p["type"] == x)
            && currency.as_deref().is_none_or(|x| p["currency"] == x)
    });
    if expand.iter().any(|e| e == "data.product") {
        for price in &mut items {
            expand_product(&objects.products, price);
        }
    }
    page(&items, &params, "/v1/prices").map(Json)
}
