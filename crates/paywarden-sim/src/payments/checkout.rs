//! `/v1/checkout/sessions`: create (with Stripe's validation of modes and
//! line items), retrieve, list, expire and line items; and expiry when
//! `expires_at` passes.
//!
//! Line items and the `subscription_data` / `payment_intent_data` the
//! session was created with are kept privately under `_sim`, for the
//! hosted page that completes the session.

use axum::extract::{Path, State};
use axum::Json;
use serde_json::{json, Value};

use super::intents;
use crate::error::StripeError;
use crate::events::Cause;
use crate::ids::{new_id, CHECKOUT_LINE_ITEM, CHECKOUT_SESSION, PRICE, PRODUCT};
use crate::list::{matching, page, Created, LIST_PARAMS};
use crate::params::{or_null, Params};
use crate::state::{Objects, Sim};

const CREATE: &[&str] = &[
    "mode",
    "line_items",
    "success_url",
    "cancel_url",
    "return_url",
    "customer",
    "customer_email",
    "client_reference_id",
    "metadata",
    "subscription_data",
    "payment_intent_data",
    "expires_at",
    "ui_mode",
    "allow_promotion_codes",
    "customer_creation",
    "payment_method_types",
    "allowed_payment_method_types",
    "payment_method_collection",
    "billing_address_collection",
    "locale",
    "submit_type",
    "currency",
    "customer_update",
    "automatic_tax",
    "discounts",
    "invoice_creation",
    "phone_number_collection",
    "tax_id_collection",
    "consent_collection",
    "custom_text",
    "redirect_on_completion",
    "expand",
];

const MIN_LIFETIME: i64 = 30 * 60;
const MAX_LIFETIME: i64 = 24 * 3600;

/// One validated line item, and the inline price/product it brings.
struct Item {
    line: Value,
    new_price: Option<Value>,
    new_product: Option<Value>,
}

fn item_param(i: usize, field: &str) -> String {
    format!("line_items[{i}][{field}]")
}

/// Renames an error about `field` inside a hash to its full name.
fn nested(prefix: String) -> impl Fn(StripeError) -> StripeError {
    move |e| {
        let param = e.param.clone().unwrap_or_default();
        let full = match param.find('[') {
            Some(at) => format!("{prefix}[{}]{}", &param[..at], &param[at..]),
            None => format!("{prefix}[{param}]"),
        };
        if e.code == Some("parameter_unknown") {
            StripeError::unknown_param(&full)
        } else if e.code == Some("parameter_missing") {
            StripeError::missing_param(&full)
        } else {
            e.with_param(full)
        }
    }
}

