//! Converting stored objects (the newest shape) to an older `Stripe-Version`.
//!
//! The sim keeps one shape per object and an SDK pinned to an older version
//! must still find the fields it reads: before 2025-03-31.basil subscriptions
//! carried `current_period_*`, invoices `subscription`/`paid`/`payment_intent`
//! and invoice lines `price`/`type`/`proration`; before 2026-03-25.dahlia
//! Checkout's `ui_mode` was `hosted`. Conversion walks the whole value, so
//! lists, expanded objects and event payloads are converted alike.

use serde_json::{json, Map, Value};

use crate::error::StripeError;
use crate::state::Objects;

/// The oldest version the sim renders (STRIPE_NOTES §8.3.10).
pub const OLDEST: &str = "2020-08-27";
/// A version no conversion applies to: the stored shape as it is.
pub const NEWEST: &str = "9999-12-31";
/// Invoice and subscription fields moved (STRIPE_NOTES §7.2).
const BASIL: &str = "2025-03-31";
/// PaymentIntent `charges` replaced by `latest_charge`.
const CHARGES_LIST: &str = "2022-11-15";
/// Checkout `ui_mode` values renamed.
const DAHLIA: &str = "2026-03-25";

/// The date part (`YYYY-MM-DD`) of a `Stripe-Version` header value such as
/// `2025-03-31.basil` or `2024-09-30.acacia; some_beta=v1`. Malformed or
/// too old versions are Stripe's 400.
pub fn version_date(version: &str) -> Result<&str, StripeError> {
    let main = version.split(';').next().unwrap_or("").trim();
    let (date, release) = main.split_once('.').unwrap_or((main, ""));
    let well_formed = date.len() == 10
        && date.bytes().enumerate().all(|(i, b)| match i {
            4 | 7 => b == b'-',
            _ => b.is_ascii_digit(),
        })
        && release.bytes().all(|b| b.is_ascii_lowercase() || b == b'_');
    if !well_formed || date < OLDEST {
        return Err(StripeError::invalid(format!(
            "Invalid Stripe API version: {version}. The oldest version this server supports is {OLDEST}."
        ))
        .with_code("api_version_invalid"));
    }
    Ok(date)
}

/// `object` converted to `version` (which [`version_date`] accepts; an
/// unparsable version converts nothing). Pure: facts that live on other
/// objects (an invoice's charge, a line's price) come from hints that
/// [`render_in`] leaves under `_sim.render`, and are skipped without them.
pub fn render(object: &Value, version: &str) -> Value {
    let mut out = object.clone();
    if let Ok(date) = version_date(version) {
        convert(&mut out, date, version);
    }
    out
}

/// [`render`], after looking up in `objects` what the old shapes embed.
pub fn render_in(objects: &Objects, object: &Value, version: &str) -> Value {
    let mut out = object.clone();
    if let Ok(date) = version_date(version) {
        if date < BASIL {
            add_hints(objects, &mut out);
        }
        convert(&mut out, date, version);
    }
    out
}

/// Leaves `_sim.render` hints on invoices (their charge) and invoice lines
/// (their price object), everywhere in `value`.
fn add_hints(objects: &Objects, value: &mut Value) {
    match value {
        Value::Array(items) => items.iter_mut().for_each(|v| add_hints(objects, v)),
        Value::Object(map) => {
            map.values_mut().for_each(|v| add_hints(objects, v));
            let kind = map
                .get("object")
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_owned();
            if kind == "invoice" {
                let intent = invoice_intent(map);
                let charge = intent
                    .as_deref()
                    .and_then(|id| objects.payment_intents.get(id))
                    .map(|pi| pi["latest_charge"].clone());
                if let Some(charge) = charge {
                    hint(map, "charge", charge);
                }
            }
            if kind == "payment_intent" || kind == "charge" {
                add_payment_hints(objects, map, &kind);
            }
            if (kind == "line_item" && map.contains_key("invoice")) || kind == "invoiceitem" {
                let price = map
                    .get("pricing")
                    .and_then(|p| p["price_details"]["price"].as_str())
                    .and_then(|id| objects.prices.get(id))
                    .cloned();
                if let Some(price) = price {
                    hint(map, "price", price);
                }
            }
        }
        _ => {}
    }
}

