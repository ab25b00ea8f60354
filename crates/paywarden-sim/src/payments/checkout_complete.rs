//! Completing a Checkout session from the hosted page's card form, with
//! Stripe's event sequences (STRIPE_NOTES §5.1 payment mode, §5.2
//! subscription mode).
//!
//! A refused card leaves the session open; in payment mode the payment
//! intent records the failure, in subscription mode nothing is created.

use axum::http::StatusCode;
use serde_json::{json, Value};

use super::cards::{self, Behaviour};
use super::checkout_items::items_of;
use super::{intents, payment_methods};
use crate::billing::{self, SubscribeRequest};
use crate::error::StripeError;
use crate::events::Cause;
use crate::ids::{new_id, CUSTOMER};
use crate::state::Objects;

/// What the customer typed into the page.
#[derive(Debug, Clone, Default)]
pub struct CardForm {
    pub email: String,
    pub name: String,
    pub card_number: String,
    pub exp: String,
    pub cvc: String,
}

/// Why completion failed: the status and the message the page shows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PageError {
    pub status: StatusCode,
    pub message: String,
}

impl PageError {
    fn new(status: StatusCode, message: impl Into<String>) -> Self {
        Self {
            status,
            message: message.into(),
        }
    }
}

impl From<StripeError> for PageError {
    fn from(error: StripeError) -> Self {
        Self::new(error.status, error.message)
    }
}

/// A checked card: number, expiry.
struct Card {
    number: String,
    exp_month: i64,
    exp_year: i64,
}

/// `MM / YY`, `MM/YY`, `MMYY` or `MM / YYYY`.
fn parse_exp(exp: &str) -> Option<(i64, i64)> {
    let digits: String = exp.chars().filter(char::is_ascii_digit).collect();
    if exp.contains('/') {
        let (m, y) = exp.split_once('/')?;
        return Some((m.trim().parse().ok()?, y.trim().parse().ok()?));
    }
    match digits.len() {
        4 | 6 => Some((digits[..2].parse().ok()?, digits[2..].parse().ok()?)),
        _ => None,
    }
}

fn check_form(form: &CardForm, now: i64, need_email: bool) -> Result<Card, PageError> {
    let bad = |m: &str| PageError::new(StatusCode::BAD_REQUEST, m);
    let card = |m: &str| PageError::new(StatusCode::PAYMENT_REQUIRED, m);
    if need_email && !form.email.contains('@') {
        return Err(bad("Your email is incomplete."));
    }
    if form.card_number.trim().is_empty() {
        return Err(bad("Your card number is incomplete."));
    }
    let number = cards::normalize_number(&form.card_number).map_err(|d| card(d.message))?;
    let (month, year) =
        parse_exp(&form.exp).ok_or_else(|| bad("Your card's expiration date is incomplete."))?;
    let (exp_month, exp_year) =
        payment_methods::check_expiry(month, year, now).map_err(|e| card(&e.message))?;
    let cvc = form.cvc.trim();
    if !(3..=4).contains(&cvc.len()) || !cvc.bytes().all(|b| b.is_ascii_digit()) {
        return Err(bad("Your card's security code is incomplete."));
    }
    Ok(Card {
        number,
        exp_month,
        exp_year,
    })
}

/// A new customer as `POST /v1/customers` makes one (`customer.created`).
fn create_customer(
    objects: &mut Objects,
    cause: &Cause,
    at: i64,
    email: &str,
    name: &str,
) -> String {
    let id = new_id(CUSTOMER);
    let customer = json!({
        "id": id, "object": "customer", "created": at, "livemode": false,
        "email": email, "name": if name.is_empty() { Value::Null } else { json!(name) },
        "phone": null, "description": null,
        "metadata": {}, "balance": 0, "currency": null, "delinquent": false,
        "default_source": null, "address": null, "shipping": null, "discount": null,
        "invoice_prefix": null, "next_invoice_sequence": 1, "preferred_locales": [],
        "tax_exempt": "none", "test_clock": null,
        "invoice_settings": {
            "default_payment_method": null, "custom_fields": null,
            "footer": null, "rendering_options": null
        }
    });
    objects.customers.insert(id.clone(), customer.clone());
    objects.emit(cause, at, "customer.created", &customer, None);
    id
}

fn customer_details(objects: &Objects, customer: Option<&str>, form: &CardForm) -> Value {
    let stored = customer.and_then(|c| objects.customers.get(c));
    let email = if form.email.is_empty() {
        stored.map_or(Value::Null, |c| c["email"].clone())
    } else {
        json!(form.email)
    };
    let name = if form.name.is_empty() {
        stored.map_or(Value::Null, |c| c["name"].clone())
    } else {
        json!(form.name)
    };
    json!({ "email": email, "name": name, "phone": null, "address": null,
            "tax_exempt": "none", "tax_ids": [] })
}

