//! `/v1/checkout/sessions`: create (with Stripe's validation of modes and
//! line items), retrieve, list and line items.
//!
//! Line items and the `subscription_data` / `payment_intent_data` the
//! session was created with are kept privately under `_sim`, for the
//! hosted page that completes the session.

use axum::extract::{Path, State};
use axum::Json;
use serde_json::{json, Value};

use super::checkout_items::{check_mode, line_items, nested};
use crate::error::StripeError;
use crate::ids::{new_id, CHECKOUT_SESSION};
use crate::list::{matching, page, Created, LIST_PARAMS};
use crate::params::{or_null, Params};
use crate::state::Sim;

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
    // Stripe always sends `metadata` as a map, `{}` when none was given.
    let mut metadata = json!({ "metadata": {} });
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