fn inline_price(
    objects: &Objects,
    i: usize,
    data: &Params,
    at: i64,
) -> Result<(Value, Option<Value>), StripeError> {
    let prefix = item_param(i, "price_data");
    let rename = nested(prefix.clone());
    data.only(&[
        "currency",
        "unit_amount",
        "unit_amount_decimal",
        "product",
        "product_data",
        "recurring",
        "tax_behavior",
    ])
    .map_err(&rename)?;
    let currency = data.required("currency").map_err(&rename)?;
    let unit_amount = match data.integer("unit_amount").map_err(&rename)? {
        Some(n) => n,
        None => data
            .string("unit_amount_decimal")
            .map_err(&rename)?
            .and_then(|d| d.split('.').next().and_then(|n| n.parse().ok()))
            .ok_or_else(|| StripeError::missing_param(&format!("{prefix}[unit_amount]")))?,
    };
    if unit_amount < 0 {
        return Err(StripeError::invalid(
            "Invalid non-negative integer: unit_amount must be at least 0",
        )
        .with_param(format!("{prefix}[unit_amount]")));
    }
    let (product_id, new_product) = match (
        data.string("product").map_err(&rename)?,
        data.hash("product_data").map_err(&rename)?,
    ) {
        (Some(p), None) if !p.is_empty() => {
            if objects.products.get(&p).is_none() {
                return Err(
                    StripeError::no_such("product", &p, &format!("{prefix}[product]"))
                        .with_status_400(),
                );
            }
            (p, None)
        }
        (None, Some(pd)) => {
            let rename = nested(format!("{prefix}[product_data]"));
            pd.only(&["name", "description", "metadata", "images", "tax_code"])
                .map_err(&rename)?;
            let name = pd.required("name").map_err(&rename)?;
            let id = new_id(PRODUCT);
            let mut product = json!({
                "id": id, "object": "product", "active": true, "created": at, "livemode": false,
                "name": name, "description": or_null(pd.string("description")?),
                "metadata": {}, "images": [], "type": "service", "default_price": null,
                "marketing_features": [], "package_dimensions": null, "shippable": null,
                "statement_descriptor": null, "tax_code": null, "unit_label": null,
                "updated": at, "url": null,
            });
            pd.apply_metadata(&mut product).map_err(&rename)?;
            (id, Some(product))
        }
        (Some(_), Some(_)) => {
            return Err(StripeError::invalid(
                "You may only specify one of these parameters: product, product_data.",
            )
            .with_param(format!("{prefix}[product_data]")))
        }
        _ => return Err(StripeError::missing_param(&format!("{prefix}[product]"))),
    };
    let recurring = match data.hash("recurring").map_err(&rename)? {
        None => Value::Null,
        Some(r) => {
            let rename = nested(format!("{prefix}[recurring]"));
            r.only(&["interval", "interval_count"]).map_err(&rename)?;
            let interval = r.required("interval").map_err(&rename)?;
            if !["day", "week", "month", "year"].contains(&interval.as_str()) {
                return Err(StripeError::invalid(
                    "Invalid recurring[interval]: must be one of day, week, month, or year",
                )
                .with_param(format!("{prefix}[recurring][interval]")));
            }
            let count = r.integer("interval_count").map_err(&rename)?.unwrap_or(1);
            json!({ "interval": interval, "interval_count": count.max(1),
                    "usage_type": "licensed", "meter": null, "trial_period_days": null })
        }
    };
    let price = json!({
        "id": new_id(PRICE), "object": "price", "active": false, "created": at,
        "livemode": false, "currency": currency.to_ascii_lowercase(), "product": product_id,
        "type": if recurring.is_null() { "one_time" } else { "recurring" },
        "unit_amount": unit_amount, "unit_amount_decimal": unit_amount.to_string(),
        "billing_scheme": "per_unit", "recurring": recurring, "lookup_key": null,
        "nickname": null, "metadata": {}, "tax_behavior": "unspecified", "tiers_mode": null,
        "transform_quantity": null, "custom_unit_amount": null,
    });
    Ok((price, new_product))
}

fn line_item(objects: &Objects, i: usize, raw: &Value, at: i64) -> Result<Item, StripeError> {
    let Value::Object(map) = raw else {
        return Err(
            StripeError::invalid(format!("Invalid hash: line_items[{i}]"))
                .with_param(format!("line_items[{i}]")),
        );
    };
    let item = Params(map.clone());
    let rename = nested(format!("line_items[{i}]"));
    item.only(&[
        "price",
        "price_data",
        "quantity",
        "adjustable_quantity",
        "tax_rates",
    ])
    .map_err(&rename)?;
    let quantity = item
        .integer("quantity")
        .map_err(&rename)?
        .ok_or_else(|| StripeError::missing_param(&item_param(i, "quantity")))?;
    if quantity < 1 {
        return Err(
            StripeError::invalid("Invalid positive integer: quantity must be at least 1")
                .with_param(item_param(i, "quantity")),
        );
    }
    let (price, new_product) = match (
        item.string("price").map_err(&rename)?,
        item.hash("price_data").map_err(&rename)?,
    ) {
        (Some(id), None) if !id.is_empty() => {
            let param = item_param(i, "price");
            let price = objects
                .prices
                .get(&id)
                .cloned()
                .ok_or_else(|| StripeError::no_such("price", &id, &param).with_status_400())?;
            if price["active"] != true {
                return Err(StripeError::invalid(format!(
                    "The price specified ({id}) is inactive. This field only accepts active prices."
                ))
                .with_param(param));
            }
            (price, None)
        }
        (None, Some(data)) => {
            let (price, product) = inline_price(objects, i, &data, at)?;
            (price, product)
        }
        (Some(_), Some(_)) => {
            return Err(StripeError::invalid(
                "You may only specify one of these parameters: price, price_data.",
            )
            .with_param(item_param(i, "price_data")))
        }
        _ => return Err(StripeError::missing_param(&item_param(i, "price"))),
    };
    let product_name = new_product
        .as_ref()
        .map(|p| p["name"].clone())
        .or_else(|| {
            price["product"]
                .as_str()
                .and_then(|p| objects.products.get(p))
                .map(|p| p["name"].clone())
        })
        .unwrap_or(Value::Null);
    let amount = price["unit_amount"]
        .as_i64()
        .unwrap_or(0)
        .saturating_mul(quantity);
    let line = json!({
        "id": new_id(CHECKOUT_LINE_ITEM), "object": "item",
        "amount_discount": 0, "amount_subtotal": amount, "amount_tax": 0, "amount_total": amount,
        "currency": price["currency"], "description": product_name, "metadata": {},
        "price": price, "quantity": quantity,
    });
    let new_price = if new_product.is_some() || price["active"] == false {
        Some(line["price"].clone())
    } else {
        None
    };
    Ok(Item {
        line,
        new_price,
        new_product,
    })
}

