//! The payment intent state machine (Stripe §4.5): creating an intent and
//! confirming it against a test card, which makes a charge and moves the
//! intent to `succeeded`, `requires_capture`, `requires_action` or back to
//! `requires_payment_method`. Shared by the API, `collect` and Checkout.

use serde_json::{json, Value};

use super::cards::{self, Behaviour};
use super::charges::{self, public};
use super::payment_error::{Failure, PayError};
use super::{disputes, payment_methods};
use crate::error::StripeError;
use crate::events::Cause;
use crate::ids::{new_id, PAYMENT_INTENT};
use crate::state::Objects;

/// What a new intent is for.
#[derive(Debug, Clone, Default)]
pub struct NewIntent {
    pub amount: i64,
    pub currency: String,
    pub customer: Option<String>,
    pub description: Option<String>,
    pub metadata: Value,
    pub capture_method: Option<String>,
    pub setup_future_usage: Option<String>,
    pub receipt_email: Option<String>,
    pub automatic_payment_methods: bool,
}

/// A `requires_payment_method` intent (the caller stores it and emits
/// `payment_intent.created`).
pub fn build(at: i64, new: NewIntent) -> Value {
    let id = new_id(PAYMENT_INTENT);
    let secret = new_id("");
    let metadata = if new.metadata.is_object() {
        new.metadata
    } else {
        json!({})
    };
    json!({
        "id": id,
        "object": "payment_intent",
        "amount": new.amount,
        "amount_capturable": 0,
        "amount_details": { "tip": {} },
        "amount_received": 0,
        "application": null,
        "application_fee_amount": null,
        "automatic_payment_methods": if new.automatic_payment_methods {
            json!({ "enabled": true, "allow_redirects": "always" })
        } else { Value::Null },
        "canceled_at": null,
        "cancellation_reason": null,
        "capture_method": new.capture_method.unwrap_or_else(|| "automatic_async".to_owned()),
        "client_secret": format!("{id}_secret{secret}"),
        "confirmation_method": "automatic",
        "created": at,
        "currency": new.currency,
        "customer": new.customer,
        "description": new.description,
        "last_payment_error": null,
        "latest_charge": null,
        "livemode": false,
        "metadata": metadata,
        "next_action": null,
        "on_behalf_of": null,
        "payment_method": null,
        "payment_method_configuration_details": null,
        "payment_method_options": { "card": { "installments": null, "mandate_options": null,
            "network": null, "request_three_d_secure": "automatic" } },
        "payment_method_types": ["card"],
        "processing": null,
        "receipt_email": new.receipt_email,
        "review": null,
        "setup_future_usage": new.setup_future_usage,
        "shipping": null,
        "source": null,
        "statement_descriptor": null,
        "statement_descriptor_suffix": null,
        "status": "requires_payment_method",
        "transfer_data": null,
        "transfer_group": null,
    })
}

/// Stores `intent` and emits `payment_intent.created`.
pub fn insert(objects: &mut Objects, cause: &Cause, at: i64, intent: &Value) {
    let id = intent["id"].as_str().unwrap_or_default().to_owned();
    objects.payment_intents.insert(id, intent.clone());
    objects.emit(cause, at, "payment_intent.created", intent, None);
}

/// Statuses from which an intent may be confirmed.
pub const CONFIRMABLE: &[&str] = &[
    "requires_payment_method",
    "requires_confirmation",
    "requires_action",
];

/// Stripe's error for an action the intent's status does not allow.
pub fn unexpected_state(action: &str, status: &str, allowed: &[&str]) -> StripeError {
    StripeError::invalid(format!(
        "You cannot {action} this PaymentIntent because it has a status of {status}. Only a PaymentIntent with one of the following statuses may be {action}ed: {}.",
        allowed.join(", ")
    ))
    .with_code("payment_intent_unexpected_state")
}

/// Confirms intent `id` with stored payment method `pm` at `at`.
/// Returns the intent as it ends up, or the card error (with the intent,
/// charge and payment method Stripe puts in the 402 body).
pub fn confirm(
    objects: &mut Objects,
    cause: &Cause,
    at: i64,
    id: &str,
    pm: &str,
    off_session: bool,
) -> Result<Value, PayError> {
    let intent = objects
        .payment_intents
        .get(id)
        .cloned()
        .ok_or_else(|| StripeError::no_such("payment_intent", id, "id"))?;
    let status = intent["status"].as_str().unwrap_or("").to_owned();
    if !CONFIRMABLE.contains(&status.as_str()) {
        return Err(unexpected_state("confirm", &status, CONFIRMABLE).into());
    }
    let method = objects.payment_methods.get(pm).cloned().ok_or_else(|| {
        StripeError::no_such("PaymentMethod", pm, "payment_method").with_status_400()
    })?;
    check_usable(&method, &intent)?;
    let behaviour = cards::behaviour(cards::number_of(&method));
    let authenticated = status == "requires_action" && intent["payment_method"] == pm;
    if behaviour == Behaviour::NeedsAuthentication && !off_session && !authenticated {
        return Ok(require_action(objects, cause, at, id, pm)?);
    }
    let decline = match behaviour {
        Behaviour::NeedsAuthentication if !off_session => None,
        other => other.charge_decline(),
    };
    match decline {
        Some(decline) => Err(fail(objects, cause, at, &intent, &method, &decline)),
        None => Ok(succeed(objects, cause, at, &intent, &method, behaviour)?),
    }
}

