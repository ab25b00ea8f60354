//! Entitlements: features (`/v1/entitlements/features`), features attached
//! to products (`/v1/products/{id}/features`), and a customer's active
//! entitlements (`/v1/entitlements/active_entitlements`).
//!
//! A customer is entitled to the features of the products of their
//! subscriptions that grant access (`active`, `trialing`, `past_due`).
//! Active entitlements are computed, not stored; their ids are derived
//! from (customer, feature) so they stay the same between calls. The last
//! set announced for each customer is kept (a private record in
//! `product_features`) so `entitlements.active_entitlement_summary.updated`
//! fires exactly when the set changes.

use axum::extract::{Path, State};
use axum::Json;
use serde_json::{json, Value};

use super::subscriptions::items_of;
use crate::error::StripeError;
use crate::events::Cause;
use crate::ids::{new_id, ACTIVE_ENTITLEMENT, FEATURE, PRODUCT_FEATURE};
use crate::list::{matching, page, Created, LIST_PARAMS};
use crate::params::Params;
use crate::state::{now, Objects, Sim};

/// Subscription statuses that grant their products' features.
const GRANTING: &[&str] = &["active", "trialing", "past_due"];

/// Key of the private record holding the last announced set.
fn summary_key(customer: &str) -> String {
    format!("_sim_summary_{customer}")
}

/// A stable `ent_` id for (customer, feature) (FNV-1a, as hex).
fn entitlement_id(customer: &str, feature: &str) -> String {
    let mut hash: u128 = 0x6c62_272e_07bb_0142_62b8_2175_6295_c58d;
    for byte in customer.bytes().chain([0]).chain(feature.bytes()) {
        hash ^= u128::from(byte);
        hash = hash.wrapping_mul(0x0000_0000_0100_0000_0000_0000_0000_013b);
    }
    format!("{ACTIVE_ENTITLEMENT}{:024x}", hash & ((1u128 << 96) - 1))
}

/// The customer's active entitlements, in feature attach order.
fn active(objects: &Objects, customer: &str) -> Vec<Value> {
    let products: Vec<Value> = objects
        .subscriptions
        .newest_first()
        .filter(|s| s["customer"] == customer)
        .filter(|s| GRANTING.contains(&s["status"].as_str().unwrap_or("")))
        .flat_map(|s| {
            items_of(s)
                .into_iter()
                .map(|i| i["price"]["product"].clone())
        })
        .collect();
    let mut attached: Vec<&Value> = objects
        .product_features
        .newest_first()
        .filter(|pf| pf["object"] == "product_feature" && products.contains(&pf["_sim"]["product"]))
        .collect();
    attached.reverse();
    let mut seen = Vec::new();
    let mut out = Vec::new();
    for pf in attached {
        let Some(feature_id) = pf["entitlement_feature"]["id"].as_str() else {
            continue;
        };
        let Some(feature) = objects.features.get(feature_id) else {
            continue;
        };
        if feature["active"] != true || seen.contains(&feature_id) {
            continue;
        }
        seen.push(feature_id);
        out.push(json!({
            "id": entitlement_id(customer, feature_id),
            "object": "entitlements.active_entitlement",
            "feature": feature_id, "livemode": false, "lookup_key": feature["lookup_key"]
        }));
    }
    out
}

fn summary(customer: &str, entitlements: &[Value]) -> Value {
    json!({
        "object": "entitlements.active_entitlement_summary",
        "customer": customer,
        "entitlements": {
            "object": "list", "data": entitlements, "has_more": false,
            "url": format!("/v1/customer/{customer}/entitlements")
        },
        "livemode": false
    })
}

/// Emits `entitlements.active_entitlement_summary.updated` if `customer`'s
/// entitlements differ from the last announced set.
pub fn sync(objects: &mut Objects, cause: &Cause, at: i64, customer: &str) {
    let now = active(objects, customer);
    let key = summary_key(customer);
    let before = objects
        .product_features
        .get(&key)
        .map(|r| r["entitlements"].clone())
        .unwrap_or_else(|| json!([]));
    if before == json!(now) {
        return;
    }
    objects.product_features.insert(
        key,
        json!({ "object": "_sim.entitlement_summary", "entitlements": now }),
    );
    let previous = json!({ "entitlements": { "data": before } });
    objects.emit(
        cause,
        at,
        "entitlements.active_entitlement_summary.updated",
        &summary(customer, &now),
        Some(previous),
    );
}