fn line_items(objects: &Objects, params: &Params, at: i64) -> Result<Vec<Item>, StripeError> {
    let raw = match params.0.get("line_items") {
        None => return Ok(Vec::new()),
        Some(Value::Array(items)) => items.clone(),
        Some(_) => {
            return Err(StripeError::invalid("Invalid array: line_items").with_param("line_items"))
        }
    };
    raw.iter()
        .enumerate()
        .map(|(i, item)| line_item(objects, i, item, at))
        .collect()
}

/// Checks line items against the mode, as Stripe does.
fn check_mode(mode: &str, items: &[Item]) -> Result<(), StripeError> {
    if items.is_empty() {
        return Err(StripeError::missing_param("line_items"));
    }
    let recurring = items.iter().any(|i| i.line["price"]["type"] == "recurring");
    if mode == "payment" && recurring {
        return Err(StripeError::invalid(
            "You specified `payment` mode but passed a recurring price. Either switch to `subscription` mode or use only one-time prices.",
        )
        .with_param("line_items"));
    }
    if mode == "subscription" && !recurring {
        return Err(StripeError::invalid(
            "You must provide at least one recurring price in `subscription` mode when using prices.",
        )
        .with_param("line_items"));
    }
    let mut intervals = items
        .iter()
        .map(|i| &i.line["price"]["recurring"])
        .filter(|r| !r.is_null())
        .map(|r| (&r["interval"], &r["interval_count"]));
    if let Some(first) = intervals.next() {
        if intervals.any(|other| other != first) {
            return Err(StripeError::invalid(
                "All recurring prices in a Checkout Session must have the same billing interval.",
            )
            .with_param("line_items"));
        }
    }
    let currency = &items[0].line["currency"];
    if items.iter().any(|i| &i.line["currency"] != currency) {
        return Err(
            StripeError::invalid("All line items must use the same currency.")
                .with_param("line_items"),
        );
    }
    Ok(())
}

fn check_url(params: &Params, name: &str) -> Result<Option<String>, StripeError> {
    let Some(url) = params.string(name)?.filter(|s| !s.is_empty()) else {
        return Ok(None);
    };
    let valid = url::Url::parse(&url.replace("{CHECKOUT_SESSION_ID}", "x"))
        .is_ok_and(|u| u.scheme() == "http" || u.scheme() == "https");
    if !valid {
        return Err(StripeError::invalid("Not a valid URL")
            .with_code("url_invalid")
            .with_param(name));
    }
    Ok(Some(url))
}

/// `subscription_data` (subscription mode) as kept for completion.
fn subscription_data(params: &Params, at: i64) -> Result<Value, StripeError> {
    let Some(data) = params.hash("subscription_data")? else {
        return Ok(json!({ "metadata": {} }));
    };
    let rename = nested("subscription_data".to_owned());
    data.only(&[
        "trial_period_days",
        "trial_end",
        "metadata",
        "description",
        "trial_settings",
        "default_tax_rates",
        "billing_cycle_anchor",
        "proration_behavior",
    ])
    .map_err(&rename)?;
    let days = data.integer("trial_period_days").map_err(&rename)?;
    if days.is_some_and(|d| !(1..=730).contains(&d)) {
        return Err(
            StripeError::invalid("Invalid trial_period_days: must be between 1 and 730")
                .with_param("subscription_data[trial_period_days]"),
        );
    }
    let trial_end = data.integer("trial_end").map_err(&rename)?;
    if trial_end.is_some_and(|e| e < at + 2 * 24 * 3600) {
        return Err(StripeError::invalid(
            "The `trial_end` date has to be at least 2 days in the future.",
        )
        .with_param("subscription_data[trial_end]"));
    }
    let mut kept = json!({
        "trial_period_days": days, "trial_end": trial_end,
        "description": or_null(data.string("description").map_err(&rename)?),
    });
    data.apply_metadata(&mut kept).map_err(&rename)?;
    if !kept["metadata"].is_object() {
        kept["metadata"] = json!({});
    }
    Ok(kept)
}