/// A payment intent's (or charge's) invoice, and a payment intent's
/// charges, which older versions embedded.
fn add_payment_hints(objects: &Objects, map: &mut Map<String, Value>, kind: &str) {
    let intent = if kind == "payment_intent" {
        map.get("id")
    } else {
        map.get("payment_intent")
    }
    .and_then(Value::as_str)
    .map(str::to_owned);
    let Some(intent) = intent else {
        return;
    };
    let invoice = objects
        .invoice_payments
        .newest_first()
        .find(|p| p["payment"]["payment_intent"] == intent.as_str())
        .map(|p| p["invoice"].clone());
    if let Some(invoice) = invoice {
        hint(map, "invoice", invoice);
    }
    if kind == "payment_intent" {
        let mut charges: Vec<Value> = objects
            .charges
            .newest_first()
            .filter(|c| c["payment_intent"] == intent.as_str())
            .cloned()
            .collect();
        charges.iter_mut().for_each(|c| add_hints(objects, c));
        hint(map, "charges", json!(charges));
    }
}

fn hint(map: &mut Map<String, Value>, key: &str, value: Value) {
    let sim = map.entry("_sim").or_insert_with(|| json!({}));
    if !sim.is_object() {
        *sim = json!({});
    }
    sim["render"][key] = value;
}

fn convert(value: &mut Value, date: &str, version: &str) {
    match value {
        Value::Array(items) => items.iter_mut().for_each(|v| convert(v, date, version)),
        Value::Object(map) => {
            map.values_mut().for_each(|v| convert(v, date, version));
            match map.get("object").and_then(Value::as_str).unwrap_or("") {
                "event" if version != NEWEST => {
                    map.insert("api_version".into(), json!(version));
                }
                "subscription" if date < BASIL => subscription(map),
                "invoice" if date < BASIL => invoice(map),
                "line_item" if date < BASIL && map.contains_key("invoice") => line(map),
                "invoiceitem" if date < BASIL => invoice_item(map),
                "payment_intent" | "charge" if date < BASIL => {
                    let invoice = map
                        .get("_sim")
                        .map(|s| s["render"]["invoice"].clone())
                        .unwrap_or(Value::Null);
                    map.entry("invoice").or_insert(invoice);
                    if date < CHARGES_LIST
                        && map.get("object").is_some_and(|o| o == "payment_intent")
                    {
                        payment_intent_charges(map);
                    }
                }
                "checkout.session" if date < DAHLIA => checkout_session(map),
                _ => {}
            }
        }
        _ => {}
    }
}

/// Before basil the period lived on the subscription (its first item's).
fn subscription(map: &mut Map<String, Value>) {
    let first = map
        .get("items")
        .and_then(|items| items["data"].get(0))
        .cloned()
        .unwrap_or(Value::Null);
    for field in ["current_period_start", "current_period_end"] {
        map.insert(field.into(), first[field].clone());
    }
}

/// The payment intent of an invoice: the paid invoice payment's, else the
/// newest one's, else the sim's own record of the invoice's intent.
fn invoice_intent(map: &Map<String, Value>) -> Option<String> {
    let payments = map
        .get("payments")
        .and_then(|p| p["data"].as_array())
        .cloned()
        .unwrap_or_default();
    let paid = payments.iter().find(|p| p["status"] == "paid");
    paid.or(payments.last())
        .and_then(|p| p["payment"]["payment_intent"].as_str())
        .or_else(|| map.get("_sim").and_then(|s| s["payment_intent"].as_str()))
        .map(str::to_owned)
}