/// [`sync`] for the customer of `subscription`.
pub fn sync_subscription(objects: &mut Objects, cause: &Cause, at: i64, subscription: &Value) {
    if let Some(customer) = subscription["customer"].as_str() {
        sync(objects, cause, at, customer);
    }
}

/// Syncs every customer subscribed to `product`.
fn sync_product(objects: &mut Objects, cause: &Cause, product: &str) {
    let mut customers: Vec<String> = objects
        .subscriptions
        .newest_first()
        .filter(|s| items_of(s).iter().any(|i| i["price"]["product"] == product))
        .filter_map(|s| s["customer"].as_str().map(str::to_owned))
        .collect();
    customers.dedup();
    for customer in customers {
        let at = objects.now_for_customer(Some(&customer));
        sync(objects, cause, at, &customer);
    }
}

fn feature(objects: &Objects, id: &str, param: &str) -> Result<Value, StripeError> {
    objects
        .features
        .get(id)
        .cloned()
        .ok_or_else(|| StripeError::no_such("feature", id, param))
}

pub async fn create_feature(
    State(sim): State<Sim>,
    params: Params,
) -> Result<Json<Value>, StripeError> {
    params.only(&["lookup_key", "name", "metadata", "expand"])?;
    let lookup_key = params.required("lookup_key")?;
    let name = params.required("name")?;
    if lookup_key.len() > 80 {
        return Err(
            StripeError::invalid("Invalid lookup_key: must be at most 80 characters")
                .with_param("lookup_key"),
        );
    }
    let mut created = json!({
        "id": new_id(FEATURE), "object": "entitlements.feature", "active": true,
        "livemode": false, "lookup_key": lookup_key, "metadata": {}, "name": name,
        "created": now()
    });
    params.apply_metadata(&mut created)?;
    let mut objects = sim.objects();
    if objects
        .features
        .newest_first()
        .any(|f| f["lookup_key"] == lookup_key.as_str())
    {
        return Err(StripeError::invalid(format!(
            "A feature with lookup_key {lookup_key} already exists."
        ))
        .with_param("lookup_key"));
    }
    let id = created["id"].as_str().unwrap_or_default().to_owned();
    objects.features.insert(id, created.clone());
    Ok(Json(created))
}

pub async fn list_features(
    State(sim): State<Sim>,
    params: Params,
) -> Result<Json<Value>, StripeError> {
    let allowed: Vec<&str> = LIST_PARAMS
        .iter()
        .copied()
        .chain(["archived", "lookup_key"])
        .collect();
    params.only(&allowed)?;
    let archived = params.boolean("archived")?;
    let lookup_key = params.string("lookup_key")?;
    let created = Created::from_params(&params)?;
    let items = matching(&sim.objects().features, &created, |f| {
        archived.is_none_or(|a| f["active"] == !a)
            && lookup_key.as_deref().is_none_or(|k| f["lookup_key"] == k)
    });
    page(&items, &params, "/v1/entitlements/features").map(Json)
}

pub async fn retrieve_feature(
    State(sim): State<Sim>,
    Path(id): Path<String>,
    params: Params,
) -> Result<Json<Value>, StripeError> {
    params.only(&["expand"])?;
    feature(&sim.objects(), &id, "id").map(Json)
}

pub async fn update_feature(
    State(sim): State<Sim>,
    cause: Cause,
    Path(id): Path<String>,
    params: Params,
) -> Result<Json<Value>, StripeError> {
    params.only(&["name", "active", "metadata", "expand"])?;
    let name = params.string("name")?;
    let active_flag = params.boolean("active")?;
    let mut objects = sim.objects();
    let before = feature(&objects, &id, "id")?;
    let after = objects.features.update("feature", &id, |f| {
        if let Some(name) = name.filter(|n| !n.is_empty()) {
            f["name"] = json!(name);
        }
        if let Some(flag) = active_flag {
            f["active"] = json!(flag);
        }
        params.apply_metadata(f)
    })?;
    // Stripe sends no event for a feature itself.
    if before["active"] != after["active"] {
        let products: Vec<String> = objects
            .product_features
            .newest_first()
            .filter(|pf| pf["entitlement_feature"]["id"] == id.as_str())
            .filter_map(|pf| pf["_sim"]["product"].as_str().map(str::to_owned))
            .collect();
        for product in products {
            sync_product(&mut objects, &cause, &product);
        }
    }
    Ok(Json(after))
}