/// `payment_intent_data` (payment mode) as kept for completion.
fn payment_intent_data(params: &Params) -> Result<Value, StripeError> {
    let Some(data) = params.hash("payment_intent_data")? else {
        return Ok(json!({ "metadata": {} }));
    };
    let rename = nested("payment_intent_data".to_owned());
    data.only(&[
        "metadata",
        "description",
        "setup_future_usage",
        "capture_method",
        "receipt_email",
        "statement_descriptor",
    ])
    .map_err(&rename)?;
    let mut kept = json!({
        "description": or_null(data.string("description").map_err(&rename)?),
        "setup_future_usage": or_null(data.string("setup_future_usage").map_err(&rename)?),
        "capture_method": or_null(data.string("capture_method").map_err(&rename)?),
        "receipt_email": or_null(data.string("receipt_email").map_err(&rename)?),
    });
    data.apply_metadata(&mut kept).map_err(&rename)?;
    if !kept["metadata"].is_object() {
        kept["metadata"] = json!({});
    }
    Ok(kept)
}

/// Parameters the sim accepts but has nothing behind: `customer_update`
/// needs a `customer`; coupons do not exist in the sim, so any
/// `discounts[i][coupon]` is unknown.
fn check_extras(
    params: &Params,
    has_customer: bool,
    promotion_codes: bool,
) -> Result<(), StripeError> {
    if params.0.contains_key("customer_update") && !has_customer {
        return Err(
            StripeError::invalid("`customer_update` can only be used with `customer`.")
                .with_param("customer_update"),
        );
    }
    if let Some(discounts) = params.0.get("discounts") {
        if promotion_codes {
            return Err(StripeError::invalid(
                "You may only specify one of these parameters: allow_promotion_codes, discounts.",
            )
            .with_param("discounts"));
        }
        let first = discounts
            .as_array()
            .and_then(|d| d.first())
            .and_then(|d| d["coupon"].as_str().or(d["promotion_code"].as_str()))
            .unwrap_or("");
        if !first.is_empty() {
            return Err(
                StripeError::no_such("coupon", first, "discounts[0][coupon]").with_status_400(),
            );
        }
    }
    Ok(())
}

fn ui_mode(params: &Params) -> Result<&'static str, StripeError> {
    Ok(match params.string("ui_mode")?.as_deref() {
        None | Some("" | "hosted" | "hosted_page") => "hosted_page",
        Some("embedded" | "embedded_page") => "embedded_page",
        Some("custom" | "elements") => "elements",
        Some("form") => "form",
        Some(other) => {
            return Err(StripeError::invalid(format!(
                "Invalid ui_mode: must be one of hosted_page, embedded_page, elements or form (got '{other}')"
            ))
            .with_param("ui_mode"))
        }
    })
}

/// The session list object of `items`, for `line_items` expansion.
fn line_items_list(session: &Value) -> Value {
    let id = session["id"].as_str().unwrap_or_default();
    let data = session["_sim"]["line_items"].clone();
    json!({ "object": "list", "url": format!("/v1/checkout/sessions/{id}/line_items"),
            "has_more": false, "data": data })
}

fn with_expansions(mut session: Value, params: &Params) -> Result<Value, StripeError> {
    let expand = params.strings("expand")?.unwrap_or_default();
    if expand.iter().any(|e| e == "line_items") {
        session["line_items"] = line_items_list(&session);
    }
    Ok(session)
}

