//! `/v1/payment_intents`: create (optionally confirming), retrieve, update,
//! confirm, capture, cancel and list.

use axum::extract::{Path, State};
use axum::Json;
use serde_json::{json, Value};

use super::intents::{self, NewIntent, CONFIRMABLE};
use super::payment_error::PayError;
use super::payment_methods;
use crate::error::StripeError;
use crate::events::Cause;
use crate::list::{matching, page, Created, LIST_PARAMS};
use crate::params::{or_null, Params};
use crate::state::{Objects, Sim};

const CREATE: &[&str] = &[
    "amount",
    "currency",
    "customer",
    "payment_method",
    "confirm",
    "off_session",
    "description",
    "metadata",
    "receipt_email",
    "setup_future_usage",
    "capture_method",
    "automatic_payment_methods",
    "payment_method_types",
    "confirmation_method",
    "return_url",
    "statement_descriptor",
    "statement_descriptor_suffix",
    "error_on_requires_action",
    "expand",
];

const UPDATE: &[&str] = &[
    "amount",
    "currency",
    "customer",
    "payment_method",
    "description",
    "metadata",
    "receipt_email",
    "setup_future_usage",
    "capture_method",
    "statement_descriptor",
    "statement_descriptor_suffix",
    "expand",
];

const CONFIRM: &[&str] = &[
    "payment_method",
    "off_session",
    "receipt_email",
    "setup_future_usage",
    "return_url",
    "capture_method",
    "error_on_requires_action",
    "expand",
];

fn one_of(params: &Params, name: &str, allowed: &[&str]) -> Result<Option<String>, StripeError> {
    match params.string(name)?.filter(|s| !s.is_empty()) {
        Some(v) if !allowed.contains(&v.as_str()) => Err(StripeError::invalid(format!(
            "Invalid {name}: must be one of {}",
            allowed.join(", ")
        ))
        .with_param(name)),
        other => Ok(other),
    }
}

/// Stripe's minimum charge (50 of the smallest unit for most currencies).
fn check_amount(amount: i64, currency: &str) -> Result<(), StripeError> {
    if amount < 50 && !matches!(currency, "jpy" | "krw" | "vnd" | "clp" | "isk") || amount < 1 {
        return Err(StripeError::invalid(format!(
            "Amount must be at least 50 (in the smallest {currency} unit)."
        ))
        .with_code("amount_too_small")
        .with_param("amount"));
    }
    if amount > 99_999_999 {
        return Err(
            StripeError::invalid("Amount must be no more than 99999999.")
                .with_code("amount_too_large")
                .with_param("amount"),
        );
    }
    Ok(())
}

fn check_customer(objects: &Objects, customer: Option<&str>) -> Result<(), StripeError> {
    match customer {
        Some(c) if objects.customers.get(c).is_none() => {
            Err(StripeError::no_such("customer", c, "customer").with_status_400())
        }
        _ => Ok(()),
    }
}

pub async fn create(
    State(sim): State<Sim>,
    cause: Cause,
    params: Params,
) -> Result<Json<Value>, PayError> {
    params.only(CREATE)?;
    let amount = params
        .integer("amount")?
        .ok_or_else(|| StripeError::missing_param("amount"))?;
    let currency = params.required("currency")?.to_ascii_lowercase();
    check_amount(amount, &currency)?;
    let customer = params.string("customer")?.filter(|s| !s.is_empty());
    let confirm = params.boolean("confirm")?.unwrap_or(false);
    let off_session = params.boolean("off_session")?.unwrap_or(false);
    if params.0.contains_key("off_session") && !confirm {
        return Err(StripeError::invalid(
            "You can only pass `off_session` when `confirm` is `true`.",
        )
        .with_param("off_session")
        .into());
    }
    let automatic = match params.hash("automatic_payment_methods")? {
        Some(apm) => apm.boolean("enabled")?.unwrap_or(false),
        None => false,
    };
    let mut metadata = json!({});
    params.apply_metadata(&mut metadata)?;
    let new = NewIntent {
        amount,
        currency,
        customer: customer.clone(),
        description: params.string("description")?.filter(|s| !s.is_empty()),
        metadata: metadata["metadata"].clone(),
        capture_method: one_of(
            &params,
            "capture_method",
            &["automatic", "automatic_async", "manual"],
        )?,
        setup_future_usage: one_of(
            &params,
            "setup_future_usage",
            &["on_session", "off_session"],
        )?,
        receipt_email: params.string("receipt_email")?.filter(|s| !s.is_empty()),
        automatic_payment_methods: automatic,
    };
    let mut objects = sim.objects();
    check_customer(&objects, customer.as_deref())?;
    let pm = match params.string("payment_method")?.filter(|s| !s.is_empty()) {
        Some(pm) => Some(payment_methods::resolve(
            &mut objects,
            &pm,
            "payment_method",
        )?),
        None => None,
    };
    let at = objects.now_for_customer(customer.as_deref());
    let mut intent = intents::build(at, new);
    if let Some(pm) = &pm {
        intent["payment_method"] = json!(pm);
        intent["status"] = json!("requires_confirmation");
    }
    intents::insert(&mut objects, &cause, at, &intent);
    let id = intent["id"].as_str().unwrap_or_default().to_owned();
    match (confirm, pm) {
        (false, _) => Ok(Json(intent)),
        (true, None) => Err(missing_payment_method(&id).into()),
        (true, Some(pm)) => {
            intents::confirm(&mut objects, &cause, at, &id, &pm, off_session).map(Json)
        }
    }
}