pub async fn attach(
    State(sim): State<Sim>,
    cause: Cause,
    Path(product): Path<String>,
    params: Params,
) -> Result<Json<Value>, StripeError> {
    params.only(&["entitlement_feature", "expand"])?;
    let feature_id = params.required("entitlement_feature")?;
    let mut objects = sim.objects();
    if objects.products.get(&product).is_none() {
        return Err(StripeError::no_such("product", &product, "id"));
    }
    let feature = feature(&objects, &feature_id, "entitlement_feature")
        .map_err(StripeError::with_status_400)?;
    let already = objects.product_features.newest_first().any(|pf| {
        pf["_sim"]["product"] == product.as_str()
            && pf["entitlement_feature"]["id"] == feature_id.as_str()
    });
    if already {
        return Err(StripeError::invalid(format!(
            "The feature {feature_id} is already attached to product {product}."
        ))
        .with_param("entitlement_feature"));
    }
    let id = new_id(PRODUCT_FEATURE);
    let attached = json!({
        "id": id, "object": "product_feature", "entitlement_feature": feature,
        "livemode": false, "_sim": { "product": product }
    });
    objects.product_features.insert(id, attached.clone());
    sync_product(&mut objects, &cause, &product);
    Ok(Json(attached))
}

pub async fn list_attached(
    State(sim): State<Sim>,
    Path(product): Path<String>,
    params: Params,
) -> Result<Json<Value>, StripeError> {
    params.only(&["limit", "starting_after", "ending_before", "expand"])?;
    let objects = sim.objects();
    if objects.products.get(&product).is_none() {
        return Err(StripeError::no_such("product", &product, "id"));
    }
    let items: Vec<Value> = objects
        .product_features
        .newest_first()
        .filter(|pf| pf["object"] == "product_feature" && pf["_sim"]["product"] == product.as_str())
        .cloned()
        .collect();
    page(&items, &params, &format!("/v1/products/{product}/features")).map(Json)
}

pub async fn detach(
    State(sim): State<Sim>,
    cause: Cause,
    Path((product, id)): Path<(String, String)>,
    params: Params,
) -> Result<Json<Value>, StripeError> {
    params.only(&[])?;
    let mut objects = sim.objects();
    let belongs = objects
        .product_features
        .get(&id)
        .is_some_and(|pf| pf["_sim"]["product"] == product.as_str());
    if !belongs {
        return Err(StripeError::no_such("product_feature", &id, "id"));
    }
    objects.product_features.remove(&id);
    sync_product(&mut objects, &cause, &product);
    Ok(Json(
        json!({ "id": id, "object": "product_feature", "deleted": true }),
    ))
}

pub async fn list_active(
    State(sim): State<Sim>,
    params: Params,
) -> Result<Json<Value>, StripeError> {
    params.only(&[
        "customer",
        "limit",
        "starting_after",
        "ending_before",
        "expand",
    ])?;
    let customer = params.required("customer")?;
    let objects = sim.objects();
    if objects.customers.get(&customer).is_none() {
        return Err(StripeError::no_such("customer", &customer, "customer").with_status_400());
    }
    let items = active(&objects, &customer);
    page(&items, &params, "/v1/entitlements/active_entitlements").map(Json)
}

pub async fn retrieve_active(
    State(sim): State<Sim>,
    Path(id): Path<String>,
    params: Params,
) -> Result<Json<Value>, StripeError> {
    params.only(&["expand"])?;
    let objects = sim.objects();
    let customers: Vec<String> = objects
        .customers
        .newest_first()
        .filter_map(|c| c["id"].as_str().map(str::to_owned))
        .collect();
    customers
        .iter()
        .flat_map(|c| active(&objects, c))
        .find(|e| e["id"] == id.as_str())
        .map(Json)
        .ok_or_else(|| StripeError::no_such("active_entitlement", &id, "id"))
}

#[cfg(test)]
mod tests {
    use super::entitlement_id;

    #[test]
    fn entitlement_ids_are_stable_and_distinct() {
        let a = entitlement_id("cus_1", "feat_1");
        assert_eq!(a, entitlement_id("cus_1", "feat_1"));
        assert_ne!(a, entitlement_id("cus_1", "feat_2"));
        assert!(a.starts_with("ent_") && a.len() == 4 + 24);
    }
}