pub async fn create(State(sim): State<Sim>, params: Params) -> Result<Json<Value>, StripeError> {
    params.only(CREATE)?;
    let mode = params.required("mode")?;
    if !["payment", "subscription"].contains(&mode.as_str()) {
        let message = if mode == "setup" {
            "paywarden-sim does not support `setup` mode yet.".to_owned()
        } else {
            format!("Invalid mode: must be one of payment, setup, or subscription (got '{mode}')")
        };
        return Err(StripeError::invalid(message).with_param("mode"));
    }
    let ui_mode = ui_mode(&params)?;
    let success_url = check_url(&params, "success_url")?;
    let cancel_url = check_url(&params, "cancel_url")?;
    let return_url = check_url(&params, "return_url")?;
    if ui_mode == "hosted_page" && success_url.is_none() {
        return Err(StripeError::missing_param("success_url"));
    }
    if ui_mode != "hosted_page" && return_url.is_none() && success_url.is_none() {
        return Err(StripeError::missing_param("return_url"));
    }
    let customer = params.string("customer")?.filter(|s| !s.is_empty());
    let customer_email = params.string("customer_email")?.filter(|s| !s.is_empty());
    if customer.is_some() && customer_email.is_some() {
        return Err(StripeError::invalid(
            "You may only specify one of these parameters: customer, customer_email.",
        )
        .with_param("customer_email"));
    }
    if let Some(email) = &customer_email {
        if !email.contains('@') {
            return Err(
                StripeError::invalid(format!("Invalid email address: {email}"))
                    .with_code("email_invalid")
                    .with_param("customer_email"),
            );
        }
    }
    let customer_creation = params
        .string("customer_creation")?
        .filter(|s| !s.is_empty());
    if let Some(creation) = &customer_creation {
        if mode != "payment" {
            return Err(StripeError::invalid(
                "`customer_creation` can only be used in `payment` mode.",
            )
            .with_param("customer_creation"));
        }
        if !["always", "if_required"].contains(&creation.as_str()) {
            return Err(StripeError::invalid(
                "Invalid customer_creation: must be one of always or if_required",
            )
            .with_param("customer_creation"));
        }
    }
    if params.0.contains_key("subscription_data") && mode != "subscription" {
        return Err(StripeError::invalid(
            "You can only specify `subscription_data` in `subscription` mode.",
        )
        .with_param("subscription_data"));
    }
    if params.0.contains_key("payment_intent_data") && mode != "payment" {
        return Err(StripeError::invalid(
            "You can only specify `payment_intent_data` in `payment` mode.",
        )
        .with_param("payment_intent_data"));
    }
    let reference = params
        .string("client_reference_id")?
        .filter(|s| !s.is_empty());
    if reference.as_ref().is_some_and(|r| r.chars().count() > 200) {
        return Err(StripeError::invalid(
            "Invalid client_reference_id: must be at most 200 characters",
        )
        .with_param("client_reference_id"));
    }
    let allow_promotion_codes = params.boolean("allow_promotion_codes")?;
    check_extras(
        &params,
        customer.is_some(),
        allow_promotion_codes == Some(true),
    )?;
    let automatic_tax = match params.hash("automatic_tax")? {
        Some(tax) => tax
            .boolean("enabled")
            .map_err(|e| e.with_param("automatic_tax[enabled]"))?
            .unwrap_or(false),
        None => false,
    };
    let expires_at = params.integer("expires_at")?;
    let mut metadata = json!({});
    params.apply_metadata(&mut metadata)?;
    let intent_data = payment_intent_data(&params)?;

    let mut objects = sim.objects();
    if let Some(c) = &customer {
        if objects.customers.get(c).is_none() {
            return Err(StripeError::no_such("customer", c, "customer").with_status_400());
        }
    }
    let clock = customer
        .as_deref()
        .and_then(|c| objects.clock_of_customer(c));
    let at = objects.now_on(clock.as_deref());
    let sub_data = subscription_data(&params, at)?;
    let items = line_items(&objects, &params, at)?;
    check_mode(&mode, &items)?;
    let expires_at = match expires_at {
        None => at + MAX_LIFETIME,
        Some(e) if e < at + MIN_LIFETIME => {
            return Err(StripeError::invalid(
                "The `expires_at` timestamp must be at least 30 minutes from Checkout Session creation.",
            )
            .with_param("expires_at"))
        }
        Some(e) if e > at + MAX_LIFETIME => {
            return Err(StripeError::invalid(
                "The `expires_at` timestamp must be less than 24 hours from Checkout Session creation.",
            )
            .with_param("expires_at"))
        }
        Some(e) => e,
    };
    let total: i64 = items
        .iter()
        .map(|i| i.line["amount_total"].as_i64().unwrap_or(0))
        .sum();
    let id = new_id(CHECKOUT_SESSION);
    let url = (ui_mode == "hosted_page").then(|| {
        format!(
            "{}/checkout/{id}",
            sim.settings().public_url.trim_end_matches('/')
        )
    });
    let client_secret = (ui_mode != "hosted_page").then(|| format!("{id}_secret_{}", new_id("")));
    let customer_creation = match (mode.as_str(), customer_creation) {
        ("payment", None) => Some("if_required".to_owned()),
        (_, c) => c,
    };
    let mut session = json!({
        "id": id, "object": "checkout.session",
        "after_expiration": null, "allow_promotion_codes": allow_promotion_codes,
        "amount_subtotal": total, "amount_total": total,
        "automatic_tax": { "enabled": automatic_tax, "liability": null,
                           "status": if automatic_tax { json!("complete") } else { Value::Null } },
        "billing_address_collection": or_null(params.string("billing_address_collection")?),
        "cancel_url": cancel_url, "client_reference_id": reference,
        "client_secret": client_secret, "consent": null, "consent_collection": null,
        "created": at, "currency": items[0].line["currency"], "custom_fields": [],
        "customer": customer, "customer_creation": customer_creation,
        "customer_details": null, "customer_email": customer_email,
        "expires_at": expires_at, "invoice": null, "livemode": false,
        "locale": or_null(params.string("locale")?), "metadata": metadata["metadata"],
        "mode": mode, "payment_intent": null, "payment_link": null,
    });
    let rest = json!({
        "payment_method_collection": if mode == "subscription" { json!("always") } else { Value::Null },
        "payment_method_options": { "card": { "request_three_d_secure": "automatic" } },
        "payment_method_types": ["card"], "payment_status": "unpaid",
        "phone_number_collection": { "enabled": false }, "recovered_from": null,
        "return_url": return_url, "setup_intent": null, "shipping_address_collection": null,
        "shipping_cost": null, "status": "open", "submit_type": or_null(params.string("submit_type")?),
        "subscription": null, "success_url": success_url,
        "total_details": { "amount_discount": 0, "amount_shipping": 0, "amount_tax": 0 },
        "ui_mode": ui_mode, "url": url,
        "_sim": {
            "clock": clock,
            "line_items": items.iter().map(|i| i.line.clone()).collect::<Vec<_>>(),
            "subscription_data": sub_data,
            "payment_intent_data": intent_data,
        },
    });
    if let (Some(map), Value::Object(rest)) = (session.as_object_mut(), rest) {
        map.extend(rest);
    }
    // Inline prices and products exist only once the session is valid.
    for item in items {
        if let Some(product) = item.new_product {
            let pid = product["id"].as_str().unwrap_or_default().to_owned();
            objects.products.insert(pid, product);
        }
        if let Some(price) = item.new_price {
            let pid = price["id"].as_str().unwrap_or_default().to_owned();
            objects.prices.insert(pid, price);
        }
    }
    objects.checkout_sessions.insert(id, session.clone());
    drop(objects);
    with_expansions(session, &params).map(Json)
}