fn invoice(map: &mut Map<String, Value>) {
    let details = map
        .get("parent")
        .map(|p| p["subscription_details"].clone())
        .unwrap_or(Value::Null);
    let subscription = details["subscription"].clone();
    map.insert(
        "subscription_details".into(),
        if details.is_object() {
            json!({ "metadata": details["metadata"] })
        } else {
            Value::Null
        },
    );
    map.insert("subscription".into(), subscription);
    let paid = map.get("status").is_some_and(|s| s == "paid");
    map.insert("paid".into(), json!(paid));
    map.insert("paid_out_of_band".into(), json!(false));
    map.insert("payment_intent".into(), json!(invoice_intent(map)));
    let charge = map
        .get("_sim")
        .map(|s| s["render"]["charge"].clone())
        .unwrap_or(Value::Null);
    map.insert("charge".into(), charge);
    map.entry("discount").or_insert(Value::Null);
    map.entry("tax").or_insert(Value::Null);
    map.entry("total_tax_amounts").or_insert(json!([]));
}

/// Before basil an invoice line said what it bills directly.
fn line(map: &mut Map<String, Value>) {
    let parent = map.get("parent").cloned().unwrap_or(Value::Null);
    let (kind, details) = if parent["type"] == "invoice_item_details" {
        ("invoiceitem", parent["invoice_item_details"].clone())
    } else {
        ("subscription", parent["subscription_item_details"].clone())
    };
    map.insert("type".into(), json!(kind));
    map.insert(
        "proration".into(),
        json!(details["proration"].as_bool().unwrap_or(false)),
    );
    map.insert(
        "proration_details".into(),
        if details["proration_details"].is_object() {
            details["proration_details"].clone()
        } else {
            json!({ "credited_items": null })
        },
    );
    map.insert(
        "subscription_item".into(),
        details["subscription_item"].clone(),
    );
    map.insert("invoice_item".into(), details["invoice_item"].clone());
    if !map.get("subscription").is_some_and(Value::is_string) {
        map.insert("subscription".into(), details["subscription"].clone());
    }
    let price = price_of(map);
    map.insert("plan".into(), plan_of(&price));
    map.insert("price".into(), price);
}

/// The price object a line or invoice item bills: the `_sim.render.price`
/// hint, else a stub with the id and product from `pricing`.
fn price_of(map: &Map<String, Value>) -> Value {
    if let Some(price) = map
        .get("_sim")
        .map(|s| s["render"]["price"].clone())
        .filter(Value::is_object)
    {
        return price;
    }
    let details = map
        .get("pricing")
        .map(|p| p["price_details"].clone())
        .unwrap_or(Value::Null);
    if details["price"].is_null() {
        return Value::Null;
    }
    json!({ "id": details["price"], "object": "price", "product": details["product"] })
}

/// Before 2022-11-15 a payment intent listed its charges.
fn payment_intent_charges(map: &mut Map<String, Value>) {
    let id = map
        .get("id")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_owned();
    let data = map
        .get("_sim")
        .map(|s| s["render"]["charges"].clone())
        .filter(Value::is_array)
        .unwrap_or_else(|| json!([]));
    let count = data.as_array().map_or(0, Vec::len);
    map.insert(
        "charges".into(),
        json!({ "object": "list", "data": data, "has_more": false, "total_count": count,
                "url": format!("/v1/charges?payment_intent={id}") }),
    );
}

/// Before basil a pending invoice item named its price, plan and
/// subscription directly.
fn invoice_item(map: &mut Map<String, Value>) {
    let details = map
        .get("parent")
        .map(|p| p["subscription_details"].clone())
        .unwrap_or(Value::Null);
    map.insert("subscription".into(), details["subscription"].clone());
    map.insert(
        "subscription_item".into(),
        details["subscription_item"].clone(),
    );
    let price = price_of(map);
    map.insert("plan".into(), plan_of(&price));
    map.insert("price".into(), price);
}

