//! `expand[]`: replacing id strings in a response with the objects they name.
//!
//! Handlers return ids; this module walks each dot path (`customer`,
//! `latest_invoice.payment_intent`, `data.customer` on lists) and swaps the
//! id at its end, and at every step on the way, for the stored object,
//! rendered at the request's version. Objects are found by id prefix, so any
//! field holding a sim id can be expanded. Includable fields that are absent
//! unless asked for (Checkout's `line_items`, a customer's `subscriptions`)
//! are built here.

use serde_json::{json, Value};

use crate::error::StripeError;
use crate::ids;
use crate::render::versions::render_in;
use crate::state::{Collection, Objects};

/// Stripe's limit on expansion depth (STRIPE_NOTES §1.10).
const MAX_DEPTH: usize = 4;

/// Fields that hold an expandable id, or null when unset.
const EXPANDABLE: &[&str] = &[
    "application",
    "balance_transaction",
    "charge",
    "customer",
    "default_payment_method",
    "default_source",
    "dispute",
    "failure_balance_transaction",
    "invoice",
    "invoice_item",
    "latest_charge",
    "latest_invoice",
    "on_behalf_of",
    "payment_intent",
    "payment_method",
    "pending_setup_intent",
    "plan",
    "price",
    "product",
    "refund",
    "review",
    "schedule",
    "setup_intent",
    "source",
    "subscription",
    "subscription_item",
    "test_clock",
    "transfer",
];

/// Which collection holds ids with a given prefix.
fn collection<'a>(objects: &'a Objects, id: &str) -> Option<&'a Collection> {
    let table: [(&str, &Collection); 20] = [
        (ids::CUSTOMER, &objects.customers),
        (ids::PRODUCT, &objects.products),
        (ids::PRICE, &objects.prices),
        (ids::PAYMENT_METHOD, &objects.payment_methods),
        (ids::PAYMENT_INTENT, &objects.payment_intents),
        (ids::CHARGE, &objects.charges),
        (ids::REFUND, &objects.refunds),
        (ids::DISPUTE, &objects.disputes),
        (ids::CHECKOUT_SESSION, &objects.checkout_sessions),
        (ids::SUBSCRIPTION, &objects.subscriptions),
        (ids::SUBSCRIPTION_ITEM, &objects.subscription_items),
        (ids::INVOICE, &objects.invoices),
        (ids::INVOICE_ITEM, &objects.invoice_items),
        (ids::INVOICE_PAYMENT, &objects.invoice_payments),
        (ids::PORTAL_SESSION, &objects.portal_sessions),
        (ids::WEBHOOK_ENDPOINT, &objects.webhook_endpoints),
        (ids::EVENT, &objects.events),
        (ids::TEST_CLOCK, &objects.test_clocks),
        (ids::FEATURE, &objects.features),
        (ids::PRODUCT_FEATURE, &objects.product_features),
    ];
    table
        .into_iter()
        .find(|(prefix, _)| id.starts_with(prefix))
        .map(|(_, c)| c)
}

/// Whether `value` looks like an id the sim mints.
fn looks_like_id(value: &str) -> bool {
    const PREFIXES: &[&str] = &[
        ids::BALANCE_TRANSACTION,
        ids::SETUP_INTENT,
        ids::CHECKOUT_LINE_ITEM,
        ids::INVOICE_LINE,
        ids::ACTIVE_ENTITLEMENT,
    ];
    value.len() > 4
        && !value.contains(char::is_whitespace)
        && PREFIXES.iter().any(|p| value.starts_with(p))
}

fn cannot_expand(path: &str) -> StripeError {
    StripeError::invalid(format!("This property cannot be expanded ({path}).")).with_param("expand")
}

/// Applies every path of `expand` to `body` (already rendered at `version`).
pub fn expand(
    objects: &Objects,
    body: &mut Value,
    paths: &[String],
    version: &str,
) -> Result<(), StripeError> {
    check_paths(paths)?;
    for path in paths {
        let segments: Vec<&str> = path.split('.').collect();
        walk(objects, body, &segments, path, version)?;
    }
    Ok(())
}

/// Refuses paths no object could expand (empty steps, too deep) before the
/// request changes anything.
pub fn check_paths(paths: &[String]) -> Result<(), StripeError> {
    for path in paths {
        let segments: Vec<&str> = path.split('.').collect();
        if segments.iter().any(|s| s.is_empty()) {
            return Err(cannot_expand(path));
        }
        // `data` steps into a list and is not counted; this admits a little
        // more than Stripe (which counts a list's leading `data`), never less.
        if segments.iter().filter(|s| **s != "data").count() > MAX_DEPTH {
            return Err(StripeError::invalid(format!(
                "You cannot expand more than {MAX_DEPTH} levels of a property. Property: {path}"
            ))
            .with_param("expand"));
        }
    }
    Ok(())
}