fn store_card(objects: &mut Objects, card: &Card, form: &CardForm, at: i64) -> String {
    let mut pm = payment_methods::build(&card.number, card.exp_month, card.exp_year, at);
    if !form.email.is_empty() {
        pm["billing_details"]["email"] = json!(form.email);
    }
    if !form.name.is_empty() {
        pm["billing_details"]["name"] = json!(form.name);
    }
    let id = pm["id"].as_str().unwrap_or_default().to_owned();
    objects.payment_methods.insert(id.clone(), pm);
    id
}

/// Completes open session `id` with the card in `form`. Returns the
/// completed session.
pub fn complete(objects: &mut Objects, id: &str, form: &CardForm) -> Result<Value, PageError> {
    let session = objects.checkout_sessions.get(id).cloned().ok_or_else(|| {
        PageError::new(
            StatusCode::NOT_FOUND,
            "This Checkout Session does not exist.",
        )
    })?;
    match session["status"].as_str() {
        Some("open") => {}
        Some("complete") => {
            return Err(PageError::new(
                StatusCode::BAD_REQUEST,
                "This Checkout Session is already complete.",
            ))
        }
        _ => {
            return Err(PageError::new(
                StatusCode::BAD_REQUEST,
                "This Checkout Session has expired.",
            ))
        }
    }
    let at = objects.now_on(session["_sim"]["clock"].as_str());
    let need_email = session["customer"].is_null();
    let card = check_form(form, at, need_email)?;
    let cause = Cause::automatic();
    if session["mode"] == "subscription" {
        complete_subscription(objects, &cause, at, &session, &card, form)
    } else {
        complete_payment(objects, &cause, at, &session, &card, form)
    }
}

fn finish(
    objects: &mut Objects,
    cause: &Cause,
    at: i64,
    session: &Value,
    change: impl FnOnce(&mut Value),
) -> Result<Value, PageError> {
    let id = session["id"].as_str().unwrap_or_default();
    let after = objects
        .checkout_sessions
        .update("checkout.session", id, |s| {
            s["status"] = json!("complete");
            s["url"] = Value::Null;
            change(s);
            Ok(())
        })?;
    objects.emit(cause, at, "checkout.session.completed", &after, None);
    Ok(after)
}

fn complete_payment(
    objects: &mut Objects,
    cause: &Cause,
    at: i64,
    session: &Value,
    card: &Card,
    form: &CardForm,
) -> Result<Value, PageError> {
    let behaviour = cards::behaviour(&card.number);
    // On the hosted page the customer passes any 3D Secure challenge.
    let declines =
        behaviour != Behaviour::NeedsAuthentication && behaviour.charge_decline().is_some();
    let mut customer = session["customer"].as_str().map(str::to_owned);
    if customer.is_none() && !declines && session["customer_creation"] == "always" {
        customer = Some(create_customer(objects, cause, at, &form.email, &form.name));
    }
    let data = &session["_sim"]["payment_intent_data"];
    let intent_id = match session["payment_intent"].as_str() {
        Some(existing) => {
            let customer = customer.clone();
            objects
                .payment_intents
                .update("payment_intent", existing, |pi| {
                    if pi["customer"].is_null() {
                        pi["customer"] = json!(customer);
                    }
                    Ok(())
                })?;
            existing.to_owned()
        }
        None => {
            let intent = intents::build(
                at,
                intents::NewIntent {
                    amount: session["amount_total"].as_i64().unwrap_or(0),
                    currency: session["currency"].as_str().unwrap_or("usd").to_owned(),
                    customer: customer.clone(),
                    description: data["description"].as_str().map(str::to_owned),
                    metadata: data["metadata"].clone(),
                    capture_method: data["capture_method"].as_str().map(str::to_owned),
                    setup_future_usage: data["setup_future_usage"].as_str().map(str::to_owned),
                    receipt_email: data["receipt_email"]
                        .as_str()
                        .map(str::to_owned)
                        .or_else(|| (!form.email.is_empty()).then(|| form.email.clone())),
                    automatic_payment_methods: false,
                },
            );
            intents::insert(objects, cause, at, &intent);
            let pi = intent["id"].as_str().unwrap_or_default().to_owned();
            let sid = session["id"].as_str().unwrap_or_default();
            objects
                .checkout_sessions
                .update("checkout.session", sid, |s| {
                    s["payment_intent"] = json!(pi);
                    Ok(())
                })?;
            pi
        }
    };
    let pm = store_card(objects, card, form, at);
    let mut result = intents::confirm(objects, cause, at, &intent_id, &pm, false);
    if result
        .as_ref()
        .is_ok_and(|pi| pi["status"] == "requires_action")
    {
        result = intents::confirm(objects, cause, at, &intent_id, &pm, false);
    }
    let intent = result.map_err(|failure| PageError::from(failure.0.error))?;
    let details = customer_details(objects, customer.as_deref(), form);
    finish(objects, cause, at, session, |s| {
        // Funds only authorized (manual capture) are not paid yet.
        let paid = intent["status"] == "succeeded";
        s["payment_status"] = json!(if paid { "paid" } else { "unpaid" });
        s["payment_intent"] = intent["id"].clone();
        s["customer"] = json!(customer);
        s["customer_details"] = details;
    })
}