fn missing_payment_method(id: &str) -> StripeError {
    StripeError::invalid(format!(
        "You cannot confirm this PaymentIntent ({id}) because it's missing a payment method. Pass `payment_method`."
    ))
    .with_code("payment_intent_unexpected_state")
    .with_param("payment_method")
}

pub async fn retrieve(
    State(sim): State<Sim>,
    Path(id): Path<String>,
    params: Params,
) -> Result<Json<Value>, StripeError> {
    params.only(&["expand", "client_secret"])?;
    sim.objects()
        .payment_intents
        .get(&id)
        .cloned()
        .map(Json)
        .ok_or_else(|| StripeError::no_such("payment_intent", &id, "id"))
}

pub async fn update(
    State(sim): State<Sim>,
    Path(id): Path<String>,
    params: Params,
) -> Result<Json<Value>, StripeError> {
    params.only(UPDATE)?;
    let mut objects = sim.objects();
    let before = objects
        .payment_intents
        .get(&id)
        .cloned()
        .ok_or_else(|| StripeError::no_such("payment_intent", &id, "id"))?;
    let status = before["status"].as_str().unwrap_or("").to_owned();
    let changes_payment = [
        "amount",
        "currency",
        "customer",
        "payment_method",
        "capture_method",
    ]
    .iter()
    .any(|p| params.0.contains_key(*p));
    if changes_payment && !CONFIRMABLE.contains(&status.as_str()) {
        return Err(StripeError::invalid(format!(
            "This PaymentIntent's amount, currency, customer or payment method could not be updated because it has a status of {status}."
        ))
        .with_code("payment_intent_unexpected_state"));
    }
    let mut after = before.clone();
    let currency = params
        .string("currency")?
        .map(|c| c.to_ascii_lowercase())
        .unwrap_or_else(|| before["currency"].as_str().unwrap_or("usd").to_owned());
    after["currency"] = json!(currency);
    if let Some(amount) = params.integer("amount")? {
        check_amount(amount, &currency)?;
        after["amount"] = json!(amount);
    }
    if let Some(customer) = params.string("customer")? {
        check_customer(
            &objects,
            Some(&customer)
                .filter(|c| !c.is_empty())
                .map(String::as_str),
        )?;
        after["customer"] = or_null(Some(customer));
    }
    for field in [
        "description",
        "receipt_email",
        "statement_descriptor",
        "statement_descriptor_suffix",
    ] {
        if let Some(value) = params.string(field)? {
            after[field] = or_null(Some(value));
        }
    }
    if let Some(v) = one_of(
        &params,
        "setup_future_usage",
        &["on_session", "off_session"],
    )? {
        after["setup_future_usage"] = json!(v);
    }
    if let Some(v) = one_of(
        &params,
        "capture_method",
        &["automatic", "automatic_async", "manual"],
    )? {
        after["capture_method"] = json!(v);
    }
    params.apply_metadata(&mut after)?;
    if let Some(pm) = params.string("payment_method")?.filter(|s| !s.is_empty()) {
        let pm = payment_methods::resolve(&mut objects, &pm, "payment_method")?;
        after["payment_method"] = json!(pm);
        after["status"] = json!("requires_confirmation");
    }
    let stored = after.clone();
    objects
        .payment_intents
        .update("payment_intent", &id, |pi| {
            *pi = stored;
            Ok(())
        })?;
    Ok(Json(after))
}