/// A payment method detached (or used once without a customer) is spent;
/// one saved to another customer is not this intent's to use.
fn check_usable(method: &Value, intent: &Value) -> Result<(), StripeError> {
    if method["_sim"]["consumed"] == true {
        return Err(StripeError::invalid(
            "This PaymentMethod was previously used without being attached to a Customer or was detached from a Customer, and may not be used again.",
        )
        .with_code("payment_method_unexpected_state")
        .with_param("payment_method"));
    }
    if !method["customer"].is_null() && method["customer"] != intent["customer"] {
        return Err(StripeError::invalid(format!(
            "The provided PaymentMethod belongs to customer {}; pass that customer to use it.",
            method["customer"].as_str().unwrap_or("")
        ))
        .with_param("payment_method"));
    }
    Ok(())
}

fn require_action(
    objects: &mut Objects,
    cause: &Cause,
    at: i64,
    id: &str,
    pm: &str,
) -> Result<Value, StripeError> {
    let after = objects.payment_intents.update("payment_intent", id, |pi| {
        pi["status"] = json!("requires_action");
        pi["payment_method"] = json!(pm);
        pi["next_action"] = json!({
            "type": "use_stripe_sdk",
            "use_stripe_sdk": { "type": "three_d_secure_redirect", "stripe_js": "", "source": pm }
        });
        Ok(())
    })?;
    objects.emit(cause, at, "payment_intent.requires_action", &after, None);
    Ok(after)
}

/// Marks a payment method used without a customer as spent.
fn spend_if_unattached(objects: &mut Objects, pm: &Value) {
    if pm["customer"].is_null() {
        if let Some(id) = pm["id"].as_str() {
            if let Some(stored) = objects.payment_methods.get_mut(id) {
                stored["_sim"]["consumed"] = json!(true);
            }
        }
    }
}

fn fail(
    objects: &mut Objects,
    cause: &Cause,
    at: i64,
    intent: &Value,
    method: &Value,
    decline: &cards::Decline,
) -> PayError {
    // An off-session charge refused for want of authentication never
    // reaches the card network, so it leaves no charge.
    let charge = (*decline != cards::AUTHENTICATION_REQUIRED)
        .then(|| charges::build(intent, method, at, false, Some(decline)));
    let charge_id = charge
        .as_ref()
        .and_then(|c| c["id"].as_str())
        .map(str::to_owned);
    let mut last_error = decline.error().body()["error"].clone();
    if let Some(id) = &charge_id {
        last_error["charge"] = json!(id);
    }
    last_error["payment_method"] = public(method);
    let id = intent["id"].as_str().unwrap_or_default();
    let updated = objects.payment_intents.update("payment_intent", id, |pi| {
        pi["status"] = json!("requires_payment_method");
        pi["payment_method"] = Value::Null;
        pi["next_action"] = Value::Null;
        pi["last_payment_error"] = last_error.clone();
        if let Some(charge) = &charge_id {
            pi["latest_charge"] = json!(charge);
        }
        Ok(())
    });
    if let Some(charge) = &charge {
        if let Some(cid) = &charge_id {
            objects.charges.insert(cid.clone(), charge.clone());
        }
        objects.emit(cause, at, "charge.failed", charge, None);
    }
    spend_if_unattached(objects, method);
    let updated = match updated {
        Ok(pi) => pi,
        Err(e) => return e.into(),
    };
    objects.emit(cause, at, "payment_intent.payment_failed", &updated, None);
    PayError(Box::new(Failure {
        error: decline.error(),
        payment_intent: Some(updated),
        charge: charge_id,
        payment_method: Some(public(method)),
    }))
}