pub async fn retrieve(
    State(sim): State<Sim>,
    Path(id): Path<String>,
    params: Params,
) -> Result<Json<Value>, StripeError> {
    params.only(&["expand"])?;
    let session = sim
        .objects()
        .checkout_sessions
        .get(&id)
        .cloned()
        .ok_or_else(|| StripeError::no_such("checkout.session", &id, "id"))?;
    with_expansions(session, &params).map(Json)
}

pub async fn list(State(sim): State<Sim>, params: Params) -> Result<Json<Value>, StripeError> {
    let allowed: Vec<&str> = LIST_PARAMS
        .iter()
        .copied()
        .chain([
            "customer",
            "payment_intent",
            "subscription",
            "status",
            "customer_details",
        ])
        .collect();
    params.only(&allowed)?;
    let filters: Vec<(&str, Option<String>)> =
        ["customer", "payment_intent", "subscription", "status"]
            .iter()
            .map(|f| Ok((*f, params.string(f)?)))
            .collect::<Result<_, StripeError>>()?;
    let email = match params.hash("customer_details")? {
        Some(details) => details.string("email")?,
        None => None,
    };
    let created = Created::from_params(&params)?;
    let items = matching(&sim.objects().checkout_sessions, &created, |s| {
        filters
            .iter()
            .all(|(field, want)| want.as_deref().is_none_or(|w| s[*field] == w))
            && email
                .as_deref()
                .is_none_or(|e| s["customer_details"]["email"] == e)
    });
    page(&items, &params, "/v1/checkout/sessions").map(Json)
}