pub async fn confirm(
    State(sim): State<Sim>,
    cause: Cause,
    Path(id): Path<String>,
    params: Params,
) -> Result<Json<Value>, PayError> {
    params.only(CONFIRM)?;
    let off_session = params.boolean("off_session")?.unwrap_or(false);
    let mut objects = sim.objects();
    let intent = objects
        .payment_intents
        .get(&id)
        .cloned()
        .ok_or_else(|| StripeError::no_such("payment_intent", &id, "id"))?;
    let status = intent["status"].as_str().unwrap_or("").to_owned();
    if !CONFIRMABLE.contains(&status.as_str()) {
        return Err(intents::unexpected_state("confirm", &status, CONFIRMABLE).into());
    }
    let pm = match params.string("payment_method")?.filter(|s| !s.is_empty()) {
        Some(pm) => payment_methods::resolve(&mut objects, &pm, "payment_method")?,
        None => intent["payment_method"]
            .as_str()
            .map(str::to_owned)
            .ok_or_else(|| missing_payment_method(&id))?,
    };
    let setup = one_of(
        &params,
        "setup_future_usage",
        &["on_session", "off_session"],
    )?;
    let capture = one_of(
        &params,
        "capture_method",
        &["automatic", "automatic_async", "manual"],
    )?;
    let receipt = params.string("receipt_email")?;
    objects
        .payment_intents
        .update("payment_intent", &id, |pi| {
            if let Some(v) = setup {
                pi["setup_future_usage"] = json!(v);
            }
            if let Some(v) = capture {
                pi["capture_method"] = json!(v);
            }
            if receipt.is_some() {
                pi["receipt_email"] = or_null(receipt);
            }
            Ok(())
        })?;
    let at = objects.now_for_customer(intent["customer"].as_str());
    intents::confirm(&mut objects, &cause, at, &id, &pm, off_session).map(Json)
}

pub async fn capture(
    State(sim): State<Sim>,
    cause: Cause,
    Path(id): Path<String>,
    params: Params,
) -> Result<Json<Value>, StripeError> {
    params.only(&["amount_to_capture", "metadata", "expand"])?;
    let amount = params.integer("amount_to_capture")?;
    let mut objects = sim.objects();
    let after = intents::capture(&mut objects, &cause, &id, amount)?;
    if params.0.contains_key("metadata") {
        return objects
            .payment_intents
            .update("payment_intent", &id, |pi| params.apply_metadata(pi))
            .map(Json);
    }
    Ok(Json(after))
}

pub async fn cancel(
    State(sim): State<Sim>,
    cause: Cause,
    Path(id): Path<String>,
    params: Params,
) -> Result<Json<Value>, StripeError> {
    params.only(&["cancellation_reason", "expand"])?;
    let reason = one_of(
        &params,
        "cancellation_reason",
        &[
            "duplicate",
            "fraudulent",
            "requested_by_customer",
            "abandoned",
        ],
    )?;
    let mut objects = sim.objects();
    let customer = objects
        .payment_intents
        .get(&id)
        .and_then(|pi| pi["customer"].as_str().map(str::to_owned));
    let at = objects.now_for_customer(customer.as_deref());
    intents::cancel(&mut objects, &cause, at, &id, reason.as_deref()).map(Json)
}

pub async fn list(State(sim): State<Sim>, params: Params) -> Result<Json<Value>, StripeError> {
    let allowed: Vec<&str> = LIST_PARAMS.iter().copied().chain(["customer"]).collect();
    params.only(&allowed)?;
    let customer = params.string("customer")?;
    let created = Created::from_params(&params)?;
    let items = matching(&sim.objects().payment_intents, &created, |pi| {
        customer.as_deref().is_none_or(|c| pi["customer"] == c)
    });
    page(&items, &params, "/v1/payment_intents").map(Json)
}