/// The legacy `plan` object of a recurring price.
fn plan_of(price: &Value) -> Value {
    let Some(recurring) = price["recurring"].as_object() else {
        return Value::Null;
    };
    json!({
        "id": price["id"], "object": "plan", "active": price["active"],
        "aggregate_usage": null, "amount": price["unit_amount"],
        "amount_decimal": price["unit_amount_decimal"],
        "billing_scheme": price["billing_scheme"], "created": price["created"],
        "currency": price["currency"], "interval": recurring.get("interval"),
        "interval_count": recurring.get("interval_count"), "livemode": false,
        "metadata": price["metadata"], "meter": null, "nickname": price["nickname"],
        "product": price["product"], "tiers_mode": null, "transform_usage": null,
        "trial_period_days": null, "usage_type": recurring.get("usage_type")
    })
}

/// Before dahlia Checkout's `ui_mode` values had their old names.
fn checkout_session(map: &mut Map<String, Value>) {
    let old = match map.get("ui_mode").and_then(Value::as_str) {
        Some("hosted_page") => "hosted",
        Some("embedded_page") => "embedded",
        Some("elements") => "custom",
        _ => return,
    };
    map.insert("ui_mode".into(), json!(old));
}

#[cfg(test)]
mod tests {
    use super::*;

    fn subscription() -> Value {
        json!({
            "id": "sub_1", "object": "subscription", "status": "active",
            "items": { "object": "list", "data": [
                { "id": "si_1", "object": "subscription_item",
                  "current_period_start": 100, "current_period_end": 200 }
            ]}
        })
    }

    fn invoice(status: &str) -> Value {
        json!({
            "id": "in_1", "object": "invoice", "status": status,
            "parent": { "type": "subscription_details",
                "subscription_details": { "subscription": "sub_1", "metadata": {"k": "v"} } },
            "payments": { "object": "list", "data": [
                { "id": "inpay_1", "object": "invoice_payment", "status": "paid",
                  "payment": { "type": "payment_intent", "payment_intent": "pi_1" } }
            ]},
            "lines": { "object": "list", "data": [{
                "id": "il_1", "object": "line_item", "invoice": "in_1",
                "subscription": "sub_1",
                "parent": { "type": "subscription_item_details",
                    "subscription_item_details": { "subscription_item": "si_1",
                        "proration": true, "subscription": "sub_1", "invoice_item": null } },
                "pricing": { "type": "price_details",
                    "price_details": { "price": "price_1", "product": "prod_1" } }
            }]}
        })
    }

    #[test]
    fn versions_are_checked() {
        for good in [
            "2025-03-31.basil",
            "2020-08-27",
            "2024-09-30.acacia; checkout_beta=v1",
            "2026-10-28.endive",
        ] {
            assert!(version_date(good).is_ok(), "{good}");
        }
        for bad in [
            "2019-12-03",
            "yesterday",
            "2025-3-31",
            "",
            "2025-03-31.Basil",
        ] {
            let err = version_date(bad).expect_err(bad);
            assert_eq!(err.status, 400);
            assert!(err.message.contains(bad), "{}", err.message);
        }
    }

    #[test]
    fn subscription_periods_return_before_basil() {
        let old = render(&subscription(), "2024-06-20");
        assert_eq!(old["current_period_start"], 100);
        assert_eq!(old["current_period_end"], 200);
        let new = render(&subscription(), "2025-03-31.basil");
        assert_eq!(new, subscription());
    }