fn walk(
    objects: &Objects,
    value: &mut Value,
    segments: &[&str],
    path: &str,
    version: &str,
) -> Result<(), StripeError> {
    let Some((field, rest)) = segments.split_first() else {
        return Ok(());
    };
    match value {
        Value::Array(items) => {
            for item in items {
                walk(objects, item, segments, path, version)?;
            }
            Ok(())
        }
        Value::Object(map) => {
            if !map.contains_key(*field) {
                let built =
                    includable(objects, map, field, version).ok_or_else(|| cannot_expand(path))?;
                map.insert((*field).to_owned(), built);
            }
            let Some(slot) = map.get_mut(*field) else {
                return Err(cannot_expand(path));
            };
            match slot {
                Value::String(id) => {
                    let found = collection(objects, id).and_then(|c| c.get(id));
                    match found {
                        Some(object) => *slot = render_in(objects, object, version),
                        // An id whose object the sim does not keep (or a
                        // deleted one) stays an id, as Stripe's would if it
                        // could not load it.
                        None if looks_like_id(id) || EXPANDABLE.contains(field) => {}
                        None => return Err(cannot_expand(path)),
                    }
                }
                Value::Null if EXPANDABLE.contains(field) => {}
                Value::Object(_) => {}
                Value::Array(_) if !rest.is_empty() => {}
                _ => return Err(cannot_expand(path)),
            }
            if rest.is_empty() {
                Ok(())
            } else {
                walk(objects, slot, rest, path, version)
            }
        }
        // A null or id left in place ends the walk, as on Stripe.
        _ => Ok(()),
    }
}

/// Fields present only when expanded.
fn includable(
    objects: &Objects,
    map: &serde_json::Map<String, Value>,
    field: &str,
    version: &str,
) -> Option<Value> {
    let kind = map.get("object")?.as_str()?;
    let id = map.get("id")?.as_str()?;
    let list = |data: Vec<Value>, url: String| json!({ "object": "list", "data": data, "has_more": false, "url": url });
    match (kind, field) {
        ("checkout.session", "line_items") => {
            let data = map
                .get("_sim")
                .and_then(|s| s["line_items"].as_array())
                .cloned()
                .unwrap_or_default();
            Some(list(data, format!("/v1/checkout/sessions/{id}/line_items")))
        }
        ("customer", "subscriptions") => {
            let data = objects
                .subscriptions
                .newest_first()
                .filter(|s| s["customer"] == id)
                .map(|s| render_in(objects, s, version))
                .collect();
            Some(list(data, format!("/v1/customers/{id}/subscriptions")))
        }
        ("invoice", "payments") => {
            let data = objects
                .invoice_payments
                .newest_first()
                .filter(|p| p["invoice"] == id)
                .cloned()
                .collect();
            Some(list(data, format!("/v1/invoices/{id}/payments")))
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn objects() -> Objects {
        let mut objects = Objects::default();
        objects.products.insert(
            "prod_1".into(),
            json!({"id": "prod_1", "object": "product", "name": "Pro"}),
        );
        objects.prices.insert(
            "price_1".into(),
            json!({"id": "price_1", "object": "price", "product": "prod_1"}),
        );
        objects
    }

    fn paths(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| (*s).to_owned()).collect()
    }

    #[test]
    fn nested_and_list_paths() {
        let objects = objects();
        let mut item = json!({"object": "item", "price": "price_1"});
        expand(
            &objects,
            &mut item,
            &paths(&["price.product"]),
            "2025-03-31",
        )
        .expect("ok");
        assert_eq!(item["price"]["product"]["name"], "Pro");

        let mut list = json!({"object": "list", "data": [
            {"object": "price", "id": "price_1", "product": "prod_1"},
            {"object": "price", "id": "price_2", "product": "prod_1"}
        ]});
        expand(&objects, &mut list, &paths(&["data.product"]), "2025-03-31").expect("ok");
        assert_eq!(list["data"][1]["product"]["id"], "prod_1");
    }

    #[test]
    fn refusals_name_the_path() {
        let objects = objects();
        for path in ["name", "nope", "product.nope", "a.b.c.d.e"] {
            let mut price =
                json!({"object": "price", "id": "price_1", "product": "prod_1", "name": "x"});
            let err = expand(&objects, &mut price, &paths(&[path]), "2025-03-31").expect_err(path);
            assert_eq!(err.param.as_deref(), Some("expand"));
            assert!(err.message.contains(path), "{}", err.message);
        }
        let mut sub =
            json!({"object": "subscription", "id": "sub_1", "default_payment_method": null});
        expand(
            &objects,
            &mut sub,
            &paths(&["default_payment_method"]),
            "2025-03-31",
        )
        .expect("null expandable stays null");
        assert!(sub["default_payment_method"].is_null());
    }
}