fn complete_subscription(
    objects: &mut Objects,
    cause: &Cause,
    at: i64,
    session: &Value,
    card: &Card,
    form: &CardForm,
) -> Result<Value, PageError> {
    let data = &session["_sim"]["subscription_data"];
    let trial = data["trial_period_days"].is_i64() || data["trial_end"].is_i64();
    let behaviour = cards::behaviour(&card.number);
    // Decide before creating anything, so a refused card leaves nothing.
    let decline = if trial {
        behaviour.attach_decline()
    } else {
        behaviour.charge_decline()
    };
    if let Some(decline) = decline {
        return Err(PageError::new(
            StatusCode::PAYMENT_REQUIRED,
            decline.message,
        ));
    }
    let customer = match session["customer"].as_str() {
        Some(c) => c.to_owned(),
        None => create_customer(objects, cause, at, &form.email, &form.name),
    };
    let pm = store_card(objects, card, form, at);
    payment_methods::attach(objects, cause, &pm, &customer)?;
    let before = objects.customers.get(&customer).cloned();
    let after = objects.customers.update("customer", &customer, |c| {
        c["invoice_settings"]["default_payment_method"] = json!(pm);
        Ok(())
    })?;
    if let Some(before) = before {
        objects.emit_updated(cause, at, "customer.updated", &before, &after);
    }
    let items = items_of(session)
        .iter()
        .map(|li| {
            (
                li["price"]["id"].as_str().unwrap_or_default().to_owned(),
                li["quantity"].as_i64().unwrap_or(1),
            )
        })
        .collect();
    let request = SubscribeRequest {
        customer: customer.clone(),
        items,
        default_payment_method: Some(pm),
        trial_period_days: data["trial_period_days"].as_i64(),
        trial_end: data["trial_end"].as_i64(),
        metadata: data["metadata"].clone(),
        description: data["description"].as_str().map(str::to_owned),
    };
    let subscription = billing::subscribe(objects, cause, at, request).map_err(|e| {
        if e.status == StatusCode::PAYMENT_REQUIRED {
            PageError::from(e)
        } else {
            tracing::error!(error = %e, "billing::subscribe failed during Checkout");
            PageError::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                "Something went wrong while starting the subscription.",
            )
        }
    })?;
    if subscription["status"] == "incomplete" {
        // The first payment failed after all: the subscription waits for
        // one, and the session stays open for another card.
        return Err(PageError::new(
            StatusCode::PAYMENT_REQUIRED,
            "Your card was declined.",
        ));
    }
    let invoice = subscription["latest_invoice"].clone();
    let charged = invoice
        .as_str()
        .and_then(|i| objects.invoices.get(i))
        .is_some_and(|i| i["amount_paid"].as_i64().unwrap_or(0) > 0);
    let payment_status = if trial && !charged {
        "no_payment_required"
    } else {
        "paid"
    };
    let details = customer_details(objects, Some(&customer), form);
    finish(objects, cause, at, session, |s| {
        s["payment_status"] = json!(payment_status);
        s["subscription"] = subscription["id"].clone();
        s["invoice"] = invoice;
        s["customer"] = json!(customer);
        s["customer_details"] = details;
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expiry_formats() {
        assert_eq!(parse_exp("12 / 34"), Some((12, 34)));
        assert_eq!(parse_exp("1/2030"), Some((1, 2030)));
        assert_eq!(parse_exp("1234"), Some((12, 34)));
        assert_eq!(parse_exp("12"), None);
        assert_eq!(parse_exp("ab/cd"), None);
    }
}