    #[test]
    fn invoice_fields_return_before_basil() {
        let old = render(&invoice("paid"), "2025-02-24.acacia");
        assert_eq!(old["subscription"], "sub_1");
        assert_eq!(old["subscription_details"], json!({"metadata": {"k": "v"}}));
        assert_eq!(old["paid"], true);
        assert_eq!(old["payment_intent"], "pi_1");
        assert!(old["charge"].is_null());
        let line = &old["lines"]["data"][0];
        assert_eq!(line["type"], "subscription");
        assert_eq!(line["proration"], true);
        assert_eq!(line["subscription_item"], "si_1");
        assert_eq!(line["price"]["id"], "price_1");
        assert_eq!(render(&invoice("open"), "2024-06-20")["paid"], false);
        assert!(render(&invoice("paid"), "2025-03-31.basil")
            .get("paid")
            .is_none());
    }

    #[test]
    fn hints_fill_charge_and_price() {
        let mut objects = Objects::default();
        objects.payment_intents.insert(
            "pi_1".into(),
            json!({"id": "pi_1", "object": "payment_intent", "latest_charge": "ch_1"}),
        );
        objects.prices.insert(
            "price_1".into(),
            json!({"id": "price_1", "object": "price", "unit_amount": 500,
                   "recurring": {"interval": "month", "interval_count": 1, "usage_type": "licensed"}}),
        );
        let old = render_in(&objects, &invoice("paid"), "2024-06-20");
        assert_eq!(old["charge"], "ch_1");
        let line = &old["lines"]["data"][0];
        assert_eq!(line["price"]["unit_amount"], 500);
        assert_eq!(line["plan"]["object"], "plan");
        assert_eq!(line["plan"]["amount"], 500);
        assert_eq!(line["plan"]["interval"], "month");
    }

    #[test]
    fn payment_intents_name_their_invoice_and_list_charges_in_old_versions() {
        let mut objects = Objects::default();
        objects.invoice_payments.insert(
            "inpay_1".into(),
            json!({"id": "inpay_1", "object": "invoice_payment", "invoice": "in_1",
                   "payment": {"type": "payment_intent", "payment_intent": "pi_1"}}),
        );
        objects.charges.insert(
            "ch_1".into(),
            json!({"id": "ch_1", "object": "charge", "payment_intent": "pi_1"}),
        );
        let intent = json!({"id": "pi_1", "object": "payment_intent", "latest_charge": "ch_1"});
        let acacia = render_in(&objects, &intent, "2024-06-20");
        assert_eq!(acacia["invoice"], "in_1");
        assert!(acacia.get("charges").is_none());
        let old = render_in(&objects, &intent, "2020-08-27");
        assert_eq!(old["charges"]["object"], "list");
        assert_eq!(old["charges"]["data"][0]["id"], "ch_1");
        assert_eq!(old["charges"]["data"][0]["invoice"], "in_1");
        let basil = render_in(&objects, &intent, "2025-03-31.basil");
        assert!(basil.get("invoice").is_none());
        let item = json!({"id": "ii_1", "object": "invoiceitem",
            "parent": {"type": "subscription_details",
                "subscription_details": {"subscription": "sub_1", "subscription_item": "si_1"}},
            "pricing": {"price_details": {"price": "price_9", "product": "prod_9"}}});
        let old_item = render(&item, "2024-06-20");
        assert_eq!(old_item["subscription"], "sub_1");
        assert_eq!(old_item["subscription_item"], "si_1");
        assert_eq!(old_item["price"]["id"], "price_9");
    }

    #[test]
    fn checkout_ui_mode_and_event_version() {
        let session = json!({"object": "checkout.session", "ui_mode": "hosted_page"});
        assert_eq!(render(&session, "2025-09-30.clover")["ui_mode"], "hosted");
        assert_eq!(
            render(&session, "2026-03-25.dahlia")["ui_mode"],
            "hosted_page"
        );
        let event = json!({"object": "event", "api_version": "2025-03-31.basil",
            "data": {"object": subscription()}});
        let old = render(&event, "2024-06-20");
        assert_eq!(old["api_version"], "2024-06-20");
        assert_eq!(old["data"]["object"]["current_period_end"], 200);
    }
}