pub async fn line_items_handler(
    State(sim): State<Sim>,
    Path(id): Path<String>,
    params: Params,
) -> Result<Json<Value>, StripeError> {
    params.only(&["limit", "starting_after", "ending_before", "expand"])?;
    let session = sim
        .objects()
        .checkout_sessions
        .get(&id)
        .cloned()
        .ok_or_else(|| StripeError::no_such("checkout.session", &id, "id"))?;
    let items = session["_sim"]["line_items"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    page(
        &items,
        &params,
        &format!("/v1/checkout/sessions/{id}/line_items"),
    )
    .map(Json)
}

/// Expires open session `id` at `at`: `checkout.session.expired`, then
/// the cancelation of a payment intent an earlier attempt left.
pub fn expire(
    objects: &mut Objects,
    cause: &Cause,
    at: i64,
    id: &str,
) -> Result<Value, StripeError> {
    let before = objects
        .checkout_sessions
        .get(id)
        .cloned()
        .ok_or_else(|| StripeError::no_such("checkout.session", id, "id"))?;
    let status = before["status"].as_str().unwrap_or("");
    if status != "open" {
        return Err(StripeError::invalid(format!(
            "Only Checkout Sessions with a status in [\"open\"] can be expired. This Checkout Session has a status of \"{status}\"."
        ))
        .with_code("checkout_session_unexpected_state")
        .with_param("session"));
    }
    let after = objects
        .checkout_sessions
        .update("checkout.session", id, |s| {
            s["status"] = json!("expired");
            s["url"] = Value::Null;
            Ok(())
        })?;
    objects.emit(cause, at, "checkout.session.expired", &after, None);
    let cancelable = after["payment_intent"]
        .as_str()
        .and_then(|pi| objects.payment_intents.get(pi))
        .filter(|pi| intents::CANCELABLE.iter().any(|s| pi["status"] == *s))
        .and_then(|pi| pi["id"].as_str().map(str::to_owned));
    if let Some(pi) = cancelable {
        intents::cancel(objects, cause, at, &pi, Some("abandoned"))?;
    }
    Ok(after)
}

pub async fn expire_handler(
    State(sim): State<Sim>,
    cause: Cause,
    Path(id): Path<String>,
    params: Params,
) -> Result<Json<Value>, StripeError> {
    params.only(&["expand"])?;
    let mut objects = sim.objects();
    let clock = objects
        .checkout_sessions
        .get(&id)
        .and_then(|s| s["_sim"]["clock"].as_str().map(str::to_owned));
    let at = objects.now_on(clock.as_deref());
    expire(&mut objects, &cause, at, &id).map(Json)
}

/// Expires open sessions on `clock` whose `expires_at` ≤ `until`, oldest
/// deadline first.
pub fn expire_due(objects: &mut Objects, clock: Option<&str>, until: i64) {
    let mut due: Vec<(i64, String)> = objects
        .checkout_sessions
        .newest_first()
        .filter(|s| s["status"] == "open" && s["_sim"]["clock"].as_str() == clock)
        .filter_map(|s| {
            let at = s["expires_at"].as_i64()?;
            (at <= until).then(|| (at, s["id"].as_str().unwrap_or_default().to_owned()))
        })
        .collect();
    due.sort();
    for (at, id) in due {
        // A session that is no longer open was dealt with meanwhile; there
        // is nobody to tell about it.
        if let Err(error) = expire(objects, &Cause::automatic(), at, &id) {
            tracing::debug!(%id, %error, "checkout session not expired");
        }
    }
}

/// The line items kept on a session.
pub fn items_of(session: &Value) -> Vec<Value> {
    session["_sim"]["line_items"]
        .as_array()
        .cloned()
        .unwrap_or_default()
}