fn succeed(
    objects: &mut Objects,
    cause: &Cause,
    at: i64,
    intent: &Value,
    method: &Value,
    behaviour: Behaviour,
) -> Result<Value, StripeError> {
    let manual = intent["capture_method"] == "manual";
    let id = intent["id"].as_str().unwrap_or_default().to_owned();
    let pm = method["id"].as_str().unwrap_or_default().to_owned();
    let keep_card = !intent["setup_future_usage"].is_null() && method["customer"].is_null();
    if let (true, Some(customer)) = (keep_card, intent["customer"].as_str()) {
        payment_methods::attach(objects, cause, &pm, customer)?;
    } else {
        spend_if_unattached(objects, method);
    }
    let charge = charges::build(intent, method, at, !manual, None);
    let charge_id = charge["id"].as_str().unwrap_or_default().to_owned();
    let amount = intent["amount"].as_i64().unwrap_or(0);
    objects.charges.insert(charge_id.clone(), charge.clone());
    let after = objects
        .payment_intents
        .update("payment_intent", &id, |pi| {
            pi["payment_method"] = json!(pm);
            pi["latest_charge"] = json!(charge_id);
            pi["last_payment_error"] = Value::Null;
            pi["next_action"] = Value::Null;
            if manual {
                pi["status"] = json!("requires_capture");
                pi["amount_capturable"] = json!(amount);
            } else {
                pi["status"] = json!("succeeded");
                pi["amount_received"] = json!(amount);
            }
            Ok(())
        })?;
    objects.emit(cause, at, "charge.succeeded", &charge, None);
    if manual {
        objects.emit(
            cause,
            at,
            "payment_intent.amount_capturable_updated",
            &after,
            None,
        );
    } else {
        objects.emit(cause, at, "payment_intent.succeeded", &after, None);
        if behaviour == Behaviour::Disputed {
            disputes::open(objects, cause, at, &charge_id)?;
        }
    }
    Ok(after)
}

/// Captures `amount` (default: all) of an authorized intent.
pub fn capture(
    objects: &mut Objects,
    cause: &Cause,
    id: &str,
    amount: Option<i64>,
) -> Result<Value, StripeError> {
    let intent = objects
        .payment_intents
        .get(id)
        .cloned()
        .ok_or_else(|| StripeError::no_such("payment_intent", id, "id"))?;
    let status = intent["status"].as_str().unwrap_or("");
    if status != "requires_capture" {
        return Err(unexpected_state("capture", status, &["requires_capture"]));
    }
    let capturable = intent["amount_capturable"].as_i64().unwrap_or(0);
    let amount = amount.unwrap_or(capturable);
    if amount <= 0 || amount > capturable {
        return Err(StripeError::invalid(format!(
            "The amount to capture ({amount}) must be positive and at most the amount capturable ({capturable})."
        ))
        .with_param("amount_to_capture"));
    }
    let at = objects.now_for_customer(intent["customer"].as_str());
    let charge_id = intent["latest_charge"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let before_charge = objects.charges.get(&charge_id).cloned();
    let charge = objects.charges.update("charge", &charge_id, |c| {
        c["captured"] = json!(true);
        c["amount_captured"] = json!(amount);
        c["amount_refunded"] = json!(c["amount"].as_i64().unwrap_or(0) - amount);
        c["balance_transaction"] = json!(new_id(crate::ids::BALANCE_TRANSACTION));
        Ok(())
    })?;
    let after = objects.payment_intents.update("payment_intent", id, |pi| {
        pi["status"] = json!("succeeded");
        pi["amount_capturable"] = json!(0);
        pi["amount_received"] = json!(amount);
        Ok(())
    })?;
    let previous = before_charge.map(|b| crate::events::changed_fields(&b, &charge));
    objects.emit(cause, at, "charge.captured", &charge, previous);
    objects.emit(cause, at, "payment_intent.succeeded", &after, None);
    let disputed = objects
        .payment_methods
        .get(after["payment_method"].as_str().unwrap_or_default())
        .is_some_and(|pm| cards::behaviour(cards::number_of(pm)) == Behaviour::Disputed);
    if disputed {
        disputes::open(objects, cause, at, &charge_id)?;
    }
    Ok(after)
}

/// Statuses from which an intent may be canceled.
pub const CANCELABLE: &[&str] = &[
    "requires_payment_method",
    "requires_capture",
    "requires_confirmation",
    "requires_action",
    "processing",
];

/// Cancels intent `id` (`payment_intent.canceled`).
pub fn cancel(
    objects: &mut Objects,
    cause: &Cause,
    at: i64,
    id: &str,
    reason: Option<&str>,
) -> Result<Value, StripeError> {
    let intent = objects
        .payment_intents
        .get(id)
        .cloned()
        .ok_or_else(|| StripeError::no_such("payment_intent", id, "id"))?;
    let status = intent["status"].as_str().unwrap_or("");
    if !CANCELABLE.contains(&status) {
        return Err(StripeError::invalid(format!(
            "You cannot cancel this PaymentIntent because it has a status of {status}. Only a PaymentIntent with one of the following statuses may be canceled: {}.",
            CANCELABLE.join(", ")
        ))
        .with_code("payment_intent_unexpected_state"));
    }
    if status == "requires_capture" {
        if let Some(charge) = intent["latest_charge"].as_str() {
            objects.charges.update("charge", charge, |c| {
                c["amount_refunded"] = c["amount"].clone();
                c["refunded"] = json!(true);
                Ok(())
            })?;
        }
    }
    let after = objects.payment_intents.update("payment_intent", id, |pi| {
        pi["status"] = json!("canceled");
        pi["canceled_at"] = json!(at);
        pi["cancellation_reason"] = json!(reason);
        pi["amount_capturable"] = json!(0);
        pi["next_action"] = Value::Null;
        Ok(())
    })?;
    objects.emit(cause, at, "payment_intent.canceled", &after, None);
    Ok(after)
}
